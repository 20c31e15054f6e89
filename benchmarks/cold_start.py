"""Benchmark 2: cold start of `cppcc-themes tag` on one short report vs bare jieba start-up."""

from __future__ import annotations

import sys

from benchmarks.common import BIN, SEED, Workspace, child_env, heading, median_seconds, row, verdict

TARGET = 1.5
REPEAT = 5
BARE_JIEBA = [sys.executable, "-c", "import jieba; jieba.initialize()"]


def run(workspace: Workspace) -> None:
    """Print median wall times of fresh processes and their ratio."""
    env = child_env(workspace.cache)
    # Both sides start with their dictionary cache built: jieba's own in its temp folder, ours
    # in the workspace cache folder.
    median_seconds(BARE_JIEBA, 1, env)
    heading(f"2. cold start, median of {REPEAT} fresh processes ({SEED.name}, "
            f"{len(SEED.read_text(encoding='utf-8')):,} characters)")
    bare = median_seconds(BARE_JIEBA, REPEAT, env)
    row("python -c 'import jieba; jieba.initialize()'", f"{bare:6.2f} s")
    ratios = {}
    for backend in ("jieba", "rjieba"):
        command = [str(BIN / "cppcc-themes"), "tag", str(SEED), "--model",
                   str(workspace.model(backend)), "--format", "jsonl"]
        median_seconds(command, 1, env)
        seconds = median_seconds(command, REPEAT, env)
        ratios[backend] = seconds / bare
        row(f"cppcc-themes tag, {backend} model", f"{seconds:6.2f} s  {seconds / bare:.2f}x bare")
    row("jieba model: tag / bare jieba start-up",
        f"{ratios['jieba']:.2f}x  target <= {TARGET}x  {verdict(ratios['jieba'], TARGET, False)}")
