"""Benchmark 1: tagging throughput of `cppcc-themes tag` vs tokenizing the same text alone."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import Workspace, heading, row, timed, verdict

OVERHEAD_TARGET = 0.8
RJIEBA_SPEEDUP_TARGET = 5.0


def tag_seconds(corpus: Path, model: Path, output: Path, tokenizer: str) -> float:
    """Wall seconds of the tag command, in this process, on every file of ``corpus``."""
    from experiments.cli import main

    def tag() -> None:
        code = main(["tag", str(corpus), "--model", str(model), "--format", "jsonl",
                     "--output", str(output), "--tokenizer", tokenizer])
        if code != 0:
            raise RuntimeError(f"cppcc-themes tag exited {code}")

    return timed(tag)


def tokenize_seconds(texts: list[str], backend: str) -> float:
    """Wall seconds of the same tokenizer over the same texts, nothing else."""
    from features.tokenize import Tokenizer

    tokenizer = Tokenizer(backend=backend)
    return timed(lambda: [tokenizer.tokenize(text) for text in texts])


def tagging_backend(model: Path, tokenizer: str) -> str:
    """The backend ``cppcc-themes tag --tokenizer TOKENIZER`` really segments with."""
    from train.package import load_model

    return ",".join(sorted(set(load_model(model, tokenizer).tokenizer_backends.values())))


def run(workspace: Workspace, chars: int) -> dict[str, float]:
    """Print throughput per backend; return tagging chars/s per backend."""
    from features.tokenize import Tokenizer

    heading(f"1. tagging throughput on the 31 reports ({chars:,} characters), in process")
    texts = [p.read_text(encoding="utf-8") for p in sorted(workspace.corpus.glob("*.txt"))]
    rates: dict[str, float] = {}
    for backend in ("jieba", "rjieba"):
        Tokenizer(backend=backend)("预热")  # the dictionary load is benchmark 2's business
        model = workspace.model(backend)
        # --tokenizer forces the backend: by default a jieba model tags with rjieba.
        used = tagging_backend(model, backend)
        assert used == backend, f"{backend} model tagged with {used}"
        tag_s = tag_seconds(workspace.corpus, model, workspace.root / f"tags-{backend}.jsonl",
                            backend)
        tok_s = tokenize_seconds(texts, backend)
        rates[backend] = chars / tag_s
        ratio = (chars / tag_s) / (chars / tok_s)
        row(f"{backend} model, tag --tokenizer {backend}",
            f"{tag_s:6.2f} s  {chars / tag_s / 1000:8.0f} k chars/s  (segments with {used})")
        row(f"{backend}: tokenize only", f"{tok_s:6.2f} s  {chars / tok_s / 1000:8.0f} k chars/s")
        row(f"{backend}: tag / tokenize-only throughput",
            f"{ratio:.2f}  target >= {OVERHEAD_TARGET}  {verdict(ratio, OVERHEAD_TARGET)}")
    speedup = rates["rjieba"] / rates["jieba"]
    row("rjieba tag / jieba tag throughput",
        f"{speedup:.2f}x  target >= {RJIEBA_SPEEDUP_TARGET}x  "
        f"{verdict(speedup, RJIEBA_SPEEDUP_TARGET)}")
    # The default: a jieba model tags with rjieba where both give the same tokens.
    model = workspace.model("jieba")
    used = tagging_backend(model, "auto")
    auto_s = tag_seconds(workspace.corpus, model, workspace.root / "tags-auto.jsonl", "auto")
    same = (workspace.root / "tags-auto.jsonl").read_bytes() == \
        (workspace.root / "tags-jieba.jsonl").read_bytes()
    row("jieba model, default tag (--tokenizer auto)",
        f"{auto_s:6.2f} s  {chars / auto_s / 1000:8.0f} k chars/s  (segments with {used}; "
        f"output {'identical to' if same else 'DIFFERENT from'} --tokenizer jieba)")
    row("  vs the same model with --tokenizer jieba", f"{(chars / auto_s) / rates['jieba']:.2f}x"
                                                        " (for information)")
    return rates
