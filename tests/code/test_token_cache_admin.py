"""Managing the token cache: report, last use, prune, compact, clear, old-schema migration, and
the ``cppcc-themes cache`` command. Real sqlite files, real jieba segmentation."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cppcc_themes.experiments.cli import main
from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.segment import segment_report
from cppcc_themes.features.token_cache import (
    ENV_VAR,
    SIGNATURE_CHARS,
    TokenCache,
    cache_files,
    clear_cache,
    compact_cache,
    describe_cache,
    prune_cache,
    use_token_cache,
)
from cppcc_themes.features.tokenize import Tokenizer, tokenizer_signature

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["加强专门协商机构建设", "坚持和加强党对政协工作的全面领导", "广泛凝聚共识",
         "围绕营商环境开展专题协商", "我们和他们的工作"]
OLD_SCHEMA = "CREATE TABLE IF NOT EXISTS tokens (key TEXT PRIMARY KEY, tokens TEXT NOT NULL)"
KEPT = Tokenizer(remove_stopwords=False)


@pytest.fixture
def cache_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default cache file, inside this test's own cache folder."""
    monkeypatch.setenv("CPPCC_THEMES_CACHE", str(tmp_path))
    monkeypatch.delenv(ENV_VAR, raising=False)
    return tmp_path / "tokens.sqlite3"


def short(tokenizer: Tokenizer) -> str:
    return tokenizer_signature(tokenizer)[:SIGNATURE_CHARS]


def fill(texts: list[str], *tokenizers: Tokenizer) -> None:
    """Segment every text with every tokenizer through the default cache."""
    with use_token_cache() as cache:
        assert cache is not None
        for tokenizer in tokenizers:
            for text in texts:
                tokenizer(text)


def age(path: Path, days: int, signature: str | None = None) -> int:
    """Move the last use of the entries (of one signature) ``days`` into the past."""
    with sqlite3.connect(path) as connection:
        where, values = ("WHERE signature = ?", (signature,)) if signature else ("", ())
        changed = connection.execute(f"UPDATE tokens SET used = used - ? {where}",
                                     (days, *values)).rowcount
    connection.close()
    return changed


def utc_today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def test_report_counts_entries_per_signature_with_wal_size(cache_path):
    with use_token_cache() as cache:
        for tokenizer in (Tokenizer(), KEPT):
            for text in TEXTS:
                tokenizer(text)
        stats = describe_cache()
        files = sorted(cache_path.parent.glob("tokens.sqlite3*"))
        # The open cache writes through its WAL, which the size must include.
        assert [f.name[len("tokens.sqlite3"):] for f in files] == ["", "-shm", "-wal"]
        assert sorted(cache_files()) == files
        assert stats.size_bytes == sum(f.stat().st_size for f in files)
        assert cache.misses == 2 * len(TEXTS)
    assert stats.path == cache_path and stats.exists
    assert stats.entries == 2 * len(TEXTS)
    assert stats.signatures == {short(Tokenizer()): len(TEXTS), short(KEPT): len(TEXTS)}
    assert stats.oldest_use == stats.newest_use
    assert abs((stats.newest_use - utc_today()).days) <= 1


def test_report_on_a_missing_cache_does_not_create_it(cache_path):
    stats = describe_cache()
    assert (stats.exists, stats.entries, stats.size_bytes) == (False, 0, 0)
    assert prune_cache(1) == 0
    assert not cache_path.exists()


def test_prune_drops_only_entries_unused_for_more_than_n_days(cache_path):
    fill(TEXTS, Tokenizer(), KEPT)
    assert age(cache_path, 40, short(KEPT)) == len(TEXTS)
    assert prune_cache(40) == 0  # used exactly 40 days ago is not "more than 40"
    assert prune_cache(39) == len(TEXTS)
    stats = describe_cache()
    assert stats.signatures == {short(Tokenizer()): len(TEXTS)}
    assert stats.oldest_use == stats.newest_use
    assert prune_cache(0) == 0  # the rest was used today
    with pytest.raises(ValueError):
        prune_cache(-1)


def test_a_hit_renews_the_last_use_once_a_day(cache_path):
    fill(TEXTS, Tokenizer())
    age(cache_path, 100)
    assert describe_cache().newest_use < utc_today() - datetime.timedelta(days=90)
    with use_token_cache() as cache:
        for text in TEXTS:
            Tokenizer()(text)
        assert (cache.hits, cache.misses) == (len(TEXTS), 0)
        assert cache._connection.total_changes == len(TEXTS)
    assert prune_cache(30) == 0
    # Read again the same day: plain lookups, nothing written.
    with use_token_cache() as cache:
        for text in TEXTS:
            Tokenizer()(text)
        assert cache.hits == len(TEXTS)
        assert cache._connection.total_changes == 0


def test_compact_gives_the_space_back(cache_path, seed_paths):
    paragraphs = [normalize_text(p.text) for path in seed_paths.values()
                  for p in segment_report(path.read_text(encoding="utf-8"))]
    fill(paragraphs, Tokenizer(), KEPT)
    before = describe_cache()
    age(cache_path, 10, short(KEPT))
    assert prune_cache(5) == before.signatures[short(KEPT)]
    after = compact_cache()
    assert after == describe_cache().size_bytes
    assert after < 0.75 * before.size_bytes
    assert not cache_files()[1].exists() or cache_files()[1].stat().st_size == 0


