"""``train --dask``: the yardstick search's fold fits run on a Dask cluster (a LocalCluster
started here), with results identical to one process; an unreachable scheduler is one line."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator

import pytest

from cppcc_themes.experiments.cli import main

MlflowClient = pytest.importorskip("mlflow.tracking").MlflowClient

SEARCH = """
name = "dask-search"
[data]
sources = ["gold"]
[features]
analyzer = "word"
word_ngrams = [1, 1]
[model]
classifier = "logreg"
[evaluation]
yardstick = true
nested = true
n_jobs = 1
[search]
[[search.space]]
model.classifier = ["logreg", "complement_nb"]
[output]
package = ""
"""


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as local, \
            distributed.Client(local) as client:
        yield client


@contextlib.contextmanager
def counting_unit_calls(client) -> Iterator[list[int]]:
    """Within the block, count the yardstick fold units that ran as tasks on the cluster
    (joblib submits them in batches named ``batch_of__run_unit_<n>_calls``)."""
    import distributed

    counted: list[int] = []
    with distributed.get_task_stream(client) as stream:
        yield counted
    counted += [int(match.group(1)) for task in stream.data
                if (match := re.match(r"batch_of__run_unit_(\d+)_calls", task["key"]))]


def test_train_command_on_dask_packages_what_one_process_packages(tmp_path, cluster, capsys):
    config = tmp_path / "search.toml"
    config.write_text(SEARCH, encoding="utf-8")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    metadata = {}
    for name, extra in (("local", []), ("dask", ["--dask", cluster.scheduler.address])):
        with counting_unit_calls(cluster) as calls:
            code = main(["train", str(config), "--tracking-uri", uri, "--quiet",
                         "--output", str(tmp_path / name), *extra])
        assert code == 0, capsys.readouterr().err
        # (5 outer + 15 inner folds) x 1 feature configuration, on the cluster only if asked.
        assert sum(calls) == (20 if name == "dask" else 0)
        metadata[name] = json.loads((tmp_path / name / "metadata.json").read_text("utf-8"))
    assert metadata["dask"]["yardstick"] == metadata["local"]["yardstick"]
    assert metadata["dask"]["metrics"] == metadata["local"]["metrics"]
    # Every candidate's figures, as its MLflow child run carries them, equal to the digit.
    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    children: dict[str, dict[str, dict[str, float]]] = {"local": {}, "dask": {}}
    parents = {run.info.run_id: run.info.run_name
               for run in client.search_runs([experiment.experiment_id],
                                             "tags.run_kind = 'search'")}
    for run in client.search_runs([experiment.experiment_id], "tags.run_kind = 'candidate'"):
        parent = run.data.tags["mlflow.parentRunId"]
        side = "dask" if parent == metadata["dask"]["mlflow_run_id"] else "local"
        children[side][run.info.run_name] = run.data.metrics
    assert len(parents) == 2 and len(children["local"]) == 2
    assert children["dask"] == children["local"]


def test_unreachable_scheduler_stops_train_with_one_line_and_exit_2(tmp_path, monkeypatch,
                                                                    capsys):
    pytest.importorskip("distributed")
    from cppcc_themes.experiments import dask_cluster

    monkeypatch.setattr(dask_cluster, "CONNECT_TIMEOUT", "1s")
    config = tmp_path / "search.toml"
    config.write_text(SEARCH, encoding="utf-8")
    code = main(["train", str(config), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}",
                 "--quiet", "--output", str(tmp_path / "model"), "--dask", "tcp://127.0.0.1:9"])
    assert code == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == [f"cppcc-themes: error: tcp://127.0.0.1:9: cannot reach the Dask "
                      f"scheduler{errors[0].split('scheduler', 1)[1]}"]
    assert not (tmp_path / "model").exists()


def test_token_cache_stays_open_until_the_last_block_using_it_ends(tmp_path):
    """Threaded workers (Dask's) enter and leave ``use_token_cache`` in any order: the first
    to leave must not close the file under the others (it crashed sqlite before)."""
    from cppcc_themes.features.token_cache import active_token_cache, use_token_cache

    first, second = use_token_cache(tmp_path / "t.sqlite3"), use_token_cache(tmp_path / "x")
    cache = first.__enter__()
    assert second.__enter__() is cache
    first.__exit__(None, None, None)
    assert active_token_cache() is cache
    assert cache.tokens("signature", "政协", list) == ["政", "协"]
    assert cache._connection is not None
    second.__exit__(None, None, None)
    assert active_token_cache() is None and cache._connection is None
