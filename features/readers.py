"""Reading report files into text. Every error names the file and the problem."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SUPPORTED_SUFFIXES", "ReadError", "iter_report_paths", "read_report"]


class ReadError(ValueError):
    """A report file cannot be read; the message names the file."""


def read_report(path: Path) -> str:
    """Return the text of a UTF-8 report file."""
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: no such file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReadError(f"{path}: not UTF-8 text") from None
    if not text.strip():
        raise ReadError(f"{path}: empty file")
    return text


SUPPORTED_SUFFIXES = (".txt", ".jsonl")


def iter_report_paths(path: Path):
    """Yield the report files at ``path``: the file itself, or a folder's files, recursively."""
    path = Path(path)
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                yield child
    elif path.is_file():
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise ReadError(f"{path}: unsupported file type {path.suffix or '(none)'}; "
                            f"supported: {', '.join(SUPPORTED_SUFFIXES)}")
        yield path
    else:
        raise ReadError(f"{path}: no such file or folder")
