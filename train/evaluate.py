"""Honest evaluation: out-of-fold predictions grouped by report, scored on real text only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    brier_score_loss,
    classification_report,
    f1_score,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
)

__all__ = [
    "bootstrap_by_group",
    "bootstrap_macro_f1",
    "calibration_summary",
    "compute_metrics",
    "confusion_matrices",
    "cross_val_predict_by_report",
    "error_records",
    "per_report_macro_f1",
    "report_text",
    "top_features",
]


def cross_val_predict_by_report(
    pipeline: Any,
    texts: Sequence[str],
    Y: np.ndarray,
    report_ids: Sequence[str],
    scored: np.ndarray,
    on_fold: Callable[[int, int, str], None] | None = None,
    tune_on: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Leave one report out: out-of-fold theme probabilities and decisions for scored rows.

    Each fold holds out one report that has scored rows; the model trains on every row of
    every other report (scored or not, so authored and silver text may help it) and predicts
    the held-out report's scored rows. Unscored rows never sit in a test fold. Rows not scored
    come back as NaN (probabilities) and 0 (decisions). Decisions use each fold's own
    thresholds, never the final model's. The classifier gets the training fold's report ids
    (and ``tune_on``, the rows whose scores may tune thresholds), so anything it tunes is
    tuned on that fold alone.
    """
    # Texts, or the (text, heading) rows of ``paragraph_columns`` for a heading-aware model.
    texts = np.asarray(texts, dtype=object)
    report_ids = np.asarray(report_ids, dtype=object)
    scored = np.asarray(scored, dtype=bool)
    tune_on = scored if tune_on is None else np.asarray(tune_on, dtype=bool)
    held_out_reports = sorted(set(report_ids[scored]))
    if len(held_out_reports) < 2:
        raise ValueError("grouped cross-validation needs at least two scored reports")
    probabilities = np.full(Y.shape, np.nan)
    predictions = np.zeros(Y.shape, dtype=int)
    for fold, report in enumerate(held_out_reports):
        test = scored & (report_ids == report)
        train = report_ids != report
        model = clone(pipeline).fit(_rows(texts, train), Y[train],
                                    classifier__groups=list(report_ids[train]),
                                    classifier__tune_on=tune_on[train])
        probabilities[test] = model.predict_proba(_rows(texts, test))
        predictions[test] = (probabilities[test] >= model[-1].thresholds_).astype(int)
        if on_fold is not None:
            on_fold(fold + 1, len(held_out_reports), report)
    return probabilities, predictions


def _rows(inputs: np.ndarray, mask: np.ndarray) -> Any:
    """The chosen rows: a list of texts, or a 2-D (text, heading) array as it is."""
    return inputs[mask] if inputs.ndim == 2 else list(inputs[mask])


def compute_metrics(Y_true: np.ndarray, Y_pred: np.ndarray,
                    labels: Sequence[str]) -> dict[str, float]:
    """Per-theme precision, recall, F1 and support; macro and micro F1; the no-theme class.

    "none" is scored as a class of its own: a paragraph is none when it has no theme.
    """
    metrics: dict[str, float] = {}
    precision, recall, f1, support = precision_recall_fscore_support(
        Y_true, Y_pred, average=None, zero_division=0)
    for i, label in enumerate(labels):
        metrics[f"{label}_precision"] = float(precision[i])
        metrics[f"{label}_recall"] = float(recall[i])
        metrics[f"{label}_f1"] = float(f1[i])
        metrics[f"{label}_support"] = float(support[i])
    for average in ("macro", "micro"):
        p, r, f, _ = precision_recall_fscore_support(Y_true, Y_pred, average=average,
                                                     zero_division=0)
        metrics[f"{average}_precision"] = float(p)
        metrics[f"{average}_recall"] = float(r)
        metrics[f"{average}_f1"] = float(f)
    none_true = Y_true.sum(axis=1) == 0
    none_pred = Y_pred.sum(axis=1) == 0
    p, r, f, _ = precision_recall_fscore_support(none_true, none_pred, average="binary",
                                                 zero_division=0)
    metrics.update(none_precision=float(p), none_recall=float(r), none_f1=float(f),
                   none_support=float(none_true.sum()))
    metrics["exact_match"] = float((Y_true == Y_pred).all(axis=1).mean())
    return metrics


