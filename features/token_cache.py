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

Each entry records the start of its tokenizer signature and the day (UTC) it was last used;
the day is rewritten at most once per entry and day, so reading stays a plain lookup. A file
of the older schema (no such columns) is migrated when opened: its entries keep serving and
count as used on the day of the migration. ``describe_cache``, ``prune_cache`` and
``clear_cache`` report on and shrink the file (``cppcc-themes cache``).

Activation:
- ``with use_token_cache(): ...`` turns it on in this process for the block (training does).
- ``CPPCC_THEMES_TOKEN_CACHE=1`` turns it on everywhere, child processes included.
- ``CPPCC_THEMES_TOKEN_CACHE=0`` turns it off everywhere, ``use_token_cache`` included.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ENV_VAR", "CacheStats", "TokenCache", "TokenCacheError", "active_token_cache",
           "cache_files", "cache_size", "clear_cache", "compact_cache", "default_cache_path",
           "describe_cache", "prune_cache", "use_token_cache"]

ENV_VAR = "CPPCC_THEMES_TOKEN_CACHE"
CACHE_FILE = "tokens.sqlite3"
_ON, _OFF = {"1", "on", "true", "yes"}, {"0", "off", "false", "no"}
# Bound on the in-memory layer: enough for a training corpus many times over, small enough
# that a process tagging a huge corpus with the cache switched on does not grow without end.
_MEMORY_ENTRIES = 200_000
# Enough of the sha256 signature to tell a handful of configurations apart in a report; the
# lookup key still hashes the whole signature.
SIGNATURE_CHARS = 16
_COLUMNS = ("key TEXT PRIMARY KEY, tokens TEXT NOT NULL, "
            "signature TEXT NOT NULL DEFAULT '', used INTEGER NOT NULL DEFAULT 0")
_SECONDS_PER_DAY = 86_400
# sqlite's own wait for a lock, per statement; past it, and for the SQLITE_BUSY answers it
# does not wait for, statements are retried until the deadline.
_BUSY_TIMEOUT_SECONDS = 60.0
_BUSY_DEADLINE_SECONDS = 120.0


class TokenCacheError(Exception):
    """The cache file cannot be read or changed (the message names the file)."""


