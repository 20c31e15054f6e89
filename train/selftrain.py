"""Self-training on an unlabelled corpus: pseudo-labels at fit time, and still one Pipeline.

``SelfTrainingPipeline`` is a scikit-learn ``Pipeline`` (text, features, classifier) whose
``fit`` fits as usual on the labelled rows, tags the paragraphs of an unlabelled corpus
(``features.corpus``), keeps the ones it is confident about, and refits the classifier on the
labelled rows plus those, the pseudo-labelled rows weighing less. The features stay fitted on
the labelled rows (and on the corpus only if ``[features] idf_corpus`` says so). Tagging is the
Pipeline's own ``predict``: the corpus is read at fit time only, and the fitted model tags
exactly as trained.

Pseudo-labels (``choose_pseudo_labels``), per theme and for no theme, so that neither the
themes the corpus is full of (economy, livelihood in government reports) nor its rarer ones
swamp the labelled rows:
- a paragraph qualifies only if every theme is decided with confidence: probability at or
  above ``confidence`` (the theme is in its label) or at or below ``1 - confidence``;
- per theme, at most ``share`` times the labelled rows carrying that theme are taken (surest
  first, a paragraph counting for every theme it carries), and no-theme paragraphs up to
  ``share`` times the labelled no-theme rows (the least theme-like first);
- they train at ``weight`` per row (1 for a labelled row), and never tune thresholds.
``rounds`` repeats tagging and refitting with the refitted model.

In a cross-validation the corpus is tagged by that fold's own model, fitted on the fold's
training rows only: a held-out report never chooses a pseudo-label.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import Pipeline

__all__ = ["SELF_TRAINING_DEFAULTS", "PseudoLabels", "SelfTrainingPipeline",
           "choose_pseudo_labels", "self_train", "self_training_settings"]

# [model] keys of self-training and their defaults; self_training names the corpus ("": off).
SELF_TRAINING_DEFAULTS: dict[str, Any] = {
    "self_training": "",
    "self_training_confidence": 0.9,
    "self_training_weight": 0.5,
    "self_training_share": 0.5,
    "self_training_rounds": 1,
}


def self_training_settings(model: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``SelfTrainingPipeline`` parameters a ``[model]`` table asks for; empty when it
    asks for no self-training."""
    merged = {**SELF_TRAINING_DEFAULTS, **{k: v for k, v in (model or {}).items()
                                           if k in SELF_TRAINING_DEFAULTS}}
    if not merged["self_training"]:
        return {}
    settings = {"corpus": str(merged["self_training"]),
                "confidence": float(merged["self_training_confidence"]),
                "weight": float(merged["self_training_weight"]),
                "share": float(merged["self_training_share"]),
                "rounds": int(merged["self_training_rounds"])}
    _check(**{k: v for k, v in settings.items() if k != "corpus"})
    return settings


def _check(confidence: float, weight: float, share: float, rounds: int) -> None:
    if not 0.5 < confidence <= 1.0:
        raise ValueError(f"self-training confidence must be above 0.5 and at most 1, "
                         f"not {confidence}")
    if not 0.0 < weight <= 1.0:
        raise ValueError(f"self-training weight must be above 0 and at most 1, not {weight}")
    if share < 0:
        raise ValueError(f"self-training share must not be negative, not {share}")
    if rounds < 1:
        raise ValueError(f"self-training rounds must be at least 1, not {rounds}")


