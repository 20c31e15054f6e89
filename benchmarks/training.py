"""Benchmark 3: one cross-validated experiment, first run vs second run with the token cache."""

from __future__ import annotations

import json
import sys

from benchmarks.common import Workspace, child_env, heading, measure_process, row, verdict

TARGET = 3.0
_EXPERIMENT = """
import json, sys, time
from cppcc_themes.features.token_cache import use_token_cache
from cppcc_themes.train.data import load_paragraphs
from cppcc_themes.train.train import train_and_evaluate
dataset = load_paragraphs(["gold", "authored"])
start = time.perf_counter()
with use_token_cache() as cache:
    result = train_and_evaluate(dataset)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "macro_f1": result.metrics["macro_f1"],
                  "hits": cache.hits if cache else 0, "misses": cache.misses if cache else 0}),
      file=sys.stderr)
"""


def _experiment(env: dict[str, str]) -> tuple[dict, float]:
    run = measure_process([sys.executable, "-c", _EXPERIMENT], env)
    if run.returncode != 0:
        raise RuntimeError(f"training failed:\n{run.stderr}")
    return json.loads(run.stderr.strip().splitlines()[-1]), run.seconds


def run(workspace: Workspace) -> None:
    """Print training times without cache, with a cold cache and with a warm one."""
    heading("3. training: train_and_evaluate on gold+authored (leave-one-report-out), "
            "separate processes")
    cache = workspace.root / "training-cache"
    runs = {
        "cache off (reference)": _experiment(child_env(cache, CPPCC_THEMES_TOKEN_CACHE="0")),
        "first run, empty cache": _experiment(child_env(cache)),
        "second run, warm cache": _experiment(child_env(cache)),
    }
    for label, (result, wall) in runs.items():
        row(label, f"{result['seconds']:6.2f} s training  ({wall:5.2f} s process)  "
                   f"macro-F1 {result['macro_f1']:.4f}  hits {result['hits']} "
                   f"misses {result['misses']}")
    first = runs["first run, empty cache"][0]["seconds"]
    second = runs["second run, warm cache"][0]["seconds"]
    same = len({round(r["macro_f1"], 12) for r, _ in runs.values()}) == 1
    row("same macro-F1 in all three runs", "yes" if same else "NO")
    row("first / second run (training time)",
        f"{first / second:.2f}x  target >= {TARGET}x  {verdict(first / second, TARGET)}")
    off = runs["cache off (reference)"][0]["seconds"]
    row("cache off / second run (for information)", f"{off / second:.2f}x")
