"""The theme taxonomy as code: ids and names read from ``labels/themes.toml``."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Theme", "default_labels_dir", "load_themes", "theme_ids"]


@dataclass(frozen=True)
class Theme:
    """One theme of the codebook."""

    id: str
    name: str
    definition: str
    cues: tuple[str, ...]
    heading_cues: tuple[str, ...]


def default_labels_dir() -> Path:
    """``labels/`` of the working directory if there is one, else of this source checkout."""
    here = Path.cwd() / "labels"
    if (here / "themes.toml").is_file():
        return here
    return Path(__file__).resolve().parents[1] / "labels"


@functools.lru_cache(maxsize=8)
def load_themes(labels_dir: Path | None = None) -> tuple[Theme, ...]:
    """Read the taxonomy, in its canonical order."""
    path = (labels_dir or default_labels_dir()) / "themes.toml"
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return tuple(Theme(t["id"], t["name"], t["definition"], tuple(t.get("cues", ())),
                       tuple(t.get("heading_cues", ()))) for t in data["theme"])


def theme_ids(labels_dir: Path | None = None) -> list[str]:
    """Theme ids in canonical order."""
    return [theme.id for theme in load_themes(labels_dir)]
