"""Theme shares corrected for the model's errors, with bootstrap intervals.

A report's raw share of a theme (the fraction of its paragraphs the model tags with it:
classify and count, CC) is biased: a theme the model misses often is under-counted, a theme it
over-assigns is over-counted. Adjusted classify-and-count (ACC; Forman 2008) removes that bias
by inverting the expected raw rate, ``q = p * tpr + (1 - p) * fpr``, into
``p = (q - fpr) / (tpr - fpr)`` (clipped to [0, 1]), one binary quantification per theme
(multi-label) and one for ``none`` (no theme at all). But ACC divides the noise of a short
report by ``tpr - fpr`` and adds the noise of the error rates: on reports of a few dozen
paragraphs from a good classifier it is *further* from the truth than CC on average (measured:
``experiments/README.md``). The estimate used here is therefore the blend of the two that
minimises the expected squared error given the report's length and the error rates, with
``w`` in [0, 1] (``_blend``): all ACC when the expected bias of CC outweighs the variance ACC
adds (long reports, a theme the model misses often), all CC when it does not.

The true and false positive rates come from the model's leave-one-report-out predictions made
at training time (``error_counts``, stored in ``metadata.json``): never from the final model
on its own training text, which would make it look nearly error-free. The 95 % interval of a
share is a percentile bootstrap that redraws both the report's paragraphs and the error rates
(each rate resampled from its confusion counts) and recomputes the whole estimate, so it
widens when the report is short and when the error rates rest on few examples.

Written by hand rather than with QuaPy: the estimators are a few lines of arithmetic on
counts; QuaPy would estimate the rates by refitting the classifier on folds that ignore report
groups (one report's paragraphs on both sides), needs the training data at tagging time, and
would add a dependency to the tagging path, which must start fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "NONE",
    "ShareEstimate",
    "adjusted_shares",
    "compare_shares",
    "error_counts",
    "indicator_matrix",
    "quantification_metadata",
    "rates_from_metadata",
]

NONE = "none"
DEFAULT_RESAMPLES = 2000
# A theme whose tpr - fpr is below this cannot be adjusted: the raw share carries almost no
# information about the true one. Its interval is then [0, 1].
MIN_DISCRIMINATION = 0.05


@dataclass(frozen=True)
class ShareEstimate:
    """One theme's share in a report (or group): raw, adjusted, and a 95 % interval."""

    theme: str
    paragraphs: int
    raw: float
    adjusted: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return {"theme": self.theme, "paragraphs": self.paragraphs, "raw": round(self.raw, 4),
                "adjusted": round(self.adjusted, 4), "low": round(self.low, 4),
                "high": round(self.high, 4)}


def indicator_matrix(Y: np.ndarray) -> np.ndarray:
    """Theme indicators with a last column for ``none`` (a row without any theme)."""
    Y = np.asarray(Y, dtype=bool)
    return np.column_stack([Y, ~Y.any(axis=1)]) if Y.size else np.zeros((0, Y.shape[1] + 1),
                                                                        dtype=bool)


