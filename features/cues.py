"""Codebook cue features: which of the codebook's cue terms a paragraph contains.

TF-IDF learns every n-gram from the labelled rows alone; the codebook (``../shared/spec/
themes.md``) says in advance which terms announce a theme and which lines carry none. This
block gives the classifier that prior as features beside the TF-IDF blocks (``features.cues``):

- one 0/1 column per cue term (named by the term, so evidence can show it);
- per theme (and ``none``), ``log(1 + number of distinct cues found)``;
- whether cues of at least 2, 3 or 4 of the five themes occur: a summary that runs through
  all areas in stock phrases has no main subject (codebook, "No theme").

Terms are matched as substrings of the normalised text (``normalize_text``: simplified
characters, half-width forms), so jieba's segmentation cannot split them and traditional
input matches too. The cue lists live in ``resources/codebook_cues.toml`` (with provenance);
``fit`` copies them into the estimator, so a packaged model tags with exactly the lists it
was trained with.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.text_input import TextInputMixin

__all__ = ["CODEBOOK_CUES", "COUNT_PREFIX", "CueFeatures", "load_codebook_cues"]

CODEBOOK_CUES = Path(__file__).resolve().parent / "resources" / "codebook_cues.toml"
# Names of the columns that count rather than name a term start with this: they are never
# shown as evidence (see ``train.predict.is_evidence``).
COUNT_PREFIX = "#cues:"
# "Cues of at least k themes" columns: an all-areas summary touches four or five.
BREADTH_LEVELS = (2, 3, 4)
NO_THEME_GROUP = "none"


def load_codebook_cues(path: str | Path = CODEBOOK_CUES) -> dict[str, tuple[str, ...]]:
    """Cue terms per group (theme id or ``none``) from a TOML file with a ``[cues]`` table."""
    path = Path(path)
    with path.open("rb") as handle:
        table = tomllib.load(handle).get("cues")
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{path}: needs a [cues] table of term lists")
    return {group: tuple(str(term) for term in terms) for group, terms in table.items()}


class CueFeatures(TextInputMixin, TransformerMixin, BaseEstimator):
    """Codebook cue terms found in each text, as a sparse matrix (see the module docstring).

    cues: cue terms per group (theme id or ``none``); None reads ``codebook_cues.toml``.
    """

    def __init__(self, cues: Mapping[str, Sequence[str]] | None = None):
        self.cues = cues

    def fit(self, texts: Any = None, y: Any = None) -> CueFeatures:
        """Fix the cue lists (normalised, duplicates dropped); the texts are not needed."""
        groups = load_codebook_cues() if self.cues is None else self.cues
        self.cues_ = {str(group): tuple(dict.fromkeys(normalize_text(str(t)) for t in terms
                                                      if str(t).strip()))
                      for group, terms in groups.items()}
        self.terms_ = list(dict.fromkeys(t for terms in self.cues_.values() for t in terms))
        self.n_features_out_ = len(self.terms_) + len(self.cues_) + len(BREADTH_LEVELS)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """One row per text: term indicators, per-group counts, breadth indicators."""
        check_is_fitted(self, "cues_")
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        column = {term: number for number, term in enumerate(self.terms_)}
        groups = list(self.cues_)
        themes = [g for g in groups if g != NO_THEME_GROUP]
        first_count, first_breadth = len(self.terms_), len(self.terms_) + len(groups)
        rows, columns, values = [], [], []
        n_texts = 0
        for row, text in enumerate(texts):
            n_texts += 1
            normalised = normalize_text(str(text))
            found = {term for term in self.terms_ if term in normalised}
            for term in found:
                rows.append(row), columns.append(column[term]), values.append(1.0)
            cued_themes = 0
            for number, group in enumerate(groups):
                hits = sum(term in found for term in self.cues_[group])
                if hits:
                    rows.append(row), columns.append(first_count + number)
                    values.append(float(np.log1p(hits)))
                    cued_themes += group in themes
            for number, level in enumerate(BREADTH_LEVELS):
                if cued_themes >= level:
                    rows.append(row), columns.append(first_breadth + number), values.append(1.0)
        return sp.csr_matrix((values, (rows, columns)), shape=(n_texts, self.n_features_out_))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The term itself for a term column; ``#cues:<group>`` and ``#cues:themes>=k`` for
        the counts."""
        check_is_fitted(self, "cues_")
        counts = [f"{COUNT_PREFIX}{group}" for group in self.cues_]
        breadth = [f"{COUNT_PREFIX}themes>={level}" for level in BREADTH_LEVELS]
        return np.asarray([*self.terms_, *counts, *breadth], dtype=object)

