"""Adjusted shares: ACC recovers a known share, intervals cover it, comparisons work."""

from __future__ import annotations

import numpy as np
import pytest

from cppcc_themes.train.quantify import (
    DEFAULT_METHOD,
    adjusted_shares,
    compare_shares,
    error_counts,
    probability_rates_from_metadata,
    quantification_metadata,
    rates_from_metadata,
    shipped_method,
)

LABELS = ["a", "b"]


def _simulate(n: int, share: float, tpr: float, fpr: float, rng: np.random.Generator):
    truth = rng.random(n) < share
    decided = np.where(truth, rng.random(n) < tpr, rng.random(n) < fpr)
    return truth, decided


def _counts(tpr: float, fpr: float, positives: int = 400, negatives: int = 1600) -> dict:
    tp, fp = round(tpr * positives), round(fpr * negatives)
    return {"tp": tp, "fn": positives - tp, "fp": fp, "tn": negatives - fp}


def test_error_counts_count_each_cell_and_none():
    Y_true = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    Y_pred = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    counts = error_counts(Y_true, Y_pred, LABELS)
    assert counts["a"] == {"tp": 1, "fn": 1, "fp": 1, "tn": 1}
    assert counts["b"] == {"tp": 1, "fn": 1, "fp": 0, "tn": 2}
    # none: row 1 is truly none but got a; row 3 is not none but got nothing.
    assert counts["none"] == {"tp": 0, "fn": 1, "fp": 1, "tn": 2}


def test_adjusted_share_corrects_the_bias_of_raw_counting():
    rng = np.random.default_rng(1)
    truth_a, decided_a = _simulate(20000, 0.30, tpr=0.6, fpr=0.1, rng=rng)
    truth_b, decided_b = _simulate(20000, 0.10, tpr=0.9, fpr=0.02, rng=rng)
    decided = np.column_stack([decided_a, decided_b])
    # Error rates known from many out-of-fold examples: the bias is worth removing.
    counts = {"a": _counts(0.6, 0.1, 4000, 16000), "b": _counts(0.9, 0.02, 4000, 16000),
              "none": _counts(0.8, 0.1)}
    for method in ("blend", "acc"):
        shares = {e.theme: e for e in adjusted_shares(decided, LABELS, counts, resamples=500,
                                                      method=method)}
        a = shares["a"]
        assert abs(a.raw - truth_a.mean()) > 0.04          # raw counting is visibly biased
        assert abs(a.adjusted - truth_a.mean()) < 0.02      # adjusted is close
        assert a.low <= truth_a.mean() <= a.high
        assert shares["b"].low <= truth_b.mean() <= shares["b"].high
        assert a.paragraphs == int(decided_a.sum())


def test_blend_keeps_the_raw_share_of_a_short_report_from_a_good_classifier():
    # Ten paragraphs, tpr 0.95, fpr 0.02: the noise ACC would add outweighs the bias it removes.
    decided = np.array([[1, 0]] * 2 + [[0, 1]] * 8)
    counts = {"a": _counts(0.95, 0.02), "b": _counts(0.95, 0.02), "none": _counts(0.9, 0.02)}
    blend = adjusted_shares(decided, LABELS, counts, resamples=200, method="blend")[0]
    acc = adjusted_shares(decided, LABELS, counts, resamples=200, method="acc")[0]
    assert abs(blend.adjusted - blend.raw) < abs(acc.adjusted - acc.raw)


def test_intervals_widen_with_fewer_paragraphs_and_fewer_error_examples():
    rng = np.random.default_rng(2)
    _, decided = _simulate(2000, 0.3, tpr=0.8, fpr=0.1, rng=rng)
    decided = np.column_stack([decided, decided])
    many = {"a": _counts(0.8, 0.1), "b": _counts(0.8, 0.1), "none": _counts(0.8, 0.1)}
    few = {"a": _counts(0.8, 0.1, 20, 80), "b": _counts(0.8, 0.1), "none": _counts(0.8, 0.1)}

    def width(rows, counts):
        estimate = adjusted_shares(rows, LABELS, counts, resamples=500, method="blend")[0]
        return estimate.high - estimate.low

    assert width(decided[:50], many) > width(decided, many)
    assert width(decided, few) > width(decided, many)


def test_a_theme_the_model_cannot_discriminate_gets_the_whole_interval():
    decided = np.array([[1, 0], [0, 1], [1, 1]])
    counts = {"a": {"tp": 5, "fn": 5, "fp": 5, "tn": 5}, "b": _counts(0.9, 0.05),
              "none": _counts(0.9, 0.05)}
    a = adjusted_shares(decided, LABELS, counts, resamples=200, method="blend")[0]
    assert np.isnan(a.adjusted) and (a.low, a.high) == (0.0, 1.0)


