"""Run an experiment: train and evaluate, log everything to MLflow, package the model.

An experiment with a ``[search]`` table is a parent run with one child run per candidate; the
best candidate is refitted on all the data, logged in full on the parent, packaged and, when
``[output] register`` says so, registered in the MLflow model registry. An experiment without
one is a single run.
"""

from __future__ import annotations

import csv
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cppcc_themes.experiments.config import ExperimentConfig
from cppcc_themes.experiments.lifecycle import mark_stale_runs, process_tags
from cppcc_themes.experiments.search import Candidate, expand_candidates, flat_params, search_metric
from cppcc_themes.experiments.tracking import (
    DEFAULT_EXPERIMENT,
    check_tracking,
    ensure_experiment,
    log_training_data,
    offline_environment,
    set_champion,
)

__all__ = ["ExperimentOutcome", "Reporter", "run_experiment"]

SUMMARY_METRICS = ("macro_f1", "macro_f1_ci_low", "macro_f1_ci_high", "micro_f1", "none_f1",
                   "exact_match", "brier_mean")


class Reporter(Protocol):
    """Receives progress: candidates and folds as they finish."""

    def start(self, candidates: int, folds_per_candidate: int) -> None: ...

    def candidate(self, index: int, name: str) -> None: ...

    def fold(self, done: int, total: int, report: str) -> None: ...

    def finishing(self, message: str) -> None: ...


@dataclass
class ExperimentOutcome:
    """Where an experiment's results went."""

    run_id: str
    metrics: dict[str, float]
    package_dir: Path | None
    winner: str = ""
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    registered_version: str | None = None
    # Nested and optimistic figures of the yardstick (issue 10), when the experiment asks.
    yardstick: dict[str, Any] | None = None


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _write_artifacts(result: Any, config: ExperimentConfig, folder: Path) -> None:
    from cppcc_themes.experiments.plots import (
        confusion_figure,
        reliability_figure,
        top_features_figure,
    )

    evaluation = result.evaluation

    def dump(name: str, value: Any) -> None:
        (folder / name).write_text(json.dumps(value, ensure_ascii=False, indent=2),
                                   encoding="utf-8")

    dump("metrics.json", result.metrics)
    dump("confusion_matrices.json", result.confusion)
    dump("data_counts.json", result.counts)
    dump("calibration.json", evaluation.calibration)
    dump("per_report_macro_f1.json", evaluation.per_report)
    dump("top_features.json", result.top_features)
    (folder / "classification_report.txt").write_text(result.report, encoding="utf-8")
    with (folder / "errors.jsonl").open("w", encoding="utf-8") as handle:
        for record in evaluation.errors:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    (folder / "experiment.toml").write_bytes(config.path.read_bytes())
    confusion_figure(result.confusion, folder / "confusion_matrices.png")
    reliability_figure(evaluation.calibration, folder / "reliability.png")
    top_features_figure(result.top_features, folder / "top_features.png")


