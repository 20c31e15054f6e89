"""The ``cppcc-themes`` command line.

Each subcommand imports what it needs when it runs: ``tag`` never imports mlflow, so tagging
starts fast. Exit codes: 0 all done; 1 some input files failed (the rest were done);
2 nothing could be done (bad arguments, model, config or tracking store).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_SOME_FAILED, EXIT_FATAL = 0, 1, 2


def _error(message: str) -> None:
    print(f"cppcc-themes: error: {message}", file=sys.stderr)


# ---------------------------------------------------------------- train
def _cmd_train(args: argparse.Namespace) -> int:
    from experiments.config import ConfigError, load_config
    from experiments.tracking import TrackingError, resolve_tracking_uri

    try:
        config = load_config(args.config)
    except ConfigError as error:
        _error(str(error))
        return EXIT_FATAL
    uri = resolve_tracking_uri(args.tracking_uri)
    from experiments.runner import run_experiment

    def on_fold(done: int, total: int, report: str) -> None:
        if not args.quiet:
            print(f"  fold {done}/{total} (held out {report}) done", file=sys.stderr)

    try:
        outcome = run_experiment(config, uri, package_dir=args.output, on_fold=on_fold,
                                 experiment_name=args.experiment)
    except TrackingError as error:
        _error(str(error))
        return EXIT_FATAL
    except (ValueError, OSError) as error:
        _error(f"{config.path}: {error}")
        return EXIT_FATAL
    m = outcome.metrics
    print(f"run {outcome.run_id} in {uri}")
    print(f"leave-one-report-out on real reports: macro-F1 {m['macro_f1']:.3f}, "
          f"micro-F1 {m['micro_f1']:.3f}, no-theme F1 {m['none_f1']:.3f}")
    if outcome.package_dir:
        print(f"model packaged in {outcome.package_dir}")
    return EXIT_OK


# ---------------------------------------------------------------- tag
def _iter_inputs(paths: Sequence[str]) -> Iterator[Path]:
    from features.readers import iter_report_paths

    for raw in paths:
        yield from iter_report_paths(Path(raw))


def _jsonl_records(path: Path) -> list[dict[str, Any]]:
    from features.readers import ReadError

    records = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise ReadError(f"{path}:{number}: line is not JSON") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ReadError(f"{path}:{number}: object has no string 'text'")
            records.append(record)
    if not records:
        raise ReadError(f"{path}: no paragraphs")
    return records


class _Writer:
    """Writes tagged paragraphs as they come, in one of the output formats."""

    def __init__(self, stream: TextIO, fmt: str, labels: list[str]):
        self.stream, self.fmt, self.labels = stream, fmt, labels
        self.csv = None
        if fmt == "csv":
            self.csv = csv.writer(stream)
            self.csv.writerow(["report", "id", "index", "heading", "text", "themes",
                               *[f"score_{label}" for label in labels]])

    def write(self, report: Any) -> None:
        if self.fmt == "jsonl":
            for p in report.paragraphs:
                self.stream.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            for p in report.paragraphs:
                self.csv.writerow([p.report, p.id, p.index, p.heading or "", p.text,
                                   ";".join(p.themes), *[p.scores[label] for label in self.labels]])
        else:
            self._table(report)

    def _table(self, report: Any) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{report.name}: {len(report.paragraphs)} paragraphs",
                      show_lines=False, expand=True)
        table.add_column("#", justify="right", width=4)
        table.add_column("paragraph", ratio=3, overflow="ellipsis", no_wrap=True)
        table.add_column("themes", ratio=1)
        table.add_column("top score", ratio=1)
        for p in report.paragraphs:
            best = max(p.scores, key=p.scores.get)
            table.add_row(str(p.index), p.text, ", ".join(p.themes) or "-",
                          f"{best} {p.scores[best]:.2f}")
        Console(file=self.stream, width=max(100, Console().width)).print(table)


def _cmd_tag(args: argparse.Namespace) -> int:
    from train.package import ModelLoadError, load_model

    try:
        model = load_model(args.model)
    except ModelLoadError as error:
        _error(str(error))
        return EXIT_FATAL
    with contextlib.ExitStack() as stack:
        stream = (stack.enter_context(open(args.output, "w", encoding="utf-8", newline=""))
                  if args.output else sys.stdout)
        failed, done = _tag_all(model, args.paths, _Writer(stream, args.format, model.labels))
    if failed:
        print(f"cppcc-themes: {done} file(s) tagged, {failed} failed", file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _tag_all(model: Any, raw_paths: Sequence[str], writer: _Writer) -> tuple[int, int]:
    """Tag every input, reporting each bad one and going on; return (failed, done)."""
    from features.readers import ReadError
    from train.predict import tag_records, tag_report

    failed = done = 0
    for raw in raw_paths:
        try:
            paths = list(_iter_inputs([raw]))
        except ReadError as error:
            _error(str(error))
            failed += 1
            continue
        for path in paths:
            try:
                if path.suffix.lower() == ".jsonl":
                    report = tag_records(model, _jsonl_records(path), path.stem)
                else:
                    report = tag_report(model, path)
            except ReadError as error:
                _error(str(error))
                failed += 1
                continue
            writer.write(report)
            done += 1
    return failed, done


# ---------------------------------------------------------------- ui
def _cmd_ui(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from experiments.tracking import offline_environment, resolve_tracking_uri

    offline_environment()
    uri = resolve_tracking_uri(args.tracking_uri)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
               "--host", "127.0.0.1", "--port", str(args.port), "--workers", "1"]
    print(f"MLflow UI on http://127.0.0.1:{args.port} over {uri} (Ctrl-C stops it)")
    try:
        return subprocess.call(command, env=os.environ.copy())
    except KeyboardInterrupt:
        return EXIT_OK


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cppcc-themes",
        description="Tag paragraphs of Chinese CPPCC work reports with five themes.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="run an experiment, log it to MLflow, package the model")
    train.add_argument("config", help="experiment TOML file, e.g. experiments/baseline.toml")
    train.add_argument("--tracking-uri", help="MLflow tracking URI (default: "
                       "$MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    train.add_argument("--experiment", default="cppcc-themes", help="MLflow experiment name")
    train.add_argument("--output", help="package the model here instead of the config's folder")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(func=_cmd_train)

    tag = sub.add_parser("tag", help="tag reports or ready paragraphs with themes")
    tag.add_argument("paths", nargs="+", metavar="PATH",
                     help="report file, folder of reports, or .jsonl of {id, text} paragraphs")
    tag.add_argument("--model", default="models/default", help="packaged model directory")
    tag.add_argument("--format", choices=["table", "jsonl", "csv"], default="table")
    tag.add_argument("--output", help="write here instead of standard output")
    tag.set_defaults(func=_cmd_tag)

    ui = sub.add_parser("ui", help="serve the MLflow UI on 127.0.0.1 over the project's store")
    ui.add_argument("--tracking-uri")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(func=_cmd_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cppcc-themes`` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
