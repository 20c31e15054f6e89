"""``cppcc-themes tag PATH...``: tag reports or ready paragraphs with themes.

This is the tagging path: it imports neither mlflow nor datasets.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from cppcc_themes.experiments.commands import (
    EXIT_FATAL,
    EXIT_OK,
    EXIT_SOME_FAILED,
    print_error,
    table_console,
)

FORMATS = ["table", "jsonl", "csv", "json"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tag", help="tag reports or ready paragraphs with themes",
        description="Tag report files (.txt in any Chinese encoding, .docx, .pdf, .html), "
                    "folders of them (recursively), .jsonl files of {id, text} paragraphs, "
                    "or - for standard input.")
    add_input_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (default), jsonl (one paragraph per line), csv, or json "
                             "(one object per report with its profile)")
    parser.add_argument("--output", help="write here instead of standard output")
    parser.add_argument("--html", metavar="FILE",
                        help="also write a readable HTML page of the tagged reports")
    parser.set_defaults(func=run)


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments ``tag`` and ``profile`` share: inputs, model, workers, progress."""
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="report file, folder of reports, .jsonl of {id, text} paragraphs, "
                             "or - for standard input")
    parser.add_argument("--model", metavar="DIR",
                        help="packaged model directory (default: $CPPCC_THEMES_MODEL, else "
                             "./models/default, else the one `cppcc-themes train` packaged in "
                             "your data folder)")
    parser.add_argument("--workers", type=_positive_int, default=1,
                        help="tag files in this many processes (same results, same order)")
    parser.add_argument("--progress", action="store_true",
                        help="show a progress bar even when stderr is not a terminal")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="tag on the Dask cluster at ADDRESS, e.g. tcp://host:8786")
    add_table_arguments(parser)
    parser.add_argument("--tokenizer", choices=["auto", "model", "jieba", "rjieba"],
                        help="segmenter to tag with: auto (default, or $CPPCC_THEMES_TOKENIZER) "
                             "uses rjieba for a jieba model when installed and HMM is off (same "
                             "tokens, much faster); model keeps the trained one; jieba forces the "
                             "reference")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _evidence_text(evidence: dict[str, dict[str, float]], per_theme: int = 5) -> str:
    return "; ".join(f"{theme}: " + ", ".join(f"{gram} +{w:.2f}"
                                                for gram, w in list(grams.items())[:per_theme])
                     for theme, grams in evidence.items() if grams)


class _Writer:
    """Writes tagged reports as they come, in one of the output formats."""

    def __init__(self, stream: TextIO, fmt: str, labels: list[str], columns: bool = False):
        self.stream, self.fmt, self.labels = stream, fmt, labels
        self.columns = columns  # a "columns" column (JSON) for the rows of tables
        self.csv = None
        self.reports_written = 0
        if fmt == "csv":
            self.csv = csv.writer(stream)
            self.csv.writerow(["report", "id", "index", "heading", "text", "themes",
                               *[f"score_{label}" for label in labels], "evidence",
                               *(["columns"] if columns else [])])
        elif fmt == "json":
            stream.write("[")

    def write(self, report: Any) -> None:
        if self.fmt == "jsonl":
            for p in report.paragraphs:
                self.stream.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            for p in report.paragraphs:
                extra = [json.dumps(p.columns, ensure_ascii=False)] if self.columns else []
                self.csv.writerow([p.report, p.id, p.index, p.heading or "", p.text,
                                   ";".join(p.themes), *[p.scores[label] for label in self.labels],
                                   _evidence_text(p.evidence), *extra])
        elif self.fmt == "json":
            separator = ",\n" if self.reports_written else "\n"
            self.stream.write(separator + json.dumps(report.to_dict(), ensure_ascii=False))
        else:
            self._table(report)
        self.reports_written += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write("\n]\n")

    def _table(self, report: Any) -> None:
        self.console = getattr(self, "console", None) or table_console(self.stream)
        self.console.print(paragraph_table(report, self.labels, self.console.width))


# Evidence gets a column only where the paragraph keeps this much room beside it.
_EVIDENCE_FROM_WIDTH = 150


def paragraph_table(report: Any, labels: list[str], width: int) -> Any:
    """A rich table of a report's paragraphs for a terminal ``width`` columns wide.

    Every score is shown in full (one narrow column per theme, the assigned ones in bold);
    the themes column names only the themes the paragraph has ("-" for none); the paragraph
    text, and the evidence on wide terminals, take what room is left, cut with an ellipsis.
    """
    from rich.table import Table

    from cppcc_themes.train.render import short_theme_names

    short = short_theme_names(labels)
    table = Table(title=f"{report.name}: {len(report.paragraphs)} paragraphs",
                  caption="scores: " + ", ".join(f"{short[label]} = {label}"
                                                 for label in labels),
                  expand=True, padding=(0, 1))
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("paragraph", ratio=3, min_width=12, overflow="ellipsis", no_wrap=True)
    # As wide as the longest theme list, up to 20 (longer lists wrap between names).
    longest = max((len(", ".join(p.themes)) for p in report.paragraphs), default=1)
    table.add_column("themes", width=min(max(longest, 6), 20), overflow="fold")
    for label in labels:
        table.add_column(short[label], justify="right", no_wrap=True, min_width=4)
    evidence = width >= _EVIDENCE_FROM_WIDTH
    if evidence:
        table.add_column("evidence", ratio=2, overflow="ellipsis", no_wrap=True)
    for p in report.paragraphs:
        scores = [f"[bold]{p.scores[label]:.2f}[/bold]" if label in p.themes
                  else f"[dim]{p.scores[label]:.2f}[/dim]" for label in labels]
        row = [str(p.index), p.text, ", ".join(p.themes) or "-", *scores]
        if evidence:
            row.append(_evidence_text(p.evidence, 3))
        table.add_row(*row)
    return table


