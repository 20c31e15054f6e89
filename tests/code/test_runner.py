"""The experiment runner against a real MLflow store on a temporary sqlite database."""

import json
import time

import pytest

from cppcc_themes.experiments.cli import main

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


def _train_in_new_store(folder, config_text):
    """Run `cppcc-themes train` on ``config_text`` against a new sqlite store in ``folder``."""
    config = folder / "experiment.toml"
    config.write_text(config_text, encoding="utf-8")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    code = main(["train", str(config), "--tracking-uri", uri, "--output",
                 str(folder / "model"), "--quiet"])
    return code, uri, folder


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    return _train_in_new_store(tmp_path_factory.mktemp("run"), CONFIG)


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
            "evaluation/confusion_matrices.png", "evaluation/reliability.png",
            "evaluation/top_features.png", "evaluation/errors.jsonl",
            "evaluation/calibration.json"} <= artifacts
    assert run.data.tags["run_kind"] == "single"
    assert run.data.metrics["macro_f1_ci_low"] <= run.data.metrics["macro_f1"] \
        <= run.data.metrics["macro_f1_ci_high"]
    assert 0.0 <= run.data.metrics["brier_mean"] <= 1.0
    assert len(run.data.tags["git_commit"]) in (40, len("unknown"))
    meta = json.loads((folder / "model" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["mlflow_run_id"] == run.info.run_id
    assert meta["training_data"]["sha256"] == run.data.tags["data_hash"]


THEMES = ["ideology", "economy", "livelihood", "united_front", "self_construction"]


def _single_run(uri):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    [run] = client.search_runs([experiment.experiment_id])
    return client, run


def test_logged_model_answers_theme_scores_and_names(finished_run):
    import mlflow
    import pandas as pd

    _, uri, folder = finished_run
    mlflow.set_tracking_uri(uri)
    _, run = _single_run(uri)
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    paragraphs = ["广泛凝聚共识,画好最大同心圆", "围绕推动高质量发展建言资政"]
    answer = model.predict(pd.DataFrame({"text": paragraphs}))
    assert list(answer.columns) == [*THEMES, "themes"]
    assert len(answer) == 2
    assert all(set(themes) <= set(THEMES) for themes in answer["themes"])
    # The same scores and thresholds as the packaged model.
    meta = json.loads((folder / "model" / "metadata.json").read_text(encoding="utf-8"))
    for _, row in answer.iterrows():
        assert row["themes"] == [t for t in THEMES if row[t] >= meta["thresholds"][t]]
    # A heading column is accepted beside the text.
    with_heading = model.predict(pd.DataFrame({"text": paragraphs, "heading": ["一、", None]}))
    assert list(with_heading.columns) == [*THEMES, "themes"]
    signature = model.metadata.signature
    assert [c.name for c in signature.inputs.inputs] == ["text", "heading"]
    assert [c.name for c in signature.outputs.inputs] == [*THEMES, "themes"]


def test_logged_model_requirements_are_explicit_and_installable(finished_run):
    import mlflow

    _, uri, _ = finished_run
    mlflow.set_tracking_uri(uri)
    client, run = _single_run(uri)
    path = client.download_artifacts(run.info.run_id, "model/requirements.txt")
    with open(path, encoding="utf-8") as handle:
        requirements = [line.strip() for line in handle if line.strip()]
    names = {line.split("==")[0] for line in requirements}
    assert {"scikit-learn", "numpy", "jieba", "mlflow"} <= names
    assert not names & {"pytest", "cppcc-themes", "cppcc_themes"}
    code = {a.path for a in client.list_artifacts(run.info.run_id, "model/code/cppcc_themes")}
    assert "model/code/cppcc_themes/train" in code
    # Not the checkout's uv project files either: they pin pytest and the package itself.
    files = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert not files & {"model/uv.lock", "model/pyproject.toml"}


def test_logged_model_loads_where_the_package_is_not_installed(finished_run, tmp_path, root):
    """A fresh interpreter that cannot import cppcc_themes loads the model from its code paths."""
    import os
    import subprocess
    import sys

    _, uri, _ = finished_run
    _, run = _single_run(uri)
    script = f"""
import sys
# Hide the editable install of this checkout: the model must bring its own package source.
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path = [p for p in sys.path if p not in ("", {str(root)!r})]
try:
    import cppcc_themes
    raise SystemExit("cppcc_themes is still importable")
except ImportError:
    pass
import mlflow, pandas as pd
mlflow.set_tracking_uri({uri!r})
model = mlflow.pyfunc.load_model("runs:/{run.info.run_id}/model")
print(model.predict(pd.DataFrame({{"text": ["坚持和加强党对政协工作的全面领导"]}}))["themes"][0])
print(sys.modules["cppcc_themes"].__file__)
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    themes_line, module_file = done.stdout.strip().splitlines()[-2:]
    assert "ideology" in themes_line
    assert str(root) not in module_file and "/code/cppcc_themes/" in module_file


def test_run_names_its_training_data_as_a_dataset_input(finished_run):
    _, uri, _ = finished_run
    _, run = _single_run(uri)
    [dataset_input] = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "gold"
    assert dataset_input.dataset.digest == run.data.tags["data_hash"][:12]
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"


def test_error_file_lists_exactly_the_misclassified_gold_paragraphs(finished_run):
    from mlflow.tracking import MlflowClient

    _, uri, folder = finished_run
    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    [run] = client.search_runs([experiment.experiment_id])
    path = client.download_artifacts(run.info.run_id, "evaluation/errors.jsonl", str(folder))
    with open(path, encoding="utf-8") as handle:
        errors = [json.loads(line) for line in handle]
    exact = run.data.metrics["exact_match"]
    assert len(errors) == round((1 - exact) * 96)
    for error in errors:
        assert error["report_id"].startswith("seed-")
        assert set(error["gold"]) != set(error["predicted"])
        assert set(error["scores"]) == {"ideology", "economy", "livelihood", "united_front",
                                        "self_construction"}


def test_unreachable_tracking_server_fails_before_training(tmp_path, capsys):
    config = tmp_path / "test.toml"
    config.write_text(CONFIG, encoding="utf-8")
    started = time.monotonic()
    code = main(["train", str(config), "--tracking-uri", "http://127.0.0.1:9", "--output",
                 str(tmp_path / "model"), "--quiet"])
    assert time.monotonic() - started < 10
    assert code == 2
    assert "tracking store unreachable" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


SEARCH = """
name = "tiny-search"
[data]
sources = ["gold"]
[features]
word_ngrams = [1, 1]
[search]
[[search.space]]
model.classifier = ["logreg"]
model.C = [1.0, 10.0]
[[search.space]]
model.classifier = ["complement_nb"]
[output]
register = "tiny-themes"
"""


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory):
    return _train_in_new_store(tmp_path_factory.mktemp("search"), SEARCH)


def test_search_logs_each_candidate_as_a_child_of_one_parent(finished_search):
    from mlflow.tracking import MlflowClient

    code, uri, _ = finished_search
    assert code == 0
    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    runs = client.search_runs([experiment.experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("run_kind") == "search"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 3
    assert {c.data.params["model.classifier"] for c in children} == {"logreg", "complement_nb"}
    best = max(children, key=lambda c: c.data.metrics["macro_f1"])
    assert parent.data.metrics["macro_f1"] == best.data.metrics["macro_f1"]
    assert parent.data.tags["winner"] == best.info.run_name


def test_search_packages_and_registers_the_winner(finished_search):
    from mlflow.tracking import MlflowClient

    _, uri, folder = finished_search
    client = MlflowClient(tracking_uri=uri)
    [version] = client.search_model_versions("name = 'tiny-themes'")
    meta = json.loads((folder / "model" / "metadata.json").read_text(encoding="utf-8"))
    assert version.run_id == meta["mlflow_run_id"]
    parent = client.get_run(version.run_id)
    assert meta["candidate"] == parent.data.tags["winner"]
    assert client.get_model_version_by_alias("tiny-themes", "champion").version == version.version


def test_only_the_winner_logs_a_model_and_children_log_metrics_and_params(finished_search):
    from mlflow.tracking import MlflowClient

    _, uri, _ = finished_search
    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if r.data.tags.get("run_kind") == "candidate"]
    for child in children:
        assert child.data.params and "macro_f1" in child.data.metrics
        assert client.list_artifacts(child.info.run_id) == []
        assert not child.outputs or not child.outputs.model_outputs
    [parent] = [r for r in runs if r.data.tags.get("run_kind") == "search"]
    # MLflow 3 records a logged model as an output of the run that logged it.
    assert len(parent.outputs.model_outputs) == 1


def test_compare_prints_the_ranking_read_back_from_mlflow(finished_search, capsys):
    from mlflow.tracking import MlflowClient

    _, uri, _ = finished_search
    capsys.readouterr()
    assert main(["compare", "--tracking-uri", uri, "--format", "markdown"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    names = [line.split(" | ")[2] for line in lines[1:]]
    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    children = [r for r in client.search_runs([experiment.experiment_id])
                if r.data.tags.get("run_kind") == "candidate"]
    expected = [r.info.run_name for r in sorted(children,
                                                key=lambda r: -r.data.metrics["macro_f1"])]
    assert names == expected


def test_compare_names_a_missing_experiment(finished_search, capsys):
    _, uri, _ = finished_search
    assert main(["compare", "no-such-experiment", "--tracking-uri", uri]) == 2
    assert "no-such-experiment" in capsys.readouterr().err
