"""The yardstick of issue 10: grouped scores on real and real-style text, and nested selection.

Two figures, never pooled with each other nor with written or weak text:
- **gold**: the four real reports, each held out once (leave one report out);
- **real-style**: the written web-page lines, by grouped folds over pages (a page is never on
  both sides of a split). They are written, not found, but they are the project's nearest
  likeness of what users tag (web pages, mostly lines with no theme).

Both come from the same **joint folds**: fold *i* holds out gold report *i* and the *i*-th group
of real-style pages at once, so one fit per fold scores both. Rows of the training-only
sources (authored, web-style, silver) are never held out and train whenever a candidate asks
for them; a gold report or real-style page being scored is never in training.

Selection criterion: the mean of the two macro-F1s (see ``experiments/README.md`` for why);
the rule (``pick``) takes the first-listed candidate within 0.01 of the best, so list simpler
configurations first.
**Nested** selection re-runs the whole search inside each outer fold on that fold's training
rows only (inner joint folds), picks a candidate there, and scores the pick on the outer fold:
the estimate of "search, then ship the winner" that the optimistic maximum over candidates is
not. Intervals bootstrap over reports and pages, not paragraphs.

Work is shared: each feature configuration is fitted once per fold (outer or inner) and its
matrices serve every classifier and threshold setting of the candidates that share it; fold
units run in parallel through joblib. This module is pure: no tracking, no files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sklearn.model_selection import GroupKFold

from cppcc_themes.train.evaluate import bootstrap_by_group, compute_metrics

__all__ = [
    "SCORED_GROUPS",
    "FoldUnit",
    "NestedResult",
    "YardstickCandidate",
    "collect",
    "joint_folds",
    "merged_outer",
    "nested_selection",
    "out_of_fold",
    "pick",
    "score_groups",
    "selection_criterion",
    "yardstick_units",
]

# Scored sources and how their rows are grouped into folds.
SCORED_GROUPS = ("gold", "real-style")
OUTER_FOLDS = 5
# Three inner folds: inside an outer fold that held out a gold report, each inner fold holds
# out one of the three others (leave one report out again).
INNER_FOLDS = 3
# A candidate is preferred to the first-listed (simpler) ones only if it beats them by more.
SIMPLER_WITHIN = 0.01


class YardstickCandidate(Protocol):
    """What the yardstick needs of a candidate (``experiments.search.Candidate`` is one)."""

    name: str
    sources: list[str]
    features: dict[str, Any]
    model: dict[str, Any]


@dataclass
class Candidate:
    """One configuration to evaluate: data sources, ``[features]`` and ``[model]`` settings
    (``experiments.search.Candidate`` adds the search values that made it)."""

    name: str
    sources: list[str]
    features: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)


def joint_folds(report_ids: np.ndarray, sources: np.ndarray, rows: np.ndarray | None = None,
                n_folds: int = OUTER_FOLDS) -> np.ndarray:
    """Fold number of each row (``-1``: never held out) over the rows in ``rows``.

    Gold reports, sorted, take folds 0, 1, …; real-style pages are spread over ``n_folds``
    folds by ``GroupKFold`` (whole pages, balanced sizes). Rows of other sources, and rows
    outside ``rows``, get -1.
    """
    report_ids = np.asarray(report_ids, dtype=object)
    sources = np.asarray(sources, dtype=object)
    rows = np.ones(len(report_ids), dtype=bool) if rows is None else np.asarray(rows, bool)
    folds = np.full(len(report_ids), -1)
    gold = rows & (sources == "gold")
    for number, report in enumerate(sorted(set(report_ids[gold]))):
        folds[gold & (report_ids == report)] = number % n_folds
    pages = np.flatnonzero(rows & (sources == "real-style"))
    if len(set(report_ids[pages])) >= n_folds:
        splitter = GroupKFold(n_splits=n_folds)
        for number, (_, test) in enumerate(splitter.split(pages, groups=report_ids[pages])):
            folds[pages[test]] = number
    return folds


def selection_criterion(scores: Mapping[str, float]) -> float:
    """The number a search ranks by: the mean of the gold and real-style macro-F1s."""
    return float(np.mean([scores[f"{group}_macro_f1"] for group in SCORED_GROUPS]))


def _feature_key(candidate: YardstickCandidate) -> str:
    return json.dumps([sorted(candidate.sources), sorted(candidate.features.items())],
                      sort_keys=True, default=str)


@dataclass
class FoldUnit:
    """One fold's split: rows that may train (before a candidate's sources) and rows scored."""

    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass
class UnitResult:
    """What one (fold, feature configuration) unit gives back: per candidate index, the test
    rows' scores and decisions; and the groups its fits actually saw (an audit trail)."""

    unit: str
    candidates: list[int]
    test_rows: np.ndarray
    probabilities: dict[int, np.ndarray]
    predictions: dict[int, np.ndarray]
    trained_on: set[str]
    scored_on: set[str]


