"""The research loop end to end on a small real corpus: suggest -> Label Studio JSON (and CSV)
-> import -> train -> profile --adjusted / --compare. Real jieba, scikit-learn and MLflow (on a
temporary sqlite store); the annotator is simulated by accepting or correcting the model."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from cppcc_themes.experiments.cli import main
from cppcc_themes.features.normalize import normalize_text

GOV_REPORTS = ["2026_上海市_政府工作报告.csv", "2026_四川省_政府工作报告.csv"]


def _config(path: Path, sources: list[str], package: Path) -> Path:
    path.write_text(f"""name = "{path.stem}"
[data]
sources = {json.dumps(sources)}
[features]
analyzer = "char"
char_ngrams = [1, 3]
sublinear_tf = true
[model]
classifier = "linear_svm"
C = 10.0
class_weight = "balanced"
[output]
package = "{package}"
""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, root: Path) -> Path:
    """A few real government work reports as .txt files (the seeds are added separately)."""
    folder = tmp_path_factory.mktemp("corpus")
    csv.field_size_limit(sys.maxsize)
    for name in GOV_REPORTS:
        with (root / "labels/corpus/gov-work-reports-2026" / name).open(encoding="utf-8") as f:
            text = next(csv.DictReader(f))["full_text"]
        (folder / name.replace(".csv", ".txt")).write_text(text, encoding="utf-8")
    return folder


def test_suggest_label_import_train_profile(tmp_path: Path, root: Path, corpus: Path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = tmp_path / "models" / "first"
    assert main(["train", str(_config(tmp_path / "first.toml", ["gold"], first)),
                 "--tracking-uri", uri, "--quiet"]) == 0
    meta = json.loads((first / "metadata.json").read_text(encoding="utf-8"))
    assert set(meta["quantification"]["counts"]) == {*meta["labels"], "none"}
    # Without the yardstick, the error rates are gold's leave-one-report-out rows.
    assert meta["quantification"]["sources"] == {"gold": {"rows": 96, "groups": 4}}
    # What the probability estimators need, from the same out-of-fold predictions.
    for key in ("probabilities", "recalibration", "training_prior"):
        assert set(meta["quantification"][key]) == {*meta["labels"], "none"}
    assert all(0 <= r["mean_neg"] < r["mean_pos"] <= 1
               for r in meta["quantification"]["probabilities"].values())

    batch = tmp_path / "batch.jsonl"
    assert main(["suggest", str(corpus), str(root / "labels/reports"), "--n", "12",
                 "--out", str(batch), "--model", str(first),
                 "--labelled", str(root / "labels/gold")]) == 0
    picks = [json.loads(line) for line in batch.read_text(encoding="utf-8").splitlines()]
    gold = {normalize_text(json.loads(line)["text"]) for line in
            (root / "labels/gold/seeds.jsonl").read_text(encoding="utf-8").splitlines()}
    assert len(picks) == 12 and len({p["id"] for p in picks}) == 12
    assert not {normalize_text(p["text"]) for p in picks} & gold   # never already labelled
    assert len({p["asked_about"] for p in picks}) == len(meta["labels"])  # every theme asked

    tasks, config = tmp_path / "tasks.json", tmp_path / "tasks.config.xml"
    assert main(["annotate", "export", str(batch), "--out", str(tasks)]) == 0
    assert 'choice="multiple"' in config.read_text(encoding="utf-8")
    # The annotator accepts the model's pre-annotation, except on the first task.
    exported = []
    for number, task in enumerate(json.loads(tasks.read_text(encoding="utf-8")), 1):
        choices = task["predictions"][0]["result"][0]["value"]["choices"]
        if number == 1:
            choices = ["livelihood"] if choices != ["livelihood"] else ["economy"]
        exported.append({"id": number, "data": task["data"], "annotations": [{
            "completed_by": {"email": "a@example.org"}, "was_cancelled": False,
            "created_at": "2026-12-01T10:00:00Z",
            "result": [{"from_name": "themes", "to_name": "text", "type": "choices",
                        "value": {"choices": choices}}]}]})
    export = tmp_path / "project-1-export.json"
    export.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    labels_dir = tmp_path / "labels"
    assert main(["annotate", "import", str(export), "--name", "mine",
                 "--labels-dir", str(labels_dir)]) == 0

    # The next batch never asks again for what was just labelled.
    again = tmp_path / "again.jsonl"
    assert main(["suggest", str(corpus), "--n", "12", "--out", str(again), "--model", str(first),
                 "--labelled", str(root / "labels/gold"), str(labels_dir)]) == 0
    asked_again = {json.loads(line)["text"] for line in again.read_text("utf-8").splitlines()}
    assert len(asked_again) == 12 and not asked_again & {p["text"] for p in picks}

    second = tmp_path / "models" / "second"
    sources = ["gold", str(labels_dir / "mine")]
    assert main(["train", str(_config(tmp_path / "second.toml", sources, second)),
                 "--tracking-uri", uri, "--quiet"]) == 0
    meta = json.loads((second / "metadata.json").read_text(encoding="utf-8"))
    assert meta["training_data"]["counts"]["mine"]["paragraphs"] == 12
    capsys.readouterr()

    plot = tmp_path / "shares.png"
    assert main(["profile", str(corpus), "--adjusted", "--format", "json", "--model",
                 str(second), "--resamples", "300", "--plot", str(plot)]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert len(reports) == len(GOV_REPORTS)
    for report in reports:
        assert [s["theme"] for s in report["shares"]] == [*meta["labels"], "none"]
        for share in report["shares"]:
            assert 0 <= share["low"] <= share["high"] <= 1
            assert share["low"] - 1e-3 <= share["adjusted"] <= share["high"] + 1e-3
    assert plot.stat().st_size > 10_000
    assert main(["profile", str(root / "labels/reports/seed-000.txt"), "--adjusted",
                 "--model", str(second), "--resamples", "100"]) == 0
    assert "error rates from 96 out-of-fold rows (gold 96 rows of 4)" in \
        capsys.readouterr().out.replace("\n", " ")

    assert main(["profile", str(corpus), str(root / "labels/reports"), "--compare",
                 "seed-*", str(corpus), "--format", "csv", "--model", str(second),
                 "--resamples", "300", "--plot", str(tmp_path / "diff.png")]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [r["theme"] for r in rows] == [*meta["labels"], "none"]
    assert all(-1 <= float(r["ci_low"]) <= float(r["ci_high"]) <= 1 for r in rows)


def test_profile_adjusted_needs_error_rates_in_the_model(packaged_model_dir, seed_paths,
                                                         capsys):
    code = main(["profile", str(seed_paths["seed-000"]), "--adjusted", "--model",
                 str(packaged_model_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "retrain" in err


def test_compare_names_a_side_that_matches_nothing(packaged_model_dir, tmp_path, seed_paths,
                                                    capsys):
    import numpy as np
    from model_files import copy_model, edit_metadata

    from cppcc_themes.train.quantify import quantification_metadata

    model = copy_model(packaged_model_dir, tmp_path)
    labels = json.loads((model / "metadata.json").read_text(encoding="utf-8"))["labels"]
    Y = np.eye(len(labels), dtype=int)
    edit_metadata(model, quantification=quantification_metadata(Y, Y, labels))
    code = main(["profile", str(seed_paths["seed-000"]), "--compare", "seed-000", "nothing*",
                 "--model", str(model)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--compare nothing*: matches no tagged report" in err
