"""The MLflow model: the fitted Pipeline behind a pyfunc that answers with theme names.

``mlflow.pyfunc.load_model(...).predict(frame)`` (and ``mlflow models serve``) takes a DataFrame
with a ``text`` column (and an optional ``heading`` column, passed to the pipeline as it is) and
returns one ``<theme>`` score column per theme plus ``themes``, the themes whose score reaches
the model's threshold. The Pipeline stays the model: this wrapper only names its outputs.

The logged model carries what it needs to load outside this checkout: the package source as
MLflow code paths (it is not published, so it cannot be a requirement) and explicit pip
requirements, which also spares MLflow inferring an environment for every logged model.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

__all__ = ["ThemeTagger", "log_theme_model", "model_requirements", "model_signature"]

# What unpickling and running the pipeline imports, beyond mlflow (which MLflow adds itself).
_RUNTIME_LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas", "joblib", "jieba", "opencc",
                      "rjieba")
# The package's own source that the pipeline's classes and this wrapper live in.
_PACKAGE_PARTS = ("__init__.py", "features", "train", "experiments", "labels/themes.toml")
INPUT_COLUMNS = ("text", "heading")


class ThemeTagger(mlflow.pyfunc.PythonModel):
    """Scores and thresholded themes of paragraphs, from one fitted Pipeline."""

    def __init__(self, pipeline: Any, labels: list[str], thresholds: dict[str, float]) -> None:
        self.pipeline = pipeline
        self.labels = list(labels)
        self.thresholds = dict(thresholds)

    # The DataFrame hint tells MLflow to take the input schema from the signature, not hints.
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """One row per paragraph: a score column per theme, then ``themes`` (a list)."""
        import numpy as np

        frame = _as_frame(model_input)
        scores = np.asarray(self.pipeline.predict_proba(frame), dtype=float)
        output = pd.DataFrame(scores, columns=self.labels, index=frame.index)
        cut = np.array([self.thresholds[label] for label in self.labels])
        output["themes"] = [[label for label, hit in zip(self.labels, row, strict=True) if hit]
                            for row in scores >= cut]
        return output


def _as_frame(model_input: Any) -> pd.DataFrame:
    """The ``text`` (and ``heading``, when given) columns of any input MLflow hands over."""
    if isinstance(model_input, pd.DataFrame):
        frame = model_input
    elif isinstance(model_input, dict):
        frame = pd.DataFrame(model_input)
    elif isinstance(model_input, str):
        frame = pd.DataFrame({"text": [model_input]})
    else:
        frame = pd.DataFrame({"text": list(model_input)})
    if "text" not in frame.columns:
        raise ValueError("input needs a 'text' column (and may have a 'heading' column)")
    columns = [name for name in INPUT_COLUMNS if name in frame.columns]
    frame = frame[columns].copy()
    for name in columns:
        frame[name] = [None if value is None else str(value) for value in frame[name]]
    frame["text"] = frame["text"].fillna("")
    return frame


def model_signature(labels: list[str]):
    """Input: ``text`` (and optional ``heading``) strings; output: theme scores and ``themes``."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    inputs = Schema([ColSpec("string", "text"), ColSpec("string", "heading", required=False)])
    outputs = Schema([*(ColSpec("double", label) for label in labels),
                      ColSpec(Array("string"), "themes")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def model_requirements() -> list[str]:
    """Pinned versions of the libraries the model runs on, as installed here."""
    requirements = []
    for name in _RUNTIME_LIBRARIES:
        try:
            requirements.append(f"{name}=={importlib_metadata.version(name)}")
        except importlib_metadata.PackageNotFoundError:
            continue  # optional (rjieba): the tokenizer falls back to jieba
    return requirements


def package_source(folder: Path) -> Path:
    """Copy the package's Python source into ``folder/cppcc_themes`` and return that path."""
    import cppcc_themes

    root = Path(cppcc_themes.__file__).resolve().parent
    target = folder / "cppcc_themes"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in _PACKAGE_PARTS:
        source = root / part
        destination = target / part
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=ignore)
        else:
            shutil.copy2(source, destination)
    return target


# MLflow's notes on every logged model that say nothing to our users: the model is pickled, as
# the packaged model.joblib is (README: load only models you trust); pip is absent from a
# uv-made environment, which only leaves pip unpinned in the model's conda.yaml; and the uv
# project files it would copy (see below).
_MLFLOW_NOTES = ("Passing a Python object as `python_model`", "Failed to resolve installed pip",
                 "Detected uv project", "uv file logging disabled")


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Drop MLflow's notes above, and keep it from copying this checkout's uv.lock and
    pyproject.toml into the model: they pin the dev tools (pytest) and the unpublished package
    itself, the requirements the model must not have."""
    import os

    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_MLFLOW_NOTES)

    loggers = [logging.getLogger(name) for name in ("mlflow.pyfunc", "mlflow.utils.environment",
                                                    "mlflow.utils.uv_utils")]
    for logger in loggers:
        logger.addFilter(keep)
    uv_files = os.environ.get("MLFLOW_LOG_UV_FILES")
    os.environ["MLFLOW_LOG_UV_FILES"] = "false"
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(keep)
        if uv_files is None:
            os.environ.pop("MLFLOW_LOG_UV_FILES", None)
        else:
            os.environ["MLFLOW_LOG_UV_FILES"] = uv_files


def log_theme_model(pipeline: Any, labels: list[str], thresholds: dict[str, float],
                    example_texts: list[str], registered_model_name: str | None = None) -> Any:
    """Log the pipeline as the pyfunc model ``model`` of the active run; return MLflow's info."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, _quiet_mlflow():
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=ThemeTagger(pipeline, labels, thresholds),
            signature=model_signature(labels),
            input_example=pd.DataFrame({"text": example_texts}),
            pip_requirements=model_requirements(),
            code_paths=[str(package_source(Path(tmp)))],
            registered_model_name=registered_model_name,
        )