def test_comparison_finds_a_real_difference_and_not_a_false_one():
    rng = np.random.default_rng(3)
    counts = {"a": _counts(0.8, 0.05), "b": _counts(0.8, 0.05), "none": _counts(0.8, 0.05)}
    low_share = np.column_stack([_simulate(800, 0.1, 0.8, 0.05, rng)[1]] * 2)
    high_share = np.column_stack([_simulate(800, 0.4, 0.8, 0.05, rng)[1]] * 2)
    same = np.column_stack([_simulate(800, 0.1, 0.8, 0.05, rng)[1]] * 2)
    up = compare_shares(low_share, high_share, LABELS, counts, resamples=500, method="blend")[0]
    assert up.low > 0.15 and abs(up.adjusted - 0.3) < 0.08
    flat = compare_shares(low_share, same, LABELS, counts, resamples=500, method="blend")[0]
    assert flat.low < 0 < flat.high


def test_metadata_round_trip_and_old_models_are_refused():
    Y = np.array([[1, 0], [0, 1], [0, 0]])
    meta = {"labels": LABELS, "quantification": quantification_metadata(Y, Y, LABELS)}
    counts = rates_from_metadata(meta)
    assert counts["a"] == {"tp": 1, "fn": 0, "fp": 0, "tn": 2}
    assert meta["quantification"]["tpr"]["a"] == 1.0
    with pytest.raises(ValueError, match="retrain"):
        rates_from_metadata({"labels": LABELS})


def _scored_paragraphs(n: int, share: float, rng: np.random.Generator, prior: float = 0.3):
    """Truth and calibrated probabilities of a classifier trained at ``prior``: scores drawn
    per class, then turned into the posterior at the training prior (so EM's model holds)."""
    truth = rng.random(n) < share
    signal = np.where(truth, rng.normal(1.0, 1.0, n), rng.normal(-1.0, 1.0, n))
    odds = prior / (1 - prior) * np.exp(2.0 * signal)  # likelihood ratio of the two normals
    return truth, odds / (1 + odds)


def _rates_of(truth: np.ndarray, scores: np.ndarray, prior: float) -> dict:
    pos, neg = scores[truth], scores[~truth]
    return {"n_pos": len(pos), "mean_pos": pos.mean(), "sd_pos": pos.std(ddof=1),
            "n_neg": len(neg), "mean_neg": neg.mean(), "sd_neg": neg.std(ddof=1),
            "prior": prior}


def test_probability_methods_correct_a_shift_in_prevalence_and_cover_the_truth():
    rng = np.random.default_rng(5)
    # Out-of-fold paragraphs at the training prior give the mean probabilities per class.
    oof_truth, oof_scores = _scored_paragraphs(4000, 0.3, rng)
    truth, scores = _scored_paragraphs(3000, 0.6, rng)
    P = np.column_stack([scores, scores])
    decided = (P >= 0.5).astype(int)
    none_truth, none_scores = _scored_paragraphs(4000, 0.2, rng, prior=0.2)
    rates = {"a": _rates_of(oof_truth, oof_scores, 0.3), "b": _rates_of(oof_truth, oof_scores, 0.3),
             "none": _rates_of(none_truth, none_scores, 0.2)}
    counts = {t: _counts(0.8, 0.1) for t in ("a", "b", "none")}
    pcc = adjusted_shares(decided, LABELS, counts, probabilities=P, rates=rates,
                          resamples=300, method="pcc")[0]
    assert pcc.adjusted < truth.mean() - 0.05   # the mean probability leans to the training prior
    for method in ("pacc", "emq"):
        a = adjusted_shares(decided, LABELS, counts, probabilities=P, rates=rates,
                            resamples=300, method=method)[0]
        assert abs(a.adjusted - truth.mean()) < 0.03, method
        assert a.low <= truth.mean() <= a.high, method


def test_probability_methods_need_probabilities_and_rates():
    decided = np.array([[1, 0], [0, 1]])
    counts = {t: _counts(0.8, 0.1) for t in ("a", "b", "none")}
    with pytest.raises(ValueError, match="retrain"):
        adjusted_shares(decided, LABELS, counts, method="pacc")
    with pytest.raises(ValueError, match="unknown share method"):
        adjusted_shares(decided, LABELS, counts, method="magic")


def test_metadata_carries_mean_out_of_fold_probabilities_and_priors():
    Y = np.array([[1, 0], [0, 1], [0, 0], [1, 1]])
    P = np.array([[0.9, 0.2], [0.1, 0.7], [0.2, 0.1], [0.6, 0.8]])
    meta = {"labels": LABELS,
            "quantification": quantification_metadata(Y, (P >= 0.5).astype(int), LABELS, P,
                                                      np.vstack([Y, [[0, 0]]]))}
    rates = probability_rates_from_metadata(meta)
    assert rates["a"]["mean_pos"] == pytest.approx(0.75)
    assert rates["a"]["mean_neg"] == pytest.approx(0.15)
    assert rates["a"]["n_pos"] == 2 and rates["b"]["prior"] == pytest.approx(0.4)
    # none: P(no theme) = product of (1 - p); row 2 is the only none paragraph.
    assert rates["none"]["mean_pos"] == pytest.approx(0.8 * 0.9)
    assert rates["none"]["prior"] == pytest.approx(0.4)
    assert shipped_method(meta) == DEFAULT_METHOD
    old = {"labels": LABELS, "quantification": quantification_metadata(Y, Y, LABELS)}
    assert probability_rates_from_metadata(old) is None
    assert shipped_method(old) in ("blend", "acc", "cc")


