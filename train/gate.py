"""A first-stage "report content or not" gate in front of the theme classifiers.

Most lines users tag carry no theme (page furniture, news framing, greetings, podium lists);
each one-vs-rest theme classifier learns that line from its own negatives only. The gate is
one binary classifier trained on every training row for "has any theme", so all themes'
positives teach it what report content looks like. Its probability ``g`` then gates each
theme probability ``p`` (``combine``):

- ``"product"``: ``p * g``, the probability of "content, and this theme" if the two were
  independent;
- ``"threshold"``: a theme only where ``g >= gate_threshold``: ``p`` is kept there, and
  elsewhere capped below the theme's decision threshold (``min(p, g * threshold / t)``), so
  ``probability >= threshold`` still decides and the ranking of gated-out rows is kept.

It is the final step of the one Pipeline, on the same features as the theme classifiers, so
tagging uses exactly what training fitted; ``classifier_`` stays the theme classifiers, so
evidence and top features read their coefficients as for an ungated model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from cppcc_themes.train.model import MultiLabelThemeClassifier, _theme_probabilities

__all__ = ["COMBINE_MODES", "GatedThemeClassifier"]

COMBINE_MODES = ("product", "threshold")


class GatedThemeClassifier(MultiLabelThemeClassifier):
    """``MultiLabelThemeClassifier`` whose theme probabilities a content gate scales.

    estimator, thresholds, threshold_folds: as ``MultiLabelThemeClassifier``.
    gate: the binary classifier for "has any theme" (needs ``predict_proba``); None clones
        ``estimator``.
    combine: ``"product"`` or ``"threshold"`` (see the module docstring).
    gate_threshold: the gate probability a theme needs with ``combine="threshold"``.
    """

    def __init__(self, estimator: Any = None, thresholds: float | str | Sequence[float] = 0.5,
                 threshold_folds: int = 4, gate: Any = None, combine: str = "product",
                 gate_threshold: float = 0.5):
        super().__init__(estimator=estimator, thresholds=thresholds,
                         threshold_folds=threshold_folds)
        self.gate = gate
        self.combine = combine
        self.gate_threshold = gate_threshold

    def fit(self, X: Any, Y: np.ndarray, groups: Sequence[Any] | None = None,
            tune_on: Sequence[bool] | None = None) -> GatedThemeClassifier:
        """Fit the gate on "has any theme", then the themes (and thresholds, if tuned)."""
        if self.combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {COMBINE_MODES}, not {self.combine!r}")
        if self.combine == "threshold" and isinstance(self.thresholds, str):
            raise ValueError("a gate with combine='threshold' needs fixed theme thresholds; "
                             "use combine='product' with tuned thresholds")
        if not 0.0 < float(self.gate_threshold) <= 1.0:
            raise ValueError(f"gate_threshold must be in (0, 1], not {self.gate_threshold!r}")
        X, Y = self._validated(X, Y)
        self.gate_ = self._fit_gate(X, Y)
        return super().fit(X, Y, groups=groups, tune_on=tune_on)

    def _fit_gate(self, X: Any, Y: np.ndarray) -> Any:
        content = Y.any(axis=1).astype(int)
        if len(set(content)) < 2:  # all rows content, or none: nothing to learn
            return DummyClassifier(strategy="prior").fit(X, content)
        base = self.gate if self.gate is not None else self.estimator
        return clone(base if base is not None else LogisticRegression()).fit(X, content)

    def gate_probability(self, X: Any) -> np.ndarray:
        """Probability that each row is report content (carries any theme)."""
        check_is_fitted(self, "gate_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return _content_probability(self.gate_, X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each theme, gated by the probability that the row is content."""
        check_is_fitted(self, ["classifier_", "gate_"])
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return self._gated(_theme_probabilities(self.classifier_, X),
                           _content_probability(self.gate_, X), self.thresholds_)

    def _gated(self, themes: np.ndarray, content: np.ndarray,
               thresholds: np.ndarray) -> np.ndarray:
        content = content[:, None]
        if self.combine == "product":
            return themes * content
        passed = content >= float(self.gate_threshold)
        capped = np.minimum(themes, content * thresholds / float(self.gate_threshold))
        return np.where(passed, themes, capped)

    def _inner_probabilities(self, X_train: Any, Y_train: np.ndarray, X_test: Any,
                             ) -> np.ndarray:
        # Tuning sees what predict_proba gives: themes gated by a gate of the same fold.
        themes = _theme_probabilities(self._one_vs_rest().fit(X_train, Y_train), X_test)
        gate = _content_probability(self._fit_gate(X_train, Y_train), X_test)
        return self._gated(themes, gate, np.full(Y_train.shape[1], 0.5))


def _content_probability(gate: Any, X: Any) -> np.ndarray:
    """The gate's probability of class 1 (content); 0 or 1 if it only ever saw one class."""
    probabilities = gate.predict_proba(X)
    classes = list(gate.classes_)
    if 1 in classes:
        return probabilities[:, classes.index(1)]
    return np.zeros(probabilities.shape[0])
