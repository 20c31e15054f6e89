"""Benchmark 2: cold start of `cppcc-themes tag` on one short report vs bare jieba start-up."""

from __future__ import annotations

import sys

from benchmarks.common import (
    BIN,
    SEED,
    Workspace,
    byte_compile_project,
    child_env,
    describe_model,
    heading,
    median_seconds,
    row,
    verdict,
)

TARGET = 1.5
REPEAT = 5
BARE_JIEBA = [sys.executable, "-c", "import jieba; jieba.initialize()"]
# What any process must import before it can unpickle a packaged model (Pipeline, TF-IDF,
# one-vs-rest, the classifiers): the floor under every `cppcc-themes tag`.
MODEL_IMPORTS = [sys.executable, "-c",
                 "import joblib, sklearn.pipeline, sklearn.feature_extraction.text, "
                 "sklearn.multiclass, sklearn.linear_model, sklearn.calibration, sklearn.svm"]


def run(workspace: Workspace) -> None:
    """Print median wall times of fresh processes and their ratios to bare jieba."""
    env = child_env(workspace.cache)
    byte_compile_project()
    # Both sides start with their dictionary cache built: jieba's own in its temp folder, ours
    # in the workspace cache folder.
    median_seconds(BARE_JIEBA, 1, env)
    heading(f"2. cold start, median of {REPEAT} fresh processes ({SEED.name}, "
            f"{len(SEED.read_text(encoding='utf-8')):,} characters)")
    bare = median_seconds(BARE_JIEBA, REPEAT, env)
    row("python -c 'import jieba; jieba.initialize()'", f"{bare:6.2f} s")
    floor = median_seconds(MODEL_IMPORTS, REPEAT, env)
    row("python -c 'import joblib, sklearn...' (floor)",
        f"{floor:6.2f} s  {floor / bare:.2f}x bare: the imports unpickling a model needs")
    # (model, --tokenizer); "auto" is what `tag` does by default.
    cases = [("default", "auto"), ("jieba", "auto"), ("jieba", "jieba"), ("rjieba", "auto")]
    for model, tokenizer in cases:
        reads, used = describe_model(workspace.model(model), tokenizer)
        command = [str(BIN / "cppcc-themes"), "tag", str(SEED), "--model",
                   str(workspace.model(model)), "--format", "jsonl", "--tokenizer", tokenizer]
        median_seconds(command, 1, env)
        seconds = median_seconds(command, REPEAT, env)
        ratio = seconds / bare
        label = ("default experiment's model" if model == "default"
                 else f"{model} model, --tokenizer {tokenizer}")
        row(f"tag, {label}",
            f"{seconds:6.2f} s  {ratio:.2f}x bare  target <= {TARGET}x  "
            f"{verdict(ratio, TARGET, False)}  ({reads}; segments with {used}; "
            f"{seconds - floor:+.2f} s over the floor)")
