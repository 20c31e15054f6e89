"""``cppcc-themes label``: weak (silver) labels for any corpus, their quality, dataset counts.

    cppcc-themes label REPORT_OR_FOLDER... --out silver.jsonl   silver-label a corpus
    cppcc-themes label --evaluate                                 silver vs gold on the seeds
    cppcc-themes label --stats                                    paragraphs per theme per source

The labelling functions and the rule that combines them are in ``train/weak.py``; the dataset
card ``labels/README.md`` records the figures these commands print. Imports no mlflow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cppcc_themes.experiments.commands import EXIT_FATAL, EXIT_OK, EXIT_SOME_FAILED, print_error

STATS_SOURCES = ["gold", "authored", "silver-gov", "real-style", "web-style"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "label", help="silver-label reports with heading and cue rules; evaluate; count",
        description="Silver-label report paragraphs from their headings and theme cues "
                    "(labels/themes.toml), evaluate the labeller on the gold seeds, or count "
                    "the labelled data.")
    parser.add_argument("paths", nargs="*", metavar="REPORT_OR_FOLDER",
                        help="report file, folder of reports (recursive), CSV corpus with a "
                             "full_text column, or .jsonl of {text, heading} paragraphs")
    parser.add_argument("--out", help="silver JSON Lines file (default: standard output)")
    parser.add_argument("--unlabelled", metavar="FILE",
                        help="also write the paragraphs the labeller abstained on here "
                             "(name it *.unlabelled.jsonl: loaders skip such files)")
    parser.add_argument("--source", default="silver",
                        help="value of the source field of every record (default: silver)")
    parser.add_argument("--require-heading", action="store_true",
                        help="keep only paragraphs whose themes a heading gave or confirmed")
    parser.add_argument("--exclude-known", action="store_true",
                        help="drop paragraphs whose text is already in the gold or authored "
                             "labels")
    parser.add_argument("--labels-dir", default=None,
                        help="labels folder with themes.toml (default: ./labels)")
    parser.add_argument("--evaluate", action="store_true",
                        help="print per-theme precision and recall of the silver labeller "
                             "against the gold seed paragraphs")
    parser.add_argument("--stats", action="store_true",
                        help="print paragraph counts per theme per source (markdown)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cppcc_themes.train.themes import default_labels_dir

    labels_dir = Path(args.labels_dir) if args.labels_dir else default_labels_dir()
    if not (labels_dir / "themes.toml").is_file():
        print_error(f"{labels_dir}: no themes.toml in this labels folder")
        return EXIT_FATAL
    if args.evaluate or args.stats:
        if args.paths:
            print_error("--evaluate and --stats take no REPORT_OR_FOLDER arguments")
            return EXIT_FATAL
        if args.evaluate:
            code = _evaluate(labels_dir)
            if code != EXIT_OK:
                return code
        return _stats(labels_dir) if args.stats else EXIT_OK
    if not args.paths:
        print_error("give REPORT_OR_FOLDER paths to label, or --evaluate / --stats")
        return EXIT_FATAL
    return _label(args, labels_dir)


def _label(args: argparse.Namespace, labels_dir: Path) -> int:
    from cppcc_themes.train.silver import known_texts, label_corpus, write_jsonl_atomic
    from cppcc_themes.train.weak import build_lexicon, lf_names, lf_statistics

    lexicon = build_lexicon(labels_dir)
    exclude = known_texts(labels_dir, ["gold", "authored"]) if args.exclude_known else None
    outcome = label_corpus(args.paths, lexicon, source=args.source,
                           require_heading=args.require_heading, exclude=exclude)
    for failure in outcome.failures:
        print_error(failure)
    if not outcome.files:
        print_error("no report could be read")
        return EXIT_FATAL
    if args.out:
        write_jsonl_atomic(outcome.records, Path(args.out))
    else:
        for record in outcome.records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    if args.unlabelled:
        write_jsonl_atomic(outcome.unlabelled, Path(args.unlabelled))
    report = sys.stdout if args.out else sys.stderr
    total = len(outcome.records) + len(outcome.unlabelled)
    print(f"{outcome.files} file(s), {total} paragraphs, {len(outcome.records)} silver-labelled"
          f"{' -> ' + args.out if args.out else ''}", file=report)
    print(_theme_counts(outcome.records, lexicon.themes), file=report)
    print(_lf_table(lf_statistics(outcome.votes, lf_names(lexicon))), file=report)
    return EXIT_SOME_FAILED if outcome.failures else EXIT_OK


def _theme_counts(records: list[dict[str, Any]], themes: tuple[str, ...]) -> str:
    counts = {name: 0 for name in (*themes, "none")}
    for record in records:
        for theme in record["labels"] or ["none"]:
            counts[theme] += 1
    return "per theme: " + ", ".join(f"{name} {n}" for name, n in counts.items())


def _lf_table(stats: dict[str, dict[str, float]]) -> str:
    lines = ["| labelling function | coverage | overlap | conflict |", "|---|---:|---:|---:|"]
    lines += [f"| `{name}` | {s['coverage']:.3f} | {s['overlap']:.3f} | {s['conflict']:.3f} |"
              for name, s in stats.items()]
    return "\n".join(lines)


def _evaluate(labels_dir: Path) -> int:
    from cppcc_themes.train.silver import evaluate_on_gold

    try:
        result = evaluate_on_gold(labels_dir)
    except (OSError, ValueError) as error:
        print_error(str(error))
        return EXIT_FATAL
    print(f"silver labeller vs gold seeds: {result['paragraphs']} paragraphs, "
          f"{result['covered']} labelled (coverage {result['coverage']:.3f})")
    if result["skipped_reports"]:
        print(f"skipped (no report text in labels/reports): {result['skipped_reports']}")
    print("| theme | precision | recall | gold | silver |\n|---|---:|---:|---:|---:|")
    for name, s in result["per_class"].items():
        print(f"| `{name}` | {s['precision']:.2f} | {s['recall']:.2f} | {s['support']} | "
              f"{s['predicted']} |")
    print()
    print(_lf_table(result["lf_statistics"]))
    return EXIT_OK


def _stats(labels_dir: Path) -> int:
    from cppcc_themes.train.data import DataError, label_counts, load_paragraphs

    try:
        dataset = load_paragraphs(STATS_SOURCES, labels_dir)
    except DataError as error:
        print_error(str(error))
        return EXIT_FATAL
    counts = label_counts(dataset)
    reports: dict[str, set[str]] = {}
    for source, report in zip(dataset["source"][:], dataset["report_id"][:], strict=True):
        reports.setdefault(source, set()).add(report)
    columns = ["reports", "paragraphs", *dataset.features["labels"].feature.names, "none"]
    print("| source | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for source, counter in counts.items():
        row = [len(reports[source]), *(counter.get(name, 0) for name in columns[1:])]
        print(f"| {source} | " + " | ".join(str(n) for n in row) + " |")
    return EXIT_OK
