"""Theme shares corrected for the model's errors, with intervals.

A report's raw share of a theme (the fraction of its paragraphs the model tags with it:
classify and count, CC) is biased: a theme the model misses often is under-counted, a theme it
over-assigns is over-counted. Estimators here, one binary quantification per theme and one for
``none`` (no theme at all), chosen by ``method``:

- ``posterior`` (the default): what a user asks is the share of *this* report's paragraphs,
  a fixed quantity. Given the model's probabilities, recalibrated on the out-of-fold
  paragraphs (``recalibration``: a logistic map of the logit per theme), each paragraph
  carries the theme with its recalibrated probability; drawing the map from its estimate's
  covariance and each paragraph's truth from its probability gives the distribution of the
  report's share. The estimate is its median (least expected absolute error), the interval
  its 2.5-97.5 mid-p percentiles (``_mid_p_bounds``: a short report's share is discrete).
  Nothing is resampled from the report: its paragraphs are what they are; only which of
  them truly carry the theme is uncertain.
- ``cpcc``: the mean of the same recalibrated probabilities (same interval).
- ``pcc`` / ``pacc`` (Bella et al. 2010): the mean probability as the model gives it, and that
  mean corrected by the mean out-of-fold probability on positives and negatives,
  ``(pcc - m_neg) / (m_pos - m_neg)``.
- ``emq`` (Saerens, Latinne & Decaestecker 2002): EM re-weighting of the posteriors from the
  training prior to the report's.
- ``acc`` (Forman 2008): ``(raw - fpr) / (tpr - fpr)``; ``blend``: CC moved towards ACC by
  the weight minimising the expected squared error (``_blend``); ``cc``: the raw share.
  Their intervals, and those of pcc/pacc/emq, are percentile bootstraps over the report's
  paragraphs and the error rates (confusion counts, or mean probabilities, redrawn).

Which one ships is measured by ``cppcc-themes check-shares`` (``experiments/README.md``): on
short held-out pages ACC, PACC and EMQ divide the noise of a dozen paragraphs by
``tpr - fpr`` and end further from the truth than CC; the posterior median keeps CC's answer
where the model is sure and moves where it is not.

Every error rate, mean probability and recalibration map comes from the model's grouped
out-of-fold predictions made at training time (stored in ``metadata.json``): never from the
final model on its own training text, which would make it look nearly error-free. A
yardstick experiment stores those of the gold reports and real-style pages together
(``YARDSTICK_FOLDS``); ``rows`` and ``sources`` say what they rest on.

Written by hand rather than with QuaPy: the estimators are a few lines of arithmetic; QuaPy
would estimate its rates by refitting the classifier on folds that ignore report groups (one
report's paragraphs on both sides), needs the training data at tagging time, and would add a
dependency to the tagging path, which must start fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "NONE",
    "PROBABILITY_METHODS",
    "ShareEstimate",
    "adjusted_shares",
    "compare_shares",
    "error_counts",
    "error_rate_origin",
    "indicator_matrix",
    "none_probability",
    "probability_rates",
    "recalibration",
    "probability_rates_from_metadata",
    "quantification_metadata",
    "rates_from_metadata",
    "shipped_method",
]

NONE = "none"
DEFAULT_RESAMPLES = 2000
# 2: ``rows`` and ``sources`` record what the error rates rest on (gold and real-style
#    out-of-fold rows of the yardstick, for a model trained with it). Version 1 (no key)
#    carried gold leave-one-report-out rates and still works.
QUANTIFICATION_VERSION = 2
GOLD_LORO = "leave-one-report-out predictions on the scored (real) paragraphs"
YARDSTICK_FOLDS = ("the yardstick's out-of-fold predictions of the shipped configuration: gold "
                   "by leave one report out, real-style by grouped page folds, pooled")
# Estimators of a share: on decisions (cc: raw counting, acc, blend) or on probabilities
# (posterior: median of the report's share drawn from recalibrated probabilities, the estimate
# with the least expected absolute error; cpcc: mean probability after recalibration on the
# out-of-fold paragraphs; pcc: mean probability as the model gives it; pacc: pcc adjusted by
# the mean out-of-fold probability on positives and negatives; emq: Saerens-Latinne-
# Decaestecker EM prior adjustment).
PROBABILITY_METHODS = ("posterior", "cpcc", "pacc", "pcc", "emq")
METHODS = ("cc", "acc", "blend", *PROBABILITY_METHODS)
DEFAULT_METHOD = "posterior"
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


def none_probability(probabilities: np.ndarray) -> np.ndarray:
    """Theme probabilities with a last column for ``none``: no theme, themes taken as
    independent (the one-vs-rest classifiers are)."""
    probabilities = np.asarray(probabilities, dtype=float).reshape(len(probabilities), -1)
    return np.column_stack([probabilities, np.prod(1.0 - probabilities, axis=1)])


def probability_rates(Y_true: np.ndarray, probabilities: np.ndarray,
                      labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per theme (and ``none``): mean, standard deviation and count of the out-of-fold
    probabilities on the paragraphs that have it (``pos``) and those that do not (``neg``).

    PACC divides by ``mean_pos - mean_neg`` as ACC divides by ``tpr - fpr``.
    """
    truth, scores = indicator_matrix(Y_true), none_probability(probabilities)
    rates = {}
    for column, theme in enumerate([*labels, NONE]):
        entry: dict[str, float] = {}
        for side, rows in (("pos", truth[:, column]), ("neg", ~truth[:, column])):
            values = scores[rows, column]
            entry[f"n_{side}"] = int(rows.sum())
            entry[f"mean_{side}"] = round(float(values.mean()), 6) if len(values) else None
            entry[f"sd_{side}"] = round(float(values.std(ddof=1)), 6) if len(values) > 1 else None
        rates[theme] = entry
    return rates


