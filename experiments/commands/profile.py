"""``cppcc-themes profile PATH...``: compare the theme profiles of several reports.

Part of the tagging path: it imports neither mlflow nor datasets.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any, TextIO

from cppcc_themes.experiments.commands import (
    EXIT_FATAL,
    EXIT_OK,
    EXIT_SOME_FAILED,
    print_error,
    table_console,
)
from cppcc_themes.experiments.commands.shares import add_share_arguments
from cppcc_themes.experiments.commands.tag import (
    add_input_arguments,
    load_model_or_none,
    tag_inputs,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "profile", help="compare the theme profiles of reports (table, csv, json, --plot)",
        description="Tag each report and show its profile: per theme (and none) the share of "
                    "its paragraphs and of its characters.")
    add_input_arguments(parser)
    parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="also draw the profiles side by side as a bar chart (PNG)")
    add_share_arguments(parser)
    parser.set_defaults(func=run)


def _write_profiles(stream: TextIO, fmt: str, reports: list[Any], labels: list[str]) -> None:
    themes = [*labels, "none"]
    if fmt == "json":
        json.dump([{"report": r.name, "source": r.source, "paragraphs": len(r.paragraphs),
                    **({"columns": r.columns} if r.columns else {}),
                    "profile": dict(r.profile)} for r in reports],
                  stream, ensure_ascii=False, indent=1)
        stream.write("\n")
    elif fmt == "csv":
        writer = csv.writer(stream)
        columns = any(report.columns for report in reports)  # rows of tables: carried along
        writer.writerow(["report", "source", "theme", "paragraphs", "paragraph_share", "chars",
                         "char_share", *(["columns"] if columns else [])])
        for report in reports:
            extra = [json.dumps(report.columns, ensure_ascii=False)] if columns else []
            for theme, row in report.profile.items():
                writer.writerow([report.name, report.source, theme, row["paragraphs"],
                                 row["paragraph_share"], row["chars"], row["char_share"],
                                 *extra])
    else:
        from rich.table import Table

        from cppcc_themes.train.render import short_theme_names

        short = {**short_theme_names(labels), "none": "none"}
        table = Table(title="theme profiles: share of paragraphs / share of characters",
                      caption="columns: " + ", ".join(f"{short[t]} = {t}" for t in labels),
                      padding=(0, 1))
        table.add_column("report", overflow="fold", min_width=8)
        table.add_column("paragraphs", justify="right", no_wrap=True)
        for theme in themes:
            table.add_column(short[theme], justify="right", no_wrap=True)
        for report in reports:
            profile = report.profile
            table.add_row(report.name, str(len(report.paragraphs)),
                          *[f"{profile[t]['paragraph_share']:.0%}/{profile[t]['char_share']:.0%}"
                            for t in themes])
        table_console(stream).print(table)


def run(args: argparse.Namespace) -> int:
    model = load_model_or_none(args.model, args.tokenizer)
    if model is None:
        return EXIT_FATAL
    if args.adjusted or args.compare:
        from cppcc_themes.experiments.commands.shares import run_shares

        return run_shares(args, model)
    reports = [report for _, report in tag_inputs(args, model)]
    _write_profiles(sys.stdout, args.format, reports, model.labels)
    if args.plot and reports:
        from cppcc_themes.train.render import plot_profiles

        try:
            plot_profiles(reports, model.labels, args.plot)
        except OSError as error:
            print_error(f"{args.plot}: cannot write ({error.strerror or error})")
            return EXIT_FATAL
    return EXIT_SOME_FAILED if args.errors else EXIT_OK