def _today() -> int:
    """Days since 1970-01-01 in UTC: the unit of the last-used stamp."""
    return int(time.time() // _SECONDS_PER_DAY)


def _day_to_date(day: int | None) -> datetime.date | None:
    return None if day is None else datetime.date(1970, 1, 1) + datetime.timedelta(days=day)


def default_cache_path() -> Path:
    """``tokens.sqlite3`` in the package's cache folder."""
    from cppcc_themes.features.tokenize import cache_dir

    return cache_dir() / CACHE_FILE


def _migrate(connection: Any) -> None:
    """Bring the ``tokens`` table to the current columns, inside one write transaction so
    that two processes opening an old file at once do not both alter it."""
    # A failed BEGIN has no transaction to roll back, so it stays outside the try.
    connection.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(tokens)")}
        if columns and not {"key", "tokens"} <= columns:
            # Not a table of ours that can be kept: it is a cache, so start again.
            connection.execute("DROP TABLE tokens")
            columns = set()
        if not columns:
            connection.execute(f"CREATE TABLE tokens ({_COLUMNS})")
        if columns and "signature" not in columns:
            connection.execute("ALTER TABLE tokens ADD COLUMN signature TEXT NOT NULL "
                               "DEFAULT ''")
        if columns and "used" not in columns:
            # Old entries count as used today: their real last use is unknown, and pruning
            # them all at the first prune would throw away a warm cache.
            connection.execute("ALTER TABLE tokens ADD COLUMN used INTEGER NOT NULL "
                               f"DEFAULT {_today():d}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _is_busy(error: Exception) -> bool:
    """Whether a sqlite error is another connection holding a lock (SQLITE_BUSY/LOCKED and
    their extended codes): worth waiting for, unlike a damaged file."""
    import sqlite3

    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def _retry_while_busy(operation: Callable[[], Any]) -> Any:
    """Run ``operation``, again and again while sqlite answers busy, for up to
    ``_BUSY_DEADLINE_SECONDS``.

    The busy timeout of the connection waits for most locks, but sqlite answers SQLITE_BUSY
    at once where waiting could deadlock: a read snapshot that cannot become a write after
    another process wrote, or two connections setting up WAL on a new file. Under load those
    happen, and a cache that gave up then would flake.
    """
    deadline = time.monotonic() + _BUSY_DEADLINE_SECONDS
    pause = 0.005
    while True:
        try:
            return operation()
        except Exception as error:
            if not _is_busy(error) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def _set_up(connection: Any) -> None:
    """WAL mode and the current schema on a new connection (a no-op on a ready file)."""
    # The first statement reads the schema, so even this one can find the file locked.
    # WAL with synchronous=NORMAL stays consistent on a crash; a lost last entry only costs
    # one re-segmentation.
    connection.execute("PRAGMA synchronous=NORMAL")
    # Changing the journal mode takes a write lock: only ask when the file is not WAL yet.
    mode = connection.execute("PRAGMA journal_mode").fetchall()[0][0]
    if str(mode).lower() != "wal":
        connection.execute("PRAGMA journal_mode=WAL").fetchall()
    columns = {row[1] for row in connection.execute("PRAGMA table_info(tokens)").fetchall()}
    if not {"key", "tokens", "signature", "used"} <= columns:
        _migrate(connection)


def _open_database(path: Path) -> Any:
    """A connection to the cache file at ``path`` in WAL mode with the current schema,
    creating the file if needed; raises sqlite3.Error or OSError."""
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                 check_same_thread=False)
    try:
        _retry_while_busy(lambda: _set_up(connection))
    except BaseException:
        connection.close()
        raise
    return connection


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
                self._connection = _open_database(self.path)
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
        short_signature = signature[:SIGNATURE_CHARS]
        today = _today()
        connection = self._connect()
        if connection is not None:
            try:
                # fetchall: a statement left unfinished would hold a read snapshot open.
                rows = _retry_while_busy(lambda: connection.execute(
                    "SELECT tokens, used, signature FROM tokens WHERE key = ?",
                    (key,)).fetchall())
                row = rows[0] if rows else None
            except sqlite3.Error as error:
                self._give_up(error)
                row = None
            if row is not None:
                self.hits += 1
                if row[1] < today or row[2] != short_signature:
                    self._stamp(key, short_signature, today)
                return tuple(json.loads(row[0]))
        self.misses += 1
        tokens = tuple(compute(text))
        connection = self._connection
        if connection is not None:
            entry = (key, json.dumps(tokens, ensure_ascii=False), short_signature, today)
            try:
                _retry_while_busy(lambda: connection.execute(
                    "INSERT OR IGNORE INTO tokens (key, tokens, signature, used) "
                    "VALUES (?, ?, ?, ?)", entry))
            except sqlite3.Error as error:
                self._give_up(error)
        return tokens

    def _stamp(self, key: str, short_signature: str, today: int) -> None:
        """Mark an entry used today. One small write per entry and day at most keeps hits
        cheap; the signature fills in for entries migrated from the older schema."""
        import sqlite3

        try:
            connection = self._connection
            _retry_while_busy(lambda: connection.execute(
                "UPDATE tokens SET used = ?, signature = ? WHERE key = ?",
                (today, short_signature, key)))
        except sqlite3.Error as error:
            self._give_up(error)

    def entries(self) -> int:
        """Number of entries stored in the file (0 when it cannot be read)."""
        connection = self._connect()
        if connection is None:
            return 0
        return connection.execute("SELECT COUNT(*) FROM tokens").fetchone()[0]

    def close(self) -> None:
        """Close the file; the cache can still be used and reopens it when needed."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def cache_files(path: str | Path | None = None) -> list[Path]:
    """The cache file and its WAL companions (``-wal``, ``-shm``), existing or not."""
    database = Path(path) if path is not None else default_cache_path()
    return [database, database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm")]


def cache_size(path: str | Path | None = None) -> int:
    """Bytes on disk of the cache file and its WAL companions."""
    size = 0
    for file in cache_files(path):
        with contextlib.suppress(FileNotFoundError):
            size += file.stat().st_size
    return size


@dataclass(frozen=True)
class CacheStats:
    """What a token cache file holds. ``signatures`` maps the first ``SIGNATURE_CHARS``
    characters of each tokenizer signature to its entries (``""``: entries of the older
    schema not used since); the dates are the UTC days of the oldest and newest last use."""

    path: Path
    exists: bool
    size_bytes: int = 0
    entries: int = 0
    signatures: dict[str, int] = field(default_factory=dict)
    oldest_use: datetime.date | None = None
    newest_use: datetime.date | None = None


@contextlib.contextmanager
def _admin_connection(path: Path) -> Iterator[Any]:
    """A connection for reporting and pruning; errors become TokenCacheError."""
    import sqlite3

    try:
        connection = _open_database(path)
    except (sqlite3.Error, OSError) as error:
        raise TokenCacheError(f"{path}: cannot open the token cache ({error})") from error
    try:
        yield connection
    except sqlite3.Error as error:
        raise TokenCacheError(f"{path}: cannot use the token cache ({error})") from error
    finally:
        # Closing the last connection checkpoints the WAL into the file and removes it.
        connection.close()


def describe_cache(path: str | Path | None = None) -> CacheStats:
    """Report on the cache file at ``path`` (default: ``default_cache_path()``) without
    creating it; an old-schema file is migrated. Raises TokenCacheError if unreadable."""
    database = Path(path) if path is not None else default_cache_path()
    if not database.exists():
        return CacheStats(path=database, exists=False, size_bytes=cache_size(database))
    with _admin_connection(database) as connection:
        signatures = dict(connection.execute(
            "SELECT signature, COUNT(*) FROM tokens GROUP BY signature "
            "ORDER BY COUNT(*) DESC, signature").fetchall())
        entries, oldest, newest = connection.execute(
            "SELECT COUNT(*), MIN(used), MAX(used) FROM tokens").fetchone()
    return CacheStats(path=database, exists=True, size_bytes=cache_size(database),
                      entries=entries, signatures=signatures,
                      oldest_use=_day_to_date(oldest), newest_use=_day_to_date(newest))


def prune_cache(days: int, path: str | Path | None = None) -> int:
    """Delete the entries not used for more than ``days`` days; return how many went.

    ``days=0`` keeps only the entries used today (UTC). The file keeps its size until
    ``compact_cache``. A missing file has nothing to prune. Raises TokenCacheError.
    """
    if days < 0:
        raise ValueError(f"days must be 0 or more, not {days}")
    database = Path(path) if path is not None else default_cache_path()
    if not database.exists():
        return 0
    with _admin_connection(database) as connection:
        return connection.execute("DELETE FROM tokens WHERE used < ?",
                                  (_today() - days,)).rowcount


def compact_cache(path: str | Path | None = None) -> int:
    """VACUUM the cache file so that deleted entries give their space back; return its new
    size in bytes (with -wal and -shm). Raises TokenCacheError, e.g. when the disk lacks the
    room for the temporary copy VACUUM writes."""
    database = Path(path) if path is not None else default_cache_path()
    if not database.exists():
        return cache_size(database)
    with _admin_connection(database) as connection:
        connection.execute("VACUUM")
        # VACUUM in WAL mode writes the smaller database into the WAL; the checkpoint
        # moves it into the file and truncates both (readers of other processes may
        # delay that until they finish).
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return cache_size(database)


def clear_cache(path: str | Path | None = None) -> int:
    """Delete the cache file and its WAL companions; return the bytes freed.

    Works on a damaged file too: nothing is opened. A process using the cache at that moment
    keeps writing to the deleted file and the next one starts a new cache.
    """
    freed = 0
    for file in cache_files(path):
        try:
            size = file.stat().st_size
            file.unlink()
        except FileNotFoundError:
            continue
        except OSError as error:
            raise TokenCacheError(f"{file}: cannot delete ({error.strerror or error})") \
                from error
        freed += size
    return freed


_ACTIVE: TokenCache | None = None
# Blocks of use_token_cache now open on _ACTIVE (all threads), guarded by _ACTIVE_LOCK.
_ACTIVE_USERS = 0
_ACTIVE_LOCK = threading.Lock()
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
    global _ACTIVE, _ACTIVE_USERS
    if _environment_setting() in _OFF:
        yield None
        return
    # Threads (a threaded joblib or Dask worker) enter and leave blocks in any order: the
    # cache closes when the last block using it ends, never under another thread's feet.
    with _ACTIVE_LOCK:
        if _ACTIVE is None:
            _ACTIVE = TokenCache(path or default_cache_path())
        _ACTIVE_USERS += 1
        cache = _ACTIVE
    try:
        yield cache
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE_USERS -= 1
            if _ACTIVE_USERS == 0:
                _ACTIVE = None
                cache.close()
