"""Training: cross-validate a pipeline grouped by report, then fit it on all the data.

Pure with respect to tracking: nothing here logs anywhere; the experiment runner does that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cppcc_themes.train.data import dataset_hash, label_counts, label_matrix, label_names
from cppcc_themes.train.evaluate import (
    bootstrap_macro_f1,
    calibration_summary,
    compute_metrics,
    confusion_matrices,
    cross_val_predict_by_report,
    error_records,
    per_report_macro_f1,
    report_text,
    top_features,
)
from cppcc_themes.train.model import build_pipeline

__all__ = [
    "CrossValidation",
    "TrainingData",
    "TrainingResult",
    "cross_validate",
    "evaluation_from_predictions",
    "fit_final",
    "prepare_data",
    "train_and_evaluate",
    "train_prepared",
]

SCORED_SOURCES = ("gold",)
FoldCallback = Callable[[int, int, str], None]


@dataclass
class TrainingData:
    """A labelled dataset as arrays, with the rows that may be scored marked."""

    labels: list[str]
    texts: list[str]
    Y: np.ndarray
    report_ids: np.ndarray
    scored: np.ndarray
    data_hash: str
    counts: dict[str, dict[str, int]]
    headings: list[str] | None = None
    sources: np.ndarray | None = None

    @property
    def inputs(self) -> np.ndarray:
        """What a pipeline is fitted on: the (text, heading) array of ``paragraph_columns``.
        A pipeline without heading context reads the text column only."""
        from cppcc_themes.train.model import paragraph_columns

        columns = np.empty((len(self.texts), 2), dtype=object)
        columns[:, 0] = self.texts
        columns[:, 1] = self.headings if self.headings is not None else [""] * len(self.texts)
        return paragraph_columns(columns)


@dataclass
class CrossValidation:
    """The honest, leave-one-report-out evaluation of one configuration on the scored rows."""

    metrics: dict[str, float]
    confusion: dict[str, list[list[int]]]
    report: str
    texts: list[str]
    report_ids: list[str]
    Y_true: np.ndarray
    probabilities: np.ndarray
    Y_pred: np.ndarray
    calibration: dict[str, Any]
    per_report: dict[str, float]
    errors: list[dict[str, Any]]


@dataclass
class TrainingResult:
    """What one training run produced: the fitted pipeline and its honest evaluation."""

    pipeline: Any
    labels: list[str]
    thresholds: dict[str, float]
    evaluation: CrossValidation
    data_hash: str
    counts: dict[str, dict[str, int]]
    n_paragraphs: int
    top_features: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        return self.evaluation.metrics

    @property
    def confusion(self) -> dict[str, list[list[int]]]:
        return self.evaluation.confusion

    @property
    def report(self) -> str:
        return self.evaluation.report

    @property
    def scored_texts(self) -> list[str]:
        return self.evaluation.texts


def prepare_data(dataset: Any, scored_sources: Sequence[str] = SCORED_SOURCES) -> TrainingData:
    """Arrays of a ``datasets.Dataset`` of labelled paragraphs.

    Columns are read whole (``dataset[name][:]``): iterating a datasets ``Column`` formats it
    row by row, ~20x slower, which took a fifth of a training run with a warm token cache.
    """
    labels = label_names(dataset)
    return TrainingData(
        labels=labels,
        texts=dataset["text"][:],
        Y=label_matrix(dataset["labels"][:], len(labels)),
        report_ids=np.asarray(dataset["report_id"][:], dtype=object),
        scored=np.isin(np.asarray(dataset["source"][:], dtype=object), list(scored_sources)),
        data_hash=dataset_hash(dataset),
        counts=label_counts(dataset),
        headings=dataset["heading"][:] if "heading" in dataset.column_names else None,
        sources=np.asarray(dataset["source"][:], dtype=object),
    )


def cross_validate(data: TrainingData, features: Mapping[str, Any] | None = None,
                   model: Mapping[str, Any] | None = None,
                   on_fold: FoldCallback | None = None) -> CrossValidation:
    """Leave-one-report-out over the scored reports, with every metric we report."""
    pipeline = build_pipeline(features, model)
    probabilities, predictions = cross_val_predict_by_report(
        pipeline, data.inputs, data.Y, data.report_ids, data.scored, on_fold)
    return evaluation_from_predictions(data, probabilities, predictions)


def evaluation_from_predictions(data: TrainingData, probabilities: np.ndarray,
                                predictions: np.ndarray) -> CrossValidation:
    """Every metric we report, from out-of-fold scores and decisions of the scored rows."""
    scored = data.scored
    Y_true, Y_pred, scores = data.Y[scored], predictions[scored], probabilities[scored]
    texts = [t for t, s in zip(data.texts, scored, strict=True) if s]
    report_ids = list(data.report_ids[scored])
    metrics = compute_metrics(Y_true, Y_pred, data.labels)
    metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"] = bootstrap_macro_f1(Y_true, Y_pred)
    calibration = calibration_summary(Y_true, scores, data.labels)
    metrics["brier_mean"] = calibration["brier_mean"]
    metrics.update({f"{label}_brier": value for label, value in calibration["brier"].items()})
    per_report = per_report_macro_f1(Y_true, Y_pred, report_ids)
    metrics.update({f"macro_f1_{report}": value for report, value in per_report.items()})
    return CrossValidation(
        metrics=metrics,
        confusion=confusion_matrices(Y_true, Y_pred, data.labels),
        report=report_text(Y_true, Y_pred, data.labels),
        texts=texts,
        report_ids=report_ids,
        Y_true=Y_true,
        probabilities=scores,
        Y_pred=Y_pred,
        calibration=calibration,
        per_report=per_report,
        errors=error_records(texts, report_ids, Y_true, Y_pred, scores, data.labels),
    )


def fit_final(data: TrainingData, features: Mapping[str, Any] | None = None,
              model: Mapping[str, Any] | None = None) -> Any:
    """The pipeline fitted on every row; tuned thresholds come from inner grouped folds."""
    return build_pipeline(features, model).fit(
        data.inputs, data.Y, classifier__groups=list(data.report_ids),
        classifier__tune_on=data.scored)


def train_and_evaluate(
    dataset: Any,
    features: Mapping[str, Any] | None = None,
    model: Mapping[str, Any] | None = None,
    scored_sources: Sequence[str] = SCORED_SOURCES,
    on_fold: FoldCallback | None = None,
    evaluation: CrossValidation | None = None,
) -> TrainingResult:
    """Leave-one-report-out evaluation on the scored sources, then a fit on every row.

    ``evaluation``: a cross-validation already done for this configuration (a search's winner),
    so it is not run twice.
    """
    return train_prepared(prepare_data(dataset, scored_sources), features, model, on_fold,
                          evaluation)


def train_prepared(
    data: TrainingData,
    features: Mapping[str, Any] | None = None,
    model: Mapping[str, Any] | None = None,
    on_fold: FoldCallback | None = None,
    evaluation: CrossValidation | None = None,
) -> TrainingResult:
    """``train_and_evaluate`` for data already turned into arrays by ``prepare_data``."""
    from cppcc_themes.features.token_cache import use_token_cache

    # Every fold and experiment re-segments the same paragraphs: segment each one once.
    with use_token_cache():
        evaluation = evaluation or cross_validate(data, features, model, on_fold)
        fitted = fit_final(data, features, model)
    return TrainingResult(
        pipeline=fitted,
        labels=data.labels,
        thresholds=dict(zip(data.labels, map(float, fitted[-1].thresholds_), strict=True)),
        evaluation=evaluation,
        data_hash=data.data_hash,
        counts=data.counts,
        n_paragraphs=len(data.texts),
        top_features=top_features(fitted, data.labels),
    )
