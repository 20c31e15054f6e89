"""``cppcc-themes compare [EXPERIMENT]``: a leaderboard of runs, read back from MLflow."""

from __future__ import annotations

import argparse
from typing import Any

from cppcc_themes.experiments.commands import EXIT_FATAL, EXIT_OK, print_error

COLUMNS = [  # (header, where, key)
    ("experiment file", "tags", "experiment_file"),
    ("run", "info", "run_name"),
    ("data", "params", "data.sources"),
    ("classifier", "params", "model.classifier"),
    ("analyzer", "params", "features.analyzer"),
    ("emb.", "params", "features.embeddings"),
    ("threshold", "params", "model.threshold"),
    ("macro-F1", "metrics", "macro_f1"),
    ("95% CI", "metrics", "macro_f1_ci"),
    ("micro-F1", "metrics", "micro_f1"),
    ("none-F1", "metrics", "none_f1"),
    ("Brier", "metrics", "brier_mean"),
]


_NUMBERS = {"model.threshold", "macro_f1", "macro_f1_ci", "micro_f1", "none_f1", "brier_mean"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare", help="leaderboard of the runs of an MLflow experiment")
    parser.add_argument("experiment", nargs="?", default="cppcc-themes",
                        help="MLflow experiment name (default: cppcc-themes)")
    parser.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI or "
                        "sqlite:///mlflow.db")
    parser.add_argument("--metric", default="macro_f1", help="rank by this metric")
    parser.add_argument("--file", dest="experiment_file",
                        help="only runs of this experiment file (its name), e.g. classifiers")
    parser.add_argument("--top", type=int, default=0, help="show only the best N runs")
    parser.add_argument("--format", choices=["table", "markdown"], default="table")
    parser.set_defaults(func=run)


def leaderboard(client: Any, experiment_id: str, metric: str,
                experiment_file: str | None = None) -> list[Any]:
    """Finished runs that are candidates or single runs (not search parents), best first.

    A search parent repeats its winner's numbers, so it is left out to rank each
    configuration once.
    """
    from mlflow.entities import ViewType

    query = "attributes.status = 'FINISHED'"
    if experiment_file:
        query += f" and tags.experiment_file = '{experiment_file}'"
    runs = client.search_runs([experiment_id], filter_string=query,
                              run_view_type=ViewType.ACTIVE_ONLY, max_results=5000)
    runs = [r for r in runs if r.data.tags.get("run_kind") != "search"
            and metric in r.data.metrics]
    return sorted(runs, key=lambda r: (-r.data.metrics[metric], r.info.start_time))


def _cell(run: Any, where: str, key: str) -> str:
    if where == "info":
        return str(getattr(run.info, key) or "")
    if where == "tags":
        return run.data.tags.get(key, "")
    if where == "params":
        return run.data.params.get(key, "")
    metrics = run.data.metrics
    if key == "macro_f1_ci":
        if "macro_f1_ci_low" not in metrics:
            return ""
        return f"{metrics['macro_f1_ci_low']:.3f}-{metrics['macro_f1_ci_high']:.3f}"
    return f"{metrics[key]:.3f}" if key in metrics else ""


def _print_markdown(rows: list[list[str]], headers: list[str]) -> None:
    print("| # | " + " | ".join(headers) + " |")
    print("|---|" + "---|" * len(headers))
    for rank, row in enumerate(rows, 1):
        print(f"| {rank} | " + " | ".join(cell.replace("|", "/") for cell in row) + " |")


# Columns left out, in this order, while the table would not fit the terminal.
_DROP_FIRST = ["emb.", "data", "threshold", "Brier", "none-F1", "micro-F1", "analyzer",
               "experiment file"]
# Text columns fold onto more lines down to this width; numbers are never cut.
_TEXT_MIN = 12


def _narrowest(rows: list[list[str]], index: int) -> int:
    """Characters column ``index`` needs at least: numbers whole, text up to _TEXT_MIN."""
    header, _, key = COLUMNS[index]
    longest = max([len(header) if key in _NUMBERS else 1, *(len(row[index]) for row in rows)])
    return longest if key in _NUMBERS else min(longest, _TEXT_MIN)


def _fitting_columns(rows: list[list[str]], width: int) -> list[int]:
    """Indices of the COLUMNS shown at ``width``: all, less the least telling ones while
    the narrowest layout (numbers whole, text folded at ``_TEXT_MIN``) is too wide."""
    def narrowest(index: int) -> int:
        return _narrowest(rows, index) + 3  # padding and border

    shown = list(range(len(COLUMNS)))
    rank_width = len(str(len(rows))) + 4
    for header in _DROP_FIRST:
        if rank_width + sum(map(narrowest, shown)) <= width:
            break
        shown = [i for i in shown if COLUMNS[i][0] != header]
    return shown


def _print_table(rows: list[list[str]], headers: list[str], title: str) -> None:
    from rich.table import Table

    from cppcc_themes.experiments.commands import table_console

    console = table_console()
    shown = _fitting_columns(rows, console.width)
    hidden = [headers[i] for i in range(len(headers)) if i not in shown]
    caption = (f"not shown at this width: {', '.join(hidden)} (see --format markdown)"
               if hidden else None)
    table = Table(title=title, caption=caption, padding=(0, 1))
    table.add_column("#", justify="right", no_wrap=True)
    for index in shown:
        header, _, key = COLUMNS[index]
        if key in _NUMBERS:  # numbers are never cut; names fold onto more lines
            table.add_column(header, justify="right", no_wrap=True)
        else:
            table.add_column(header, overflow="fold", min_width=_narrowest(rows, index))
    for rank, row in enumerate(rows, 1):
        table.add_row(str(rank), *[row[index] for index in shown])
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from cppcc_themes.experiments.tracking import (
        TrackingError,
        check_tracking,
        resolve_tracking_uri,
    )

    uri = resolve_tracking_uri(args.tracking_uri)
    try:
        check_tracking(uri)
    except TrackingError as error:
        print_error(str(error))
        return EXIT_FATAL
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(args.experiment)
    if experiment is None:
        print_error(f"{uri}: no MLflow experiment named {args.experiment!r}")
        return EXIT_FATAL
    runs = leaderboard(client, experiment.experiment_id, args.metric, args.experiment_file)
    if args.top:
        runs = runs[:args.top]
    if not runs:
        print_error(f"{uri}: experiment {args.experiment!r} has no finished run with "
                    f"metric {args.metric!r}")
        return EXIT_FATAL
    headers = [header for header, _, _ in COLUMNS]
    rows = [[_cell(r, where, key) for _, where, key in COLUMNS] for r in runs]
    if args.format == "markdown":
        _print_markdown(rows, headers)
    else:
        _print_table(rows, headers, f"{args.experiment}: {len(runs)} runs by {args.metric} "
                     "(leave-one-report-out, real reports)")
    return EXIT_OK