def _run_unit(data: Any, unit: FoldUnit, group: list[tuple[int, YardstickCandidate]],
              ) -> UnitResult:
    """Fit one feature configuration on the unit's training rows, then every classifier that
    shares it; predict the unit's test rows."""
    from sklearn.base import clone

    from cppcc_themes.features.corpus import corpus_paragraphs
    from cppcc_themes.features.token_cache import use_token_cache
    from cppcc_themes.train.model import build_pipeline
    from cppcc_themes.train.selftrain import self_train, self_training_settings

    first = group[0][1]
    in_sources = np.isin(data.sources, list(first.sources))
    train = np.flatnonzero(unit.train & in_sources)
    test = np.flatnonzero(unit.test)
    inputs = data.inputs
    pipeline = build_pipeline(first.features, first.model)
    with use_token_cache():
        features = clone(pipeline[:-1])
        X_train = features.fit_transform(inputs[train])
        X_test = features.transform(inputs[test])
    probabilities, predictions = {}, {}
    corpora: dict[str, tuple[Any, np.ndarray]] = {}
    for index, candidate in group:
        classifier = clone(build_pipeline(candidate.features, candidate.model)[-1])
        fit_params = {"groups": list(data.report_ids[train]),
                      "tune_on": np.isin(data.sources[train], SCORED_GROUPS)}
        classifier.fit(X_train, data.Y[train], **fit_params)
        settings = self_training_settings(candidate.model)
        if settings:
            # What SelfTrainingPipeline.fit does, on the features this unit shares: the
            # corpus is tagged by this fold's model, fitted on this fold's rows only.
            corpus = settings.pop("corpus")
            if corpus not in corpora:
                paragraphs, corpus_reports = corpus_paragraphs(corpus)
                with use_token_cache():
                    corpora[corpus] = (features.transform(paragraphs), corpus_reports)
            X_corpus, corpus_reports = corpora[corpus]
            classifier, _ = self_train(classifier, X_train, data.Y[train], X_corpus,
                                       unlabelled_groups=corpus_reports, **settings,
                                       **fit_params)
        probabilities[index] = classifier.predict_proba(X_test)
        predictions[index] = (probabilities[index] >= classifier.thresholds_).astype(int)
    return UnitResult(unit.name, [i for i, _ in group], test, probabilities, predictions,
                      set(data.report_ids[train]), set(data.report_ids[test]))


def out_of_fold(data: Any, candidates: Sequence[YardstickCandidate],
                units: Sequence[FoldUnit], n_jobs: int = 1,
                ) -> tuple[dict[str, dict[int, tuple[np.ndarray, np.ndarray]]], list[UnitResult]]:
    """Scores and decisions of every candidate on every unit's test rows.

    Returns ``{unit name: {candidate index: (probabilities, decisions)}}`` with full-length
    arrays (NaN / 0 outside the unit's test rows), and the unit results (for auditing).
    """
    from joblib import Parallel, delayed

    groups: dict[str, list[tuple[int, YardstickCandidate]]] = {}
    for index, candidate in enumerate(candidates):
        groups.setdefault(_feature_key(candidate), []).append((index, candidate))
    jobs = [(unit, group) for unit in units for group in groups.values()]
    results = Parallel(n_jobs=n_jobs)(delayed(_run_unit)(data, unit, group)
                                      for unit, group in jobs)
    by_unit: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    collect(results, data.Y.shape, by_unit)
    return by_unit, list(results)


