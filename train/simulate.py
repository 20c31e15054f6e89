"""Simulations on the project's labelled reports: do adjusted shares and active selection work?

Pure: fits and scores, logs nothing (``experiments/commands/simulate.py`` logs to MLflow).
Every figure here holds reports out whole: a held-out report's paragraphs never train the
model that is scored on it, nor estimate the error rates that correct its shares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from cppcc_themes.train.active import select_batch
from cppcc_themes.train.model import build_pipeline
from cppcc_themes.train.quantify import (
    DEFAULT_METHOD,
    METHODS,
    NONE,
    adjusted_shares,
    error_counts,
    indicator_matrix,
    probability_rates,
    recalibration,
)

__all__ = ["choose_method", "grouped_decisions", "grouped_predictions", "learning_curve",
           "share_validation", "split_reports", "summarise_shares"]

Progress = Callable[[str], None]


def _fit(texts: Sequence[str], Y: np.ndarray, groups: Sequence[str],
         features: Mapping[str, Any] | None, model: Mapping[str, Any] | None) -> Any:
    return build_pipeline(features, model).fit(
        list(texts), Y, classifier__groups=list(groups),
        classifier__tune_on=np.ones(len(texts), dtype=bool))


def _decide(pipeline: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    probabilities = pipeline.predict_proba(list(texts))
    return probabilities, (probabilities >= pipeline[-1].thresholds_).astype(int)


def _scored_folds(groups: np.ndarray, scored: np.ndarray, n_splits: int
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row indices: folds over the reports with scored rows; a test fold holds
    the scored rows of its reports, the training side every row of every other report."""
    reports = np.asarray(sorted(set(groups[scored])), dtype=object)
    splits = min(n_splits, len(reports))
    folds = []
    for _, test_reports in GroupKFold(n_splits=splits).split(reports, groups=reports):
        held_out = np.isin(groups, reports[test_reports])
        folds.append((np.flatnonzero(~held_out), np.flatnonzero(held_out & scored)))
    return folds