def _logit(probabilities: np.ndarray) -> np.ndarray:
    clipped = np.clip(probabilities, 1e-4, 1 - 1e-4)
    return np.log(clipped / (1 - clipped))


def recalibration(Y_true: np.ndarray, probabilities: np.ndarray,
                  labels: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """Per theme (and ``none``): a logistic map ``p' = sigmoid(a + b logit p)`` fitted on the
    out-of-fold paragraphs (Platt scaling of the model's own probabilities), with the
    covariance of ``(a, b)`` (inverse Fisher information) for the intervals. None for a
    column with a single class out of fold: it is left as the model gives it.

    The model's probabilities are calibrated on its training mix (written text included);
    the out-of-fold paragraphs are the scored kind, so this map carries them to that kind.
    """
    from sklearn.linear_model import LogisticRegression

    truth, scores = indicator_matrix(Y_true), none_probability(probabilities)
    maps: dict[str, dict[str, Any] | None] = {}
    for column, theme in enumerate([*labels, NONE]):
        y = truth[:, column]
        if y.all() or not y.any():
            maps[theme] = None
            continue
        x = _logit(scores[:, column])
        fit = LogisticRegression(C=100.0).fit(x[:, None], y)
        a, b = float(fit.intercept_[0]), float(fit.coef_[0, 0])
        fitted = 1 / (1 + np.exp(-(a + b * x)))
        design = np.column_stack([np.ones_like(x), x])
        information = design.T @ (design * (fitted * (1 - fitted))[:, None])
        covariance = np.linalg.pinv(information)
        maps[theme] = {"intercept": round(a, 6), "slope": round(b, 6),
                       "covariance": [[round(float(v), 8) for v in row] for row in covariance]}
    return maps


def quantification_metadata(Y_true: np.ndarray, Y_pred: np.ndarray,
                            labels: Sequence[str], probabilities: np.ndarray | None = None,
                            training_Y: np.ndarray | None = None, *,
                            row_sources: Sequence[str] | None = None,
                            row_groups: Sequence[str] | None = None,
                            origin: str = GOLD_LORO) -> dict[str, Any]:
    """The ``quantification`` entry of a packaged model's metadata.

    ``Y_true``/``Y_pred``: the out-of-fold rows whose errors correct shares; ``probabilities``:
    the out-of-fold probabilities behind ``Y_pred`` (for the probability methods);
    ``training_Y``: the labels the final model trains on, whose shares are the priors its
    probabilities carry (for EMQ). ``row_sources``/``row_groups``: each row's source and
    report (or page), recorded as counts so a reader knows what the rates rest on;
    ``origin``: how the out-of-fold predictions were made.
    """
    counts = error_counts(Y_true, Y_pred, labels)
    extra: dict[str, Any] = {}
    if probabilities is not None:
        extra["probabilities"] = probability_rates(Y_true, probabilities, labels)
        extra["recalibration"] = recalibration(Y_true, probabilities, labels)
    if training_Y is not None:
        prior = indicator_matrix(training_Y).mean(axis=0)
        extra["training_prior"] = {t: round(float(v), 6) for t, v
                                   in zip([*labels, NONE], prior, strict=True)}
    if row_sources is not None:
        sources = np.asarray(row_sources, dtype=object)
        groups = (np.asarray(row_groups, dtype=object) if row_groups is not None
                  else np.full(len(sources), None))
        extra["sources"] = {str(name): {"rows": int((sources == name).sum()),
                                        "groups": len(set(groups[sources == name]))}
                            for name in sorted(set(sources))}
    return {
        "version": QUANTIFICATION_VERSION,
        "error_rates_from": origin,
        "rows": int(len(Y_true)),
        "counts": counts,
        "tpr": {t: _rate(c["tp"], c["fn"]) for t, c in counts.items()},
        "fpr": {t: _rate(c["fp"], c["tn"]) for t, c in counts.items()},
        **extra,
    }


def error_rate_origin(metadata: Mapping[str, Any]) -> str:
    """One line saying what a model's error rates rest on (rows and sources), or what an
    older model's metadata does not record."""
    quantification = metadata.get("quantification") or {}
    sources = quantification.get("sources")
    if not sources:
        rows = quantification.get("rows")
        if rows is None:
            rows = sum(quantification.get("counts", {}).get(NONE, {}).values()) or "?"
        older = ("; a model trained before they were recorded: gold leave-one-report-out"
                 if "version" not in quantification else "")
        return f"error rates from {rows} out-of-fold paragraphs (sources not recorded{older})"
    parts = ", ".join(f"{name} {entry['rows']} rows of {entry['groups']}"
                      for name, entry in sources.items())
    return f"error rates from {quantification.get('rows', '?')} out-of-fold rows ({parts})"


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


def shipped_method(metadata: Mapping[str, Any]) -> str:
    """The estimator ``profile --adjusted`` uses by default for this model: ``DEFAULT_METHOD``,
    or ``blend`` for a model whose metadata lacks the probabilities the probability methods
    need (trained before they were stored)."""
    if DEFAULT_METHOD in PROBABILITY_METHODS and probability_rates_from_metadata(metadata) is None:
        return "blend"
    return DEFAULT_METHOD


def probability_rates_from_metadata(metadata: Mapping[str, Any]
                                   ) -> dict[str, dict[str, float]] | None:
    """Mean out-of-fold probabilities and training priors stored by training, per theme and
    ``none``, or None for a model trained before they were stored."""
    quantification = metadata.get("quantification") or {}
    rates, prior = quantification.get("probabilities"), quantification.get("training_prior")
    maps = quantification.get("recalibration")
    themes = [*metadata["labels"], NONE]
    if (not rates or not prior or maps is None
            or any(t not in rates or t not in prior or t not in maps for t in themes)):
        return None
    return {t: {**rates[t], "prior": prior[t], "recalibration": maps[t]} for t in themes}


def _probability_arrays(rates: Mapping[str, Mapping[str, float]], themes: Sequence[str]
                        ) -> dict[str, np.ndarray]:
    """Per column: mean probability on positives and negatives, their standard errors, and
    the training prior. A side never seen out of fold counts as perfectly separated."""
    def column(key: str, default: float) -> np.ndarray:
        return np.asarray([default if rates[t].get(key) is None else float(rates[t][key])
                           for t in themes])

    n_pos, n_neg = column("n_pos", 0.0), column("n_neg", 0.0)
    maps = [rates[t].get("recalibration") or {"intercept": 0.0, "slope": 1.0,
                                               "covariance": [[0.0, 0.0], [0.0, 0.0]]}
            for t in themes]
    return {"map": np.asarray([[m["intercept"], m["slope"]] for m in maps], dtype=float),
            "map_covariance": np.asarray([m["covariance"] for m in maps], dtype=float),
            "mean_pos": column("mean_pos", 1.0), "mean_neg": column("mean_neg", 0.0),
            "se_pos": column("sd_pos", 0.0) / np.sqrt(np.maximum(n_pos, 1.0)),
            "se_neg": column("sd_neg", 0.0) / np.sqrt(np.maximum(n_neg, 1.0)),
            "prior": np.clip(column("prior", 0.5), 1e-3, 1 - 1e-3)}


def _draw_probability_rates(arrays: Mapping[str, np.ndarray], resamples: int,
                            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the mean out-of-fold probability on positives and negatives (normal, by the
    central limit theorem over the out-of-fold paragraphs), rows resamples."""
    shape = (resamples, len(arrays["mean_pos"]))
    pos = np.clip(arrays["mean_pos"] + arrays["se_pos"] * rng.standard_normal(shape), 0, 1)
    neg = np.clip(arrays["mean_neg"] + arrays["se_neg"] * rng.standard_normal(shape), 0, 1)
    return pos, neg


def _draw_maps(arrays: Mapping[str, np.ndarray], resamples: int,
               rng: np.random.Generator) -> np.ndarray:
    """Draws of each column's recalibration ``(a, b)`` from its estimate and covariance:
    resamples × columns × 2."""
    draws = np.empty((resamples, *arrays["map"].shape))
    for column, (centre, covariance) in enumerate(zip(arrays["map"], arrays["map_covariance"],
                                                      strict=True)):
        draws[:, column] = rng.multivariate_normal(centre, covariance, resamples,
                                                   method="eigh")
    return draws


def _recalibrated(scores: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Probabilities through the maps: ``maps`` columns × 2 gives paragraphs × columns;
    resamples × columns × 2 gives resamples × paragraphs × columns."""
    x = _logit(scores)
    if maps.ndim == 2:
        return 1 / (1 + np.exp(-(maps[:, 0] + maps[:, 1] * x)))
    return 1 / (1 + np.exp(-(maps[:, None, :, 0] + maps[:, None, :, 1] * x[None])))


# Above this many cells (resamples × paragraphs × columns), the count of a report's paragraphs
# that truly carry a theme is drawn from its normal approximation, not paragraph by paragraph.
EXACT_DRAW_CELLS = 3_000_000


def _cpcc_draws(scores: np.ndarray, map_draws: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """The share of the report's own paragraphs that carry each theme, drawn: recalibration
    drawn, then each paragraph's truth drawn from its recalibrated probability. The target is
    this report's share, not a population's: no paragraph is resampled."""
    n = len(scores)
    if map_draws.size // 2 * n <= EXACT_DRAW_CELLS:
        probabilities = _recalibrated(scores, map_draws)
        return (rng.random(probabilities.shape) < probabilities).mean(axis=1)
    draws = np.empty(map_draws.shape[:2])
    for start in range(len(map_draws)):
        p = _recalibrated(scores, map_draws[start:start + 1])[0]
        mean, variance = p.mean(axis=0), (p * (1 - p)).sum(axis=0) / n ** 2
        draws[start] = np.clip(mean + np.sqrt(variance) * rng.standard_normal(len(mean)), 0, 1)
    return draws


def _pacc(pcc: np.ndarray, mean_pos: np.ndarray, mean_neg: np.ndarray) -> np.ndarray:
    """Probabilistic ACC (Bella et al. 2010): ``(pcc - mean_neg) / (mean_pos - mean_neg)``."""
    gap = mean_pos - mean_neg
    with np.errstate(divide="ignore", invalid="ignore"):
        adjusted = np.clip((pcc - mean_neg) / gap, 0.0, 1.0)
    return np.where(gap >= MIN_DISCRIMINATION, adjusted, np.nan)


def _emq(scores: np.ndarray, weights: np.ndarray, prior: np.ndarray,
         iterations: int = 200, tolerance: float = 1e-6) -> np.ndarray:
    """Saerens-Latinne-Decaestecker EM, one binary problem per column, for every row of
    ``weights`` (paragraph weights summing to 1: a bootstrap resample or the report itself).

    The posteriors are re-weighted by the ratio of the current to the training prior until the
    prior they average to stops moving.
    """
    eps = 1e-6
    p = np.clip(scores, eps, 1 - eps)[None, :, :]
    estimate = weights @ scores
    for _ in range(iterations):
        ratio_pos = estimate / prior
        ratio_neg = (1.0 - estimate) / (1.0 - prior)
        positive = ratio_pos[:, None, :] * p
        posterior = positive / (positive + ratio_neg[:, None, :] * (1.0 - p))
        updated = np.einsum("rn,rnt->rt", weights, posterior)
        converged = np.abs(updated - estimate).max() < tolerance
        estimate = updated
        if converged:
            break
    return estimate


def _estimate(method: str, decided: np.ndarray, scores: np.ndarray | None,
              weights: np.ndarray, counts_rates: tuple[np.ndarray, np.ndarray],
              variance: tuple[np.ndarray, np.ndarray],
              probability_draws: tuple[np.ndarray, np.ndarray] | None,
              arrays: Mapping[str, np.ndarray] | None) -> np.ndarray:
    """Shares by ``method`` for each row of ``weights`` (resamples × paragraphs)."""
    n = decided.shape[0]
    if method in PROBABILITY_METHODS:
        if method == "emq":
            return np.vstack([_emq(scores, block, arrays["prior"])
                              for block in _blocks(weights, n * scores.shape[1])])
        if method in ("cpcc", "posterior"):
            return weights @ _recalibrated(scores, arrays["map"])
        pcc = weights @ scores
        return pcc if method == "pcc" else _pacc(pcc, *probability_draws)
    raw = weights @ decided.astype(float)
    if method == "cc":
        return raw
    return _blend(raw, *counts_rates, n, variance, method)


def _blocks(weights: np.ndarray, cells: int, budget: int = 2_000_000):
    """Rows of ``weights`` in blocks whose EM arrays stay under ``budget`` cells."""
    step = max(1, budget // max(cells, 1))
    for start in range(0, len(weights), step):
        yield weights[start:start + step]


def _bootstrap_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Paragraph weights of ``resamples`` bootstrap samples (multinomial counts / n).

    A theme the model gave to no paragraph resamples to a raw share of 0 every time: its CC
    interval is then [0, 0] and says nothing about paragraphs the model missed.
    """
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples) / n


def _mid_p_bounds(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the lowest and highest drawn value whose mid-p tails both hold at least
    ``(1 - level) / 2`` of the draws: a value is kept if the draws below it plus half of
    those equal to it, and likewise above, each reach the tail.

    A share of a short report is discrete (k of n paragraphs): the plain 2.5-97.5
    percentiles keep whole atoms of probability at both ends, so the interval holds ~99 %
    of its own draws, not 95 %, and covers the truth more often than it says (``check-shares``
    measured 0.995 on ten-line pages). Counting only half of an end atom (Lancaster's mid-p)
    brings the interval to its level; on continuous draws it is the percentile interval.
    """
    tail = (1 - level) / 2
    low, high = np.empty(draws.shape[1]), np.empty(draws.shape[1])
    for column in range(draws.shape[1]):
        values, counts = np.unique(np.round(draws[:, column], 9), return_counts=True)
        mass = counts / counts.sum()
        above = 1.0 - np.cumsum(mass)
        below = 1.0 - above - mass
        kept = values[(below + mass / 2 >= tail) & (above + mass / 2 >= tail)]
        low[column], high[column] = kept[0], kept[-1]
    return low, high


def _interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    # A theme that cannot be adjusted has an all-NaN column: its interval is everything.
    undefined = np.isnan(draws).mean(axis=0) > 0.5
    low, high = _mid_p_bounds(np.where(np.isnan(draws), 0.5, draws), level)
    return np.where(undefined, 0.0, low), np.where(undefined, 1.0, high)


class _Estimator:
    """Point estimates and bootstrap draws of one method for one model's error rates."""

    def __init__(self, labels: Sequence[str], counts: Mapping[str, Mapping[str, int]],
                 method: str, rates: Mapping[str, Mapping[str, float]] | None):
        if method not in METHODS:
            raise ValueError(f"unknown share method {method!r} (choose from {METHODS})")
        if method in PROBABILITY_METHODS and rates is None:
            raise ValueError(f"method {method!r} needs the mean out-of-fold probabilities "
                             "and training priors of the model: retrain it with this version")
        self.method, self.themes = method, [*labels, NONE]
        self.point_rates = _point_rates(counts, self.themes)
        self.variance = _rate_variance(counts, self.themes)
        self.counts = counts
        self.arrays = _probability_arrays(rates, self.themes) if rates is not None else None

    def _inputs(self, decided: np.ndarray, probabilities: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray | None]:
        decided = indicator_matrix(decided)
        if self.method not in PROBABILITY_METHODS:
            return decided, None
        if probabilities is None:
            raise ValueError(f"method {self.method!r} needs the paragraphs' probabilities")
        return decided, none_probability(probabilities)

    def point(self, decided: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
        n = len(decided)
        arrays = self.arrays
        means = (arrays["mean_pos"][None], arrays["mean_neg"][None]) if arrays else None
        return _estimate(self.method, decided, scores, np.full((1, n), 1.0 / n),
                         self.point_rates, self.variance, means, arrays)[0]

    def rate_draws(self, resamples: int, rng: np.random.Generator) -> tuple[Any, Any]:
        if self.method in ("cpcc", "posterior"):
            return None, _draw_maps(self.arrays, resamples, rng)
        if self.method in PROBABILITY_METHODS:
            return None, _draw_probability_rates(self.arrays, resamples, rng)
        return _draw_rates(self.counts, self.themes, resamples, rng), None

    def draws(self, decided: np.ndarray, scores: np.ndarray | None, rate_draws: tuple[Any, Any],
              resamples: int, rng: np.random.Generator) -> np.ndarray:
        """Bootstrap draws of the estimate: the error rates drawn, and the paragraphs
        resampled (or, for cpcc, each paragraph's truth drawn from its probability)."""
        counts_rates, probability_draws = rate_draws
        if self.method in ("cpcc", "posterior"):
            return _cpcc_draws(scores, probability_draws, rng)
        weights = _bootstrap_weights(len(decided), resamples, rng)
        return _estimate(self.method, decided, scores, weights, counts_rates or self.point_rates,
                         self.variance, probability_draws, self.arrays)


def adjusted_shares(decided: np.ndarray, labels: Sequence[str],
                    counts: Mapping[str, Mapping[str, int]], *,
                    probabilities: np.ndarray | None = None,
                    rates: Mapping[str, Mapping[str, float]] | None = None,
                    resamples: int = DEFAULT_RESAMPLES, level: float = 0.95,
                    seed: int = 0, method: str = DEFAULT_METHOD) -> list[ShareEstimate]:
    """Adjusted share per theme and ``none`` of one report or group, with its interval.

    ``decided``: the model's 0/1 decisions, paragraphs × themes (in ``labels`` order);
    ``probabilities``: its theme probabilities, same shape (for the probability methods);
    ``counts``: confusion counts of out-of-fold decisions (``rates_from_metadata``);
    ``rates``: mean out-of-fold probabilities and priors (``probability_rates_from_metadata``).
    ``method``: one of ``METHODS``; the interval redraws the paragraphs and the error rates.
    """
    estimator = _Estimator(labels, counts, method, rates)
    decided, scores = estimator._inputs(decided, probabilities)
    if not len(decided):
        return [ShareEstimate(t, 0, 0.0, float("nan"), 0.0, 1.0) for t in estimator.themes]
    rng = np.random.default_rng(seed)
    raw = decided.mean(axis=0)
    point = estimator.point(decided, scores)
    rate_draws = estimator.rate_draws(resamples, rng)
    draws = estimator.draws(decided, scores, rate_draws, resamples, rng)
    if method == "posterior":
        point = np.median(draws, axis=0)
    low, high = _interval(draws, level)
    # A skewed bootstrap (a share near 0 or 1) can leave the estimate outside its percentiles.
    low, high = np.fmin(low, point), np.fmax(high, point)
    return [ShareEstimate(theme, int(decided[:, i].sum()), float(raw[i]), float(point[i]),
                          float(low[i]), float(high[i]))
            for i, theme in enumerate(estimator.themes)]


def compare_shares(decided_a: np.ndarray, decided_b: np.ndarray, labels: Sequence[str],
                   counts: Mapping[str, Mapping[str, int]], *,
                   probabilities_a: np.ndarray | None = None,
                   probabilities_b: np.ndarray | None = None,
                   rates: Mapping[str, Mapping[str, float]] | None = None,
                   resamples: int = DEFAULT_RESAMPLES, level: float = 0.95,
                   seed: int = 0, method: str = DEFAULT_METHOD) -> list[ShareEstimate]:
    """Adjusted share of B minus that of A per theme, with a 95 % interval.

    Both groups are corrected with the same error-rate draw in each resample: the model's
    errors are shared, so their uncertainty partly cancels in a difference.
    ``paragraphs`` of the result is B's count minus A's; ``raw`` the raw difference.
    """
    estimator = _Estimator(labels, counts, method, rates)
    a, scores_a = estimator._inputs(decided_a, probabilities_a)
    b, scores_b = estimator._inputs(decided_b, probabilities_b)
    if not len(a) or not len(b):
        raise ValueError("both sides of a comparison need at least one paragraph")
    rng = np.random.default_rng(seed)
    point = estimator.point(b, scores_b) - estimator.point(a, scores_a)
    rate_draws = estimator.rate_draws(resamples, rng)
    draws = (estimator.draws(b, scores_b, rate_draws, resamples, rng)
             - estimator.draws(a, scores_a, rate_draws, resamples, rng))
    if method == "posterior":
        point = np.median(draws, axis=0)
    undefined = np.isnan(draws).mean(axis=0) > 0.5
    low, high = _mid_p_bounds(np.where(np.isnan(draws), 0.0, draws), level)
    raw = b.mean(axis=0) - a.mean(axis=0)
    return [ShareEstimate(theme, int(b[:, i].sum() - a[:, i].sum()), float(raw[i]),
                          float(point[i]), float(-1.0 if undefined[i] else low[i]),
                          float(1.0 if undefined[i] else high[i]))
            for i, theme in enumerate(estimator.themes)]
