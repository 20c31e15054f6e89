"""Where the packaged model is, wherever the package is installed.

A checkout keeps its model in ``models/default``; a package installed with pip or
``uv tool install`` has no such folder, so ``cppcc-themes train`` run outside a checkout
packages into a per-user data folder, and tagging looks there last. Nothing here creates a
folder or reads a model: it only decides paths.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cppcc_themes.train.package import ModelLoadError

__all__ = ["DATA_ENV", "DEFAULT_MODEL_DIR", "MODEL_ENV", "ModelNotFoundError",
           "find_model_dir", "in_checkout", "package_dir_for", "user_data_dir",
           "user_model_dir"]

MODEL_ENV = "CPPCC_THEMES_MODEL"
DATA_ENV = "CPPCC_THEMES_DATA"
DEFAULT_MODEL_DIR = Path("models") / "default"


class ModelNotFoundError(ModelLoadError):
    """No model was named and none is in the places tagging looks; the message says what
    to do."""


def user_data_dir() -> Path:
    """``$CPPCC_THEMES_DATA``, else the platform's per-user data folder: ``$XDG_DATA_HOME``
    or ``~/.local/share`` (Linux), ``~/Library/Application Support`` (macOS),
    ``%LOCALAPPDATA%`` (Windows), with ``cppcc-themes`` inside."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "cppcc-themes"


def user_model_dir() -> Path:
    """The model ``cppcc-themes train`` packages outside a checkout."""
    return user_data_dir() / DEFAULT_MODEL_DIR


def in_checkout(folder: Path | None = None) -> bool:
    """Whether ``folder`` (the working directory) is a checkout of this project."""
    folder = folder or Path.cwd()
    return ((folder / "pyproject.toml").is_file() and (folder / "experiments").is_dir()
            and (folder / "labels" / "themes.toml").is_file())


def package_dir_for(configured: str | Path | None) -> Path | None:
    """Where training packages a model whose experiment says ``[output] package =
    configured``: a relative path stays relative in a checkout (``models/default``) and
    goes under ``user_data_dir()`` elsewhere, where tagging finds it."""
    if configured is None:
        return None
    path = Path(configured)
    if path.is_absolute() or in_checkout():
        return path
    return user_data_dir() / path


def find_model_dir(explicit: str | Path | None = None) -> Path:
    """The model to tag with: ``explicit`` (``--model``), else ``$CPPCC_THEMES_MODEL``, else
    ``./models/default``, else ``user_model_dir()``; raises ModelNotFoundError."""
    if explicit:
        return Path(explicit)
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV]).expanduser()
    candidates = [DEFAULT_MODEL_DIR, user_model_dir()]
    for candidate in candidates:
        if (candidate / "metadata.json").is_file():
            return candidate
    raise ModelNotFoundError(
        f"no model in ./{DEFAULT_MODEL_DIR} or {user_model_dir()}: train one with "
        f"`cppcc-themes train baseline` (it packages the model where tagging looks), or "
        f"pass --model DIR or set {MODEL_ENV}=DIR")