@dataclass
class PseudoLabels:
    """What one round of self-training took from the corpus."""

    rows: np.ndarray
    labels: np.ndarray
    qualified: int

    def counts(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """Pseudo-labelled paragraphs per theme and with no theme."""
        names = list(names) if names is not None else \
            [str(k) for k in range(self.labels.shape[1])]
        counts = {name: int(self.labels[:, k].sum()) for k, name in enumerate(names)}
        counts["none"] = int((self.labels.sum(axis=1) == 0).sum())
        counts["paragraphs"] = len(self.rows)
        counts["qualified"] = self.qualified
        return counts


def choose_pseudo_labels(probabilities: np.ndarray, Y: np.ndarray, confidence: float,
                         share: float) -> PseudoLabels:
    """The corpus rows to pseudo-label and their labels (see the module docstring)."""
    probabilities = np.asarray(probabilities, dtype=float)
    Y = np.asarray(Y)
    decided = probabilities >= confidence
    sure = (decided | (probabilities <= 1.0 - confidence)).all(axis=1)
    chosen = np.zeros(len(probabilities), dtype=bool)
    budgets = np.array([math.ceil(share * int(Y[:, theme].sum()))
                        for theme in range(Y.shape[1])])
    rows = np.flatnonzero(sure & decided.any(axis=1))
    # Surest first (by the weakest of its themes), ties by corpus order, so the choice is
    # reproducible; a paragraph is taken only if every theme it carries has budget left.
    weakest = np.where(decided[rows], probabilities[rows], np.inf).min(axis=1)
    for row in rows[np.lexsort((rows, -weakest))]:
        themes = decided[row]
        if (budgets[themes] > 0).all():
            budgets[themes] -= 1
            chosen[row] = True
    none_budget = math.ceil(share * int((Y.sum(axis=1) == 0).sum()))
    rows = np.flatnonzero(sure & ~decided.any(axis=1))
    order = np.lexsort((rows, probabilities[rows].max(axis=1) if len(rows) else rows))
    chosen[rows[order[:none_budget]]] = True
    rows = np.flatnonzero(chosen)
    return PseudoLabels(rows, decided[rows].astype(int), int(sure.sum()))


def _stack(first: Any, second: Any) -> Any:
    if sp.issparse(first):
        return sp.vstack([first, second], format="csr")
    return np.vstack([first, second])


def self_train(classifier: Any, X: Any, Y: np.ndarray, X_unlabelled: Any, *,
               confidence: float, weight: float, share: float, rounds: int,
               unlabelled_groups: Sequence[Any] | None = None,
               groups: Sequence[Any] | None = None,
               tune_on: Sequence[bool] | None = None) -> tuple[Any, list[PseudoLabels]]:
    """Refit ``classifier`` (a ``MultiLabelThemeClassifier`` already fitted on ``X, Y``) with
    pseudo-labelled rows of ``X_unlabelled``; return the refitted classifier and what each
    round took. ``groups`` and ``tune_on`` are the labelled rows' fit parameters; pseudo-
    labelled rows get their corpus report as group and never tune thresholds."""
    _check(confidence, weight, share, rounds)
    Y = np.asarray(Y)
    n_unlabelled = X_unlabelled.shape[0]
    corpus_groups = np.asarray(
        [f"corpus:{g}" for g in (unlabelled_groups if unlabelled_groups is not None
                                 else range(n_unlabelled))], dtype=object)
    current, history = classifier, []
    for _ in range(rounds):
        chosen = choose_pseudo_labels(current.predict_proba(X_unlabelled), Y, confidence,
                                      share)
        history.append(chosen)
        if not len(chosen.rows):
            break
        weights = np.concatenate([np.ones(len(Y)), np.full(len(chosen.rows), weight)])
        fit_params: dict[str, Any] = {"sample_weight": weights}
        if groups is not None:
            fit_params["groups"] = [*groups, *corpus_groups[chosen.rows]]
        labelled_tune = np.ones(len(Y), bool) if tune_on is None else np.asarray(tune_on, bool)
        fit_params["tune_on"] = np.concatenate([labelled_tune,
                                                np.zeros(len(chosen.rows), bool)])
        current = clone(classifier).fit(_stack(X, X_unlabelled[chosen.rows]),
                                        np.vstack([Y, chosen.labels]), **fit_params)
    return current, history


class SelfTrainingPipeline(Pipeline):
    """A ``Pipeline`` whose ``fit`` adds pseudo-labelled paragraphs of an unlabelled corpus.

    steps: as for ``Pipeline``; the last is a ``MultiLabelThemeClassifier``.
    corpus: a corpus name under ``labels/corpus`` or a path (``features.corpus``); ``""``
        fits as a plain ``Pipeline``.
    confidence, weight, share, rounds: see the module docstring.

    Fitted attribute ``pseudo_labels_``: per round, pseudo-labelled paragraphs per theme.
    Slicing gives a plain ``Pipeline`` (``pipeline[:-1]`` is the fitted features).
    """

    def __init__(self, steps: list[tuple[str, Any]], *, corpus: str = "",
                 confidence: float = 0.9, weight: float = 0.5, share: float = 0.5,
                 rounds: int = 1, transform_input: Any = None, memory: Any = None,
                 verbose: bool = False):
        super().__init__(steps, transform_input=transform_input, memory=memory,
                         verbose=verbose)
        self.corpus = corpus
        self.confidence = confidence
        self.weight = weight
        self.share = share
        self.rounds = rounds

    def __getitem__(self, ind: Any) -> Any:
        if isinstance(ind, slice):
            if ind.step not in (1, None):
                raise ValueError("Pipeline slicing only supports a step of 1")
            return Pipeline(self.steps[ind], memory=self.memory, verbose=self.verbose)
        return super().__getitem__(ind)

    def fit(self, X: Any, y: Any = None, **params: Any) -> SelfTrainingPipeline:
        """Fit on the labelled rows, then (with a corpus) refit the classifier with the
        corpus paragraphs it is confident about. ``classifier__groups`` and
        ``classifier__tune_on`` are passed on as for a ``Pipeline``."""
        super().fit(X, y, **params)
        self.pseudo_labels_: list[dict[str, int]] = []
        if not self.corpus:
            return self
        from cppcc_themes.features.corpus import corpus_paragraphs

        name, classifier = self.steps[-1]
        prefix = f"{name}__"
        classifier_params = {key[len(prefix):]: value for key, value in params.items()
                             if key.startswith(prefix)}
        unknown = set(classifier_params) - {"groups", "tune_on"}
        if unknown:
            raise TypeError(f"self-training passes only groups and tune_on to the "
                            f"classifier, not {sorted(unknown)}")
        paragraphs, report_ids = corpus_paragraphs(self.corpus)
        features = self[:-1]
        refitted, history = self_train(
            classifier, features.transform(X), np.asarray(y), features.transform(paragraphs),
            confidence=self.confidence, weight=self.weight, share=self.share,
            rounds=self.rounds, unlabelled_groups=report_ids, **classifier_params)
        self.steps[-1] = (name, refitted)
        self.pseudo_labels_ = [chosen.counts() for chosen in history]
        return self
