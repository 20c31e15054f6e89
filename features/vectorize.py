"""TF-IDF features over jieba words, characters, or both, built from an experiment's config."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from features.normalize import normalize_text
from features.tokenize import Tokenizer, tagging_backend

__all__ = ["DEFAULT_FEATURES", "build_vectorizer", "describe_tokenizers", "find_tokenizers",
           "set_tagging_tokenizers", "tokenizer_from_config", "with_tokenizer"]

DEFAULT_FEATURES: dict[str, Any] = {
    "analyzer": "word",  # word | char | word+char
    "word_ngrams": [1, 2],
    "char_ngrams": [1, 3],
    "min_df": 1,
    "max_df": 1.0,
    "max_features": None,
    "sublinear_tf": True,
    "tokenizer": "jieba",
    "hmm": False,
    "remove_stopwords": True,
}


def tokenizer_from_config(config: Mapping[str, Any]) -> Tokenizer:
    """The tokenizer an experiment's ``[features]`` table asks for."""
    merged = {**DEFAULT_FEATURES, **config}
    return Tokenizer(backend=merged["tokenizer"], hmm=bool(merged["hmm"]),
                     remove_stopwords=bool(merged["remove_stopwords"]))


def _tfidf(merged: Mapping[str, Any], **kwargs: Any) -> TfidfVectorizer:
    return TfidfVectorizer(
        preprocessor=normalize_text,
        lowercase=False,
        min_df=merged["min_df"],
        max_df=merged["max_df"],
        max_features=merged["max_features"],
        sublinear_tf=bool(merged["sublinear_tf"]),
        **kwargs,
    )


def build_vectorizer(config: Mapping[str, Any] | None = None):
    """TF-IDF vectorizer (or a union of two) that reads raw paragraph text.

    Normalisation is the vectorizer's preprocessor, so the fitted pipeline does it itself and
    tagging sees exactly what training saw.
    """
    unknown = set(config or {}) - set(DEFAULT_FEATURES)
    if unknown:
        raise ValueError(f"unknown [features] keys: {sorted(unknown)}")
    merged = {**DEFAULT_FEATURES, **(config or {})}
    words = _tfidf(merged, tokenizer=tokenizer_from_config(merged), token_pattern=None,
                   ngram_range=tuple(merged["word_ngrams"]))
    chars = _tfidf(merged, analyzer="char", ngram_range=tuple(merged["char_ngrams"]))
    analyzer = merged["analyzer"]
    if analyzer == "word":
        return words
    if analyzer == "char":
        return chars
    if analyzer == "word+char":
        return FeatureUnion([("words", words), ("chars", chars)])
    raise ValueError(f"unknown analyzer {analyzer!r}; choose word, char or word+char")


def find_tokenizers(estimator: Any) -> dict[str, Tokenizer]:
    """The tokenizers inside a (fitted or not) scikit-learn estimator, by parameter name,
    e.g. ``{"features__tokenizer": Tokenizer(backend="jieba", ...)}``."""
    if not hasattr(estimator, "get_params"):
        return {}
    return {name: value for name, value in estimator.get_params(deep=True).items()
            if isinstance(value, Tokenizer)}


def describe_tokenizers(estimator: Any) -> dict[str, dict[str, Any]]:
    """The settings of every tokenizer in ``estimator``, ready for a model's metadata."""
    return {name: dataclasses.asdict(tokenizer)
            for name, tokenizer in find_tokenizers(estimator).items()}


def with_tokenizer(estimator: Any, **changes: Any) -> Any:
    """A copy of ``estimator``, fitted state kept, whose tokenizers have ``changes`` applied,
    e.g. ``with_tokenizer(pipeline, backend="rjieba")`` to tag with the fast backend."""
    swapped = copy.deepcopy(estimator)
    swapped.set_params(**{name: dataclasses.replace(tokenizer, **changes)
                          for name, tokenizer in find_tokenizers(swapped).items()})
    return swapped


def set_tagging_tokenizers(estimator: Any, choice: str | None = None) -> dict[str, str]:
    """Switch, in place, each tokenizer of a fitted ``estimator`` to the backend tagging uses
    (see ``features.tokenize.tagging_backend``); return the backend per parameter name.

    In place because a just-loaded model is ours alone: ``with_tokenizer``'s deep copy of the
    vocabulary would cost more than it saves on a short report.
    """
    tokenizers = find_tokenizers(estimator)
    chosen = {name: tagging_backend(tokenizer, choice) for name, tokenizer in tokenizers.items()}
    changes = {name: dataclasses.replace(tokenizer, backend=chosen[name])
               for name, tokenizer in tokenizers.items() if tokenizer.backend != chosen[name]}
    if changes:
        estimator.set_params(**changes)
    return chosen
