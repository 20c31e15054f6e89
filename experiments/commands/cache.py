"""``cppcc-themes cache``: see, prune or clear the token cache (``tokens.sqlite3``).

The cache lives in ``$CPPCC_THEMES_CACHE``, else ``~/.cache/cppcc-themes``. It imports neither
mlflow, datasets nor scikit-learn. Exit codes: 0 done; 1 entries were pruned but the file could
not be compacted; 2 the cache could not be read or changed.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from cppcc_themes.experiments.commands import EXIT_FATAL, EXIT_OK, EXIT_SOME_FAILED, print_error


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cache", help="show, prune or clear the token cache",
        description="Show where the token cache is, its size and entries per tokenizer "
                    "configuration; prune entries not used for a while, or delete it. "
                    "The cache only saves segmentation time: results never depend on it.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--prune-days", type=_days, metavar="N",
                        help="delete entries not used for more than N days, then compact "
                             "the file")
    action.add_argument("--clear", action="store_true", help="delete the whole cache file")
    parser.set_defaults(func=run)


def _days(value: str) -> int:
    """argparse type: a whole number of days, 0 or more."""
    try:
        days = int(value)
    except ValueError:
        days = -1
    if days < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of days >= 0, not {value!r}")
    return days


def format_bytes(size: int) -> str:
    """``size`` in B, kB, MB or GB (powers of 1000), one decimal above bytes."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def describe_signatures() -> dict[str, str]:
    """Short signature -> readable configuration, for every tokenizer this installation can
    build; entries under any other signature are never read again by it."""
    from importlib import metadata

    from cppcc_themes.features.token_cache import SIGNATURE_CHARS
    from cppcc_themes.features.tokenize import BACKENDS, Tokenizer, tokenizer_signature

    names = {}
    for backend in BACKENDS:
        try:
            version = metadata.version(backend)
        except metadata.PackageNotFoundError:
            version = "not installed"
        for hmm in (False, True):
            for stopwords in (True, False):
                tokenizer = Tokenizer(backend=backend, hmm=hmm, remove_stopwords=stopwords)
                default = " (default)" if tokenizer == Tokenizer() else ""
                names[tokenizer_signature(tokenizer)[:SIGNATURE_CHARS]] = (
                    f"{backend} {version}, HMM {'on' if hmm else 'off'}, stopwords "
                    f"{'removed' if stopwords else 'kept'}{default}")
    return names


def _signature_rows(signatures: dict[str, int]) -> list[tuple[str, int, str]]:
    known = describe_signatures()
    rows = []
    for signature, count in signatures.items():
        if not signature:
            rows.append(("-", count, "written by an older version, not used since"))
        else:
            rows.append((signature, count, known.get(
                signature, "another version, dictionary or stopword list: stale")))
    return rows


def print_stats(stats: Any) -> None:
    """Location, size, entries, last-use range and entries per tokenizer configuration."""
    from cppcc_themes.features.token_cache import ENV_VAR

    print(f"token cache: {stats.path}")
    if os.environ.get(ENV_VAR, "").strip().lower() in {"0", "off", "false", "no"}:
        print(f"             (switched off by {ENV_VAR}={os.environ[ENV_VAR]})")
    if not stats.exists:
        print("size:        0 B (no cache file yet)")
        return
    print(f"size:        {format_bytes(stats.size_bytes)} ({stats.size_bytes:,} bytes, "
          "-wal and -shm included)")
    print(f"entries:     {stats.entries:,}")
    if stats.entries:
        print(f"last used:   {stats.oldest_use} to {stats.newest_use} (UTC days)")
        print("per tokenizer configuration:")
        for signature, count, name in _signature_rows(stats.signatures):
            print(f"  {signature:<16} {count:>10,}  {name}")


def prune(days: int) -> int:
    """Delete entries unused for more than ``days`` days, compact, print what changed."""
    from cppcc_themes.features.token_cache import (
        TokenCacheError,
        compact_cache,
        describe_cache,
        prune_cache,
    )

    try:
        before = describe_cache()
        removed = prune_cache(days, before.path)
    except TokenCacheError as error:
        print_error(f"{error}; `cppcc-themes cache --clear` deletes it")
        return EXIT_FATAL
    if not before.exists:
        print(f"no token cache at {before.path}: nothing to prune")
        return EXIT_OK
    print(f"pruned {removed:,} of {before.entries:,} entries not used for more than {days} "
          f"days; {max(before.entries - removed, 0):,} remain")
    try:
        size = compact_cache(before.path)
    except TokenCacheError as error:
        print_error(f"{error}; the entries are gone but the file did not shrink")
        return EXIT_SOME_FAILED
    print(f"size: {format_bytes(before.size_bytes)} -> {format_bytes(size)} "
          f"({size:,} bytes)")
    return EXIT_OK


def clear() -> int:
    """Delete the cache file and its companions, print what was freed."""
    from cppcc_themes.features.token_cache import (
        TokenCacheError,
        cache_files,
        clear_cache,
        default_cache_path,
    )

    path = default_cache_path()
    existed = any(file.exists() for file in cache_files(path))
    try:
        freed = clear_cache(path)
    except TokenCacheError as error:
        print_error(str(error))
        return EXIT_FATAL
    if existed:
        print(f"deleted the token cache {path} ({format_bytes(freed)} freed)")
    else:
        print(f"no token cache at {path}: nothing to delete")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.clear:
        return clear()
    if args.prune_days is not None:
        return prune(args.prune_days)
    from cppcc_themes.features.token_cache import TokenCacheError, describe_cache

    try:
        stats = describe_cache()
    except TokenCacheError as error:
        print_error(f"{error}; `cppcc-themes cache --clear` deletes it")
        return EXIT_FATAL
    print_stats(stats)
    return EXIT_OK
