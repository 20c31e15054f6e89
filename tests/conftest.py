"""Shared fixtures. Everything runs offline, for real: jieba, scikit-learn, MLflow on sqlite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.pop("MLFLOW_TRACKING_URI", None)

SEED_IDS = ["seed-000", "seed-001", "seed-002", "seed-003"]


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep jieba's dictionary cache of the test run out of the user's cache folder."""
    os.environ["CPPCC_THEMES_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def seed_paths() -> dict[str, Path]:
    return {seed: ROOT / "labels" / "reports" / f"{seed}.txt" for seed in SEED_IDS}


@pytest.fixture(scope="session")
def gold_dataset():
    from cppcc_themes.train.data import load_paragraphs

    return load_paragraphs(["gold"], ROOT / "labels")


@pytest.fixture(scope="session")
def packaged_model_dir(tmp_path_factory: pytest.TempPathFactory, gold_dataset) -> Path:
    """A model fitted on the gold paragraphs and packaged, without MLflow."""
    from cppcc_themes.train.data import label_matrix, label_names
    from cppcc_themes.train.model import build_pipeline
    from cppcc_themes.train.package import save_model

    labels = label_names(gold_dataset)
    pipeline = build_pipeline().fit(list(gold_dataset["text"]),
                                    label_matrix(gold_dataset["labels"], len(labels)))
    directory = tmp_path_factory.mktemp("models") / "fixture"
    save_model(pipeline, {"experiment": "fixture", "labels": labels,
                          "thresholds": dict.fromkeys(labels, 0.5)}, directory)
    return directory