def test_recalibrated_pcc_beats_counting_and_covers_a_short_reports_own_share():
    # An over-confident model (logit doubled): the map fitted on out-of-fold paragraphs
    # undoes that, and the mean recalibrated probability estimates each report's own share.
    rng = np.random.default_rng(7)

    def paragraphs(n, share):
        truth, calibrated = _scored_paragraphs(n, share, rng, prior=share)
        logit = np.log(calibrated / (1 - calibrated))
        return truth, 1 / (1 + np.exp(-2 * logit))

    oof_truth, oof_scores = paragraphs(1500, 0.3)
    Y_oof = np.column_stack([oof_truth, oof_truth]).astype(int)
    P_oof = np.column_stack([oof_scores, oof_scores])
    meta = {"labels": LABELS, "quantification": quantification_metadata(
        Y_oof, (P_oof >= 0.5).astype(int), LABELS, P_oof, Y_oof)}
    counts, rates = rates_from_metadata(meta), probability_rates_from_metadata(meta)
    errors = {"cc": [], "cpcc": [], "posterior": []}
    covered = {"cpcc": [], "posterior": []}
    for _ in range(60):
        truth, scores = paragraphs(15, 0.3)
        P = np.column_stack([scores, scores])
        for method in ("cpcc", "posterior"):
            estimate = adjusted_shares((P >= 0.5).astype(int), LABELS, counts,
                                       probabilities=P, rates=rates, resamples=300,
                                       method=method)[0]
            errors[method].append(abs(estimate.adjusted - truth.mean()))
            covered[method].append(estimate.low <= truth.mean() <= estimate.high)
        errors["cc"].append(abs(estimate.raw - truth.mean()))
    assert np.mean(errors["cpcc"]) < np.mean(errors["cc"])
    assert np.mean(errors["posterior"]) < np.mean(errors["cc"])
    for method in covered:
        assert 0.85 <= np.mean(covered[method]) <= 1.0, method


def test_metadata_records_rows_and_sources_and_an_older_entry_still_reads():
    from cppcc_themes.train.quantify import error_rate_origin

    Y = np.array([[1, 0], [0, 1], [0, 0], [1, 1]])
    P = np.array([[0.9, 0.2], [0.1, 0.7], [0.2, 0.1], [0.6, 0.8]])
    entry = quantification_metadata(Y, (P >= 0.5).astype(int), LABELS, P, Y,
                                    row_sources=["gold", "gold", "real-style", "real-style"],
                                    row_groups=["r1", "r1", "p1", "p2"], origin="test folds")
    assert entry["rows"] == 4 and entry["error_rates_from"] == "test folds"
    assert entry["sources"] == {"gold": {"rows": 2, "groups": 1},
                                "real-style": {"rows": 2, "groups": 2}}
    origin = error_rate_origin({"quantification": entry})
    assert "4 out-of-fold rows (gold 2 rows of 1, real-style 2 rows of 2)" in origin
    # A version 1 entry (before rows and sources were recorded) corrects shares the same way
    # and says what it does not record.
    older = {k: v for k, v in entry.items() if k not in ("version", "rows", "sources")}
    assert "sources not recorded" in error_rate_origin({"quantification": older})
    assert "4 out-of-fold paragraphs" in error_rate_origin({"quantification": older})
    new, old = ({"labels": LABELS, "quantification": e} for e in (entry, older))
    assert rates_from_metadata(old) == rates_from_metadata(new)
    assert probability_rates_from_metadata(old) == probability_rates_from_metadata(new)


def test_interval_of_a_discrete_share_counts_half_of_its_end_atoms():
    from cppcc_themes.train.quantify import _mid_p_bounds

    # A ten-paragraph report, one paragraph unsure: 3 % of the draws put the share at 0.1.
    # The plain percentiles keep that atom (the interval would hold 100 % of the draws);
    # the mid-p rule drops it (its upper tail is 1.5 %), and keeps an atom of 10 %.
    rare = np.repeat([[0.0], [0.1]], [970, 30], axis=0)
    assert np.percentile(rare, 97.5) == pytest.approx(0.1)
    assert [b[0] for b in _mid_p_bounds(rare, 0.95)] == [0.0, 0.0]
    common = np.repeat([[0.0], [0.1], [0.2]], [880, 100, 20], axis=0)
    assert [b[0] for b in _mid_p_bounds(common, 0.95)] == [0.0, pytest.approx(0.1)]
    # Continuous draws: the percentile interval, to within one draw.
    smooth = np.random.default_rng(0).normal(size=(4000, 1))
    low, high = _mid_p_bounds(smooth, 0.95)
    want = np.percentile(smooth, [2.5, 97.5])
    step = np.diff(np.sort(smooth[:, 0])).max()
    assert abs(low[0] - want[0]) <= step and abs(high[0] - want[1]) <= step