def confusion_matrices(Y_true: np.ndarray, Y_pred: np.ndarray,
                       labels: Sequence[str]) -> dict[str, list[list[int]]]:
    """2x2 confusion matrix per theme, ``[[tn, fp], [fn, tp]]``."""
    matrices = multilabel_confusion_matrix(Y_true, Y_pred)
    return {label: matrices[i].tolist() for i, label in enumerate(labels)}


def report_text(Y_true: np.ndarray, Y_pred: np.ndarray, labels: Sequence[str]) -> str:
    """scikit-learn's classification report over the themes."""
    return classification_report(Y_true, Y_pred, target_names=list(labels), zero_division=0)


def per_report_macro_f1(Y_true: np.ndarray, Y_pred: np.ndarray,
                        report_ids: Sequence[str]) -> dict[str, float]:
    """Macro-F1 of each held-out report alone: the spread between reports is the real noise."""
    report_ids = np.asarray(report_ids, dtype=object)
    return {str(report): float(f1_score(Y_true[report_ids == report],
                                        Y_pred[report_ids == report],
                                        average="macro", zero_division=0))
            for report in sorted(set(report_ids))}


def bootstrap_macro_f1(Y_true: np.ndarray, Y_pred: np.ndarray, n_resamples: int = 1000,
                       confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of macro-F1, resampling paragraphs.

    Paragraphs of one report are not independent, and with four reports a bootstrap over
    reports is degenerate; this interval is therefore too narrow, a lower bound on the
    uncertainty. ``per_report_macro_f1`` shows the between-report spread beside it.
    """
    rng = np.random.default_rng(seed)
    n = len(Y_true)
    # Each resample is a vector of row weights (how often each paragraph was drawn); the
    # per-theme counts of all resamples then come from three matrix products, not n_resamples
    # calls of f1_score.
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n)
                        for _ in range(n_resamples)])
    scores = _weighted_f1(weights, Y_true, Y_pred).mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)


def _weighted_f1(weights: np.ndarray, Y_true: np.ndarray, Y_pred: np.ndarray) -> np.ndarray:
    """Per-theme F1 of each resample, a resample being a vector of row weights (how often each
    row was drawn): three matrix products instead of one ``f1_score`` call per resample."""
    truth, pred = np.asarray(Y_true, dtype=bool), np.asarray(Y_pred, dtype=bool)
    tp = weights @ (truth & pred)
    fp = weights @ (~truth & pred)
    fn = weights @ (truth & ~pred)
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)


def bootstrap_by_group(Y_true: np.ndarray, Y_pred: np.ndarray, groups: Sequence[str],
                       labels: Sequence[str], n_resamples: int = 1000,
                       confidence: float = 0.95, seed: int = 0) -> dict[str, list[float]]:
    """95 % percentile bootstrap intervals of macro-F1 and of each theme's F1, resampling whole
    groups (reports, pages) with replacement: the unit that varies between documents.

    With four gold reports the interval is very wide, and honestly so: it says how little four
    documents pin down.
    """
    groups = np.asarray(groups, dtype=object)
    names = sorted(set(groups))
    member = np.asarray([names.index(g) for g in groups])
    rng = np.random.default_rng(seed)
    draws = np.stack([np.bincount(rng.integers(0, len(names), len(names)),
                                  minlength=len(names)) for _ in range(n_resamples)])
    f1 = _weighted_f1(draws[:, member], Y_true, Y_pred)
    tail = (1 - confidence) / 2 * 100
    intervals = {"macro_f1": np.percentile(f1.mean(axis=1), [tail, 100 - tail]).tolist()}
    for column, label in enumerate(labels):
        intervals[label] = np.percentile(f1[:, column], [tail, 100 - tail]).tolist()
    return {key: [round(float(v), 4) for v in value] for key, value in intervals.items()}


def calibration_summary(Y_true: np.ndarray, probabilities: np.ndarray, labels: Sequence[str],
                        n_bins: int = 10) -> dict[str, Any]:
    """Brier score per theme and overall, and the pooled reliability curve.

    The curve pools every (paragraph, theme) score: mean predicted probability against the
    observed share of positives, per bin of equal width.
    """
    brier = {label: float(brier_score_loss(Y_true[:, i], probabilities[:, i]))
             for i, label in enumerate(labels)}
    observed, predicted = calibration_curve(Y_true.ravel(), probabilities.ravel(),
                                            n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0, 1, n_bins + 1)
    counts = np.histogram(probabilities.ravel(), bins=edges)[0]
    return {
        "brier": brier,
        "brier_mean": float(np.mean(list(brier.values()))),
        "curve": {"predicted": predicted.tolist(), "observed": observed.tolist(),
                  "bin_counts": [int(c) for c in counts if c > 0]},
    }


def error_records(texts: Sequence[str], report_ids: Sequence[str], Y_true: np.ndarray,
                  Y_pred: np.ndarray, probabilities: np.ndarray,
                  labels: Sequence[str]) -> list[dict[str, Any]]:
    """Every scored paragraph whose predicted theme set differs from the gold one."""
    records = []
    for i in np.flatnonzero((Y_true != Y_pred).any(axis=1)):
        gold = [label for label, y in zip(labels, Y_true[i], strict=True) if y]
        predicted = [label for label, y in zip(labels, Y_pred[i], strict=True) if y]
        records.append({
            "report_id": str(report_ids[i]),
            "text": texts[i],
            "gold": gold,
            "predicted": predicted,
            "missed": [label for label in gold if label not in predicted],
            "extra": [label for label in predicted if label not in gold],
            "scores": {label: round(float(p), 4)
                       for label, p in zip(labels, probabilities[i], strict=True)},
        })
    return records


def _binary_weights(estimator: Any) -> np.ndarray | None:
    """Weight of each feature toward the positive class, for the estimators of the registry."""
    if hasattr(estimator, "calibrated_classifiers_"):
        parts = [_binary_weights(c.estimator) for c in estimator.calibrated_classifiers_]
        parts = [p for p in parts if p is not None]
        return np.mean(parts, axis=0) if parts else None
    if hasattr(estimator, "coef_"):
        return np.asarray(estimator.coef_).ravel()
    if hasattr(estimator, "feature_log_prob_"):
        # The joint log-likelihood of a class is X @ feature_log_prob_[class], so the margin
        # toward the positive class is the row difference.
        log_prob = estimator.feature_log_prob_
        return log_prob[1] - log_prob[0]
    return None


def top_features(pipeline: Any, labels: Sequence[str],
                 n: int = 15) -> dict[str, list[tuple[str, float]]]:
    """The n features with the largest positive weight for each theme, named as tagging's
    evidence names them and only those that can be evidence (words and phrases, never a lone
    character, a punctuation fragment or a measure such as line length).

    Empty for a theme whose estimator has no linear weights (e.g. it saw one class only).
    """
    from cppcc_themes.train.predict import is_evidence, readable_feature_name

    raw = pipeline.named_steps["features"].get_feature_names_out()
    names = np.asarray([readable_feature_name(name) for name in raw], dtype=object)
    shown = np.fromiter((is_evidence(name) for name in names), dtype=bool, count=len(names))
    ovr = pipeline.named_steps["classifier"].classifier_
    top: dict[str, list[tuple[str, float]]] = {}
    for label, estimator in zip(labels, ovr.estimators_, strict=True):
        weights = _binary_weights(estimator)
        if weights is None or len(weights) != len(names):
            top[label] = []
            continue
        candidates = np.flatnonzero(shown)
        order = candidates[np.argsort(-weights[candidates], kind="stable")[:n]]
        top[label] = [(str(names[j]), float(weights[j])) for j in order if weights[j] > 0]
    return top
