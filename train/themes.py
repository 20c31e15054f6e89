"""The theme taxonomy as code: ids and names read from ``labels/themes.toml``."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Theme", "default_labels_dir", "load_no_theme_cues", "load_no_theme_heading_cues",
           "load_structural_heading_cues", "load_themes", "theme_ids"]


@dataclass(frozen=True)
class Theme:
    """One theme of the codebook."""

    id: str
    name: str
    definition: str
    cues: tuple[str, ...]
    heading_cues: tuple[str, ...]
    # Heading phrases that cancel a heading cue, e.g. 政府自身建设 is not the CPPCC's own.
    heading_blockers: tuple[str, ...] = ()


def default_labels_dir() -> Path:
    """``labels/`` of the working directory if there is one, else of this source checkout."""
    here = Path.cwd() / "labels"
    if (here / "themes.toml").is_file():
        return here
    return Path(__file__).resolve().parents[1] / "labels"


@functools.lru_cache(maxsize=8)
def _read_taxonomy(labels_dir: Path | None) -> dict:
    path = (labels_dir or default_labels_dir()) / "themes.toml"
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_themes(labels_dir: Path | None = None) -> tuple[Theme, ...]:
    """Read the taxonomy, in its canonical order."""
    return tuple(Theme(t["id"], t["name"], t["definition"], tuple(t.get("cues", ())),
                       tuple(t.get("heading_cues", ())), tuple(t.get("heading_blockers", ())))
                 for t in _read_taxonomy(labels_dir)["theme"])


def load_no_theme_heading_cues(labels_dir: Path | None = None) -> tuple[str, ...]:
    """Heading phrases of topics outside the five themes (stability, safety, rule of law)."""
    return tuple(_read_taxonomy(labels_dir).get("no_theme", {}).get("heading_cues", ()))


def load_structural_heading_cues(labels_dir: Path | None = None) -> tuple[str, ...]:
    """Heading phrases of structural sections (review, targets, work plan): no single subject."""
    return tuple(_read_taxonomy(labels_dir).get("no_theme", {})
                 .get("structural_heading_cues", ()))


def load_no_theme_cues(labels_dir: Path | None = None) -> tuple[str, ...]:
    """Body cues of topics outside the five themes (rule of law, safety, stability)."""
    return tuple(_read_taxonomy(labels_dir).get("no_theme", {}).get("cues", ()))


def theme_ids(labels_dir: Path | None = None) -> list[str]:
    """Theme ids in canonical order."""
    return [theme.id for theme in load_themes(labels_dir)]
