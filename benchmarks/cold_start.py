"""Benchmark 2: cold start of `cppcc-themes tag` on one short report vs bare jieba start-up."""

from __future__ import annotations

import sys

from benchmarks.common import BIN, SEED, Workspace, child_env, heading, median_seconds, row, verdict

TARGET = 1.5
REPEAT = 5
BARE_JIEBA = [sys.executable, "-c", "import jieba; jieba.initialize()"]
# What each process imports before it tags: the floor of any `cppcc-themes tag`.
BARE_SKLEARN = [sys.executable, "-c", "import sklearn.pipeline"]


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
    # (model, --tokenizer, backend it segments with); "auto" is what `tag` does by default.
    cases = [("jieba", "auto", "rjieba"), ("jieba", "jieba", "jieba"),
             ("rjieba", "auto", "rjieba")]
    for model, tokenizer, used in cases:
        command = [str(BIN / "cppcc-themes"), "tag", str(SEED), "--model",
                   str(workspace.model(model)), "--format", "jsonl", "--tokenizer", tokenizer]
        median_seconds(command, 1, env)
        seconds = median_seconds(command, REPEAT, env)
        ratios[model, tokenizer] = seconds / bare
        row(f"tag, {model} model, --tokenizer {tokenizer} ({used})",
            f"{seconds:6.2f} s  {seconds / bare:.2f}x bare")
    sklearn = median_seconds(BARE_SKLEARN, REPEAT, env)
    row("python -c 'import sklearn.pipeline'", f"{sklearn:6.2f} s  {sklearn / bare:.2f}x "
                                                      "bare (for information)")
    default = ratios["jieba", "auto"]
    row("jieba model, default tag / bare jieba start-up",
        f"{default:.2f}x  target <= {TARGET}x  {verdict(default, TARGET, False)}")
    reference = ratios["jieba", "jieba"]
    row("jieba model, --tokenizer jieba / bare jieba",
        f"{reference:.2f}x  target <= {TARGET}x  {verdict(reference, TARGET, False)}")