def collect(results: Sequence[UnitResult], shape: tuple[int, ...],
            by_unit: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]) -> None:
    """Add unit results to ``by_unit`` as full-length arrays (NaN / 0 outside test rows)."""
    for result in results:
        slots = by_unit.setdefault(result.unit, {})
        for index in result.candidates:
            probabilities, predictions = np.full(shape, np.nan), np.zeros(shape, dtype=int)
            probabilities[result.test_rows] = result.probabilities[index]
            predictions[result.test_rows] = result.predictions[index]
            slots[index] = (probabilities, predictions)


def _merge(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold arrays of several folds (each NaN outside its own test rows) merged."""
    probabilities = np.full(parts[0][0].shape, np.nan)
    predictions = np.zeros(parts[0][1].shape, dtype=int)
    for part_probabilities, part_predictions in parts:
        rows = ~np.isnan(part_probabilities).any(axis=1)
        probabilities[rows] = part_probabilities[rows]
        predictions[rows] = part_predictions[rows]
    return probabilities, predictions


def merged_outer(by_unit: Mapping[str, Mapping[int, tuple[np.ndarray, np.ndarray]]],
                 index: int, n_outer: int) -> tuple[np.ndarray, np.ndarray]:
    """One candidate's out-of-fold (probabilities, decisions) over all ``n_outer`` folds."""
    return _merge([by_unit[f"outer{f}"][index] for f in range(n_outer)])


def score_groups(data: Any, predictions: np.ndarray, rows: np.ndarray,
                 intervals: bool = False) -> dict[str, Any]:
    """Macro-F1 (and per-theme F1) of each scored group on ``rows``, each on its own.

    With ``intervals``: 95 % bootstrap intervals resampling whole reports (gold) or pages
    (real-style), macro and per theme.
    """
    scores: dict[str, Any] = {}
    for group in SCORED_GROUPS:
        mask = rows & (data.sources == group)
        if not mask.any():
            continue
        truth, decided = data.Y[mask], predictions[mask]
        metrics = compute_metrics(truth, decided, data.labels)
        scores[f"{group}_macro_f1"] = metrics["macro_f1"]
        scores[f"{group}_none_f1"] = metrics["none_f1"]
        scores[f"{group}_rows"] = int(mask.sum())
        scores[f"{group}_groups"] = len(set(data.report_ids[mask]))
        for label in data.labels:
            scores[f"{group}_{label}_f1"] = metrics[f"{label}_f1"]
        if intervals:
            scores[f"{group}_intervals"] = bootstrap_by_group(
                truth, decided, data.report_ids[mask], data.labels)
    if all(f"{group}_macro_f1" in scores for group in SCORED_GROUPS):
        scores["criterion"] = selection_criterion(scores)
    return scores


@dataclass
class NestedResult:
    """The optimistic and the nested figures of a search, with what each outer fold chose."""

    candidates: list[str]
    per_candidate: list[dict[str, Any]]
    optimistic_index: int
    # What the selection rule (``pick``) chooses on the outer figures: what a search ships.
    selected_index: int
    chosen: dict[int, int]
    nested: dict[str, Any]
    nested_predictions: np.ndarray
    outer_folds: np.ndarray
    # Per outer fold: every report/page id an inner fit trained or scored on.
    inner_groups: dict[int, set[str]]
    outer_test_groups: dict[int, set[str]]
    # Outer folds each candidate was scored on: all of them, except for candidates that
    # successive halving (``train.halving``) stopped early.
    folds_scored: list[int] = field(default_factory=list)
    # Per candidate scored on every outer fold: its out-of-fold (probabilities, decisions),
    # full length (NaN / 0 on rows no outer fold holds out). The shipped candidate's feed the
    # error rates of ``profile --adjusted`` (``train.quantify``).
    outer_predictions: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def optimistic(self) -> dict[str, Any]:
        """The best candidate's own figures: the maximum over candidates, biased upward."""
        return self.per_candidate[self.optimistic_index]


def _best(scores: Sequence[dict[str, Any]]) -> int:
    """The highest criterion; ties go to the earlier candidate."""
    return max(range(len(scores)), key=lambda i: (round(scores[i]["criterion"], 12), -i))


def pick(scores: Sequence[dict[str, Any]], within: float = SIMPLER_WITHIN) -> int:
    """The selection rule: the first candidate (list the simpler ones first) whose criterion
    is within ``within`` of the best. Differences that small are below what 4 reports and 70
    pages resolve, so the simpler configuration is preferred over a noise-level gain."""
    best = max(score["criterion"] for score in scores)
    return next(i for i, score in enumerate(scores) if score["criterion"] >= best - within)


def yardstick_units(data: Any, n_outer: int, n_inner: int, nested: bool,
                    ) -> tuple[np.ndarray, list[FoldUnit]]:
    """The outer joint folds and every fold unit of a search: outer, then (with ``nested``)
    each outer fold's inner folds, named ``outer{f}`` and ``outer{f}/inner{g}``."""
    if not (data.sources == "gold").any() or not (data.sources == "real-style").any():
        raise ValueError("the yardstick scores gold and real-style rows: load both sources")
    outer = joint_folds(data.report_ids, data.sources, n_folds=n_outer)
    units = [FoldUnit(f"outer{f}", outer != f, outer == f) for f in range(n_outer)]
    if nested:
        for f in range(n_outer):
            inside = outer != f
            inner = joint_folds(data.report_ids, data.sources, rows=inside, n_folds=n_inner)
            units += [FoldUnit(f"outer{f}/inner{g}", inside & (inner != g), inner == g)
                      for g in range(n_inner)]
    return outer, units


def nested_selection(data: Any, candidates: Sequence[YardstickCandidate],
                     n_outer: int = OUTER_FOLDS, n_inner: int = INNER_FOLDS, n_jobs: int = 1,
                     nested: bool = True,
                     on_stage: Callable[[str], None] | None = None) -> NestedResult:
    """Score every candidate on the outer joint folds and, with ``nested``, re-run the search
    inside each outer fold to estimate the figure of the procedure that ships its winner."""
    outer, units = yardstick_units(data, n_outer, n_inner, nested)
    scored = outer >= 0
    if on_stage is not None:
        on_stage(f"{len(candidates)} candidates x {len(units)} folds")
    by_unit, results = out_of_fold(data, candidates, units, n_jobs)
    per_candidate = []
    outer_predictions = {}
    for index in range(len(candidates)):
        outer_predictions[index] = merged_outer(by_unit, index, n_outer)
        _, predictions = outer_predictions[index]
        per_candidate.append({"candidate": candidates[index].name,
                              **score_groups(data, predictions, scored, intervals=True)})
    optimistic_index = _best(per_candidate)
    chosen: dict[int, int] = {}
    inner_groups: dict[int, set[str]] = {}
    nested_predictions = np.zeros(data.Y.shape, dtype=int)
    if nested:
        for f in range(n_outer):
            inside = outer != f
            inner = joint_folds(data.report_ids, data.sources, rows=inside, n_folds=n_inner)
            inner_scores = []
            for index in range(len(candidates)):
                _, predictions = _merge([by_unit[f"outer{f}/inner{g}"][index]
                                         for g in range(n_inner)])
                inner_scores.append(score_groups(data, predictions, inner >= 0))
            chosen[f] = pick(inner_scores)
            test = outer == f
            nested_predictions[test] = by_unit[f"outer{f}"][chosen[f]][1][test]
            inner_groups[f] = set().union(*(r.trained_on | r.scored_on for r in results
                                            if r.unit.startswith(f"outer{f}/")))
    nested_scores = score_groups(data, nested_predictions, scored, intervals=True) \
        if nested else {}
    return NestedResult(
        candidates=[c.name for c in candidates],
        per_candidate=per_candidate,
        optimistic_index=optimistic_index,
        selected_index=pick(per_candidate),
        chosen=chosen,
        nested=nested_scores,
        nested_predictions=nested_predictions,
        outer_folds=outer,
        inner_groups=inner_groups,
        outer_test_groups={f: set(data.report_ids[outer == f]) for f in range(n_outer)},
        folds_scored=[n_outer] * len(candidates),
        outer_predictions=outer_predictions,
    )
