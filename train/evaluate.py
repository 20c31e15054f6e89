"""Honest evaluation: out-of-fold predictions grouped by report, scored on real text only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import (
    classification_report,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
)

__all__ = ["compute_metrics", "confusion_matrices", "cross_val_predict_by_report", "report_text"]


def cross_val_predict_by_report(
    pipeline: Any,
    texts: Sequence[str],
    Y: np.ndarray,
    report_ids: Sequence[str],
    scored: np.ndarray,
    on_fold: Callable[[int, int, str], None] | None = None,
) -> np.ndarray:
    """Leave one report out: out-of-fold theme probabilities for every scored row.

    Each fold holds out one report that has scored rows; the model trains on every row of
    every other report (scored or not, so authored and silver text may help it) and predicts
    the held-out report's scored rows. Unscored rows never sit in a test fold. Rows not scored
    come back as NaN.
    """
    texts = np.asarray(texts, dtype=object)
    report_ids = np.asarray(report_ids, dtype=object)
    scored = np.asarray(scored, dtype=bool)
    held_out_reports = sorted(set(report_ids[scored]))
    if len(held_out_reports) < 2:
        raise ValueError("grouped cross-validation needs at least two scored reports")
    probabilities = np.full(Y.shape, np.nan)
    for fold, report in enumerate(held_out_reports):
        test = scored & (report_ids == report)
        train = report_ids != report
        model = clone(pipeline).fit(list(texts[train]), Y[train])
        probabilities[test] = model.predict_proba(list(texts[test]))
        if on_fold is not None:
            on_fold(fold + 1, len(held_out_reports), report)
    return probabilities


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