def wants_progress(args: argparse.Namespace, files: int) -> bool:
    """A bar only for many files, and only where a person watches (or ``--progress``)."""
    return files > 1 and (args.progress or sys.stderr.isatty())


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int) -> Iterator[Any]:
    """A rich progress bar on stderr; yields a function to call once per file done."""
    if not enabled:
        yield lambda name: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    # No refresh thread: worker processes are forked while the bar is shown.
    with Progress(TextColumn("tagging"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), console=Console(stderr=True),
                  auto_refresh=False, transient=True) as progress:
        task = progress.add_task("", total=total)

        def advance(name: str) -> None:
            progress.update(task, advance=1, description=name)
            progress.refresh()

        yield advance


def tag_inputs(args: argparse.Namespace, model: Any) -> Iterator[tuple[str, Any]]:
    """(path, Report) for each input that could be tagged; each failure is printed and kept in
    ``args.errors``."""
    from cppcc_themes.features.readers import ReadError
    from cppcc_themes.train.predict import expand_inputs, tag_paths

    total = len(expand_inputs(args.paths))
    table = table_options(args)
    args.errors = []
    with progress_bar(wants_progress(args, total), total) as advance:
        if getattr(args, "dask", None):
            from cppcc_themes.experiments.dask_cluster import tag_paths_for_cli
            results = tag_paths_for_cli(model, args.paths, args.dask, table)
        else:
            results = tag_paths(model, args.paths, workers=args.workers, table=table)
        previous = None
        for path, result in results:
            if path != previous:  # a table gives several reports: one step per file
                advance(Path(path).name)
                previous = path
            if isinstance(result, ReadError):
                print_error(str(result))
                args.errors.append(str(result))
                continue
            yield path, result


def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    """``--text-column``, ``--id-column`` and ``--rows``: how to read tables of reports."""
    tables = parser.add_argument_group(
        "tables", "reading .csv/.tsv (any Chinese encoding), .parquet and .xlsx files; the "
                  "other columns of a row are carried through to the output")
    tables.add_argument("--text-column", metavar="NAME",
                        help="the column holding the text (default: text)")
    tables.add_argument("--id-column", metavar="NAME",
                        help="the column naming each row: the report's name, or the "
                             "paragraph's id (default: the row number)")
    tables.add_argument("--rows", choices=["report", "paragraph"], default="report",
                        help="a row is a whole report, cut into paragraphs (default), or one "
                             "paragraph of a report named after the file")


def table_options(args: argparse.Namespace) -> Any:
    """How ``--text-column``, ``--id-column`` and ``--rows`` ask to read tables."""
    from cppcc_themes.features.tables import TableOptions

    return TableOptions(text_column=getattr(args, "text_column", None),
                        id_column=getattr(args, "id_column", None),
                        rows=getattr(args, "rows", "report"))


def has_tables(paths: list[str]) -> bool:
    """Whether any of the inputs is, or a folder among them holds, a table file."""
    from cppcc_themes.features.tables import is_table
    from cppcc_themes.train.predict import expand_inputs

    return any(isinstance(path, str) and is_table(path) for path in expand_inputs(paths))


def load_model_or_none(directory: str | None, tokenizer: str | None = None) -> Any:
    """The packaged model (``directory``, else the first of ``train.locate.find_model_dir``),
    or None after printing why it cannot be used."""
    from cppcc_themes.train.locate import find_model_dir
    from cppcc_themes.train.package import ModelLoadError, load_model

    try:
        return load_model(find_model_dir(directory), tokenizer)
    except ModelLoadError as error:
        print_error(str(error))
        return None


def run(args: argparse.Namespace) -> int:
    model = load_model_or_none(args.model, args.tokenizer)
    if model is None:
        return EXIT_FATAL
    reports = []
    try:
        with contextlib.ExitStack() as stack:
            stream = (stack.enter_context(open(args.output, "w", encoding="utf-8", newline=""))
                      if args.output else sys.stdout)
            writer = _Writer(stream, args.format, model.labels,
                             columns=args.format == "csv" and has_tables(args.paths))
            for _, report in tag_inputs(args, model):
                writer.write(report)
                if args.html:
                    reports.append(report)
            writer.close()
        if args.html:
            _write_html(args.html, reports, model.labels, args.errors)
    except BrokenPipeError:
        raise  # the reader went away: the console script ends quietly
    except OSError as error:
        target = error.filename or args.output or "<stdout>"
        print_error(f"{target}: cannot write ({error.strerror})")
        return EXIT_FATAL
    done = len(reports) if args.html else writer.reports_written
    if args.errors:
        print(f"cppcc-themes: {done} file(s) tagged, {len(args.errors)} failed", file=sys.stderr)
    return EXIT_SOME_FAILED if args.errors else EXIT_OK


def _write_html(path: str, reports: list[Any], labels: list[str], errors: list[str]) -> None:
    from cppcc_themes.train.render import render_html

    Path(path).write_text(render_html(reports, labels, errors), encoding="utf-8")