def grouped_predictions(texts: Sequence[str], Y: np.ndarray, groups: Sequence[str],
                        scored: np.ndarray, features: Mapping[str, Any] | None,
                        model: Mapping[str, Any] | None, n_splits: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities and 0/1 decisions for the scored rows (others stay 0),
    folds grouped by report; unscored rows only ever train."""
    texts = np.asarray(texts, dtype=object)
    groups = np.asarray(groups, dtype=object)
    probabilities = np.zeros(Y.shape)
    decisions = np.zeros(Y.shape, dtype=int)
    for train, test in _scored_folds(groups, scored, n_splits):
        pipeline = _fit(texts[train], Y[train], groups[train], features, model)
        probabilities[test], decisions[test] = _decide(pipeline, texts[test])
    return probabilities, decisions


def grouped_decisions(texts: Sequence[str], Y: np.ndarray, groups: Sequence[str],
                      scored: np.ndarray, features: Mapping[str, Any] | None,
                      model: Mapping[str, Any] | None, n_splits: int) -> np.ndarray:
    """Out-of-fold 0/1 decisions of ``grouped_predictions``."""
    return grouped_predictions(texts, Y, groups, scored, features, model, n_splits)[1]


def share_validation(texts: Sequence[str], Y: np.ndarray, groups: Sequence[str],
                     labels: Sequence[str], features: Mapping[str, Any] | None = None,
                     model: Mapping[str, Any] | None = None, *,
                     scored: np.ndarray | None = None, outer: int = 8, inner: int = 5,
                     resamples: int = 1000, methods: Sequence[str] = METHODS,
                     progress: Progress | None = None) -> list[dict[str, Any]]:
    """Per held-out report and theme: true share, raw share, each method's share and interval.

    As in training: only ``scored`` rows (default all) are held out and estimate error rates;
    the others only train. Outer grouped folds hold scored reports out; on each outer training
    side an inner grouped cross-validation gives the out-of-fold decisions and probabilities
    whose confusion counts and mean probabilities correct the held-out reports, as training
    stores them for ``profile --adjusted``. A row has ``<method>``, ``<method>_low`` and
    ``<method>_high`` for every method.
    """
    texts = np.asarray(texts, dtype=object)
    groups = np.asarray(groups, dtype=object)
    scored = np.ones(len(texts), dtype=bool) if scored is None else np.asarray(scored, bool)
    rows = []
    folds = _scored_folds(groups, scored, outer)
    for fold, (train, test) in enumerate(folds, 1):
        oof_probabilities, oof = grouped_predictions(texts[train], Y[train], groups[train],
                                                     scored[train], features, model, inner)
        inner_scored = scored[train]
        counts = error_counts(Y[train][inner_scored], oof[inner_scored], labels)
        rates = probability_rates(Y[train][inner_scored], oof_probabilities[inner_scored],
                                  labels)
        maps = recalibration(Y[train][inner_scored], oof_probabilities[inner_scored], labels)
        prior = indicator_matrix(Y[train]).mean(axis=0)
        for column, theme in enumerate([*labels, NONE]):
            rates[theme].update(prior=float(prior[column]), recalibration=maps[theme])
        pipeline = _fit(texts[train], Y[train], groups[train], features, model)
        probabilities, decided = _decide(pipeline, texts[test])
        for report in sorted(set(groups[test])):
            mask = groups[test] == report
            truth = indicator_matrix(Y[test][mask]).mean(axis=0)
            estimates = {method: adjusted_shares(
                decided[mask], labels, counts, probabilities=probabilities[mask], rates=rates,
                resamples=resamples, seed=fold, method=method) for method in methods}
            for column, theme in enumerate([*labels, NONE]):
                row = {"report": str(report), "theme": theme, "paragraphs": int(mask.sum()),
                       "true": float(truth[column]),
                       "raw": float(indicator_matrix(decided[mask]).mean(axis=0)[column])}
                for method, shares in estimates.items():
                    estimate = shares[column]
                    row.update({method: estimate.adjusted, f"{method}_low": estimate.low,
                                f"{method}_high": estimate.high})
                rows.append(row)
        if progress is not None:
            progress(f"shares: outer fold {fold}/{len(folds)} done")
    return rows


def split_reports(rows: Sequence[Mapping[str, Any]], seed: int = 0) -> tuple[set[str], set[str]]:
    """The held-out reports cut at random into two halves: one to choose a method on, the
    other to report the chosen method's figures on."""
    reports = sorted({r["report"] for r in rows})
    order = np.random.default_rng(seed).permutation(len(reports))
    half = len(reports) // 2
    return ({reports[i] for i in order[:half]}, {reports[i] for i in order[half:]})


def _method_summary(rows: Sequence[Mapping[str, Any]], method: str) -> dict[str, float]:
    true = np.asarray([r["true"] for r in rows])
    raw = np.asarray([r["raw"] for r in rows])
    estimate = np.asarray([r[method] for r in rows], dtype=float)
    estimate = np.where(np.isnan(estimate), raw, estimate)
    low = np.asarray([r[f"{method}_low"] for r in rows])
    high = np.asarray([r[f"{method}_high"] for r in rows])
    covered = (low - 1e-9 <= true) & (true <= high + 1e-9)
    return {"mae": float(np.abs(estimate - true).mean()), "coverage": float(covered.mean()),
            "width": float((high - low).mean())}


def choose_method(rows: Sequence[Mapping[str, Any]], methods: Sequence[str] = METHODS) -> str:
    """The method ``rows`` alone would choose: lowest MAE among those that beat raw counting
    with 95 % coverage in 0.90-0.98; failing that, lowest MAE among those that beat raw
    counting; failing that, raw counting (``cc``)."""
    summaries = {m: _method_summary(rows, m) for m in methods if m != "cc"}
    raw = float(np.mean([abs(r["raw"] - r["true"]) for r in rows]))
    beating = {m: s for m, s in summaries.items() if s["mae"] < raw}
    meeting = {m: s for m, s in beating.items() if 0.90 <= s["coverage"] <= 0.98}
    pool = meeting or beating
    return min(pool, key=lambda m: pool[m]["mae"]) if pool else "cc"


def summarise_shares(rows: Sequence[Mapping[str, Any]], method: str = DEFAULT_METHOD,
                     methods: Sequence[str] | None = None) -> dict[str, float]:
    """MAE of raw shares and of every method, each method's coverage and interval width;
    ``mae_adjusted``/``coverage`` are those of ``method``, with per-theme figures for it."""
    methods = [m for m in (methods or METHODS) if rows and m in rows[0]]
    true = np.asarray([r["true"] for r in rows])
    raw = np.asarray([r["raw"] for r in rows])
    summary = {"cases": float(len(rows)), "mae_raw": float(np.abs(raw - true).mean())}
    for name in methods:
        figures = _method_summary(rows, name)
        summary.update({f"mae_{name}": figures["mae"], f"coverage_{name}": figures["coverage"],
                        f"width_{name}": figures["width"]})
    chosen = _method_summary(rows, method)
    summary.update(mae_adjusted=chosen["mae"], coverage=chosen["coverage"],
                   mean_interval_width=chosen["width"])
    for theme in sorted({r["theme"] for r in rows}):
        picked = [r for r in rows if r["theme"] == theme]
        figures = _method_summary(picked, method)
        summary[f"{theme}_mae_raw"] = float(np.mean([abs(r["raw"] - r["true"]) for r in picked]))
        summary[f"{theme}_mae_adjusted"] = figures["mae"]
        summary[f"{theme}_coverage"] = figures["coverage"]
    return summary


# The calibrated classifiers cross-validate inside each theme: they need a few positives.
MIN_POSITIVES = 3


def _starting_labels(Y: np.ndarray, pool: np.ndarray, start: int,
                     rng: np.random.Generator) -> list[int]:
    """``start`` random rows of the pool, topped up with random positives of any theme that
    has fewer than ``MIN_POSITIVES`` among them (as a person seeds a first model)."""
    labelled = [int(i) for i in rng.choice(pool, size=start, replace=False)]
    for theme in range(Y.shape[1]):
        missing = MIN_POSITIVES - int(Y[labelled, theme].sum())
        if missing > 0:
            candidates = np.setdiff1d(pool[Y[pool, theme] == 1], labelled)
            extra = rng.choice(candidates, size=min(missing, len(candidates)), replace=False)
            labelled.extend(int(i) for i in extra)
    return labelled


def learning_curve(texts: Sequence[str], Y: np.ndarray, groups: Sequence[str],
                   test_mask: np.ndarray, features: Mapping[str, Any] | None = None,
                   model: Mapping[str, Any] | None = None, *, start: int = 50,
                   step: int = 50, budget: int = 600, strategy: str = "active",
                   seed: int = 0, progress: Progress | None = None) -> list[dict[str, float]]:
    """Macro-F1 on the test rows after each batch of labels, chosen actively or at random.

    The pool is every row outside ``test_mask`` (whose reports never sit in the pool); its
    labels are hidden and revealed ``step`` at a time as ``strategy`` asks for them. Both
    strategies start from the same random ``start`` labels (topped up so each theme has
    ``MIN_POSITIVES`` positives).
    """
    from sklearn.metrics import f1_score

    texts = np.asarray(texts, dtype=object)
    groups = np.asarray(groups, dtype=object)
    pool = np.flatnonzero(~test_mask)
    rng = np.random.default_rng(seed)
    labelled = _starting_labels(Y, pool, start, rng)
    curve = []
    while True:
        chosen = np.asarray(labelled)
        pipeline = _fit(texts[chosen], Y[chosen], groups[chosen], features, model)
        decided = _decide(pipeline, texts[test_mask])[1]
        truth = indicator_matrix(Y[test_mask])
        macro = f1_score(truth, indicator_matrix(decided), average="macro", zero_division=0)
        curve.append({"labelled": len(labelled), "macro_f1": float(macro)})
        if progress is not None:
            progress(f"{strategy}: {len(labelled)} labels, macro-F1 {macro:.3f}")
        if len(labelled) >= min(budget, len(pool)):
            return curve
        remaining = np.setdiff1d(pool, chosen)
        size = min(step, budget - len(labelled), len(remaining))
        if strategy == "random":
            picks = rng.choice(remaining, size=size, replace=False)
        else:
            probabilities = _decide(pipeline, texts[remaining])[0]
            features_matrix = pipeline[:-1].transform(list(texts[remaining]))
            chosen_rows = select_batch(probabilities, features_matrix, groups[remaining], size,
                                       thresholds=pipeline[-1].thresholds_)
            picks = remaining[[pick.row for pick in chosen_rows]]
        labelled.extend(int(i) for i in picks)

