"""What the benchmarks share: inputs from the repo, small models, timing and reporting."""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = ROOT / "labels" / "corpus" / "gov-work-reports-2026"
SEED = ROOT / "labels" / "reports" / "seed-000.txt"
BIN = Path(sys.executable).parent


@dataclass
class Workspace:
    """The temp folder of one benchmark run: corpus as .txt files, models, cache folder."""

    root: Path

    @property
    def corpus(self) -> Path:
        return self.root / "reports"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def model(self, backend: str) -> Path:
        return self.root / f"model-{backend}"


def write_corpus(folder: Path) -> int:
    """Write the 31 government work reports as UTF-8 .txt files; return their characters."""
    csv.field_size_limit(sys.maxsize)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for source in sorted(CORPUS_DIR.glob("*.csv")):
        with source.open(encoding="utf-8-sig", newline="") as handle:
            text = "\n\n".join(row["full_text"] for row in csv.DictReader(handle))
        (folder / f"{source.stem}.txt").write_text(text, encoding="utf-8")
        total += len(text)
    return total


def corpus_chars(folder: Path) -> int:
    """Characters of every .txt file under ``folder``."""
    return sum(len(p.read_text(encoding="utf-8")) for p in folder.rglob("*.txt"))


def train_model(backend: str, directory: Path) -> Path:
    """Fit the word-level pipeline (jieba uni+bigrams, logistic regression) that segments
    with ``backend`` on gold+authored labels and package it."""
    return _fit_and_package({"tokenizer": backend}, None, f"bench-{backend}", directory)


def train_default_model(directory: Path) -> Path:
    """Fit the default experiment's pipeline (experiments/baseline.toml: jieba words and
    character 2-3-grams, calibrated linear SVM) on its data and package it, without MLflow."""
    from cppcc_themes.experiments.config import load_config

    config = load_config(ROOT / "experiments" / "baseline.toml")
    return _fit_and_package(config.features, config.model, "bench-default", directory,
                            config.sources)


def _fit_and_package(features: dict, model: dict | None, name: str, directory: Path,
                     sources: list[str] | None = None) -> Path:
    from cppcc_themes.train.data import label_matrix, label_names, load_paragraphs
    from cppcc_themes.train.model import build_pipeline
    from cppcc_themes.train.package import save_model

    dataset = load_paragraphs(sources or ["gold", "authored"])
    labels = label_names(dataset)
    pipeline = build_pipeline(features, model).fit(
        dataset["text"][:], label_matrix(dataset["labels"][:], len(labels)))
    save_model(pipeline, {"experiment": name, "labels": labels,
                          "thresholds": dict.fromkeys(labels, 0.5)}, directory)
    return directory


def describe_model(directory: Path, tokenizer: str = "auto") -> tuple[str, str]:
    """What a packaged model reads and scores with, e.g. "word 1-2 + char 2-3-grams,
    CalibratedClassifierCV(LinearSVC)", and what ``tag --tokenizer TOKENIZER`` segments with
    ("rjieba", or "no segmenter"): read from the model, so labels follow the default."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from cppcc_themes.train.package import load_model

    model = load_model(directory, tokenizer)
    blocks = [value for value in model.pipeline.get_params(deep=True).values()
              if isinstance(value, TfidfVectorizer)]
    features = " + ".join(f"{'char' if block.analyzer == 'char' else 'word'} "
                          f"{block.ngram_range[0]}-{block.ngram_range[1]}" for block in blocks)
    classifier = model.pipeline.steps[-1][1]
    classifier = getattr(classifier, "estimator", None) or classifier
    backends = sorted(set(model.tokenizer_backends.values()))
    return (f"{features}-grams, {_estimator_name(classifier)}",
            ",".join(backends) or "no segmenter")


def _estimator_name(estimator: object) -> str:
    inner = getattr(estimator, "estimator", None)
    name = type(estimator).__name__
    return f"{name}({_estimator_name(inner)})" if inner is not None else name


def byte_compile_project() -> None:
    """Byte-compile the project's modules, as installing a package does for it and as the
    environment did for jieba and scikit-learn: under PYTHONDONTWRITEBYTECODE (set in some
    shells and CI) every fresh process of a checkout compiled ~20 modules again, ~0.1 s of a
    cold start that no installed copy pays."""
    import compileall

    for folder in ("features", "train", "experiments"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    compileall.compile_file(ROOT / "__init__.py", quiet=1)


def timed(function: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


@dataclass
class ProcessRun:
    """Wall time, peak resident memory and output of one child process."""

    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


_MEASURE = """
import os, resource, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - start
print(f"{seconds} {usage.ru_maxrss / 1024} {os.waitstatus_to_exitcode(status)}", file=sys.stderr)
"""


def measure_process(command: Sequence[str], env: dict[str, str] | None = None) -> ProcessRun:
    """Run ``command`` with stdout discarded; wall time and peak RSS of that process alone."""
    run = subprocess.run([sys.executable, "-c", _MEASURE, *command], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    *errors, last = run.stderr.strip().splitlines() or [""]
    seconds, rss, code = last.split()
    return ProcessRun(float(seconds), float(rss), int(code), "", "\n".join(errors))


def median_seconds(command: Sequence[str], repeat: int, env: dict[str, str]) -> float:
    """Median wall time of ``repeat`` runs of ``command``; any failure stops the benchmark."""
    times = []
    for _ in range(repeat):
        run = measure_process(command, env)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{run.stderr}")
        times.append(run.seconds)
    return statistics.median(times)


def child_env(cache: Path, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's child process: our cache folder, no network."""
    env = {**os.environ, "CPPCC_THEMES_CACHE": str(cache), "PYTHONPATH": str(ROOT),
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
           "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    env.update(extra)
    return env


def verdict(ratio: float, target: float, higher_is_better: bool = True) -> str:
    """PASS or FAIL of ``ratio`` against ``target``."""
    ok = ratio >= target if higher_is_better else ratio <= target
    return "PASS" if ok else "FAIL"


def heading(title: str) -> None:
    print(f"\n== {title}", flush=True)


def row(label: str, value: str) -> None:
    print(f"  {label:<46} {value}", flush=True)
