"""Two ``train`` processes at once on one new sqlite store: both finish, both runs appear."""

import os
import subprocess
import sys

import pytest

CONFIG = """
name = "{name}"
[data]
sources = ["gold"]
[features]
word_ngrams = [1, 1]
[output]
package = ""
"""


@pytest.mark.slow
def test_two_train_processes_share_a_new_sqlite_store(tmp_path, root):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    processes = []
    for name in ("first", "second"):
        config = tmp_path / f"{name}.toml"
        config.write_text(CONFIG.format(name=name), encoding="utf-8")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "cppcc_themes.experiments.cli", "train", str(config),
             "--tracking-uri", uri, "--quiet"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["first", "second"]
    assert {r.info.status for r in runs} == {"FINISHED"}
