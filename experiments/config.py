"""Experiment configs: one TOML file per question, read into a checked dataclass."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "ExperimentConfig", "load_config"]

_SECTIONS = {"name", "description", "data", "features", "model", "evaluation", "output", "search"}


class ConfigError(ValueError):
    """An experiment file is malformed; the message names the file."""


@dataclass
class ExperimentConfig:
    """A parsed experiment: what data, which features and model, where the result goes."""

    name: str
    path: Path
    description: str = ""
    sources: list[str] = field(default_factory=lambda: ["gold"])
    scored_sources: list[str] = field(default_factory=lambda: ["gold"])
    features: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)
    package: str | None = "models/default"
    # Name in the MLflow model registry to register the packaged model under, or None.
    register: str | None = None
    # [evaluation] yardstick: score on gold (leave one report out) and real-style (grouped page
    # folds) as two figures; nested: re-run the search in every outer fold; selection: the
    # search file whose winner this configuration is (its nested figure is this one's).
    yardstick: bool = False
    nested: bool = False
    selection: Path | None = None
    n_jobs: int = 1
    # [search] halving = true: successive halving over folds, keeping 1/halving_factor per
    # rung (train.halving); None: every candidate on every fold.
    halving: int | None = None

    def params(self) -> dict[str, Any]:
        """Flat parameters for a tracking system, e.g. ``features.word_ngrams``."""
        flat: dict[str, Any] = {"data.sources": ",".join(self.sources)}
        for prefix, table in (("features", self.features), ("model", self.model)):
            for key, value in table.items():
                flat[f"{prefix}.{key}"] = value
        return flat


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and check an experiment TOML file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such experiment file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    unknown = set(raw) - _SECTIONS
    if unknown:
        raise ConfigError(f"{path}: unknown sections {sorted(unknown)}")
    data, output = raw.get("data", {}), raw.get("output", {})
    evaluation = raw.get("evaluation", {})
    scored = list(evaluation.get("scored_sources", ["gold"]))
    register = output.get("register", False)
    if register is True:
        register = "cppcc-themes"
    if register is not False and not (isinstance(register, str) and register):
        raise ConfigError(f"{path}: [output] register is true, false or a registry name")
    if set(scored) - {"gold"}:
        raise ConfigError(f"{path}: only real text scores; scored_sources must be ['gold']")
    selection = evaluation.get("selection")
    if selection is not None and not (isinstance(selection, str) and selection):
        raise ConfigError(f"{path}: [evaluation] selection is the path of a search file")
    n_jobs = evaluation.get("n_jobs", 1)
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or not 1 <= n_jobs <= 8:
        raise ConfigError(f"{path}: [evaluation] n_jobs is a whole number from 1 to 8")
    search = raw.get("search", {})
    halving = search.get("halving", False) if isinstance(search, dict) else False
    if not isinstance(halving, bool):
        raise ConfigError(f"{path}: [search] halving is true or false")
    factor = search.get("halving_factor", 3) if isinstance(search, dict) else 3
    if not isinstance(factor, int) or isinstance(factor, bool) or not 2 <= factor <= 10:
        raise ConfigError(f"{path}: [search] halving_factor is a whole number from 2 to 10")
    if halving and not (evaluation.get("yardstick", False) or selection):
        raise ConfigError(f"{path}: [search] halving needs [evaluation] yardstick = true")
    return ExperimentConfig(
        name=str(raw.get("name", path.stem)),
        path=path,
        description=str(raw.get("description", "")),
        sources=list(data.get("sources", ["gold"])),
        scored_sources=scored,
        features=dict(raw.get("features", {})),
        model=dict(raw.get("model", {})),
        search=dict(raw.get("search", {})),
        package=output.get("package", "models/default") or None,
        register=register or None,
        yardstick=bool(evaluation.get("yardstick", False) or selection),
        nested=bool(evaluation.get("nested", False) or selection),
        selection=(path.parent / selection) if selection else None,
        n_jobs=n_jobs,
        halving=factor if halving else None,
    )
