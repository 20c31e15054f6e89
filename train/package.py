"""A packaged model is a directory: ``model.joblib``, ``metadata.json`` and a model card.

Saving is atomic: the directory is written beside the target and swapped in (``train.swap``), so
a run killed at any instant leaves either the old model or the new one, never half of each nor
none; the next save or load cleans up after it. Loading checks what it can before unpickling
(``metadata.json`` against its schema, the file checksum), then that the unpickled object is a
pipeline giving one score per label, and says what is wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from cppcc_themes.train.predict import ThemeModel
from cppcc_themes.train.swap import new_staging_dir, recover_and_clean, swap_into_place

__all__ = ["FORMAT_VERSION", "ModelLoadError", "library_versions", "load_model", "save_model"]

# 2: vectorizers are features.vectorize.FastTfidfVectorizer, which older releases lack.
# 3: the pickle names the package's classes under cppcc_themes.* (they were top-level
#    features.*, train.* before the package became one namespace).
FORMAT_VERSION = 3
# Format 1 models (plain scikit-learn vectorizers) still load and tag, only more slowly.
READABLE_FORMAT_VERSIONS = (1, 2, 3)
# Modules whose classes and functions a format 1-2 pickle names by their old top-level names.
_LEGACY_MODULES = ("features", "features.normalize", "features.tokenize", "features.vectorize",
                   "features.embeddings", "train", "train.model")
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"
_TRACKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "jieba", "rjieba", "opencc")
# A different version of these can change what the unpickled pipeline computes.
_MUST_MATCH = ("scikit-learn",)
_MAX_METADATA_BYTES = 10_000_000


class ModelLoadError(RuntimeError):
    """A model directory cannot be used; the message names the directory and the problem."""


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries the pipeline depends on."""
    versions = {"python": platform.python_version()}
    for name in (*_TRACKED_LIBRARIES, "cppcc-themes"):
        version = _installed_version(name)
        if version is not None:
            versions[name] = version
    return versions


def _installed_version(name: str) -> str | None:
    """The installed version of one library (all of ``library_versions`` costs ~25 ms)."""
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _interval(values: Any) -> str:
    return f"{values[0]:.2f}–{values[1]:.2f}" if values else "–"


def _yardstick_section(meta: dict[str, Any]) -> str:
    """The nested and optimistic figures of issue 10's yardstick, per theme, with intervals."""
    yardstick = meta.get("yardstick")
    if not yardstick:
        return ""
    kinds = [(kind, title) for kind, title in (
        ("nested", "nested (search re-run in each outer fold): the honest figure"),
        ("shipped", f"this configuration ({yardstick.get('shipped_candidate', '')}), "
                    "as a fixed one"),
        ("optimistic", f"best of {yardstick.get('candidates', '?')} candidates "
                       "(optimistic)")) if kind in yardstick]
    lines = [f"Scored on text it never trained on, as two separate figures; ranked by the "
             f"{yardstick['criterion']}. Intervals: {yardstick['intervals']}.", "",
             "| figure | group | macro-F1 | 95 % interval | " + " | ".join(meta["labels"]) + " |",
             "|---|---|---|---|" + "---|" * len(meta["labels"])]
    for kind, title in kinds:
        for group in ("gold", "real-style"):
            figures = yardstick[kind].get(group)
            if not figures:
                continue
            per_theme = [figures["themes"][label] for label in meta["labels"]]
            themes = " | ".join(f"{theme['f1']:.2f} ({_interval(theme['interval'])})"
                                for theme in per_theme)
            lines.append(f"| {title} | {group} ({figures['groups']} "
                         f"{'reports' if group == 'gold' else 'pages'}, {figures['rows']} lines) "
                         f"| {figures['macro_f1']:.3f} | {_interval(figures['interval'])} | "
                         f"{themes} |")
    lines += ["", "real-style lines are written in the style of web pages, not found: they "
              "resemble what users tag but are easier than real pages. "
              + yardstick.get("outside_evaluation", "")]
    expected = yardstick.get("expected_outside")
    if expected:
        low, high = expected["range"]
        lines += ["", f"Expected on real web pages: macro-F1 about {expected['macro_f1']:.3f} "
                      f"({low:.3f}-{high:.3f}; {expected['how']})."]
    lines += ["", ""]
    return "\n".join(lines)


