"""Benchmark 5 (issue 12): a search's wall time against one run, measured side by side.

``search.toml`` (candidates on the yardstick, nested: the search re-run in each outer fold,
feature matrices shared per fold, two processes) against one ``baseline.toml`` run — which,
since issue 10, runs that same nested search to put honest figures on the card — and against
the shipped configuration alone on the yardstick (no nesting, no search): "one run" in the
sense of issue 12. Each command is a separate process against its own sqlite store; the token
cache is warmed first so no side pays for segmenting the corpus once.
"""

from __future__ import annotations

import statistics
import tomllib
from pathlib import Path

from benchmarks.common import ROOT, Workspace, child_env, heading, measure_process, row, verdict

TARGET = 6.0


def _single_config(folder: Path) -> Path:
    """baseline.toml without ``selection``: the shipped configuration alone on the yardstick."""
    text = (ROOT / "experiments" / "baseline.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    lines = [line for line in text.splitlines() if not line.startswith("selection")]
    if "evaluation" in raw:
        lines = [line if line.strip() != "[evaluation]" else "[evaluation]\nyardstick = true"
                 for line in lines]
    path = folder / "single.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _train(config: Path, folder: Path, env: dict[str, str]) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    command = [str(ROOT / ".venv" / "bin" / "cppcc-themes"), "train", str(config),
               "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}",
               "--output", str(folder / "model"), "--quiet"]
    run = measure_process(command, env)
    if run.returncode != 0:
        raise RuntimeError(f"{config.name} failed:\n{run.stderr}")
    return run.seconds


def run(workspace: Workspace, repeat: int = 1) -> None:
    """Print search / baseline and search / single-run wall-time ratios (medians)."""
    heading("5. search: experiments/search.toml vs one run (separate processes, warm cache)")
    env = child_env(workspace.root / "search-cache", CPPCC_THEMES_TOKEN_CACHE="1")
    runs = workspace.root / "search-runs"
    single = _single_config(workspace.root)
    _train(single, runs / "warm-up", env)
    times: dict[str, list[float]] = {"search": [], "baseline": [], "single": []}
    for attempt in range(repeat):
        times["single"].append(_train(single, runs / f"single-{attempt}", env))
        times["baseline"].append(_train(ROOT / "experiments" / "baseline.toml",
                                        runs / f"baseline-{attempt}", env))
        times["search"].append(_train(ROOT / "experiments" / "search.toml",
                                      runs / f"search-{attempt}", env))
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        row(f"{name} (s, {len(values)} run(s))", " ".join(f"{v:.1f}" for v in values))
    ratio = median["search"] / median["baseline"]
    row("search / baseline.toml", f"{ratio:.2f}x  target <= {TARGET}x  "
                                  f"{verdict(ratio, TARGET, higher_is_better=False)}")
    alone = median["search"] / median["single"]
    row("search / shipped configuration alone", f"{alone:.2f}x  target <= {TARGET}x  "
                                                f"{verdict(alone, TARGET, higher_is_better=False)}")
