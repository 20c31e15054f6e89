"""Benchmark 1: tagging throughput of `cppcc-themes tag` vs tokenizing the same text alone."""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks.common import SEED, Workspace, describe_model, heading, row, timed, verdict

OVERHEAD_TARGET = 0.8
RJIEBA_SPEEDUP_TARGET = 5.0
# Runs of one machine drift by a third within seconds: each side is measured this many times,
# tag and tokenize-only alternating, and the median of the per-pair ratios is the figure.
REPEAT = 5


def tag_seconds(corpus: Path, model: Path, output: Path, tokenizer: str) -> float:
    """Wall seconds of the tag command, in this process, on every file of ``corpus``.

    The model is loaded from disk inside the timed call, and the memory of normalised texts
    starts empty as in a new process; the modules the command imports on its first call are
    not timed (a warm-up call on the seed loads them, as the dictionary warm-up does):
    start-up is benchmark 2's business.
    """
    from cppcc_themes.experiments.cli import main
    from cppcc_themes.features.normalize import forget_normalized_texts

    def tag(inputs: Path, target: Path) -> None:
        forget_normalized_texts()
        code = main(["tag", str(inputs), "--model", str(model), "--format", "jsonl",
                     "--output", str(target), "--tokenizer", tokenizer])
        if code != 0:
            raise RuntimeError(f"cppcc-themes tag exited {code}")

    if not output.with_suffix(".warm-up").exists():
        tag(SEED, output.with_suffix(".warm-up"))
    return timed(lambda: tag(corpus, output))


def tokenize_seconds(texts: list[str], backend: str) -> float:
    """Wall seconds of the same tokenizer over the same texts, nothing else."""
    from cppcc_themes.features.tokenize import Tokenizer

    tokenizer = Tokenizer(backend=backend)
    return timed(lambda: [tokenizer.tokenize(text) for text in texts])


def tagging_backend(model: Path, tokenizer: str) -> str:
    """The backend ``cppcc-themes tag --tokenizer TOKENIZER`` really segments with."""
    from cppcc_themes.train.package import load_model

    return ",".join(sorted(set(load_model(model, tokenizer).tokenizer_backends.values())))


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} (range {min(values):.2f}-{max(values):.2f})"


def run(workspace: Workspace, chars: int) -> dict[str, float]:
    """Print throughput per backend; return the median tagging seconds per backend."""
    from cppcc_themes.features.tokenize import Tokenizer

    heading(f"1. tagging throughput on the 31 reports ({chars:,} characters), in process; "
            f"{REPEAT} alternating runs of each side")
    texts = [p.read_text(encoding="utf-8") for p in sorted(workspace.corpus.glob("*.txt"))]
    tag_times: dict[str, float] = {}
    for backend in ("jieba", "rjieba"):
        Tokenizer(backend=backend)("预热")  # the dictionary load is benchmark 2's business
        model = workspace.model(backend)
        # --tokenizer forces the backend: by default a jieba model tags with rjieba.
        used = tagging_backend(model, backend)
        assert used == backend, f"{backend} model tagged with {used}"
        output = workspace.root / f"tags-{backend}.jsonl"
        pairs = [(tag_seconds(workspace.corpus, model, output, backend),
                  tokenize_seconds(texts, backend)) for _ in range(REPEAT)]
        tag_s = statistics.median(tag for tag, _ in pairs)
        tok_s = statistics.median(tok for _, tok in pairs)
        tag_times[backend] = tag_s
        ratio = statistics.median(tok / tag for tag, tok in pairs)
        row(f"{backend} model, tag --tokenizer {backend}",
            f"{tag_s:6.2f} s  {chars / tag_s / 1000:8.0f} k chars/s  (median; segments with "
            f"{used})")
        row(f"{backend}: tokenize only", f"{tok_s:6.2f} s  {chars / tok_s / 1000:8.0f} k chars/s"
                                          "  (median)")
        row(f"{backend}: overhead around tokenization", f"{tag_s - tok_s:6.2f} s  (median tag - "
                                                         "median tokenize)")
        row(f"{backend}: tag / tokenize-only throughput",
            f"{ratio:.2f}  target >= {OVERHEAD_TARGET}  {verdict(ratio, OVERHEAD_TARGET)}  "
            f"(per-pair ratios: {_spread([tok / tag for tag, tok in pairs])})")
    speedup = tag_times["jieba"] / tag_times["rjieba"]
    row("rjieba tag / jieba tag throughput",
        f"{speedup:.2f}x  target >= {RJIEBA_SPEEDUP_TARGET}x  "
        f"{verdict(speedup, RJIEBA_SPEEDUP_TARGET)}  (medians)")
    # The default: a jieba model tags with rjieba where both give the same tokens.
    model = workspace.model("jieba")
    used = tagging_backend(model, "auto")
    auto_s = statistics.median(
        tag_seconds(workspace.corpus, model, workspace.root / "tags-auto.jsonl", "auto")
        for _ in range(REPEAT))
    same = (workspace.root / "tags-auto.jsonl").read_bytes() == \
        (workspace.root / "tags-jieba.jsonl").read_bytes()
    row("jieba model, default tag (--tokenizer auto)",
        f"{auto_s:6.2f} s  {chars / auto_s / 1000:8.0f} k chars/s  (segments with {used}; "
        f"output {'identical to' if same else 'DIFFERENT from'} --tokenizer jieba)")
    row("  vs the same model with --tokenizer jieba",
        f"{tag_times['jieba'] / auto_s:.2f}x (for information)")
    default_model = workspace.model("default")
    if default_model.exists():
        default_s = statistics.median(
            tag_seconds(workspace.corpus, default_model, workspace.root / "tags-default.jsonl",
                        "auto") for _ in range(REPEAT))
        reads, used = describe_model(default_model)
        row("default experiment's model, default tag",
            f"{default_s:6.2f} s  {chars / default_s / 1000:8.0f} k chars/s  ({reads}; "
            f"segments with {used}; for information)")
    return tag_times