def _shares_note(meta: dict[str, Any]) -> str:
    """What ``profile --adjusted`` corrects shares with, when the model stores it."""
    if not meta.get("quantification"):
        return ""
    from cppcc_themes.train.quantify import error_rate_origin

    return (f"\nAdjusted shares (`cppcc-themes profile --adjusted`) correct for the model's "
            f"{error_rate_origin(meta)}.\n")


def _model_card(meta: dict[str, Any]) -> str:
    nan = float("nan")
    metrics = meta.get("metrics", {})
    rows = "\n".join(
        f"| {label} | {metrics.get(f'{label}_precision', float('nan')):.3f} | "
        f"{metrics.get(f'{label}_recall', float('nan')):.3f} | "
        f"{metrics.get(f'{label}_f1', float('nan')):.3f} | {meta['thresholds'][label]:.2f} |"
        for label in meta["labels"])
    data = meta.get("training_data", {})
    return f"""# cppcc-themes model: {meta.get('experiment', 'unnamed')}

Tags paragraphs of Chinese CPPCC work reports (政协工作报告) with the themes
{', '.join(f'`{label}`' for label in meta['labels'])} (none, one or several per paragraph).

- Created: {meta['created_at']}
- MLflow run: `{meta.get('mlflow_run_id') or 'not tracked'}`
- Training data: {data.get('paragraphs', '?')} paragraphs from sources {data.get('sources', [])},
  sha256 `{data.get('sha256', '?')}`
- Libraries: {', '.join(f'{k} {v}' for k, v in meta['library_versions'].items())}

## Evaluation
{_yardstick_section(meta)}{meta.get('evaluation', 'Not evaluated.')}

macro-F1 {metrics.get('macro_f1', nan):.3f}, micro-F1 {metrics.get('micro_f1', nan):.3f},
no-theme F1 {metrics.get('none_f1', nan):.3f}.

| theme | precision | recall | F1 | threshold |
|---|---|---|---|---|
{rows}
{_shares_note(meta)}
## Use
```python
from cppcc_themes import load_model
model = load_model("path/to/this/folder")
model.tag(["段落……"])
```
A packaged model is code when unpickled: load only models you trust. `load_model` refuses a
`model.joblib` whose sha256 differs from the one recorded in `metadata.json`.

## Limits
Trained and evaluated on few real reports; scores are estimates with wide uncertainty. The
model reads TF-IDF n-grams of jieba tokens: it knows the vocabulary of its training text,
not the meaning of new phrasing.
"""


