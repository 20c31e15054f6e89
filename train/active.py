"""Active selection: which unlabelled paragraphs would teach the model most.

Uncertainty per theme (how close a paragraph's score is to that theme's threshold), taken in
turn across the themes so rare ones get their share of questions; a pick too similar to an
earlier one (cosine of TF-IDF rows) is skipped so a batch is not near-duplicates; and no report
gives more than its share of a batch. Rules relax only when the pool runs out.

Written here rather than with small-text or modAL: both install without torch, but both pick
for a single-label (or per-query) setting from a classifier they refit themselves; what a
multi-label theme model needs — uncertainty per theme against its own threshold, balance
across themes and reports, and a similarity cut — would be written around them anyway.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Pick", "select_batch", "uncertainty"]

# TF-IDF cosine above which two paragraphs count as near-duplicates in one batch.
MAX_SIMILARITY = 0.8


@dataclass(frozen=True)
class Pick:
    """A paragraph chosen for labelling: its row, and the theme it is uncertain about."""

    row: int
    theme: int
    uncertainty: float


def uncertainty(probabilities: np.ndarray, thresholds: float | Sequence[float] = 0.5,
                ) -> np.ndarray:
    """1 at a theme's threshold, 0 at a certain 0 or 1; paragraphs × themes."""
    p = np.asarray(probabilities, dtype=float)
    t = np.broadcast_to(np.asarray(thresholds, dtype=float), p.shape[1:])
    room = np.where(p >= t, 1.0 - t, t)
    return 1.0 - np.abs(p - t) / np.maximum(room, 1e-9)


def _unit_rows(features: Any) -> Any:
    from scipy import sparse
    from sklearn.preprocessing import normalize

    return normalize(sparse.csr_matrix(features))


def select_batch(probabilities: np.ndarray, features: Any, groups: Sequence[Any], size: int, *,
                 thresholds: float | Sequence[float] = 0.5,
                 max_similarity: float = MAX_SIMILARITY) -> list[Pick]:
    """Choose ``size`` rows to label: most uncertain per theme in turn, diverse, balanced.

    ``probabilities``: the model's scores of the unlabelled rows (rows × themes);
    ``features``: their feature rows (for similarity); ``groups``: their report ids.
    """
    scores = uncertainty(probabilities, thresholds)
    n_rows, n_themes = scores.shape
    size = min(size, n_rows)
    if size <= 0:
        return []
    vectors = _unit_rows(features)
    groups = np.asarray(groups, dtype=object)
    per_report_cap = max(1, math.ceil(2 * size / len(set(groups.tolist()))))
    orders = [np.argsort(-scores[:, theme], kind="stable") for theme in range(n_themes)]
    picks: list[Pick] = []
    taken = np.zeros(n_rows, dtype=bool)
    per_report: Counter = Counter()
    for cap, similarity in ((per_report_cap, max_similarity), (per_report_cap, 1.01),
                            (n_rows, 1.01)):
        positions = [0] * n_themes
        added = True
        while added and len(picks) < size:
            added = False
            for theme in range(n_themes):
                row = _next_acceptable(orders[theme], positions, theme, taken, groups,
                                       per_report, cap, vectors, picks, similarity)
                if row is None:
                    continue
                picks.append(Pick(row, theme, float(scores[row, theme])))
                taken[row] = True
                per_report[groups[row]] += 1
                added = True
                if len(picks) == size:
                    break
        if len(picks) == size:
            break
    return picks


def _next_acceptable(order: np.ndarray, positions: list[int], theme: int, taken: np.ndarray,
                     groups: np.ndarray, per_report: Counter, cap: int, vectors: Any,
                     picks: list[Pick], similarity: float) -> int | None:
    """The next row in ``order`` that is free, under its report's cap, and not a near-copy."""
    chosen = [pick.row for pick in picks]
    while positions[theme] < len(order):
        row = int(order[positions[theme]])
        positions[theme] += 1
        if taken[row] or per_report[groups[row]] >= cap:
            continue
        if chosen and similarity <= 1.0:
            nearest = (vectors[chosen] @ vectors[row].T).max()
            if nearest > similarity:
                continue
        return row
    return None
