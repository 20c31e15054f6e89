"""The yardstick of issue 10: joint folds, honest nested selection, shared work equals unshared."""

from __future__ import annotations

import contextvars

import numpy as np
import pytest
from sklearn.base import clone

from cppcc_themes.train import model as model_module
from cppcc_themes.train import select
from cppcc_themes.train.data import load_paragraphs
from cppcc_themes.train.model import build_pipeline
from cppcc_themes.train.select import Candidate, FoldUnit, joint_folds, nested_selection
from cppcc_themes.train.train import prepare_data

SMALL = {"analyzer": "word", "word_ngrams": [1, 1]}


@pytest.fixture(scope="module")
def data(root):
    """Gold, a sixth of authored and 15 of the 70 real-style pages: enough folds, quick."""
    full = prepare_data(load_paragraphs(["gold", "authored", "real-style"], root / "labels"))
    pages = sorted({r for r, s in zip(full.report_ids, full.sources, strict=True)
                    if s == "real-style"})[:15]
    keep = (full.sources != "real-style") | np.isin(full.report_ids, pages)
    keep &= (full.sources != "authored") | (np.arange(len(keep)) % 6 == 0)
    return _subset(full, keep)


def _subset(data, keep):
    from dataclasses import replace

    return replace(data, texts=[t for t, k in zip(data.texts, keep, strict=True) if k],
                   headings=[h for h, k in zip(data.headings, keep, strict=True) if k],
                   Y=data.Y[keep], report_ids=data.report_ids[keep],
                   scored=data.scored[keep], sources=data.sources[keep])


def test_joint_folds_hold_out_whole_reports_and_pages_and_never_training_only_rows(data):
    folds = joint_folds(data.report_ids, data.sources, n_folds=5)
    for report in set(data.report_ids):
        assert len(set(folds[data.report_ids == report])) == 1, report
    assert (folds[data.sources == "authored"] == -1).all()
    assert (folds[np.isin(data.sources, ["gold", "real-style"])] >= 0).all()
    gold_folds = {f: set(data.report_ids[(folds == f) & (data.sources == "gold")])
                  for f in range(5)}
    assert [len(gold_folds[f]) for f in range(5)] == [1, 1, 1, 1, 0]
    assert all(((folds == f) & (data.sources == "real-style")).any() for f in range(5))


_unit = contextvars.ContextVar("unit", default="")


def test_no_outer_fold_report_or_page_reaches_the_inner_search(data, monkeypatch):
    """A spy on the real fitting code: it records which reports and pages each fit of the
    inner search actually receives (classifier rows by their report ids, feature rows by
    their texts) and checks none is held out by the outer fold the search serves."""
    seen: dict[str, set[str]] = {}
    fitted: dict[str, set[str]] = {}
    report_of_text = dict(zip(data.texts, data.report_ids, strict=True))
    run_unit, select_text = select._run_unit, model_module.select_text
    fit = model_module.MultiLabelThemeClassifier.fit

    def spy_unit(data_, unit, group):
        token = _unit.set(unit.name)
        try:
            return run_unit(data_, unit, group)
        finally:
            _unit.reset(token)

    def spy_text(inputs):
        texts = select_text(inputs)
        seen.setdefault(_unit.get(), set()).update(report_of_text[t] for t in texts)
        return texts

    def spy_fit(self, X, Y, groups=None, tune_on=None):
        seen.setdefault(_unit.get(), set()).update(groups)
        fitted.setdefault(_unit.get(), set()).update(groups)
        return fit(self, X, Y, groups=groups, tune_on=tune_on)

    monkeypatch.setattr(select, "_run_unit", spy_unit)
    monkeypatch.setattr(model_module, "select_text", spy_text)
    monkeypatch.setattr(model_module.MultiLabelThemeClassifier, "fit", spy_fit)
    candidates = [Candidate("svm", ["gold", "authored"], SMALL, {"classifier": "linear_svm"}),
                  Candidate("logreg+rs", ["gold", "authored", "real-style"], SMALL,
                            {"classifier": "logreg"})]
    result = nested_selection(data, candidates, n_outer=4, n_inner=3, n_jobs=1)
    outer = result.outer_folds
    for f in range(4):
        held_out = set(data.report_ids[outer == f])
        inner = {name: groups for name, groups in seen.items()
                 if name.startswith(f"outer{f}/")}
        assert len(inner) == 3
        for name, groups in inner.items():
            assert not groups & held_out, (name, sorted(groups & held_out)[:5])
            assert groups & set(data.report_ids[(outer != f) & (data.sources == "gold")])
        # The audit trail of the result says the same as the spy.
        assert not result.inner_groups[f] & result.outer_test_groups[f]
        # The outer classifiers were fitted on everything but the held-out reports and pages
        # (the held-out rows reach the outer unit only to be scored).
        assert not fitted[f"outer{f}"] & held_out
        assert held_out <= seen[f"outer{f}"]
    assert set(result.chosen) == {0, 1, 2, 3}
    assert set(result.chosen.values()) <= {0, 1}
    for group in ("gold", "real-style"):
        low, high = result.nested[f"{group}_intervals"]["macro_f1"]
        assert low <= result.nested[f"{group}_macro_f1"] <= high


def test_shared_feature_matrices_score_exactly_as_separate_pipelines(data):
    """Candidates sharing a feature configuration reuse one fitted vectoriser per fold; their
    scores equal those of each candidate's own pipeline fitted from raw text, to 1e-9."""
    candidates = [
        Candidate("svm", ["gold", "authored"], SMALL, {"classifier": "linear_svm"}),
        Candidate("logreg tuned", ["gold", "authored"], SMALL,
                  {"classifier": "logreg", "threshold": "tuned", "threshold_folds": 3}),
        Candidate("ridge char", ["gold", "authored", "real-style"],
                  {"analyzer": "char", "char_ngrams": [2, 3]}, {"classifier": "ridge"}),
        Candidate("logreg char", ["gold", "authored", "real-style"],
                  {"analyzer": "char", "char_ngrams": [2, 3]}, {"classifier": "logreg"}),
    ]
    folds = joint_folds(data.report_ids, data.sources, n_folds=3)
    units = [FoldUnit(f"fold{f}", folds != f, folds == f) for f in range(3)]
    shared, results = select.out_of_fold(data, candidates, units, n_jobs=2)
    # Two feature configurations x three folds: six vectoriser fits for four candidates.
    assert len(results) == 6
    inputs = data.inputs
    for f, unit in enumerate(units):
        test = np.flatnonzero(unit.test)
        for index, candidate in enumerate(candidates):
            train = np.flatnonzero(unit.train & np.isin(data.sources, candidate.sources))
            alone = clone(build_pipeline(candidate.features, candidate.model)).fit(
                inputs[train], data.Y[train], classifier__groups=list(data.report_ids[train]),
                classifier__tune_on=np.isin(data.sources[train], ["gold", "real-style"]))
            expected = alone.predict_proba(inputs[test])
            got_scores, got_decisions = shared[f"fold{f}"][index]
            np.testing.assert_allclose(got_scores[test], expected, rtol=0, atol=1e-9)
            np.testing.assert_array_equal(got_decisions[test],
                                          (expected >= alone[-1].thresholds_).astype(int))


def test_the_rule_prefers_the_first_listed_candidate_within_a_hundredth_of_the_best():
    scores = [{"criterion": c} for c in (0.90, 0.905, 0.92)]
    assert select.pick(scores) == 2
    scores = [{"criterion": c} for c in (0.90, 0.912, 0.92)]
    assert select.pick(scores) == 1
    assert select.pick([{"criterion": 0.5}]) == 0