def save_model(pipeline: Any, metadata: dict[str, Any], directory: str | Path) -> Path:
    """Write ``pipeline`` and its metadata to ``directory`` atomically; return the directory.

    ``metadata`` must hold ``labels`` and ``thresholds``; format version, library versions,
    creation time and the model file's sha256 are added here.
    """
    import joblib

    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_and_clean(target)
    staging = new_staging_dir(target)
    try:
        # Uncompressed: zlib made the default model's file 8.5 MB instead of 23 MB, but
        # inflating it took 0.15-0.4 s of every `cppcc-themes tag` start; numpy arrays now
        # load straight from the file. Any joblib reads both kinds.
        joblib.dump(pipeline, staging / MODEL_FILE, compress=0)
        meta = {
            "format_version": FORMAT_VERSION,
            **metadata,
            "library_versions": library_versions(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "model_sha256": _sha256(staging / MODEL_FILE),
        }
        (staging / METADATA_FILE).write_text(
            json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (staging / CARD_FILE).write_text(_model_card(meta), encoding="utf-8")
        for path in staging.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _maybe_number(value: Any) -> bool:
    return value is None or _is_number(value)


def _recalibration_map(value: Any) -> bool:
    if value is None:
        return True
    covariance = value.get("covariance") if isinstance(value, dict) else None
    return (_is_number(value.get("intercept")) and _is_number(value.get("slope"))
            and isinstance(covariance, list) and len(covariance) == 2
            and all(isinstance(row, list) and len(row) == 2 and all(map(_is_number, row))
                    for row in covariance))


# What ``profile --adjusted`` reads of ``quantification`` (train/quantify.py), key by key:
# each is optional (a version 1 entry has no rows or sources) but typed when present.
_QUANTIFICATION_KEYS: dict[str, Any] = {
    "version": _count,
    "rows": _count,
    "error_rates_from": lambda v: isinstance(v, str),
    "counts": lambda v: isinstance(v, dict) and all(
        isinstance(c, dict) and all(_count(c.get(k)) for k in ("tp", "fn", "fp", "tn"))
        for c in v.values()),
    "tpr": lambda v: isinstance(v, dict) and all(map(_maybe_number, v.values())),
    "fpr": lambda v: isinstance(v, dict) and all(map(_maybe_number, v.values())),
    "probabilities": lambda v: isinstance(v, dict) and all(
        isinstance(e, dict) and all(map(_maybe_number, e.values())) for e in v.values()),
    "recalibration": lambda v: isinstance(v, dict) and all(map(_recalibration_map, v.values())),
    "training_prior": lambda v: isinstance(v, dict) and all(
        _is_number(p) and 0 <= p <= 1 for p in v.values()),
    "sources": lambda v: isinstance(v, dict) and all(
        isinstance(e, dict) and _count(e.get("rows")) and _count(e.get("groups"))
        for e in v.values()),
}


def _quantification(value: Any) -> bool:
    return (isinstance(value, dict) and "counts" in value
            and all(check(value[key]) for key, check in _QUANTIFICATION_KEYS.items()
                    if key in value))


# The schema of metadata.json, key by key: (required, check, what the value must be). What
# loading and tagging read is required; the rest is checked when present.
METADATA_SCHEMA: dict[str, tuple[bool, Any, str]] = {
    "format_version": (True, lambda v: type(v) is int, "an integer"),
    "labels": (True, lambda v: isinstance(v, list) and v and len(set(v)) == len(v)
               and all(isinstance(label, str) and label for label in v),
               "a non-empty list of distinct theme names"),
    "thresholds": (True, lambda v: isinstance(v, dict)
                   and all(_is_number(t) and 0 <= t <= 1 for t in v.values()),
                   "an object of numbers between 0 and 1"),
    "model_sha256": (True, lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v),
                     "64 hexadecimal digits"),
    "library_versions": (True, _string_map, "an object of version strings"),
    "metrics": (False, lambda v: isinstance(v, dict)
                and all(m is None or _is_number(m) for m in v.values()),
                "an object of numbers"),
    "training_data": (False, lambda v: isinstance(v, dict), "an object"),
    "created_at": (False, lambda v: isinstance(v, str), "a string"),
    "experiment": (False, lambda v: isinstance(v, str), "a string"),
    "mlflow_run_id": (False, lambda v: v is None or isinstance(v, str), "a string or null"),
    "quantification": (False, _quantification,
                       "an object of out-of-fold error counts per theme (tp, fn, fp, tn), "
                       "with numeric rates, probabilities, recalibration maps and row counts"),
}


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def check_metadata(meta: Any, meta_path: Path) -> None:
    """Raise ModelLoadError naming the first key of ``meta`` that breaks ``METADATA_SCHEMA``."""
    if not isinstance(meta, dict):
        raise ModelLoadError(f"{meta_path}: must hold a JSON object, not {_json_type(meta)}")
    for key, (required, check, expected) in METADATA_SCHEMA.items():
        if key not in meta:
            if required:
                raise ModelLoadError(f"{meta_path}: key {key!r} is missing")
            continue
        if not check(meta[key]):
            raise ModelLoadError(f"{meta_path}: {key!r} must be {expected}, not "
                                 f"{json.dumps(meta[key], ensure_ascii=False)[:60]}")
    missing = [label for label in meta["labels"] if label not in meta["thresholds"]]
    if missing:
        raise ModelLoadError(f"{meta_path}: no threshold for {', '.join(map(repr, missing))}")


def read_metadata(directory: str | Path) -> dict[str, Any]:
    """Read and check ``metadata.json`` of a model directory without unpickling anything."""
    directory = Path(directory)
    recover_and_clean(directory)
    if not directory.is_dir():
        raise ModelLoadError(f"{directory}: no model directory here (train one with "
                             "`cppcc-themes train experiments/baseline.toml`)")
    meta_path = directory / METADATA_FILE
    try:
        with meta_path.open("rb") as handle:
            raw = handle.read(_MAX_METADATA_BYTES + 1)
    except FileNotFoundError:
        raise ModelLoadError(f"{directory}: {METADATA_FILE} is missing; not a packaged model") \
            from None
    except OSError as error:
        raise ModelLoadError(f"{meta_path}: cannot be read ({error.strerror or error})") from None
    if len(raw) > _MAX_METADATA_BYTES:
        raise ModelLoadError(f"{meta_path}: larger than {_MAX_METADATA_BYTES // 1_000_000} MB; "
                             "not a model's metadata")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ModelLoadError(f"{meta_path}: not valid JSON ({error})") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if type(version) is not int or version not in READABLE_FORMAT_VERSIONS:
        if not isinstance(meta, dict):
            check_metadata(meta, meta_path)
        readable = " and ".join(map(str, READABLE_FORMAT_VERSIONS))
        raise ModelLoadError(f"{directory}: model format version {version!r}, this cppcc-themes "
                             f"reads versions {readable}; retrain or use a matching release")
    check_metadata(meta, meta_path)
    for library in _MUST_MATCH:
        trained, here = meta["library_versions"].get(library), _installed_version(library)
        if trained and here and trained.split(".")[:2] != here.split(".")[:2]:
            raise ModelLoadError(f"{directory}: trained with {library} {trained}, this environment "
                                 f"has {here}; retrain the model or install {library}=={trained}")
    return meta


@contextlib.contextmanager
def _legacy_module_names(format_version: int) -> Iterator[None]:
    """Let a format 1-2 pickle find ``features.vectorize`` etc. under ``cppcc_themes``."""
    if format_version >= 3:
        yield
        return
    import importlib

    added = []
    for name in _LEGACY_MODULES:
        if name in sys.modules:
            continue
        try:
            sys.modules[name] = importlib.import_module(f"cppcc_themes.{name}")
        except ImportError:  # an optional part (embeddings) this environment lacks
            continue
        added.append(name)
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def load_model(directory: str | Path, tokenizer: str | None = None) -> ThemeModel:
    """Load a packaged model after checking format, library versions and file checksum.

    ``tokenizer`` picks the backend the model tags with (``auto``, ``model``, ``jieba``,
    ``rjieba``; default ``$CPPCC_THEMES_TOKENIZER``, else ``auto``): see
    ``features.tokenize.tagging_backend``. ``model.tokenizer_backends`` tells which it got.
    """
    import joblib

    from cppcc_themes.features.tokenize import TAGGING_CHOICES, TOKENIZER_ENV

    choice = tokenizer or os.environ.get(TOKENIZER_ENV) or "auto"
    if choice not in TAGGING_CHOICES:
        raise ModelLoadError(f"unknown tokenizer {choice!r} (from --tokenizer or "
                             f"{TOKENIZER_ENV}); choose from {', '.join(TAGGING_CHOICES)}")
    directory = Path(directory)
    meta = read_metadata(directory)
    model_path = directory / MODEL_FILE
    if not model_path.is_file():
        raise ModelLoadError(f"{directory}: {MODEL_FILE} is missing")
    try:
        digest = _sha256(model_path)
    except OSError as error:
        raise ModelLoadError(f"{model_path}: cannot be read ({error.strerror or error})") \
            from None
    if digest != meta["model_sha256"]:
        raise ModelLoadError(f"{model_path}: sha256 differs from metadata.json; the file was "
                             "changed or corrupted, refusing to unpickle it")
    try:
        with _legacy_module_names(meta["format_version"]):
            pipeline = joblib.load(model_path)
    except Exception as error:  # joblib raises many types for a damaged file
        raise ModelLoadError(f"{model_path}: cannot be loaded "
                             f"({type(error).__name__}: {error})") from None
    _check_pipeline(pipeline, meta, model_path)
    from cppcc_themes.features.vectorize import set_tagging_tokenizers

    set_tagging_tokenizers(pipeline, choice)
    return ThemeModel(pipeline, meta)


def _output_count(pipeline: Any) -> int | None:
    """How many themes the fitted pipeline scores, when its final step says so."""
    steps = getattr(pipeline, "steps", None)
    final = steps[-1][1] if steps else pipeline
    count = getattr(final, "n_labels_", None)
    if isinstance(count, int):
        return count
    estimators = getattr(getattr(final, "classifier_", final), "estimators_", None)
    return len(estimators) if isinstance(estimators, list) else None


def _check_pipeline(pipeline: Any, meta: dict[str, Any], model_path: Path) -> None:
    """Refuse an unpickled object that cannot tag with the metadata's labels, so that the
    model is blamed, not the first input file."""
    if not callable(getattr(pipeline, "predict_proba", None)):
        raise ModelLoadError(f"{model_path}: holds a {type(pipeline).__name__}, not a fitted "
                             "pipeline with predict_proba")
    count = _output_count(pipeline)
    if count is not None and count != len(meta["labels"]):
        raise ModelLoadError(f"{model_path}: the pipeline scores {count} themes but "
                             f"{METADATA_FILE} lists {len(meta['labels'])}")
