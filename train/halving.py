"""Successive halving over folds for the yardstick search (``[search] halving = true``).

Rung by rung, the candidates still in the race are scored on more of the search's folds:
with 5 outer folds and factor 3, rung 1 scores every candidate on the first 2 joint folds,
the last rung scores the survivors on all 5. After each rung the best ``1/factor`` survive,
and so does every candidate within 0.01 of the rung's best, so the rule "the first-listed
candidate within 0.01 of the best" can still reach a simpler candidate. A candidate's fold
fits are the very fits of the exhaustive search (same units, same training rows), so a
survivor's figures on all folds equal its exhaustive figures exactly; only a stopped
candidate's figures are partial (``NestedResult.folds_scored`` says on how many folds).
With ``nested`` the same halving runs inside every outer fold, so the nested figure
estimates the halving procedure, not the exhaustive one.

Halving can pick differently from the exhaustive search when a candidate that would win (or
be within 0.01 of the winner) on all folds trails by more than 0.01 on the first folds and
is not in the best ``1/factor`` there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cppcc_themes.train.select import (
    INNER_FOLDS,
    OUTER_FOLDS,
    SIMPLER_WITHIN,
    FoldUnit,
    NestedResult,
    UnitResult,
    YardstickCandidate,
    _best,
    _feature_key,
    _merge,
    _run_unit,
    collect,
    merged_outer,
    pick,
    score_groups,
    yardstick_units,
)

__all__ = ["HALVING_FACTOR", "halving_selection", "rung_sizes", "survivors"]

HALVING_FACTOR = 3


def rung_sizes(n_folds: int, factor: int = HALVING_FACTOR) -> list[int]:
    """How many folds each rung scores on, growing by ``factor`` up to all folds; the first
    rung uses at least 2 folds (one fold holds a single gold report)."""
    sizes = [n_folds]
    while sizes[0] > 2:
        smaller = max(2, math.ceil(sizes[0] / factor))
        if smaller >= sizes[0]:
            break
        sizes.insert(0, smaller)
    return sizes


def rung_value(scores: dict[str, Any]) -> float:
    """The criterion, or the mean of the macro-F1s the rung's folds have, if one is missing."""
    if "criterion" in scores:
        return float(scores["criterion"])
    return float(np.mean([v for k, v in scores.items() if k.endswith("_macro_f1")]))


def survivors(values: dict[int, float], factor: int = HALVING_FACTOR,
              within: float = SIMPLER_WITHIN) -> list[int]:
    """Candidates that go on: the best ``ceil(n / factor)`` (ties to the earlier listed) and
    every candidate within ``within`` of the best, in listed order."""
    ranked = sorted(values, key=lambda i: (-round(values[i], 12), i))
    keep = set(ranked[:math.ceil(len(values) / factor)])
    best = max(values.values())
    keep |= {i for i, value in values.items() if value >= best - within}
    return sorted(keep)


