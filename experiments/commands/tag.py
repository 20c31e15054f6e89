"""``cppcc-themes tag PATH...``: tag reports or ready paragraphs with themes.

This is the tagging path: it imports neither mlflow nor datasets.
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

from experiments.commands import EXIT_FATAL, EXIT_OK, EXIT_SOME_FAILED, print_error


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tag", help="tag reports or ready paragraphs with themes")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="report file, folder of reports, or .jsonl of {id, text} paragraphs")
    parser.add_argument("--model", default="models/default", help="packaged model directory")
    parser.add_argument("--format", choices=["table", "jsonl", "csv"], default="table")
    parser.add_argument("--output", help="write here instead of standard output")
    parser.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    from train.package import ModelLoadError, load_model

    try:
        model = load_model(args.model)
    except ModelLoadError as error:
        print_error(str(error))
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
            print_error(str(error))
            failed += 1
            continue
        for path in paths:
            try:
                if path.suffix.lower() == ".jsonl":
                    report = tag_records(model, _jsonl_records(path), path.stem)
                else:
                    report = tag_report(model, path)
            except ReadError as error:
                print_error(str(error))
                failed += 1
                continue
            writer.write(report)
            done += 1
    return failed, done
