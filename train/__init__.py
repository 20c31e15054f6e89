"""Labelled paragraphs to a fitted, evaluated, packaged model; applying a packaged model.

The public names are imported lazily so that ``import train`` costs nothing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ModelLoadError", "Report", "ThemeModel", "load_model", "tag_report"]

_LOCATIONS = {
    "ModelLoadError": "cppcc_themes.train.package",
    "load_model": "cppcc_themes.train.package",
    "Report": "cppcc_themes.train.predict",
    "ThemeModel": "cppcc_themes.train.predict",
    "tag_report": "cppcc_themes.train.predict",
}


def __getattr__(name: str) -> Any:
    if name in _LOCATIONS:
        import importlib

        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module 'cppcc_themes.train' has no attribute {name!r}")
