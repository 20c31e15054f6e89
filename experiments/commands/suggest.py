"""``cppcc-themes suggest PATH... --n 50 --out batch.jsonl``: the paragraphs whose labels would
teach the current model most (``train/active.py``), never one already labelled.

Part of the tagging path: it imports neither mlflow nor datasets.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cppcc_themes.experiments.commands import EXIT_FATAL, EXIT_OK, EXIT_SOME_FAILED, print_error
from cppcc_themes.experiments.commands.tag import add_table_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "suggest", help="pick the paragraphs whose labels would teach the model most",
        description="Tag the reports, then choose paragraphs the model is least sure of, theme "
                    "by theme in turn, no two near-duplicates, no report over its share, none "
                    "already labelled. Label them with `annotate export`.")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="report file, folder of reports, .jsonl of {id, text} "
                             "paragraphs, or a table (.csv, .xlsx, ...) of reports")
    parser.add_argument("--n", type=int, default=50, help="paragraphs to pick (default 50)")
    parser.add_argument("--out", required=True, help="batch file to write (JSON Lines)")
    parser.add_argument("--model", metavar="DIR",
                        help="packaged model directory (default: as for `tag`)")
    parser.add_argument("--labelled", nargs="*", default=None, metavar="PATH",
                        help="labelled .jsonl files or folders whose paragraphs are never "
                             "suggested (default: every .jsonl under labels/; silver records, "
                             "labelled by rules, do not count)")
    parser.add_argument("--min-chars", type=int, default=8,
                        help="skip paragraphs shorter than this (default 8)")
    add_table_arguments(parser)
    parser.set_defaults(func=run)


def labelled_texts(paths: list[str]) -> set[str]:
    """Normalised texts of every labelled paragraph in these files or folders."""
    from cppcc_themes.features.normalize import normalize_text

    texts = set()
    for entry in map(Path, paths):
        files = sorted(entry.rglob("*.jsonl")) if entry.is_dir() else [entry]
        for path in files:
            if path.name.endswith(".unlabelled.jsonl"):
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                # Weak (silver) labels were given by rules, not people: still worth asking.
                if isinstance(record, dict) and isinstance(record.get("text"), str) and \
                        "labels" in record and \
                        not str(record.get("source", "")).startswith("silver"):
                    texts.add(normalize_text(record["text"]))
    return texts


def write_atomically(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding=encoding, newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _paragraphs(read: Any) -> Any:
    """(report input, position, text) of every paragraph of one input (a table gives several
    reports)."""
    for report in read if isinstance(read, list) else [read]:
        for position, text in enumerate(report.texts):
            yield report, position, text


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from cppcc_themes.experiments.commands.tag import load_model_or_none, table_options
    from cppcc_themes.features.normalize import normalize_text
    from cppcc_themes.features.readers import ReadError
    from cppcc_themes.train.active import select_batch
    from cppcc_themes.train.predict import expand_inputs, read_input_safely

    if args.n < 1:
        print_error("--n must be 1 or more")
        return EXIT_FATAL
    model = load_model_or_none(args.model)
    if model is None:
        return EXIT_FATAL
    labelled_paths = args.labelled if args.labelled is not None else (
        ["labels"] if Path("labels").is_dir() else [])
    try:
        known = labelled_texts(labelled_paths)
    except (OSError, UnicodeDecodeError) as error:
        print_error(f"--labelled: cannot read ({error})")
        return EXIT_FATAL
    candidates: list[dict[str, Any]] = []
    errors = 0
    seen = set(known)
    for job in expand_inputs(args.paths):
        read = job if isinstance(job, ReadError) else read_input_safely(job, table_options(args))
        if isinstance(read, ReadError):
            print_error(str(read))
            errors += 1
            continue
        for report, position, text in _paragraphs(read):
            key = normalize_text(text)
            if len(text.strip()) < args.min_chars or key in seen:
                continue
            seen.add(key)
            index = report.indices[position] if report.indices else position
            candidates.append({
                "id": report.ids[position] if report.ids else f"{report.name}#{index}",
                "report": report.name, "index": index,
                "heading": report.headings[position] if report.headings else None,
                "text": text})
    if not candidates:
        print_error("no unlabelled paragraphs to suggest from")
        return EXIT_FATAL
    features, probabilities = model._features_and_proba([c["text"] for c in candidates])
    if features is None:
        features = probabilities
    picks = select_batch(probabilities, features, [c["report"] for c in candidates], args.n,
                         thresholds=model.thresholds)
    lines = []
    for pick in picks:
        record = candidates[pick.row]
        scores = probabilities[pick.row]
        record.update({
            "themes": [label for label, p, t in zip(model.labels, scores, model.thresholds,
                                                      strict=True) if p >= t],
            "scores": {label: round(float(p), 4) for label, p in zip(model.labels, scores,
                                                                     strict=True)},
            "asked_about": model.labels[pick.theme],
            "uncertainty": round(pick.uncertainty, 4)})
        lines.append(json.dumps(record, ensure_ascii=False))
    try:
        write_atomically(Path(args.out), "\n".join(lines) + "\n")
    except OSError as error:
        print_error(f"{args.out}: cannot write ({error.strerror or error})")
        return EXIT_FATAL
    reports = len({candidates[p.row]["report"] for p in picks})
    asked = np.bincount([p.theme for p in picks], minlength=len(model.labels))
    print(f"{len(picks)} paragraphs from {reports} report(s) of {len(candidates)} unlabelled "
          f"written to {args.out}; asked about "
          + ", ".join(f"{label} {n}" for label, n in zip(model.labels, asked, strict=True)))
    return EXIT_SOME_FAILED if errors else EXIT_OK
