"""A persistent cache of tokens: each text is segmented once per tokenizer configuration.

Training segments the same paragraphs once per fold, per threshold-tuning fold and per
experiment; with the cache active each (text, tokenizer signature) pair is segmented once and
read back afterwards, across folds, experiments and processes. The signature covers the
backend, its version, the HMM switch, stopwords and the user dictionary, so a change to any
of them misses instead of returning stale tokens.

Storage is one sqlite database in WAL mode under the cache folder: every new entry is its own
small transaction, so two experiments running at once both read and write it safely, and an
interrupted run leaves only whole entries. The cache is an accelerator, never a dependency: a
packaged model does not refer to it, and any failure to open or write it falls back to
segmenting without it (one warning on stderr).

Activation:
- ``with use_token_cache(): ...`` turns it on in this process for the block (training does).
- ``CPPCC_THEMES_TOKEN_CACHE=1`` turns it on everywhere, child processes included.
- ``CPPCC_THEMES_TOKEN_CACHE=0`` turns it off everywhere, ``use_token_cache`` included.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["ENV_VAR", "TokenCache", "active_token_cache", "default_cache_path",
           "use_token_cache"]

ENV_VAR = "CPPCC_THEMES_TOKEN_CACHE"
CACHE_FILE = "tokens.sqlite3"
_ON, _OFF = {"1", "on", "true", "yes"}, {"0", "off", "false", "no"}
# Bound on the in-memory layer: enough for a training corpus many times over, small enough
# that a process tagging a huge corpus with the cache switched on does not grow without end.
_MEMORY_ENTRIES = 200_000


def default_cache_path() -> Path:
    """``tokens.sqlite3`` in the package's cache folder."""
    from features.tokenize import cache_dir

    return cache_dir() / CACHE_FILE


class TokenCache:
    """Tokens per (tokenizer signature, text), in memory and in a sqlite file shared by
    processes. ``hits`` and ``misses`` count lookups since it was opened."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.hits = 0
        self.misses = 0
        self._memory: dict[tuple[str, str], tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._connection: Any = None
        self._broken = False

    def _connect(self) -> Any:
        """The sqlite connection, opened on first use; None once the file proved unusable."""
        if self._connection is None and not self._broken:
            import sqlite3

            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                             check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                # WAL with synchronous=NORMAL stays consistent on a crash; a lost last entry
                # only costs one re-segmentation.
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("CREATE TABLE IF NOT EXISTS tokens "
                                   "(key TEXT PRIMARY KEY, tokens TEXT NOT NULL)")
                self._connection = connection
            except (sqlite3.Error, OSError) as error:
                self._give_up(error)
        return self._connection

    def _give_up(self, error: Exception) -> None:
        self._broken = True
        self._connection = None
        print(f"cppcc-themes: warning: token cache {self.path} unusable ({error}); "
              "segmenting without it", file=sys.stderr)

    def tokens(self, signature: str, text: str, compute: Callable[[str], list[str]]) -> list[str]:
        """The tokens of ``text`` under ``signature``, from the cache or from ``compute``."""
        memo_key = (signature, text)
        cached = self._memory.get(memo_key)
        if cached is None:
            with self._lock:
                cached = self._read_or_compute(signature, text, compute)
            if len(self._memory) >= _MEMORY_ENTRIES:
                self._memory.clear()
            self._memory[memo_key] = cached
        else:
            self.hits += 1
        return list(cached)

    def _read_or_compute(self, signature: str, text: str,
                         compute: Callable[[str], list[str]]) -> tuple[str, ...]:
        import sqlite3

        key = hashlib.sha256(f"{signature}\n{text}".encode()).hexdigest()
        connection = self._connect()
        if connection is not None:
            try:
                row = connection.execute("SELECT tokens FROM tokens WHERE key = ?",
                                         (key,)).fetchone()
            except sqlite3.Error as error:
                self._give_up(error)
                row = None
            if row is not None:
                self.hits += 1
                return tuple(json.loads(row[0]))
        self.misses += 1
        tokens = tuple(compute(text))
        connection = self._connection
        if connection is not None:
            try:
                connection.execute("INSERT OR IGNORE INTO tokens VALUES (?, ?)",
                                   (key, json.dumps(tokens, ensure_ascii=False)))
            except sqlite3.Error as error:
                self._give_up(error)
        return tokens

    def entries(self) -> int:
        """Number of entries stored in the file (0 when it cannot be read)."""
        connection = self._connect()
        if connection is None:
            return 0
        return connection.execute("SELECT COUNT(*) FROM tokens").fetchone()[0]

    def close(self) -> None:
        """Close the file; the cache can still be used and reopens it when needed."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


_ACTIVE: TokenCache | None = None
_FROM_ENVIRONMENT: TokenCache | None = None


def _environment_setting() -> str:
    return os.environ.get(ENV_VAR, "").strip().lower()


def active_token_cache() -> TokenCache | None:
    """The cache tokenizers should use now, or None to segment without one."""
    global _FROM_ENVIRONMENT
    if _ACTIVE is not None:
        return _ACTIVE
    if _environment_setting() in _ON:
        if _FROM_ENVIRONMENT is None or _FROM_ENVIRONMENT.path != default_cache_path():
            _FROM_ENVIRONMENT = TokenCache(default_cache_path())
        return _FROM_ENVIRONMENT
    return None


@contextlib.contextmanager
def use_token_cache(path: str | Path | None = None) -> Iterator[TokenCache | None]:
    """Within the block, tokenizers in this process read and fill the token cache.

    ``path`` defaults to ``tokens.sqlite3`` in the cache folder. Yields the cache, or None
    when ``CPPCC_THEMES_TOKEN_CACHE=0`` switches caching off. Nested blocks share the outer
    cache.
    """
    global _ACTIVE
    if _environment_setting() in _OFF:
        yield None
        return
    if _ACTIVE is not None:
        yield _ACTIVE
        return
    cache = TokenCache(path or default_cache_path())
    _ACTIVE = cache
    try:
        yield cache
    finally:
        _ACTIVE = None
        cache.close()
