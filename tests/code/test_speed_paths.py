"""The speed paths give the results of the plain paths: token cache, backend swap, Dask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.segment import segment_report
from cppcc_themes.features.token_cache import ENV_VAR, TokenCache, use_token_cache
from cppcc_themes.features.tokenize import Tokenizer, tokenizer_signature

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seed_paragraphs(seed_paths) -> list[str]:
    return [normalize_text(p.text) for path in seed_paths.values()
            for p in segment_report(path.read_text(encoding="utf-8"))]


def test_cached_tokens_equal_fresh_tokens_and_are_reused(seed_paragraphs, tmp_path):
    tokenizer = Tokenizer()
    fresh = [tokenizer.tokenize(text) for text in seed_paragraphs]
    unique = len(set(seed_paragraphs))
    with use_token_cache(tmp_path / "tokens.sqlite3") as cache:
        first = [tokenizer(text) for text in seed_paragraphs]
        assert cache.misses == unique
        assert cache.entries() == unique
    assert first == fresh
    # A new process-level cache over the same file: every lookup is a hit from disk.
    with use_token_cache(tmp_path / "tokens.sqlite3") as cache:
        again = [tokenizer(text) for text in seed_paragraphs]
        assert (cache.misses, cache.hits) == (0, len(seed_paragraphs))
    assert again == fresh


def test_signature_covers_every_setting():
    signatures = {tokenizer_signature(t) for t in (
        Tokenizer(), Tokenizer(hmm=True), Tokenizer(remove_stopwords=False),
        Tokenizer(backend="rjieba"))}
    assert len(signatures) == 4
    assert tokenizer_signature(Tokenizer()) == tokenizer_signature(Tokenizer("jieba"))


def test_entries_of_another_configuration_are_not_returned(tmp_path):
    text = "我们和他们的工作"
    with use_token_cache(tmp_path / "t.sqlite3"):
        assert Tokenizer()(text) == ["工作"]
        assert "我们" in Tokenizer(remove_stopwords=False)(text)


def test_environment_switch_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "0")
    with use_token_cache(tmp_path / "t.sqlite3") as cache:
        assert cache is None
        assert Tokenizer()("加强专门协商机构建设") == ["加强", "专门协商机构", "建设"]
    assert not (tmp_path / "t.sqlite3").exists()


def test_unusable_cache_file_falls_back_to_segmenting(tmp_path, capsys):
    blocker = tmp_path / "not-a-database.sqlite3"
    blocker.write_bytes(b"this is not sqlite" * 100)
    with use_token_cache(blocker):
        tokens = Tokenizer()("加强专门协商机构建设")
    assert tokens == ["加强", "专门协商机构", "建设"]
    assert "token cache" in capsys.readouterr().err


_WRITER = """
import json, sys
from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.segment import segment_report
from cppcc_themes.features.token_cache import use_token_cache
from cppcc_themes.features.tokenize import Tokenizer
texts = [normalize_text(p.text) for path in sys.argv[2:]
         for p in segment_report(open(path, encoding="utf-8").read())]
with use_token_cache(sys.argv[1]) as cache:
    tokens = [Tokenizer()(t) for t in texts]
