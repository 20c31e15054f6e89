"""Line-shape features: what a line looks like, not what it says (``features.shape``).

Page furniture, bylines, dates and podium lists differ from report prose in form before
content: they are short, full of digits or Latin letters, unpunctuated or without a closing
full stop. TF-IDF n-grams see little of that. This block gives a handful of such measures, as
columns named ``#shape:…`` (never shown as evidence: they are not words):

- length of the normalised line, one-hot in bins (up to 8, 16, 32, 64, 128 characters, longer);
- shares of digits, Latin letters and punctuation among its characters;
- whether it ends a sentence (。！？；), opens with an enumerator (一是, (一), 1.), holds a date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.text_input import TextInputMixin

__all__ = ["SHAPE_PREFIX", "LineShapeFeatures"]

SHAPE_PREFIX = "#shape:"
LENGTH_BINS = (8, 16, 32, 64, 128)
# On normalised text: full-width ！？；（）． are half-width there.
_SENTENCE_END = ("。", "!", "?", ";")
_ENUMERATOR = re.compile(r"^(?:[一二三四五六七八九十]+是|\(?[一二三四五六七八九十\d]+[)、.])")
_DATE = re.compile(r"\d{4}\s*[-年/.]\s*\d{1,2}|\d{1,2}月\d{1,2}日")
_PUNCTUATION = re.compile(r"[^\w\s]")
_NAMES = ([f"length<={n}" for n in LENGTH_BINS] + [f"length>{LENGTH_BINS[-1]}"]
          + ["digits", "latin", "punctuation", "sentence_end", "enumerator", "date"])


def _shape(text: str) -> list[float]:
    line = normalize_text(str(text))
    size = len(line)
    bins = [0.0] * (len(LENGTH_BINS) + 1)
    bins[next((i for i, n in enumerate(LENGTH_BINS) if size <= n), len(LENGTH_BINS))] = 1.0
    share = 1.0 / size if size else 0.0
    digits = sum(char.isdigit() for char in line) * share
    latin = sum(char.isascii() and char.isalpha() for char in line) * share
    punctuation = len(_PUNCTUATION.findall(line)) * share
    return [*bins, digits, latin, punctuation, float(line.endswith(_SENTENCE_END)),
            float(bool(_ENUMERATOR.match(line))), float(bool(_DATE.search(line)))]


class LineShapeFeatures(TextInputMixin, TransformerMixin, BaseEstimator):
    """The shape of each line (see the module docstring); stateless, fitted for the API."""

    def fit(self, texts: Any = None, y: Any = None) -> LineShapeFeatures:
        """Nothing to learn; records the output width."""
        self.n_features_out_ = len(_NAMES)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """One row of shape measures per text."""
        check_is_fitted(self, "n_features_out_")
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        rows = [_shape(text) for text in texts]
        return sp.csr_matrix(np.asarray(rows, dtype=float).reshape(len(rows), len(_NAMES)))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``#shape:length<=8``, …, ``#shape:date``."""
        check_is_fitted(self, "n_features_out_")
        return np.asarray([SHAPE_PREFIX + name for name in _NAMES], dtype=object)

