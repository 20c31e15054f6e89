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
    indicator_matrix,
    probability_rates_from_metadata,
    quantification_metadata,
    rates_from_metadata,
)

__all__ = ["choose_method", "fold_predictions", "fold_quantification", "learning_curve",
           "pooled_pages", "share_folds", "share_validation", "split_reports",
           "summarise_shares"]

Progress = Callable[[str], None]


def _fit(texts: Sequence[str], Y: np.ndarray, groups: Sequence[str],
         features: Mapping[str, Any] | None, model: Mapping[str, Any] | None) -> Any:
    return build_pipeline(features, model).fit(
        list(texts), Y, classifier__groups=list(groups),
        classifier__tune_on=np.ones(len(texts), dtype=bool))


def _decide(pipeline: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    probabilities = pipeline.predict_proba(list(texts))
    return probabilities, (probabilities >= pipeline[-1].thresholds_).astype(int)


def share_folds(report_ids: np.ndarray, sources: np.ndarray, held_out: Sequence[str],
                n_folds: int) -> np.ndarray:
    """Fold of each row (-1: never held out, only trains) for ``check-shares``.

    Gold and real-style rows fall in the yardstick's joint folds (``train.select.joint_folds``:
    gold report *i* in fold *i*, real-style pages by grouped folds), so their out-of-fold
    predictions are those training stores for ``profile --adjusted``; every other held-out
    source (web-style) is spread over the same folds by whole pages.
    """
    from cppcc_themes.train.select import joint_folds

    report_ids = np.asarray(report_ids, dtype=object)
    sources = np.asarray(sources, dtype=object)
    folds = joint_folds(report_ids, sources, rows=np.isin(sources, list(held_out)),
                        n_folds=n_folds)
    for source in held_out:
        rows = np.flatnonzero(sources == source)
        if source in ("gold", "real-style") or not len(rows):
            continue
        pages = report_ids[rows]
        splits = min(n_folds, len(set(pages)))
        for number, (_, test) in enumerate(GroupKFold(n_splits=splits).split(rows,
                                                                              groups=pages)):
            folds[rows[test]] = number
    return folds


def fold_predictions(data: Any, features: Mapping[str, Any] | None,
                     model: Mapping[str, Any] | None, folds: np.ndarray, n_jobs: int = 1,
                     progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities and decisions of every held-out row (fold >= 0): one model
    per fold, fitted on every row of the other folds and on the rows that only train."""
    from cppcc_themes.train.select import Candidate, FoldUnit, out_of_fold

    candidate = Candidate("simulated", sorted(set(data.sources)), dict(features or {}),
                          dict(model or {}))
    probabilities = np.full(data.Y.shape, np.nan)
    decisions = np.zeros(data.Y.shape, dtype=int)
    numbers = sorted(set(folds[folds >= 0]))
    for done, fold in enumerate(numbers, 1):
        unit = FoldUnit(f"fold{fold}", folds != fold, folds == fold)
        by_unit, _ = out_of_fold(data, [candidate], [unit], n_jobs)
        part_probabilities, part_decisions = by_unit[unit.name][0]
        probabilities[folds == fold] = part_probabilities[folds == fold]
        decisions[folds == fold] = part_decisions[folds == fold]
        if progress is not None:
            progress(f"shares: fold {done}/{len(numbers)} fitted")
    return probabilities, decisions


def fold_quantification(data: Any, probabilities: np.ndarray, decisions: np.ndarray,
                        folds: np.ndarray, fold: int, rate_sources: Sequence[str]
                        ) -> dict[str, Any]:
    """The ``quantification`` metadata that corrects fold ``fold``: built, as training
    builds it, from the out-of-fold predictions of the ``rate_sources`` rows of the *other*
    folds only, so no held-out report or page estimates the error rates that correct it."""
    rows = (folds >= 0) & (folds != fold) & np.isin(data.sources, list(rate_sources))
    return quantification_metadata(
        data.Y[rows], decisions[rows], data.labels, probabilities[rows],
        data.Y[folds != fold], row_sources=data.sources[rows], row_groups=data.report_ids[rows])


def pooled_pages(report_ids: np.ndarray, sources: np.ndarray, folds: np.ndarray,
                 pages: int, seed: int = 0) -> np.ndarray:
    """Documents to score: each gold report alone; the held-out pages of every other source
    drawn at random, ``pages`` at a time within one fold, into longer pseudo-documents
    (``pages=1``: each page alone). A fold's left-over pages (fewer than ``pages``) are left
    out (None)."""
    documents = np.asarray(report_ids, dtype=object).copy()
    if pages <= 1:
        return documents
    rng = np.random.default_rng(seed)
    for source in sorted(set(sources[folds >= 0]) - {"gold"}):
        for fold in sorted(set(folds[folds >= 0])):
            rows = (sources == source) & (folds == fold)
            names = np.asarray(sorted(set(report_ids[rows])), dtype=object)
            names = names[rng.permutation(len(names))]
            for start in range(0, len(names), pages):
                group = names[start:start + pages]
                label = (f"{source}/fold{fold}/{start // pages}" if len(group) == pages
                         else None)
                documents[rows & np.isin(report_ids, group)] = label
    return documents


def share_validation(data: Any, probabilities: np.ndarray, decisions: np.ndarray,
                     folds: np.ndarray, rate_sources: Sequence[str], *,
                     resamples: int = 1000, methods: Sequence[str] = METHODS,
                     documents: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Per held-out report and theme: true share, raw share, each method's share and interval.

    ``probabilities``/``decisions``: ``fold_predictions``. Each held-out report is corrected
    with the error rates of ``fold_quantification`` (other folds, ``rate_sources`` rows), read
    back through the same functions as ``profile --adjusted``. ``documents``: what is scored
    as one report (default each report or page; ``pooled_pages``). A row has ``source``,
    ``fold``, ``<method>``, ``<method>_low`` and ``<method>_high`` for every method.
    """
    rows = []
    labels = data.labels
    documents = data.report_ids if documents is None else documents
    kept = np.asarray([document is not None for document in documents], dtype=bool)
    for fold in sorted(set(folds[folds >= 0])):
        metadata = {"labels": labels, "quantification": fold_quantification(
            data, probabilities, decisions, folds, fold, rate_sources)}
        counts = rates_from_metadata(metadata)
        rates = probability_rates_from_metadata(metadata)
        test = np.flatnonzero((folds == fold) & kept)
        for report in sorted(set(documents[test])):
            mine = test[documents[test] == report]
            truth = indicator_matrix(data.Y[mine]).mean(axis=0)
            raw = indicator_matrix(decisions[mine]).mean(axis=0)
            estimates = {method: adjusted_shares(
                decisions[mine], labels, counts, probabilities=probabilities[mine],
                rates=rates, resamples=resamples, seed=int(fold), method=method)
                for method in methods}
            for column, theme in enumerate([*labels, NONE]):
                row = {"report": str(report), "source": str(data.sources[mine[0]]),
                       "fold": int(fold), "theme": theme, "paragraphs": len(mine),
                       "true": float(truth[column]), "raw": float(raw[column])}
                for method, shares in estimates.items():
                    estimate = shares[column]
                    row.update({method: estimate.adjusted, f"{method}_low": estimate.low,
                                f"{method}_high": estimate.high})
                rows.append(row)
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
    for source in sorted({r["source"] for r in rows if "source" in r}):
        picked = [r for r in rows if r.get("source") == source]
        figures = _method_summary(picked, method)
        summary.update({f"{source}.cases": float(len(picked)),
                        f"{source}.mae_raw": float(np.mean([abs(r["raw"] - r["true"])
                                                            for r in picked])),
                        f"{source}.mae_adjusted": figures["mae"],
                        f"{source}.coverage": figures["coverage"],
                        f"{source}.mean_interval_width": figures["width"]})
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

