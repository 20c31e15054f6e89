"""Labelled paragraphs: one loader for every source, and a content hash for provenance."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cppcc_themes.train.themes import default_labels_dir, theme_ids

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "SOURCE_FOLDERS",
    "DataError",
    "dataset_hash",
    "label_counts",
    "label_names",
    "label_matrix",
    "load_paragraphs",
    "read_jsonl_records",
]

# A source name maps to the folder of labels/ whose *.jsonl files hold it.
SOURCE_FOLDERS = {"gold": "gold", "authored": "authored", "silver-gov": "silver",
                  "real-style": "real-style", "web-style": "web-style"}
REQUIRED_KEYS = ("report_id", "source", "text", "labels")


class DataError(ValueError):
    """A labelled file is malformed; the message names the file and line."""


def read_jsonl_records(path: Path) -> list[dict[str, Any]]:
    """Read a JSON Lines file, naming file and line in any error."""
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{number}: not JSON ({error.msg})") from None
            missing = [key for key in REQUIRED_KEYS if key not in record]
            if missing:
                raise DataError(f"{path}:{number}: missing keys {missing}")
            records.append(record)
    return records


def _source_files(source: str, labels_dir: Path) -> tuple[str, list[Path]]:
    if source in SOURCE_FOLDERS:
        folder = labels_dir / SOURCE_FOLDERS[source]
        files = sorted(p for p in folder.glob("*.jsonl")
                       if not p.name.endswith(".unlabelled.jsonl"))
        return source, files
    path = Path(source).expanduser()
    if path.suffix == ".jsonl":
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        return "", [path]
    if path.is_dir():
        files = sorted(p for p in path.glob("*.jsonl")
                       if not p.name.endswith(".unlabelled.jsonl"))
        if not files:
            raise DataError(f"{path}: no .jsonl files in this folder")
        return "", files
    raise DataError(f"unknown data source {source!r}: "
                    f"use {sorted(SOURCE_FOLDERS)}, a .jsonl file or a folder of them")


def _validate(record: dict[str, Any], where: str, known: set[str]) -> None:
    if not isinstance(record["text"], str) or not record["text"].strip():
        raise DataError(f"{where}: empty text")
    if not isinstance(record["labels"], list):
        raise DataError(f"{where}: labels must be a list (empty for no theme)")
    unknown = set(record["labels"]) - known
    if unknown:
        raise DataError(f"{where}: unknown theme ids {sorted(unknown)}")


def _heading(record: dict[str, Any], where: str) -> str:
    heading = record.get("heading")
    if heading is None:
        return ""
    if not isinstance(heading, str):
        raise DataError(f"{where}: heading must be a string or null")
    return heading


def load_paragraphs(sources: Sequence[str] = ("gold",), labels_dir: Path | None = None) -> Dataset:
    """Load labelled paragraphs from the named sources into one ``datasets.Dataset``.

    Columns: ``report_id``, ``source``, ``text``, ``heading`` (the heading the paragraph sits
    under, ``""`` when the record has none) and ``labels`` (``Sequence(ClassLabel)`` over the
    theme ids of ``themes.toml``). A source is a name from ``SOURCE_FOLDERS``, a path to a
    ``.jsonl`` file of the same schema (e.g. the output of ``cppcc-themes label``) or a folder
    of such files; the ``source`` column then comes from each record.
    """
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    labels_dir = labels_dir or default_labels_dir()
    names = theme_ids(labels_dir)
    known = set(names)
    rows: dict[str, list[Any]] = {"report_id": [], "source": [], "text": [], "heading": [],
                                  "labels": []}
    for source in sources:
        expected, files = _source_files(source, labels_dir)
        for path in files:
            for number, record in enumerate(read_jsonl_records(path), 1):
                if expected and record["source"] != expected:
                    continue
                _validate(record, f"{path}:{number}", known)
                rows["report_id"].append(str(record["report_id"]))
                rows["source"].append(str(record["source"]))
                rows["text"].append(record["text"])
                rows["heading"].append(_heading(record, f"{path}:{number}"))
                rows["labels"].append([names.index(label) for label in record["labels"]])
    features = Features({
        "report_id": Value("string"),
        "source": Value("string"),
        "text": Value("string"),
        "heading": Value("string"),
        "labels": Sequence(ClassLabel(names=names)),
    })
    return Dataset.from_dict(rows, features=features)


def label_names(dataset: Dataset) -> list[str]:
    """Theme ids of a dataset's label column, in column order."""
    return list(dataset.features["labels"].feature.names)


def label_matrix(label_lists: Iterable[Sequence[int]], n_labels: int) -> np.ndarray:
    """Multi-label indicator matrix (rows: paragraphs, columns: themes)."""
    label_lists = list(label_lists)
    matrix = np.zeros((len(label_lists), n_labels), dtype=int)
    for row, labels in enumerate(label_lists):
        matrix[row, list(labels)] = 1
    return matrix


def dataset_hash(dataset: Dataset) -> str:
    """sha256 of the dataset's content, independent of row order and of file layout."""
    names = label_names(dataset)
    # A heading is model input too; rows without one hash as they did before headings.
    headings = dataset["heading"][:] if "heading" in dataset.column_names \
        else [""] * len(dataset)
    lines = sorted(
        json.dumps([source, report, text, sorted(names[i] for i in labels)]
                   + ([heading] if heading else []), ensure_ascii=False)
        for source, report, text, heading, labels in zip(
            dataset["source"][:], dataset["report_id"][:], dataset["text"][:], headings,
            dataset["labels"][:],
            strict=True)
    )
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


def label_counts(dataset: Dataset) -> dict[str, dict[str, int]]:
    """Paragraph counts per source and theme (``none`` for no theme)."""
    names = label_names(dataset)
    counts: dict[str, Counter] = {}
    for source, labels in zip(dataset["source"][:], dataset["labels"][:], strict=True):
        counter = counts.setdefault(source, Counter())
        counter["paragraphs"] += 1
        for theme in [names[i] for i in labels] or ["none"]:
            counter[theme] += 1
    return {source: dict(counter) for source, counter in sorted(counts.items())}
