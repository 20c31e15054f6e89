"""Benchmark 2: cold start of `cppcc-themes tag` on one short report vs bare jieba start-up."""

from __future__ import annotations

import statistics
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
    """Print median wall times of fresh processes and their ratios to bare jieba.

    The commands run in turn, one of each per round, and each ratio is the median of the
    ratios within a round: a loaded machine's speed drifts by a third within seconds, which
    blocks of one command after another turned into differences between the commands.
    """
    env = child_env(workspace.cache)
    byte_compile_project()
    # (model, --tokenizer); "auto" is what `tag` does by default.
    cases = [("default", "auto"), ("jieba", "auto"), ("jieba", "jieba"), ("rjieba", "auto")]
    commands = {"bare": BARE_JIEBA, "floor": MODEL_IMPORTS}
    for model, tokenizer in cases:
        commands[model, tokenizer] = [
            str(BIN / "cppcc-themes"), "tag", str(SEED), "--model", str(workspace.model(model)),
            "--format", "jsonl", "--tokenizer", tokenizer]
    # Every command once first: jieba's dictionary cache in its temp folder, ours in the
    # workspace cache folder, are then built for both sides.
    for command in commands.values():
        median_seconds(command, 1, env)
    rounds = [{name: median_seconds(command, 1, env) for name, command in commands.items()}
              for _ in range(REPEAT)]
    heading(f"2. cold start, {REPEAT} rounds of fresh processes in turn ({SEED.name}, "
            f"{len(SEED.read_text(encoding='utf-8')):,} characters); medians, ratios to bare "
            "jieba in the same round")

    def median(name) -> float:
        return statistics.median(times[name] for times in rounds)

    def ratio(name, to="bare") -> float:
        return statistics.median(times[name] / times[to] for times in rounds)

    row("python -c 'import jieba; jieba.initialize()'", f"{median('bare'):6.2f} s")
    row("python -c 'import joblib, sklearn...' (floor)",
        f"{median('floor'):6.2f} s  {ratio('floor'):.2f}x bare: the imports unpickling a "
        "model needs")
    for model, tokenizer in cases:
        reads, used = describe_model(workspace.model(model), tokenizer)
        label = ("default experiment's model" if model == "default"
                 else f"{model} model, --tokenizer {tokenizer}")
        to_bare = ratio((model, tokenizer))
        row(f"tag, {label}",
            f"{median((model, tokenizer)):6.2f} s  {to_bare:.2f}x bare  target <= {TARGET}x  "
            f"{verdict(to_bare, TARGET, False)}  ({reads}; segments with {used}; "
            f"{ratio((model, tokenizer), 'floor'):.2f}x the floor)")
