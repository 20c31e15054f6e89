"""The ``cppcc-themes`` command line.

Each subcommand lives in ``experiments/commands/<name>.py`` and imports what it needs only when
it runs: ``tag`` never imports mlflow, so tagging starts fast. Exit codes: 0 all done; 1 some
input files failed (the rest were done); 2 nothing could be done (bad arguments, model, config
or tracking store).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

# Subcommands in the order `--help` lists them; each is experiments.commands.<name>.
COMMANDS = ["train", "tag", "ui", "label", "compare", "profile", "cache", "suggest", "annotate",
            "simulate"]
# Commands that have closed their files when they return and need no exit handlers (train
# does: MLflow finishes its logging at exit). The console script leaves them without the
# interpreter's teardown, which takes ~0.25 s once scikit-learn, scipy and pandas are loaded:
# a seventh of tagging one short report.
QUICK_EXIT_COMMANDS = {"tag", "profile"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cppcc-themes",
        description="Tag paragraphs of Chinese CPPCC work reports with five themes.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"cppcc_themes.experiments.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``cppcc-themes`` command; return its exit code."""
    args = build_parser().parse_args(argv)
    return args.func(args)


def console() -> NoReturn:
    """Entry point of the ``cppcc-themes`` console script.

    A reader that stops early (``cppcc-themes tag X | head``) ends the command quietly with
    exit code 141, as SIGPIPE ends other Unix tools: no traceback, no "Exception ignored".
    """
    from cppcc_themes.experiments.commands import EXIT_BROKEN_PIPE, silence_stdout

    args = None
    try:
        try:
            args = build_parser().parse_args()
            code = args.func(args)
        finally:  # --help ends in SystemExit with its text still buffered
            sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        code = EXIT_BROKEN_PIPE
    if args is not None and args.command in QUICK_EXIT_COMMANDS:
        exit_without_teardown(code)
    sys.exit(code)


def exit_without_teardown(code: int) -> NoReturn:
    """Flush the standard streams and end the process at once."""
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away (`| head`) leaves nothing more to write.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    console()
