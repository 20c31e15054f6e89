"""Run an experiment: train and evaluate, log everything to MLflow, package the model."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.config import ExperimentConfig
from experiments.tracking import DEFAULT_EXPERIMENT, check_tracking, offline_environment

__all__ = ["ExperimentOutcome", "run_experiment"]

# What skops may rebuild when MLflow loads the logged pipeline: our own picklable parts.
SKOPS_TRUSTED_TYPES = [
    "features.tokenize.Tokenizer",
    "features.normalize.normalize_text",
    "train.model.MultiLabelThemeClassifier",
    "train.model.select_text",
]


@dataclass
class ExperimentOutcome:
    """Where an experiment's results went."""

    run_id: str
    metrics: dict[str, float]
    package_dir: Path | None


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _confusion_figure(confusion: dict[str, list[list[int]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(confusion), figsize=(3 * len(confusion), 3))
    for ax, (label, matrix) in zip(axes, confusion.items(), strict=True):
        ax.imshow(matrix, cmap="Blues")
        for i in range(2):
            for j in range(2):
                ax.text(j, i, str(matrix[i][j]), ha="center", va="center")
        ax.set_title(label)
        ax.set_xticks([0, 1], ["pred 0", "pred 1"])
        ax.set_yticks([0, 1], ["true 0", "true 1"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _write_artifacts(result: Any, config: ExperimentConfig, folder: Path) -> None:
    (folder / "metrics.json").write_text(json.dumps(result.metrics, indent=2), encoding="utf-8")
    (folder / "classification_report.txt").write_text(result.report, encoding="utf-8")
    (folder / "confusion_matrices.json").write_text(json.dumps(result.confusion, indent=2),
                                                    encoding="utf-8")
    (folder / "data_counts.json").write_text(json.dumps(result.counts, indent=2), encoding="utf-8")
    (folder / "experiment.toml").write_bytes(config.path.read_bytes())
    _confusion_figure(result.confusion, folder / "confusion_matrices.png")


def run_experiment(
    config: ExperimentConfig,
    tracking_uri: str,
    *,
    package_dir: str | Path | None = None,
    experiment_name: str = DEFAULT_EXPERIMENT,
    labels_dir: Path | None = None,
    on_fold: Callable[[int, int, str], None] | None = None,
) -> ExperimentOutcome:
    """Train ``config``, log the run to ``tracking_uri`` and package the model."""
    offline_environment()
    check_tracking(tracking_uri)

    from train.data import load_paragraphs
    from train.package import save_model
    from train.train import train_and_evaluate

    dataset = load_paragraphs(config.sources, labels_dir)
    result = train_and_evaluate(dataset, config.features, config.model,
                                scored_sources=config.scored_sources, on_fold=on_fold)

    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name=config.name) as run:
        mlflow.log_params(config.params())
        mlflow.set_tags({
            "data_hash": result.data_hash,
            "data_sources": ",".join(config.sources),
            "git_commit": _git_commit(),
            "config_file": str(config.path),
            "evaluation": "leave-one-report-out over real (gold) reports",
            "mlflow.note.content": config.description,
        })
        mlflow.log_metrics(result.metrics)
        mlflow.log_metric("n_paragraphs", result.n_paragraphs)
        with tempfile.TemporaryDirectory() as tmp:
            _write_artifacts(result, config, Path(tmp))
            mlflow.log_artifacts(tmp, artifact_path="evaluation")
        example = pd.DataFrame({"text": result.scored_texts[:3]})
        signature = infer_signature(example, result.pipeline.predict_proba(example))
        mlflow.sklearn.log_model(
            sk_model=result.pipeline,
            name="model",
            signature=signature,
            input_example=example,
            pyfunc_predict_fn="predict_proba",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
        package = Path(package_dir) if package_dir else (Path(config.package)
                                                          if config.package else None)
        if package is not None:
            save_model(result.pipeline, {
                "experiment": config.name,
                "labels": result.labels,
                "thresholds": result.thresholds,
                "metrics": result.metrics,
                "evaluation": "Leave-one-report-out cross-validation over the real (gold) "
                              "reports; authored and silver paragraphs only ever train.",
                "training_data": {"sha256": result.data_hash, "sources": config.sources,
                                  "paragraphs": result.n_paragraphs, "counts": result.counts},
                "features": config.features,
                "model": config.model,
                "mlflow_run_id": run.info.run_id,
                "mlflow_tracking_uri": tracking_uri,
            }, package)
            mlflow.log_artifacts(str(package), artifact_path="packaged_model")
    return ExperimentOutcome(run.info.run_id, result.metrics, package)