print(json.dumps(tokens, ensure_ascii=False))
"""


def test_two_processes_share_one_cache_file_at_once(seed_paths, seed_paragraphs, tmp_path):
    database = tmp_path / "shared.sqlite3"
    files = [str(p) for p in seed_paths.values()]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(database), *order],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env) for order in (files, files[::-1])]
    outputs = [writer.communicate(timeout=300) for writer in writers]
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert "warning" not in err
    per_file = [[Tokenizer().tokenize(normalize_text(p.text))
                 for p in segment_report(Path(f).read_text(encoding="utf-8"))] for f in files]
    assert json.loads(outputs[0][0]) == [t for tokens in per_file for t in tokens]
    assert json.loads(outputs[1][0]) == [t for tokens in per_file[::-1] for t in tokens]
    assert TokenCache(database).entries() == len(set(seed_paragraphs))


def test_training_with_the_cache_gives_the_same_model(gold_dataset, tmp_path):
    from cppcc_themes.train.data import label_matrix, label_names
    from cppcc_themes.train.model import build_pipeline

    texts = list(gold_dataset["text"])
    Y = label_matrix(gold_dataset["labels"], len(label_names(gold_dataset)))
    plain = build_pipeline().fit(texts, Y).predict_proba(texts)
    with use_token_cache(tmp_path / "t.sqlite3"):
        build_pipeline().fit(texts, Y)  # fills the cache
        warm = build_pipeline().fit(texts, Y).predict_proba(texts)
    assert np.array_equal(plain, warm)


def test_packaged_model_works_without_the_cache(packaged_model_dir, seed_paths, tmp_path):
    """A model tagged on a machine with an empty cache folder, cache switched on or not."""
    code = ("import json, sys; from cppcc_themes import load_model, tag_report; "
            f"m = load_model({str(packaged_model_dir)!r}); "
            f"r = tag_report(m, {str(seed_paths['seed-001'])!r}); "
            "print(json.dumps([p.scores for p in r.paragraphs]))")
    results = []
    for setting in ("", "1"):
        cache = tmp_path / f"cache{setting}"
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
               "CPPCC_THEMES_CACHE": str(cache), ENV_VAR: setting}
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=300, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        results.append(json.loads(run.stdout))
        assert (cache / "tokens.sqlite3").exists() == (setting == "1")
    assert results[0] == results[1]


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def test_dask_tagging_equals_one_process(packaged_model_dir, seed_paths, tmp_path,
                                         dask_cluster):
    from cppcc_themes.experiments.dask_cluster import tag_paths_on_dask
    from cppcc_themes.train.predict import tag_paths

    bad = tmp_path / "empty.txt"
    bad.write_text("", encoding="utf-8")
    inputs = [*map(str, seed_paths.values()), str(bad), str(tmp_path / "missing.txt")]
    local = list(tag_paths(str(packaged_model_dir), inputs))
    remote = list(tag_paths_on_dask(packaged_model_dir, inputs, dask_cluster))
    assert [path for path, _ in remote] == [path for path, _ in local]
    for (_, mine), (_, theirs) in zip(remote, local, strict=True):
        if isinstance(theirs, Exception):
            assert type(mine) is type(theirs) and str(mine) == str(theirs)
        else:
            assert mine.to_dict() == theirs.to_dict()
    assert sum(isinstance(result, Exception) for _, result in remote) == 2


def test_joblib_work_runs_on_the_dask_cluster(dask_cluster):
    import joblib

    from cppcc_themes.experiments.dask_cluster import dask_joblib_backend

    with dask_joblib_backend(dask_cluster):
        backend, _ = joblib.parallel.get_active_backend()
        squares = joblib.Parallel(n_jobs=-1)(joblib.delayed(pow)(i, 2) for i in range(20))
    assert type(backend).__name__ == "DaskDistributedBackend"
    assert squares == [i * i for i in range(20)]


def test_tag_command_on_dask_writes_what_one_process_writes(packaged_model_dir, seed_paths,
                                                            tmp_path, dask_cluster):
    from cppcc_themes.experiments.cli import main

    address = dask_cluster.scheduler.address
    outputs = {}
    for name, extra in (("local", []), ("dask", ["--dask", address])):
        outputs[name] = tmp_path / f"{name}.jsonl"
        code = main(["tag", *map(str, seed_paths.values()), "--model", str(packaged_model_dir),
                     "--format", "jsonl", "--output", str(outputs[name]), *extra])
        assert code == 0
    assert outputs["dask"].read_text(encoding="utf-8") == \
        outputs["local"].read_text(encoding="utf-8")


def test_unreachable_scheduler_is_one_line_and_exit_2(packaged_model_dir, seed_paths,
                                                      monkeypatch, capsys):
    pytest.importorskip("distributed")
    from cppcc_themes.experiments import dask_cluster
    from cppcc_themes.experiments.cli import main

    monkeypatch.setattr(dask_cluster, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(SystemExit) as stopped:
        main(["tag", str(seed_paths["seed-000"]), "--model", str(packaged_model_dir),
              "--format", "jsonl", "--dask", "tcp://127.0.0.1:9"])
    assert stopped.value.code == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[-1].startswith("cppcc-themes: error: tcp://127.0.0.1:9: cannot reach")


def _hold_lock(database, statement: str, seconds: float) -> threading.Thread:
    """Another connection holds a lock on ``database`` for ``seconds`` (in a thread)."""
    import sqlite3

    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute(statement)
    holder.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()

    def release() -> None:
        time.sleep(seconds)
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_cache_waits_out_a_writer_longer_than_its_busy_timeout(tmp_path, monkeypatch, capsys):
    """sqlite's busy timeout is per statement and some SQLITE_BUSY answers skip it: writes
    retry until a deadline instead of giving the cache up (the cause of a flake under load)."""
    from cppcc_themes.features import token_cache

    monkeypatch.setattr(token_cache, "_BUSY_TIMEOUT_SECONDS", 0.02)
    database = tmp_path / "busy.sqlite3"
    cache = TokenCache(database)
    assert cache.entries() == 0  # file and schema exist
    thread = _hold_lock(database, "BEGIN IMMEDIATE", 0.5)
    tokens = cache.tokens("signature", "加强专门协商机构建设", lambda text: list(text))
    thread.join()
    assert tokens == list("加强专门协商机构建设")
    assert "warning" not in capsys.readouterr().err
    assert cache.entries() == 1
    cache.close()


def test_cache_set_up_waits_for_a_file_locked_before_wal(tmp_path, monkeypatch, capsys):
    """Two processes creating the file at once: switching it to WAL needs a lock another
    connection may hold; opening retries instead of giving up."""
    import sqlite3

    from cppcc_themes.features import token_cache

    monkeypatch.setattr(token_cache, "_BUSY_TIMEOUT_SECONDS", 0.02)
    database = tmp_path / "new.sqlite3"
    sqlite3.connect(database).close()  # an empty file in rollback-journal mode
    thread = _hold_lock(database, "BEGIN EXCLUSIVE", 0.5)
    cache = TokenCache(database)
    assert cache.entries() == 0
    thread.join()
    assert "warning" not in capsys.readouterr().err
    cache.close()
