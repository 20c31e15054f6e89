"""One module per ``cppcc-themes`` subcommand, each with ``register(subparsers)``.

A module imports its heavy dependencies inside its ``run`` function, so that building the
parser costs nothing and ``tag`` never imports mlflow.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, TextIO

EXIT_OK, EXIT_SOME_FAILED, EXIT_FATAL = 0, 1, 2
# What a Unix tool killed by SIGPIPE reports (128 + 13): the reader of the output went away.
EXIT_BROKEN_PIPE = 141
_NARROWEST, _FALLBACK_WIDTH = 60, 100


# Control characters (C0, DEL, C1) and Unicode line breaks: a file name holding one would
# split the message or drive the terminal.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(message: str) -> str:
    """The message with its control characters shown as escapes (``\\n``, ``\\x1b``)."""
    return _UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], message)


def print_error(message: str) -> None:
    """One line on stderr, the form every command uses for a problem it can name."""
    print(f"cppcc-themes: error: {one_line(message)}", file=sys.stderr)


def output_width(stream: TextIO | None = None) -> int:
    """Columns to lay a table out in: ``$COLUMNS``, else the terminal showing ``stream``
    (standard output), else the terminal showing standard error (``tag ... | head`` still
    ends up on the user's screen), else 100."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(_NARROWEST, int(columns))
    for candidate in (stream or sys.stdout, sys.stderr):
        try:
            return max(_NARROWEST, os.get_terminal_size(candidate.fileno()).columns)
        except (AttributeError, ValueError, OSError):
            continue
    return _FALLBACK_WIDTH


def table_console(stream: TextIO | None = None) -> Any:
    """A rich Console writing to ``stream`` (standard output) at ``output_width``; colour
    only on a terminal."""
    from rich.console import Console

    stream = stream or sys.stdout
    console = Console(file=stream, width=output_width(stream), soft_wrap=False)
    # rich ends the process itself (exit 1) when the reader goes away: let the console
    # script end it the one way every command does.
    console.on_broken_pipe = _raise_broken_pipe
    return console


def _raise_broken_pipe() -> None:
    raise BrokenPipeError(32, "Broken pipe")


def silence_stdout() -> None:
    """After the reader of standard output went away (``| head``): point the descriptor at
    /dev/null, so that flushing at exit neither fails nor prints "Exception ignored"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