@dataclass
class _Search:
    """One search (the outer one, or the inner one of an outer fold) being halved."""

    units: list[FoldUnit]
    sizes: list[int]
    alive: list[int]
    intervals: bool
    keep: Sequence[int] = ()
    rung: int = 0
    scores: dict[int, dict[str, Any]] = field(default_factory=dict)
    folds: dict[int, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.rung >= len(self.sizes)

    def wanted(self) -> list[tuple[FoldUnit, list[int]]]:
        return [(unit, self.alive) for unit in self.units[:self.sizes[self.rung]]]

    def advance(self, data: Any, by_unit: dict, factor: int) -> None:
        used = self.units[:self.sizes[self.rung]]
        rows = np.logical_or.reduce([unit.test for unit in used])
        for index in self.alive:
            _, predictions = _merge([by_unit[unit.name][index] for unit in used])
            self.scores[index] = score_groups(data, predictions, rows, self.intervals)
            self.folds[index] = len(used)
        self.rung += 1
        if not self.done:
            going_on = survivors({i: rung_value(self.scores[i]) for i in self.alive}, factor)
            self.alive = sorted(set(going_on) | set(self.keep))

    def winner(self) -> int:
        return self.alive[pick([self.scores[i] for i in self.alive])]


def _compute(data: Any, candidates: Sequence[YardstickCandidate],
             wanted: Sequence[tuple[FoldUnit, Sequence[int]]], by_unit: dict,
             n_jobs: int) -> list[UnitResult]:
    """Fit what ``wanted`` asks for and ``by_unit`` does not hold yet (one job per unit and
    feature configuration, as ``out_of_fold``), and add it to ``by_unit``."""
    from joblib import Parallel, delayed

    jobs = []
    for unit, indices in wanted:
        missing = [i for i in indices if i not in by_unit.get(unit.name, {})]
        groups: dict[str, list[tuple[int, YardstickCandidate]]] = {}
        for index in missing:
            groups.setdefault(_feature_key(candidates[index]), []).append(
                (index, candidates[index]))
        jobs += [(unit, group) for group in groups.values()]
    results = Parallel(n_jobs=n_jobs)(delayed(_run_unit)(data, unit, group)
                                      for unit, group in jobs)
    collect(results, data.Y.shape, by_unit)
    return list(results)


def halving_selection(data: Any, candidates: Sequence[YardstickCandidate],
                      factor: int = HALVING_FACTOR, n_outer: int = OUTER_FOLDS,
                      n_inner: int = INNER_FOLDS, n_jobs: int = 1, nested: bool = True,
                      on_stage: Callable[[str], None] | None = None,
                      keep: Sequence[int] = ()) -> NestedResult:
    """``nested_selection`` with successive halving over folds, in the outer search and in
    every inner one; the winner's figures come from all outer folds, and so do those of the
    candidates in ``keep`` (never stopped in the outer search)."""
    outer, units = yardstick_units(data, n_outer, n_inner, nested)
    everyone = list(range(len(candidates)))
    searches = {"outer": _Search(units[:n_outer], rung_sizes(n_outer, factor), everyone, True,
                                 list(keep))}
    if nested:
        for f in range(n_outer):
            inner = [u for u in units if u.name.startswith(f"outer{f}/")]
            searches[f] = _Search(inner, rung_sizes(n_inner, factor), everyone, False)
    by_unit: dict = {}
    results: list[UnitResult] = []
    rung = 0
    while not all(search.done for search in searches.values()):
        rung += 1
        active = [s for s in searches.values() if not s.done]
        if on_stage is not None:
            on_stage(f"halving rung {rung}: up to {max(len(s.alive) for s in active)} "
                     f"of {len(candidates)} candidates")
        results += _compute(data, candidates, [w for s in active for w in s.wanted()],
                            by_unit, n_jobs)
        for search in active:
            search.advance(data, by_unit, factor)
    top = searches["outer"]
    chosen = {f: searches[f].winner() for f in range(n_outer)} if nested else {}
    # An inner search may choose a candidate the outer halving stopped early.
    results += _compute(data, candidates, [(units[f], [i]) for f, i in chosen.items()],
                        by_unit, n_jobs)
    nested_predictions = np.zeros(data.Y.shape, dtype=int)
    inner_groups: dict[int, set[str]] = {}
    for f, index in chosen.items():
        test = outer == f
        nested_predictions[test] = by_unit[f"outer{f}"][index][1][test]
        inner_groups[f] = set().union(*(r.trained_on | r.scored_on for r in results
                                        if r.unit.startswith(f"outer{f}/")))
    per_candidate = [{"candidate": c.name, **top.scores[i]} for i, c in enumerate(candidates)]
    finalists = top.alive
    return NestedResult(
        candidates=[c.name for c in candidates],
        per_candidate=per_candidate,
        optimistic_index=finalists[_best([per_candidate[i] for i in finalists])],
        selected_index=top.winner(),
        chosen=chosen,
        nested=score_groups(data, nested_predictions, outer >= 0, intervals=True)
        if nested else {},
        nested_predictions=nested_predictions,
        outer_folds=outer,
        inner_groups=inner_groups,
        outer_test_groups={f: set(data.report_ids[outer == f]) for f in range(n_outer)},
        folds_scored=[top.folds[i] for i in everyone],
        outer_predictions={i: merged_outer(by_unit, i, n_outer) for i in everyone
                           if top.folds[i] == n_outer},
    )