def error_counts(Y_true: np.ndarray, Y_pred: np.ndarray,
                 labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per theme (and ``none``): true/false positives and negatives of out-of-fold decisions.

    These counts are what ``metadata.json`` stores under ``quantification``; rates and their
    uncertainty both follow from them.
    """
    truth, decided = indicator_matrix(Y_true), indicator_matrix(Y_pred)
    counts = {}
    for column, theme in enumerate([*labels, NONE]):
        t, d = truth[:, column], decided[:, column]
        counts[theme] = {"tp": int((t & d).sum()), "fn": int((t & ~d).sum()),
                         "fp": int((~t & d).sum()), "tn": int((~t & ~d).sum())}
    return counts


def quantification_metadata(Y_true: np.ndarray, Y_pred: np.ndarray,
                            labels: Sequence[str]) -> dict[str, Any]:
    """The ``quantification`` entry of a packaged model's metadata."""
    counts = error_counts(Y_true, Y_pred, labels)
    return {
        "method": "classify-and-count blended with adjusted classify-and-count per theme",
        "error_rates_from": "leave-one-report-out predictions on the scored (real) paragraphs",
        "counts": counts,
        "tpr": {t: _rate(c["tp"], c["fn"]) for t, c in counts.items()},
        "fpr": {t: _rate(c["fp"], c["tn"]) for t, c in counts.items()},
    }


def _rate(hits: int, misses: int) -> float | None:
    return round(hits / (hits + misses), 4) if hits + misses else None


def rates_from_metadata(metadata: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """The confusion counts stored by training; ValueError naming what is missing."""
    counts = (metadata.get("quantification") or {}).get("counts")
    if not counts:
        raise ValueError("the model's metadata.json has no error rates (key 'quantification'): "
                         "retrain it with this version of cppcc-themes to get adjusted shares")
    themes = [*metadata["labels"], NONE]
    missing = [t for t in themes if t not in counts]
    if missing:
        raise ValueError(f"the model's error rates miss themes {missing}")
    return {t: {k: int(counts[t][k]) for k in ("tp", "fn", "fp", "tn")} for t in themes}


def _draw_rates(counts: Mapping[str, Mapping[str, int]], themes: Sequence[str],
                resamples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap draws of (tpr, fpr) per theme: rows are resamples, columns themes.

    Resampling the out-of-fold rows with replacement redraws each class's hits binomially:
    that is what is drawn here, from the counts alone.
    """
    tpr = np.empty((resamples, len(themes)))
    fpr = np.empty((resamples, len(themes)))
    for column, theme in enumerate(themes):
        c = counts[theme]
        positives, negatives = c["tp"] + c["fn"], c["fp"] + c["tn"]
        # A class never seen in the out-of-fold rows: assume no error rather than invent one.
        tpr[:, column] = (rng.binomial(positives, c["tp"] / positives, resamples) / positives
                          if positives else 1.0)
        fpr[:, column] = (rng.binomial(negatives, c["fp"] / negatives, resamples) / negatives
                          if negatives else 0.0)
    return tpr, fpr


def _point_rates(counts: Mapping[str, Mapping[str, int]],
                 themes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    tpr = [c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
           for c in (counts[t] for t in themes)]
    fpr = [c["fp"] / (c["fp"] + c["tn"]) if c["fp"] + c["tn"] else 0.0
           for c in (counts[t] for t in themes)]
    return np.asarray(tpr), np.asarray(fpr)


def _blend(raw: np.ndarray, tpr: np.ndarray, fpr: np.ndarray, n: int,
           rate_variance: tuple[np.ndarray, np.ndarray], method: str = "blend") -> np.ndarray:
    """CC moved towards ACC by the weight that minimises the expected squared error.

    With ``g = tpr - fpr``, ``k = 1/g - 1``, CC's expected bias ``b`` and its noise variance
    ``V`` over ``n`` paragraphs at the ACC prevalence, and ``R`` the
    variance the error-rate estimates add to ACC: the blend ``CC + w (ACC - CC)`` has error
    ``(1-w) b + (1 + w k) e + w d``, whose mean square is least at
    ``w = (b² - V k) / (b² + V k² + R)``, clipped to [0, 1]. NaN where the classifier does not
    discriminate (``g`` below ``MIN_DISCRIMINATION``). ``method="acc"``: plain ACC.
    """
    var_tpr, var_fpr = rate_variance
    gap = tpr - fpr
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.clip((raw - fpr) / gap, 0.0, 1.0)
        bias = acc * (tpr - 1.0) + (1.0 - acc) * fpr
        noise = (acc * tpr * (1.0 - tpr) + (1.0 - acc) * fpr * (1.0 - fpr)) / n
        k = 1.0 / gap - 1.0
        rates = (acc ** 2 * var_tpr + (1.0 - acc) ** 2 * var_fpr) / gap ** 2
        denominator = bias ** 2 + noise * k ** 2 + rates
        weight = np.where(denominator > 0, (bias ** 2 - noise * k) / denominator, 0.0)
        blended = acc if method == "acc" else raw + np.clip(weight, 0.0, 1.0) * (acc - raw)
    return np.where(gap >= MIN_DISCRIMINATION, blended, np.nan)


def _rate_variance(counts: Mapping[str, Mapping[str, int]],
                   themes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Binomial variances of the tpr and fpr estimates."""
    tpr, fpr = _point_rates(counts, themes)
    positives = np.asarray([max(counts[t]["tp"] + counts[t]["fn"], 1) for t in themes])
    negatives = np.asarray([max(counts[t]["fp"] + counts[t]["tn"], 1) for t in themes])
    return tpr * (1 - tpr) / positives, fpr * (1 - fpr) / negatives


def _resampled_raw(decided: np.ndarray, resamples: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Raw shares of ``resamples`` bootstrap samples of the paragraphs (rows).

    A theme the model gave to no paragraph resamples to 0 every time: its interval is then
    [0, 0] and says nothing about paragraphs the model missed (a Jeffreys draw there widened
    every such interval to ~2/n and pushed the measured coverage to 100 %).
    """
    n = len(decided)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)
    return weights @ decided.astype(float) / n


def _interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - level) / 2 * 100
    # A theme that cannot be adjusted has an all-NaN column: its interval is everything.
    undefined = np.isnan(draws).mean(axis=0) > 0.5
    filled = np.where(np.isnan(draws), 0.5, draws)
    low, high = np.percentile(filled, [tail, 100 - tail], axis=0)
    return np.where(undefined, 0.0, low), np.where(undefined, 1.0, high)


def adjusted_shares(decided: np.ndarray, labels: Sequence[str],
                    counts: Mapping[str, Mapping[str, int]], *,
                    resamples: int = DEFAULT_RESAMPLES, level: float = 0.95,
                    seed: int = 0, method: str = "blend") -> list[ShareEstimate]:
    """Adjusted share per theme and ``none`` of one report or group, with its interval.

    ``decided``: the model's 0/1 decisions, paragraphs × themes (in ``labels`` order).
    ``method``: ``blend`` (default, see ``_blend``) or ``acc`` (plain ACC, for comparison).
    """
    decided = indicator_matrix(decided)
    themes = [*labels, NONE]
    if not len(decided):
        return [ShareEstimate(t, 0, 0.0, float("nan"), 0.0, 1.0) for t in themes]
    rng = np.random.default_rng(seed)
    raw, n = decided.mean(axis=0), len(decided)
    variance = _rate_variance(counts, themes)
    point = _blend(raw, *_point_rates(counts, themes), n, variance, method)
    draws = _blend(_resampled_raw(decided, resamples, rng),
                   *_draw_rates(counts, themes, resamples, rng), n, variance, method)
    low, high = _interval(draws, level)
    # A skewed bootstrap (a share near 0 or 1) can leave the estimate outside its percentiles.
    low, high = np.fmin(low, point), np.fmax(high, point)
    return [ShareEstimate(theme, int(decided[:, i].sum()), float(raw[i]), float(point[i]),
                          float(low[i]), float(high[i])) for i, theme in enumerate(themes)]


def compare_shares(decided_a: np.ndarray, decided_b: np.ndarray, labels: Sequence[str],
                   counts: Mapping[str, Mapping[str, int]], *,
                   resamples: int = DEFAULT_RESAMPLES, level: float = 0.95,
                   seed: int = 0) -> list[ShareEstimate]:
    """Adjusted share of B minus that of A per theme, with a 95 % interval.

    Both groups are corrected with the same error-rate draw in each resample: the model's
    errors are shared, so their uncertainty partly cancels in a difference.
    ``paragraphs`` of the result is B's count minus A's; ``raw`` the raw difference.
    """
    a, b = indicator_matrix(decided_a), indicator_matrix(decided_b)
    themes = [*labels, NONE]
    if not len(a) or not len(b):
        raise ValueError("both sides of a comparison need at least one paragraph")
    rng = np.random.default_rng(seed)
    tpr, fpr = _point_rates(counts, themes)
    variance = _rate_variance(counts, themes)
    point = (_blend(b.mean(axis=0), tpr, fpr, len(b), variance)
             - _blend(a.mean(axis=0), tpr, fpr, len(a), variance))
    draw_tpr, draw_fpr = _draw_rates(counts, themes, resamples, rng)
    draws = (_blend(_resampled_raw(b, resamples, rng), draw_tpr, draw_fpr, len(b), variance)
             - _blend(_resampled_raw(a, resamples, rng), draw_tpr, draw_fpr, len(a), variance))
    tail = (1 - level) / 2 * 100
    undefined = np.isnan(draws).mean(axis=0) > 0.5
    low, high = np.percentile(np.where(np.isnan(draws), 0.0, draws), [tail, 100 - tail], axis=0)
    raw = b.mean(axis=0) - a.mean(axis=0)
    return [ShareEstimate(theme, int(b[:, i].sum() - a[:, i].sum()), float(raw[i]),
                          float(point[i]), float(-1.0 if undefined[i] else low[i]),
                          float(1.0 if undefined[i] else high[i]))
            for i, theme in enumerate(themes)]
