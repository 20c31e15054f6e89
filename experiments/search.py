"""Search spaces: an experiment's ``[search]`` table expanded into candidate configurations.

```toml
[search]
metric = "macro_f1"          # rank candidates by this leave-one-report-out metric
[[search.space]]             # one grid; several [[search.space]] tables are added together
model.classifier = ["logreg"]
model.C = [1.0, 10.0]
features.analyzer = ["word", "char"]
data.sources = [["gold"], ["gold", "authored"]]
```

Each value list is one axis of a grid over the experiment's own ``[data]``, ``[features]`` and
``[model]`` settings. Without a ``[search]`` table the experiment is its only candidate.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cppcc_themes.experiments.config import ConfigError, ExperimentConfig
from cppcc_themes.train import select

__all__ = ["RANKING_METRICS", "Candidate", "expand_candidates", "flat_params", "search_metric"]

_TABLES = ("data", "features", "model")
# Metrics that can rank a search; all are "higher is better".
RANKING_METRICS = ("macro_f1", "micro_f1", "none_f1", "exact_match", "macro_f1_ci_low")


@dataclass
class Candidate(select.Candidate):
    """One configuration of an experiment file to cross-validate, with the search values that
    made it."""

    overrides: dict[str, Any] = field(default_factory=dict)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _axes(config: ExperimentConfig, space: Mapping[str, Any]) -> dict[str, list[Any]]:
    axes = _flatten(space)
    for key, values in axes.items():
        table = key.split(".", 1)[0]
        if table not in _TABLES or "." not in key:
            raise ConfigError(f"{config.path}: search key {key!r} must start with data., "
                              "features. or model.")
        if key != "data.sources" and not isinstance(values, list):
            raise ConfigError(f"{config.path}: search key {key!r} needs a list of values")
        if key == "data.sources" and not (isinstance(values, list) and values
                                          and all(isinstance(v, list) for v in values)):
            raise ConfigError(f"{config.path}: data.sources in a search is a list of source "
                              "lists, e.g. [[\"gold\"], [\"gold\", \"authored\"]]")
    return axes


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "+".join(map(str, value)) if all(isinstance(v, str) for v in value) \
            else "-".join(map(str, value))
    return str(value)


def _candidate(config: ExperimentConfig, overrides: dict[str, Any]) -> Candidate:
    sources = list(config.sources)
    features, model = dict(config.features), dict(config.model)
    for key, value in overrides.items():
        table, name = key.split(".", 1)
        if table == "data" and name == "sources":
            sources = list(value)
        elif table == "features":
            features[name] = value
        elif table == "model":
            model[name] = value
        else:
            raise ConfigError(f"{config.path}: cannot search over {key!r}")
    label = " ".join(f"{key.split('.', 1)[1]}={_short(value)}"
                     for key, value in overrides.items()) or config.name
    return Candidate(label, sources, features, model, overrides)


def expand_candidates(config: ExperimentConfig) -> list[Candidate]:
    """Every candidate of the experiment's search, in file order; duplicates dropped."""
    spaces = config.search.get("space", [])
    if isinstance(spaces, Mapping):
        spaces = [spaces]
    if not spaces:
        return [_candidate(config, {})]
    candidates, seen = [], set()
    for space in spaces:
        axes = _axes(config, space)
        for values in itertools.product(*axes.values()):
            candidate = _candidate(config, dict(zip(axes, values, strict=True)))
            key = repr((candidate.sources, sorted(candidate.features.items()),
                        sorted(candidate.model.items())))
            if key not in seen:
                seen.add(key)
                candidates.append(candidate)
    return candidates


def search_metric(config: ExperimentConfig) -> str:
    """The metric the search ranks by (``macro_f1`` unless ``[search] metric`` says otherwise)."""
    metric = str(config.search.get("metric", "macro_f1"))
    if metric not in RANKING_METRICS:
        raise ConfigError(f"{config.path}: search metric {metric!r} is not one of "
                          f"{list(RANKING_METRICS)}")
    return metric


def flat_params(candidate: Candidate) -> dict[str, Any]:
    """Every setting of a candidate, defaults filled in, as flat tracking parameters."""
    from cppcc_themes.features.vectorize import DEFAULT_FEATURES
    from cppcc_themes.train.model import DEFAULT_MODEL

    params: dict[str, Any] = {"data.sources": ",".join(candidate.sources)}
    features = {**DEFAULT_FEATURES, "embeddings": "none", **candidate.features}
    for key, value in features.items():
        params[f"features.{key}"] = value
    for key, value in {**DEFAULT_MODEL, **candidate.model}.items():
        params[f"model.{key}"] = value
    return params
