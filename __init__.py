"""cppcc-themes: tag the paragraphs of Chinese CPPCC work reports with five themes.

The installed package is ``cppcc_themes``: this checkout's root, with ``features``, ``train``
and ``experiments`` as its subpackages. The public names are imported lazily, so
``import cppcc_themes`` costs nothing and never imports mlflow.

    import cppcc_themes
    model = cppcc_themes.load_model("models/default")
    report = cppcc_themes.tag_report(model, "report.docx")
"""

from __future__ import annotations

from typing import Any

__all__ = ["ModelLoadError", "ReadError", "Report", "ThemeModel", "load_model", "tag_paths",
           "tag_report"]

_LOCATIONS = {
    "ModelLoadError": "cppcc_themes.train.package",
    "load_model": "cppcc_themes.train.package",
    "Report": "cppcc_themes.train.predict",
    "ThemeModel": "cppcc_themes.train.predict",
    "tag_paths": "cppcc_themes.train.predict",
    "tag_report": "cppcc_themes.train.predict",
    "ReadError": "cppcc_themes.features.readers",
}


def __getattr__(name: str) -> Any:
    if name in _LOCATIONS:
        import importlib

        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module 'cppcc_themes' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