def _write_leaderboard(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _check_candidates(candidates: list[Candidate]) -> None:
    """Build every candidate's pipeline once, so a bad setting fails before any training."""
    from cppcc_themes.train.model import build_pipeline

    for candidate in candidates:
        try:
            build_pipeline(candidate.features, candidate.model)
        except (ValueError, TypeError) as error:
            raise ValueError(f"candidate {candidate.name!r}: {error}") from None


def _tags(config: ExperimentConfig, data: Any, sources: list[str]) -> dict[str, str]:
    return {
        "data_hash": data.data_hash,
        "data_sources": ",".join(sources),
        "git_commit": _git_commit(),
        "config_file": str(config.path),
        "experiment_file": config.name,
        "evaluation": "leave-one-report-out over real (gold) reports",
    }


def run_experiment(
    config: ExperimentConfig,
    tracking_uri: str,
    *,
    package_dir: str | Path | None = None,
    experiment_name: str = DEFAULT_EXPERIMENT,
    labels_dir: Path | None = None,
    reporter: Reporter | None = None,
) -> ExperimentOutcome:
    """Train ``config`` (every candidate of its search), log to ``tracking_uri``, package."""
    offline_environment()
    candidates = expand_candidates(config)
    metric = search_metric(config)
    _check_candidates(candidates)
    check_tracking(tracking_uri)
    if config.yardstick:
        from cppcc_themes.experiments.nested import run_yardstick_experiment

        return run_yardstick_experiment(config, tracking_uri, package_dir=package_dir,
                                        experiment_name=experiment_name,
                                        labels_dir=labels_dir, reporter=reporter)

    from cppcc_themes.train.data import load_paragraphs
    from cppcc_themes.train.train import cross_validate, prepare_data

    datasets: dict[tuple[str, ...], Any] = {}
    raw_datasets: dict[tuple[str, ...], Any] = {}

    def data_for(sources: list[str]) -> Any:
        key = tuple(sources)
        if key not in datasets:
            raw_datasets[key] = load_paragraphs(sources, labels_dir)
            datasets[key] = prepare_data(raw_datasets[key], config.scored_sources)
        return datasets[key]

    first = data_for(candidates[0].sources)
    if reporter is not None:
        reporter.start(len(candidates), len(set(first.report_ids[first.scored])))

    import mlflow

    ensure_experiment(tracking_uri, experiment_name)
    mark_stale_runs(tracking_uri, experiment_name)
    is_search = len(candidates) > 1
    with mlflow.start_run(run_name=config.name, tags=process_tags()) as run:
        mlflow.set_tags({**_tags(config, first, candidates[0].sources),
                         "mlflow.note.content": config.description,
                         "run_kind": "search" if is_search else "single"})
        evaluations, board = [], []
        for index, candidate in enumerate(candidates):
            if reporter is not None:
                reporter.candidate(index, candidate.name)
            data = data_for(candidate.sources)
            evaluation = cross_validate(data, candidate.features, candidate.model,
                                        reporter.fold if reporter is not None else None)
            evaluations.append(evaluation)
            child_id = run.info.run_id
            if is_search:
                with mlflow.start_run(run_name=candidate.name, nested=True,
                                      tags=process_tags()) as child:
                    mlflow.log_params(flat_params(candidate))
                    mlflow.set_tags({**_tags(config, data, candidate.sources),
                                     "run_kind": "candidate", "parent_name": config.name})
                    mlflow.log_metrics(evaluation.metrics)
                    log_training_data(raw_datasets[tuple(candidate.sources)], candidate.sources,
                                      data.data_hash)
                    child_id = child.info.run_id
            board.append({"candidate": candidate.name, "run_id": child_id,
                          **{m: round(evaluation.metrics[m], 4) for m in SUMMARY_METRICS}})
        best = max(range(len(candidates)), key=lambda i: evaluations[i].metrics[metric])
        winner = candidates[best]
        board.sort(key=lambda row: -row[metric])
        if reporter is not None:
            reporter.finishing(f"refitting {winner.name} on all data, logging")
        log_training_data(raw_datasets[tuple(winner.sources)], winner.sources,
                          data_for(winner.sources).data_hash)
        outcome = _log_winner(config, winner, data_for(winner.sources), evaluations[best],
                              board, run.info.run_id, tracking_uri, package_dir)
    outcome.leaderboard = board
    outcome.winner = winner.name
    return outcome


def _log_winner(config: ExperimentConfig, winner: Candidate, data: Any, evaluation: Any,
                board: list[dict[str, Any]], run_id: str, tracking_uri: str,
                package_dir: str | Path | None,
                yardstick: dict[str, Any] | None = None,
                quantification: dict[str, Any] | None = None) -> ExperimentOutcome:
    """Refit the winner on every row and log it in full on the active (parent) run.

    ``quantification``: the error rates ``profile --adjusted`` corrects shares with (a
    yardstick run passes those of its out-of-fold predictions); by default those of the
    leave-one-report-out evaluation.
    """
    import mlflow

    from cppcc_themes.experiments.pyfunc import log_theme_model
    from cppcc_themes.train.package import save_model
    from cppcc_themes.train.quantify import quantification_metadata
    from cppcc_themes.train.train import train_prepared

    # The winner's data is already loaded and prepared: reuse it rather than read it again.
    result = train_prepared(data, winner.features, winner.model, evaluation=evaluation)
    mlflow.log_params(flat_params(winner))
    mlflow.log_metrics(result.metrics)
    mlflow.log_metric("n_paragraphs", result.n_paragraphs)
    if yardstick is not None:
        from cppcc_themes.experiments.nested import yardstick_metrics

        mlflow.log_metrics(yardstick_metrics(yardstick))
        mlflow.log_dict(yardstick, "evaluation/yardstick.json")
    mlflow.set_tags({"winner": winner.name, "data_hash": result.data_hash,
                     "data_sources": ",".join(winner.sources)})
    with tempfile.TemporaryDirectory() as tmp:
        _write_artifacts(result, config, Path(tmp))
        if len(board) > 1:
            _write_leaderboard(board, Path(tmp) / "leaderboard.csv")
        mlflow.log_artifacts(tmp, artifact_path="evaluation")
    info = log_theme_model(result.pipeline, result.labels, result.thresholds,
                           result.scored_texts[:3], registered_model_name=config.register)
    version = getattr(info, "registered_model_version", None)
    if version and config.register:
        set_champion(config.register, version)
    package = Path(package_dir) if package_dir else (Path(config.package)
                                                      if config.package else None)
    if package is not None:
        save_model(result.pipeline, {
            "experiment": config.name,
            "candidate": winner.name,
            "labels": result.labels,
            "thresholds": result.thresholds,
            "metrics": result.metrics,
            "evaluation": "Leave-one-report-out cross-validation over the real (gold) "
                          "reports; authored and silver paragraphs only ever train. "
                          + ("The winner of a search: its score is the best of "
                             f"{len(board)} and so optimistic." if len(board) > 1 else ""),
            # Error rates of out-of-fold decisions: `profile --adjusted` corrects shares with
            # them (train/quantify.py).
            "quantification": quantification or quantification_metadata(
                evaluation.Y_true, evaluation.Y_pred, result.labels, evaluation.probabilities,
                data.Y, row_sources=data.sources[data.scored],
                row_groups=data.report_ids[data.scored]),
            "training_data": {"sha256": result.data_hash, "sources": winner.sources,
                              "paragraphs": result.n_paragraphs, "counts": result.counts},
            "features": winner.features,
            "model": winner.model,
            "mlflow_run_id": run_id,
            "mlflow_tracking_uri": tracking_uri,
            **({"yardstick": yardstick} if yardstick is not None else {}),
        }, package)
        mlflow.log_artifacts(str(package), artifact_path="packaged_model")
    return ExperimentOutcome(run_id, result.metrics, package,
                             registered_version=str(version) if version else None)
