"""The experiment runner against a real MLflow store on a temporary sqlite database."""

import json

import pytest

from experiments.cli import main

CONFIG = """
name = "test-run"
description = "gold only, for the test suite"
[data]
sources = ["gold"]
[features]
word_ngrams = [1, 1]
[model]
C = 5.0
"""


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    config = folder / "test.toml"
    config.write_text(CONFIG, encoding="utf-8")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    code = main(["train", str(config), "--tracking-uri", uri, "--output",
                 str(folder / "model"), "--quiet"])
    return code, uri, folder


def test_train_exits_cleanly(finished_run):
    assert finished_run[0] == 0


def test_run_is_logged_with_params_metrics_tags_and_artifacts(finished_run):
    from mlflow.tracking import MlflowClient

    _, uri, folder = finished_run
    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "test-run"
    assert run.data.params["model.C"] == "5.0"
    assert 0.0 <= run.data.metrics["macro_f1"] <= 1.0
    assert {f"{t}_f1" for t in ("ideology", "economy", "livelihood", "united_front",
                                "self_construction")} <= set(run.data.metrics)
    assert len(run.data.tags["data_hash"]) == 64
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/classification_report.txt", "evaluation/confusion_matrices.json",
            "evaluation/confusion_matrices.png"} <= artifacts
    meta = json.loads((folder / "model" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["mlflow_run_id"] == run.info.run_id
    assert meta["training_data"]["sha256"] == run.data.tags["data_hash"]


def test_logged_model_serves_a_text_dataframe_through_pyfunc(finished_run):
    import mlflow
    import pandas as pd

    _, uri, _ = finished_run
    mlflow.set_tracking_uri(uri)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    [run] = client.search_runs([experiment.experiment_id])
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    scores = model.predict(pd.DataFrame({"text": ["广泛凝聚共识,画好最大同心圆"]}))
    assert scores.shape == (1, 5)


def test_unreachable_tracking_server_fails_before_training(tmp_path, capsys):
    config = tmp_path / "test.toml"
    config.write_text(CONFIG, encoding="utf-8")
    code = main(["train", str(config), "--tracking-uri", "http://127.0.0.1:9", "--output",
                 str(tmp_path / "model"), "--quiet"])
    assert code == 2
    assert "tracking store unreachable" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()
