"""Training: cross-validate a pipeline grouped by report, then fit it on all the data.

Pure with respect to tracking: nothing here logs anywhere; the experiment runner does that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from train.data import dataset_hash, label_counts, label_matrix, label_names
from train.evaluate import (
    compute_metrics,
    confusion_matrices,
    cross_val_predict_by_report,
    report_text,
)
from train.model import build_pipeline

__all__ = ["TrainingResult", "train_and_evaluate"]

SCORED_SOURCES = ("gold",)


@dataclass
class TrainingResult:
    """What one training run produced: the fitted pipeline and its honest evaluation."""

    pipeline: Any
    labels: list[str]
    thresholds: dict[str, float]
    metrics: dict[str, float]
    confusion: dict[str, list[list[int]]]
    report: str
    scored_texts: list[str]
    scored_report_ids: list[str]
    Y_true: np.ndarray
    probabilities: np.ndarray
    Y_pred: np.ndarray
    data_hash: str
    counts: dict[str, dict[str, int]]
    n_paragraphs: int


def train_and_evaluate(
    dataset: Any,
    features: Mapping[str, Any] | None = None,
    model: Mapping[str, Any] | None = None,
    scored_sources: Sequence[str] = SCORED_SOURCES,
    on_fold: Callable[[int, int, str], None] | None = None,
) -> TrainingResult:
    """Leave-one-report-out evaluation on the scored sources, then a fit on every row."""
    labels = label_names(dataset)
    texts = list(dataset["text"])
    Y = label_matrix(dataset["labels"], len(labels))
    report_ids = np.asarray(dataset["report_id"], dtype=object)
    scored = np.isin(np.asarray(dataset["source"], dtype=object), list(scored_sources))
    pipeline = build_pipeline(features, model)
    probabilities = cross_val_predict_by_report(pipeline, texts, Y, report_ids, scored, on_fold)
    fitted = pipeline.fit(texts, Y)
    thresholds = dict(zip(labels, map(float, fitted[-1].thresholds_), strict=True))
    scored_probabilities = probabilities[scored]
    Y_pred = (scored_probabilities >= fitted[-1].thresholds_).astype(int)
    Y_true = Y[scored]
    return TrainingResult(
        pipeline=fitted,
        labels=labels,
        thresholds=thresholds,
        metrics=compute_metrics(Y_true, Y_pred, labels),
        confusion=confusion_matrices(Y_true, Y_pred, labels),
        report=report_text(Y_true, Y_pred, labels),
        scored_texts=[t for t, s in zip(texts, scored, strict=True) if s],
        scored_report_ids=list(report_ids[scored]),
        Y_true=Y_true,
        probabilities=scored_probabilities,
        Y_pred=Y_pred,
        data_hash=dataset_hash(dataset),
        counts=label_counts(dataset),
        n_paragraphs=len(texts),
    )
