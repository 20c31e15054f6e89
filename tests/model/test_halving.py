"""Successive halving over folds (``[search] halving``): on a small grid it picks the
exhaustive search's winner, with the exhaustive figures, while stopping a trailing candidate."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from cppcc_themes.experiments.config import ConfigError, load_config
from cppcc_themes.train.data import load_paragraphs
from cppcc_themes.train.halving import halving_selection, rung_sizes, survivors
from cppcc_themes.train.select import Candidate, nested_selection
from cppcc_themes.train.train import prepare_data

SMALL = {"analyzer": "word", "word_ngrams": [1, 1]}
# Simplest first, as search files list them; the last one trails on the first folds.
GRID = [Candidate("complement_nb", ["gold"], SMALL, {"classifier": "complement_nb"}),
        Candidate("logreg", ["gold"], SMALL, {"classifier": "logreg", "C": 10.0}),
        Candidate("logreg weak", ["gold"], SMALL, {"classifier": "logreg", "C": 0.001})]


@pytest.fixture(scope="module")
def data(root):
    """Gold and 15 of the 70 real-style pages: every joint fold has both, and it is quick."""
    full = prepare_data(load_paragraphs(["gold", "real-style"], root / "labels"))
    pages = sorted({r for r, s in zip(full.report_ids, full.sources, strict=True)
                    if s == "real-style"})[:15]
    keep = (full.sources != "real-style") | np.isin(full.report_ids, pages)
    return replace(full, texts=[t for t, k in zip(full.texts, keep, strict=True) if k],
                   headings=[h for h, k in zip(full.headings, keep, strict=True) if k],
                   Y=full.Y[keep], report_ids=full.report_ids[keep],
                   scored=full.scored[keep], sources=full.sources[keep])


def test_rungs_grow_by_the_factor_to_all_folds():
    assert rung_sizes(5, 3) == [2, 5]
    assert rung_sizes(3, 3) == [2, 3]
    assert rung_sizes(9, 3) == [2, 3, 9]
    assert rung_sizes(2, 3) == [2]


def test_survivors_are_the_best_third_and_everyone_within_a_hundredth():
    assert survivors({0: 0.50, 1: 0.70, 2: 0.60}, factor=3) == [1]
    assert survivors({0: 0.695, 1: 0.70, 2: 0.60}, factor=3) == [0, 1]
    assert survivors({0: 0.50, 1: 0.70, 2: 0.60, 3: 0.1}, factor=2) == [1, 2]


def test_halving_ships_the_exhaustive_winner_with_its_exhaustive_figures(data):
    exhaustive = nested_selection(data, GRID, n_outer=5, n_inner=3)
    halved = halving_selection(data, GRID, factor=3, n_outer=5, n_inner=3)
    assert halved.selected_index == exhaustive.selected_index
    assert halved.optimistic_index == exhaustive.optimistic_index
    winner = halved.selected_index
    assert halved.folds_scored[winner] == 5
    got, want = halved.per_candidate[winner], exhaustive.per_candidate[winner]
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, abs=1e-12), key
        else:
            assert got[key] == value, key
    # The trailing candidate was stopped after the first rung's 2 folds.
    assert halved.folds_scored[2] == 2, halved.folds_scored
    assert exhaustive.folds_scored == [5, 5, 5]
    # A configuration a run ships by name (``[evaluation] selection``) is never stopped.
    kept = halving_selection(data, GRID, factor=3, n_outer=5, n_inner=3, nested=False,
                             keep=[2])
    assert kept.folds_scored[2] == 5
    assert kept.per_candidate[2]["criterion"] == pytest.approx(
        exhaustive.per_candidate[2]["criterion"], abs=1e-12)
    # Its out-of-fold predictions, which training turns into the error rates of
    # `profile --adjusted`, are the exhaustive search's; a stopped candidate has none.
    for want, got in zip(exhaustive.outer_predictions[2], kept.outer_predictions[2],
                         strict=True):
        np.testing.assert_array_equal(got, want)
    assert 2 not in halved.outer_predictions and winner in halved.outer_predictions
    # The nested figure is that of the halving procedure: each outer fold is scored with the
    # pick of its own halved inner search, by the very fit the exhaustive search makes (also
    # when the outer halving stopped that candidate early).
    assert set(halved.chosen) == set(range(5))
    assert any(halved.folds_scored[i] < 5 for i in halved.chosen.values())
    outer = halved.outer_folds
    same = [f for f in range(5) if halved.chosen[f] == exhaustive.chosen[f]]
    assert same
    for f in same:
        np.testing.assert_array_equal(halved.nested_predictions[outer == f],
                                      exhaustive.nested_predictions[outer == f])


@pytest.mark.parametrize(("line", "message"), [
    ("halving = \"yes\"", "[search] halving is true or false"),
    ("halving = true\nhalving_factor = 1", "halving_factor is a whole number from 2 to 10"),
    ("halving = true\nhalving_factor = 2.5", "halving_factor is a whole number from 2 to 10"),
])
def test_bad_halving_settings_are_one_line_errors_naming_the_file(tmp_path, line, message):
    path = tmp_path / "search.toml"
    path.write_text(f"name = \"s\"\n[evaluation]\nyardstick = true\n[search]\n{line}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)
    assert "\n" not in str(error.value)


def test_halving_is_read_with_its_factor(tmp_path):
    path = tmp_path / "search.toml"
    path.write_text("name = \"s\"\n[evaluation]\nyardstick = true\n[search]\nhalving = true\n",
                    encoding="utf-8")
    assert load_config(path).halving == 3
    path.write_text("name = \"s\"\n[evaluation]\nyardstick = true\n", encoding="utf-8")
    assert load_config(path).halving is None


SEARCH = """
name = "halving-search"
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
[search]
halving = true
[[search.space]]
model.classifier = ["complement_nb"]
[[search.space]]
model.C = [10.0, 0.001]
[output]
package = ""
"""


def test_train_with_halving_marks_stopped_candidates_in_mlflow_and_the_leaderboard(
        tmp_path, capsys):
    mlflow_tracking = pytest.importorskip("mlflow.tracking")
    from cppcc_themes.experiments.cli import main

    config = tmp_path / "search.toml"
    config.write_text(SEARCH, encoding="utf-8")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = main(["train", str(config), "--tracking-uri", uri, "--quiet",
                 "--output", str(tmp_path / "model")])
    assert code == 0, capsys.readouterr().err
    client = mlflow_tracking.MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cppcc-themes"]
    folds = {run.info.run_name: run.data.tags["outer_folds_scored"]
             for run in client.search_runs([experiment.experiment_id],
                                           "tags.run_kind = 'candidate'")}
    assert len(folds) == 3 and "5/5" in folds.values() and "2/5" in folds.values(), folds
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text("utf-8"))
    stopped = [name for name, scored in folds.items() if scored != "5/5"]
    assert sorted(metadata["yardstick"]["halving"]["stopped_early"]) == sorted(stopped)
    assert metadata["yardstick"]["search_winner"] not in stopped