def test_clear_removes_every_file_even_a_damaged_one(cache_path):
    fill(TEXTS, Tokenizer())
    size = describe_cache().size_bytes
    assert clear_cache() == size
    assert not any(f.exists() for f in cache_files())
    cache_path.write_bytes(b"not sqlite at all" * 10)
    assert clear_cache() == 170
    assert clear_cache() == 0


def make_old_cache(path: Path, entries: dict[str, list[str]]) -> None:
    """A cache file as the first version wrote it, entries keyed by the default tokenizer."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(OLD_SCHEMA)
    signature = tokenizer_signature(Tokenizer())
    for text, tokens in entries.items():
        key = hashlib.sha256(f"{signature}\n{text}".encode()).hexdigest()
        connection.execute("INSERT OR IGNORE INTO tokens VALUES (?, ?)",
                           (key, json.dumps(tokens, ensure_ascii=False)))
    connection.close()


def test_an_old_schema_file_is_migrated_and_keeps_serving(cache_path, capsys):
    # Marker tokens no segmenter would produce: getting them back proves a hit on the old entry.
    make_old_cache(cache_path, {TEXTS[0]: ["旧", "条目"], TEXTS[1]: ["从未", "再用"]})
    with use_token_cache() as cache:
        assert Tokenizer()(TEXTS[0]) == ["旧", "条目"]
        assert Tokenizer()(TEXTS[2]) == Tokenizer().tokenize(TEXTS[2])
        assert (cache.hits, cache.misses) == (1, 1)
    assert "warning" not in capsys.readouterr().err
    with sqlite3.connect(cache_path) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(tokens)")}
    connection.close()
    assert {"key", "tokens", "signature", "used"} <= columns
    stats = describe_cache()
    # The entry read again learnt its signature; the untouched one stays unknown.
    assert stats.signatures == {short(Tokenizer()): 2, "": 1}
    assert stats.oldest_use == stats.newest_use  # migrated entries count as used today
    assert prune_cache(0) == 0


def test_processes_opening_an_old_file_at_once_migrate_it_once(cache_path, capsys):
    make_old_cache(cache_path, {text: [text] for text in TEXTS})
    start, counts = threading.Barrier(4), []

    def open_and_count() -> None:
        start.wait()
        cache = TokenCache(cache_path)
        counts.append(cache.entries())
        cache.close()

    threads = [threading.Thread(target=open_and_count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == [len(TEXTS)] * 4
    assert "warning" not in capsys.readouterr().err


def test_a_table_of_another_shape_is_recreated(cache_path):
    with sqlite3.connect(cache_path) as connection:
        connection.execute("CREATE TABLE tokens (something INTEGER)")
    connection.close()
    fill(TEXTS[:2], Tokenizer())
    assert describe_cache().entries == 2


def test_cli_reports_location_size_and_signatures(cache_path, capsys):
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert str(cache_path) in out and "no cache file yet" in out
    fill(TEXTS, Tokenizer(), KEPT)
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"token cache: {cache_path}" in out
    assert f"{describe_cache().size_bytes:,} bytes" in out
    assert f"entries:     {2 * len(TEXTS)}" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "(default)" in lines[short(Tokenizer())]
    assert "stopwords kept" in lines[short(KEPT)]
    assert f" {len(TEXTS)}  " in lines[short(KEPT)]


def test_cli_prunes_compacts_and_clears(cache_path, capsys):
    fill(TEXTS, Tokenizer(), KEPT)
    age(cache_path, 8, short(KEPT))
    assert main(["cache", "--prune-days", "7"]) == 0
    out = capsys.readouterr().out
    assert f"pruned {len(TEXTS)} of {2 * len(TEXTS)} entries" in out
    assert f"{len(TEXTS)} remain" in out
    assert f"({describe_cache().size_bytes:,} bytes)" in out
    assert describe_cache().signatures == {short(Tokenizer()): len(TEXTS)}
    assert main(["cache", "--clear"]) == 0
    assert "deleted the token cache" in capsys.readouterr().out
    assert not any(f.exists() for f in cache_files())
    assert main(["cache", "--clear"]) == 0
    assert "nothing to delete" in capsys.readouterr().out


def test_cli_unreadable_cache_exits_2_with_one_line_and_clear_fixes_it(cache_path, capsys):
    cache_path.write_bytes(b"this is not sqlite" * 100)
    for argv in (["cache"], ["cache", "--prune-days", "3"]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1
        assert captured.err.startswith(f"cppcc-themes: error: {cache_path}")
    assert main(["cache", "--clear"]) == 0
    assert not cache_path.exists()


@pytest.mark.parametrize("argv", [["cache", "--prune-days", "-1"],
                                  ["cache", "--prune-days", "soon"],
                                  ["cache", "--prune-days", "3", "--clear"]])
def test_cli_bad_arguments_exit_2(cache_path, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "--prune-days" in capsys.readouterr().err


def test_cli_imports_neither_mlflow_datasets_nor_sklearn(cache_path):
    fill(TEXTS, Tokenizer())
    code = ("import sys; from cppcc_themes.experiments.cli import main; rc = main(['cache']); "
            "print([m for m in ('mlflow', 'datasets', 'sklearn') if m in sys.modules]); "
            "sys.exit(rc)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CPPCC_THEMES_CACHE": str(cache_path.parent)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "[]"
    assert f"entries:     {len(TEXTS)}" in run.stdout
