"""The model: one scikit-learn ``Pipeline`` from raw paragraph text to theme decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from features.vectorize import build_vectorizer

__all__ = [
    "DEFAULT_MODEL",
    "MultiLabelThemeClassifier",
    "build_classifier",
    "build_pipeline",
    "select_text",
]

DEFAULT_MODEL: dict[str, Any] = {
    "classifier": "logreg",
    "C": 10.0,
    "class_weight": "balanced",
    "threshold": 0.5,
}


def select_text(inputs: Any) -> list[str]:
    """Accept a list of strings, a pandas Series, or a DataFrame with a ``text`` column."""
    if hasattr(inputs, "columns"):
        if "text" not in inputs.columns:
            raise ValueError("input DataFrame needs a 'text' column")
        inputs = inputs["text"]
    if isinstance(inputs, str):
        raise TypeError("pass a list of paragraphs, not a single string")
    return ["" if text is None else str(text) for text in inputs]


class MultiLabelThemeClassifier(ClassifierMixin, BaseEstimator):
    """One binary classifier per theme, with a decision threshold per theme.

    estimator: the binary classifier cloned for each theme.
    thresholds: a probability threshold for all themes, or one per theme.
    """

    def __init__(self, estimator: Any = None, thresholds: float | Sequence[float] = 0.5):
        self.estimator = estimator
        self.thresholds = thresholds

    def fit(self, X: Any, Y: np.ndarray) -> MultiLabelThemeClassifier:
        Y = np.asarray(Y)
        if Y.ndim != 2:
            raise ValueError("Y must be a multi-label indicator matrix")
        base = self.estimator if self.estimator is not None else LogisticRegression()
        self.classifier_ = OneVsRestClassifier(clone(base)).fit(X, Y)
        self.n_labels_ = Y.shape[1]
        self.thresholds_ = np.broadcast_to(
            np.asarray(self.thresholds, dtype=float), (self.n_labels_,)).copy()
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each theme, column per theme."""
        return self.classifier_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """Indicator matrix: theme probability at or above its threshold."""
        return (self.predict_proba(X) >= self.thresholds_).astype(int)


def build_classifier(config: Mapping[str, Any] | None = None) -> MultiLabelThemeClassifier:
    """The multi-label classifier an experiment's ``[model]`` table asks for."""
    merged = {**DEFAULT_MODEL, **(config or {})}
    name = merged["classifier"]
    if name == "logreg":
        base = LogisticRegression(C=float(merged["C"]), class_weight=merged["class_weight"],
                                  max_iter=2000, solver="liblinear")
    else:
        raise ValueError(f"unknown classifier {name!r}")
    return MultiLabelThemeClassifier(base, thresholds=merged["threshold"])


def build_pipeline(features: Mapping[str, Any] | None = None,
                   model: Mapping[str, Any] | None = None) -> Pipeline:
    """Text in, themes out: select text, TF-IDF features, multi-label classifier."""
    return Pipeline([
        ("text", FunctionTransformer(select_text)),
        ("features", build_vectorizer(features)),
        ("classifier", build_classifier(model)),
    ])
