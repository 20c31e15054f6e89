"""``profile --adjusted`` and ``profile --compare A B``: theme shares corrected for the model's
errors, with 95 % intervals (``train/quantify.py``).

Part of the tagging path: it imports neither mlflow nor datasets.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from cppcc_themes.experiments.commands import EXIT_FATAL, EXIT_OK, EXIT_SOME_FAILED, print_error


def add_share_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``profile`` that turn raw shares into adjusted ones."""
    parser.add_argument("--adjusted", action="store_true",
                        help="shares of paragraphs corrected for the model's error rates, with "
                             "95%% bootstrap intervals (needs a model trained by this version)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="adjusted share of B minus A per theme, with a 95%% interval; A and "
                             "B are report names, comma-separated names, glob patterns of "
                             "names, or one of the PATHs (a folder groups its reports)")
    parser.add_argument("--method", default=None,
                        choices=["posterior", "cpcc", "pacc", "pcc", "emq", "acc", "blend", "cc"],
                        help="estimator of the adjusted shares (default: posterior, the one "
                             "check-shares chose; blend for a model without out-of-fold "
                             "probabilities in its metadata; see README)")
    parser.add_argument("--resamples", type=int, default=2000,
                        help="bootstrap resamples of the intervals (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")


def decisions(report: Any, labels: list[str]) -> Any:
    """The model's 0/1 decisions of a tagged report: paragraphs × themes."""
    import numpy as np

    return np.asarray([[label in p.themes for label in labels] for p in report.paragraphs],
                      dtype=int).reshape(len(report.paragraphs), len(labels))


def probabilities(report: Any, labels: list[str]) -> Any:
    """The model's theme probabilities of a tagged report: paragraphs × themes."""
    import numpy as np

    return np.asarray([[p.scores.get(label, 0.0) for label in labels] for p in report.paragraphs],
                      dtype=float).reshape(len(report.paragraphs), len(labels))


def select_group(spec: str, reports: list[Any]) -> list[Any]:
    """The reports a ``--compare`` side names: an input path, names, or glob patterns."""
    path = Path(spec)
    if path.exists():
        resolved = path.resolve()
        return [r for r in reports
                if r.source and (Path(r.source).resolve() == resolved
                                 or resolved in Path(r.source).resolve().parents)]
    patterns = [part.strip() for part in spec.split(",") if part.strip()]
    return [r for r in reports if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)]


def run_shares(args: argparse.Namespace, model: Any) -> int:
    from cppcc_themes.experiments.commands.tag import tag_inputs
    from cppcc_themes.train.quantify import (
        PROBABILITY_METHODS,
        adjusted_shares,
        compare_shares,
        error_rate_origin,
        probability_rates_from_metadata,
        rates_from_metadata,
        shipped_method,
    )

    try:
        counts = rates_from_metadata(model.metadata)
    except ValueError as error:
        print_error(f"{args.model}: {error}")
        return EXIT_FATAL
    rates = probability_rates_from_metadata(model.metadata)
    method = args.method or shipped_method(model.metadata)
    if method in PROBABILITY_METHODS and rates is None:
        print_error(f"{args.model}: --method {method} needs the mean out-of-fold probabilities "
                    "in metadata.json (key 'quantification'): retrain the model with this "
                    "version, or use --method blend")
        return EXIT_FATAL
    if args.resamples < 100:
        print_error("--resamples must be at least 100")
        return EXIT_FATAL
    reports = [report for _, report in tag_inputs(args, model)]
    options = {"resamples": args.resamples, "seed": args.seed, "method": method,
               "rates": rates}
    if args.compare:
        sides = [select_group(spec, reports) for spec in args.compare]
        for spec, side in zip(args.compare, sides, strict=True):
            if not side or not any(r.paragraphs for r in side):
                print_error(f"--compare {spec}: matches no tagged report with paragraphs "
                            f"(reports: {', '.join(r.name for r in reports) or 'none'})")
                return EXIT_FATAL
        import numpy as np

        matrices = [np.vstack([decisions(r, model.labels) for r in side]) for side in sides]
        scores = [np.vstack([probabilities(r, model.labels) for r in side]) for side in sides]
        rows = [("B - A", compare_shares(*matrices, model.labels, counts,
                                         probabilities_a=scores[0], probabilities_b=scores[1],
                                         **options))]
        names = {"A": [r.name for r in sides[0]], "B": [r.name for r in sides[1]]}
    else:
        rows = [(r.name, adjusted_shares(decisions(r, model.labels), model.labels, counts,
                                         probabilities=probabilities(r, model.labels),
                                         **options)) for r in reports]
        names = {}
    _write(sys.stdout, args.format, rows, names, error_rate_origin(model.metadata))
    if args.plot and rows:
        from cppcc_themes.train.render import plot_share_intervals

        try:
            plot_share_intervals(rows, model.labels, args.plot, difference=bool(args.compare))
        except OSError as error:
            print_error(f"{args.plot}: cannot write ({error.strerror or error})")
            return EXIT_FATAL
    return EXIT_SOME_FAILED if args.errors else EXIT_OK


def _write(stream: TextIO, fmt: str, rows: list[tuple[str, list[Any]]],
           names: dict[str, list[str]], origin: str = "") -> None:
    if fmt == "json":
        json.dump([{"report": name, **({"groups": names} if names else {}),
                    "shares": [e.to_dict() for e in estimates]} for name, estimates in rows],
                  stream, ensure_ascii=False, indent=1)
        stream.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(stream)
        writer.writerow(["report", "theme", "paragraphs", "raw_share", "adjusted_share",
                         "ci_low", "ci_high"])
        for name, estimates in rows:
            for e in estimates:
                d = e.to_dict()
                writer.writerow([name, d["theme"], d["paragraphs"], d["raw"], d["adjusted"],
                                 d["low"], d["high"]])
        return
    from rich.table import Table

    from cppcc_themes.experiments.commands import table_console

    title = ("difference of adjusted shares of paragraphs, B - A [95% interval]" if names
             else "adjusted share of paragraphs [95% interval] (raw share)")
    table = Table(title=title)
    table.add_column("report")
    for e in rows[0][1] if rows else []:
        table.add_column(e.theme, justify="right")
    sign = "+" if names else ""
    for name, estimates in rows:
        table.add_row(name, *[f"{e.adjusted:{sign}.0%} [{e.low:{sign}.0%}, {e.high:{sign}.0%}]"
                              f" ({e.raw:{sign}.0%})" for e in estimates])
    console = table_console(stream)
    console.print(table)
    if names:
        console.print(f"A: {', '.join(names['A'])}\nB: {', '.join(names['B'])}")
    if origin:
        console.print(origin)
