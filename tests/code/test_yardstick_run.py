"""An experiment scored by the yardstick (issue 10), end to end on a real MLflow sqlite store:
nested figures with intervals reach the closing output, MLflow, the metadata and the card."""

from __future__ import annotations

import json

import pytest

from cppcc_themes.experiments.cli import main

SEARCH = """
name = "tiny-search"
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
n_jobs = 2
[search]
[[search.space]]
model.classifier = ["logreg", "complement_nb"]
[output]
package = ""
"""

SHIPPED = """
name = "tiny-baseline"
[data]
sources = ["gold"]
[features]
analyzer = "word"
word_ngrams = [1, 1]
[model]
classifier = "complement_nb"
[evaluation]
selection = "search.toml"
n_jobs = 2
"""


@pytest.fixture(scope="module")
def shipped_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("yardstick")
    (folder / "search.toml").write_text(SEARCH, encoding="utf-8")
    (folder / "baseline.toml").write_text(SHIPPED, encoding="utf-8")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return folder, uri


def test_a_shipped_configuration_carries_the_nested_figures_of_its_search(shipped_run,
                                                                          capsys):
    from mlflow.tracking import MlflowClient

    folder, uri = shipped_run
    code = main(["train", str(folder / "baseline.toml"), "--tracking-uri", uri, "--output",
                 str(folder / "model"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "nested (honest): gold, leave one report out: macro-F1" in out
    assert "nested (honest): real-style, grouped page folds: macro-F1" in out
    meta = json.loads((folder / "model" / "metadata.json").read_text(encoding="utf-8"))
    yardstick = meta["yardstick"]
    assert yardstick["candidates"] == 2
    assert yardstick["shipped_candidate"].startswith("tiny-baseline")
    assert len(yardstick["chosen_per_outer_fold"]) == 5
    for kind in ("nested", "shipped", "optimistic"):
        for group, reports in (("gold", 4), ("real-style", 70)):
            figures = yardstick[kind][group]
            assert figures["groups"] == reports
            low, high = figures["interval"]
            assert low <= figures["macro_f1"] <= high
            assert set(figures["themes"]) == set(meta["labels"])
    # Gold's interval over 4 reports is wider than real-style's over 70 pages.
    gold, real = yardstick["nested"]["gold"]["interval"], \
        yardstick["nested"]["real-style"]["interval"]
    assert gold[1] - gold[0] > real[1] - real[0]
    # profile --adjusted corrects with the yardstick's out-of-fold rows of the shipped
    # configuration: the 4 gold reports and the 70 real-style pages, not gold alone.
    quantification = meta["quantification"]
    assert quantification["sources"] == {"gold": {"rows": 96, "groups": 4},
                                         "real-style": {"rows": 679, "groups": 70}}
    assert quantification["rows"] == 775 and "yardstick" in quantification["error_rates_from"]
    assert all(sum(c.values()) == 775 for c in quantification["counts"].values())
    assert quantification["recalibration"]["economy"]["slope"] > 0
    card = (folder / "model" / "README.md").read_text(encoding="utf-8")
    assert "nested (search re-run in each outer fold)" in card
    assert ("correct for the model's error rates from 775 out-of-fold rows (gold 96 rows of 4, "
            "real-style 679 rows of 70)") in card
    assert "measured macro-F1 0.735 for version 0.1.0" in card
    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    [run] = client.search_runs([experiment.experiment_id])
    assert run.data.metrics["nested.gold.macro_f1"] == pytest.approx(
        yardstick["nested"]["gold"]["macro_f1"])
    assert "nested.real-style.macro_f1_low" in run.data.metrics


def test_a_configuration_outside_its_search_is_refused(shipped_run, capsys):
    folder, uri = shipped_run
    other = folder / "other.toml"
    other.write_text(SHIPPED.replace('classifier = "complement_nb"', 'classifier = "sgd"'),
                     encoding="utf-8")
    code = main(["train", str(other), "--tracking-uri", uri, "--quiet"])
    assert code != 0
    assert "not a candidate of" in capsys.readouterr().err
