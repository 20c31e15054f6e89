"""One module per ``cppcc-themes`` subcommand, each with ``register(subparsers)``.

A module imports its heavy dependencies inside its ``run`` function, so that building the
parser costs nothing and ``tag`` never imports mlflow.
"""

from __future__ import annotations

import sys

EXIT_OK, EXIT_SOME_FAILED, EXIT_FATAL = 0, 1, 2


def print_error(message: str) -> None:
    """One line on stderr, the form every command uses for a problem it can name."""
    print(f"cppcc-themes: error: {message}", file=sys.stderr)
