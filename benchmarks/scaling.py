"""Benchmark 4: tagging time and peak memory at 1x, 10x and 100x the corpus."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.common import (
    BIN,
    Workspace,
    child_env,
    corpus_chars,
    heading,
    measure_process,
    row,
    verdict,
)

MEMORY_TARGET = 1.2
BACKEND = "rjieba"


def replicate(source: Path, folder: Path, times: int) -> Path:
    """``folder`` holding ``times`` copies of every file of ``source``, each line of copy k
    starting with its own marker (at every scale, 1x too): identical copies would let
    tagging's memory of recent normalised texts answer for every copy after the first,
    flattering the large runs."""
    for copy in range(times):
        target = folder / f"copy-{copy:03d}"
        target.mkdir(parents=True, exist_ok=True)
        for path in source.glob("*.txt"):
            lines = path.read_text(encoding="utf-8").split("\n")
            (target / path.name).write_text(
                "\n".join(f"（副本{copy}）{line}" if line.strip() else line for line in lines),
                encoding="utf-8")
    return folder


def run(workspace: Workspace, scales: list[int]) -> None:
    """Print time, throughput and peak RSS per scale; memory ratio of the largest to 1x."""
    heading(f"4. scaling: cppcc-themes tag --format jsonl --output /dev/null, {BACKEND} model "
            "(jieba at 100x would take minutes)")
    env = child_env(workspace.cache)
    results = {}
    for scale in scales:
        folder = replicate(workspace.corpus, workspace.root / f"corpus-{scale}x", scale)
        chars = corpus_chars(folder)
        command = [str(BIN / "cppcc-themes"), "tag", str(folder), "--model",
                   str(workspace.model(BACKEND)), "--format", "jsonl", "--output", os.devnull]
        outcome = measure_process(command, env)
        if outcome.returncode != 0:
            raise RuntimeError(f"tagging {folder} failed:\n{outcome.stderr}")
        results[scale] = (chars, outcome.seconds, outcome.max_rss_mb)
        row(f"{scale:>4}x  {chars / 1e6:6.1f} M chars",
            f"{outcome.seconds:7.1f} s  {chars / outcome.seconds / 1000:6.0f} k chars/s  "
            f"peak RSS {outcome.max_rss_mb:6.0f} MB")
    base, top = min(results), max(results)
    if top != base:
        (c0, t0, m0), (c1, t1, m1) = results[base], results[top]
        row(f"time {top}x / {base}x (chars ratio {c1 / c0:.0f})", f"{t1 / t0:.1f}")
        row(f"peak memory {top}x / {base}x",
            f"{m1 / m0:.2f}  target <= {MEMORY_TARGET}  {verdict(m1 / m0, MEMORY_TARGET, False)}")
