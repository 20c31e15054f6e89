"""The ``cppcc-themes`` command line.

Each subcommand lives in ``experiments/commands/<name>.py`` and imports what it needs only when
it runs: ``tag`` never imports mlflow, so tagging starts fast. Exit codes: 0 all done; 1 some
input files failed (the rest were done); 2 nothing could be done (bad arguments, model, config
or tracking store).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Subcommands in the order `--help` lists them; each is experiments.commands.<name>.
COMMANDS = ["train", "tag", "ui", "label", "compare", "profile", "cache"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cppcc-themes",
        description="Tag paragraphs of Chinese CPPCC work reports with five themes.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"experiments.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cppcc-themes`` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
