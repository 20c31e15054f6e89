"""Silver labels for corpora on disk, and their quality against the gold seeds.

The labelling itself is ``train.weak`` (pure functions); this module reads report files, writes
JSON Lines and scores the labeller. It imports neither mlflow nor datasets.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cppcc_themes.features.corpus import CORPUS_SUFFIXES, iter_corpus_paths, read_csv_reports
from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.readers import ReadError, read_report
from cppcc_themes.features.readers import read_jsonl_records as read_paragraph_records
from cppcc_themes.features.segment import segment_report
from cppcc_themes.train.data import SOURCE_FOLDERS, read_jsonl_records
from cppcc_themes.train.weak import (
    NO_THEME,
    Lexicon,
    ParagraphContext,
    build_contexts,
    build_lexicon,
    combine_votes,
    lf_names,
    lf_statistics,
    vote_all,
)

__all__ = [
    "CORPUS_SUFFIXES",
    "SilverRun",
    "evaluate_on_gold",
    "iter_corpus_paths",
    "known_texts",
    "label_corpus",
    "read_contexts",
    "write_jsonl_atomic",
]

# Rules in which a heading (the paragraph's own, its bullet title or its section's) took part.
_STRUCTURAL_RULES = ("heading_self", "bullet_title", "bullet_title+cues", "heading",
                     "heading+cues")


@dataclass
class SilverRun:
    """The outcome of labelling a corpus: records kept, abstentions, LF votes, failures."""

    records: list[dict[str, Any]]
    unlabelled: list[dict[str, Any]]
    votes: list[dict[str, frozenset[str] | None]]
    failures: list[str]
    files: int


def _jsonl_contexts(path: Path) -> list[ParagraphContext]:
    """Ready paragraphs, one ``{"text": ..., "heading": ..., "report_id": ...}`` per line."""
    contexts = []
    for number, record in enumerate(read_paragraph_records(path), 1):
        heading = record.get("heading")
        contexts.append(ParagraphContext(
            str(record.get("report_id", path.stem)), int(record.get("index", number - 1)),
            record["text"], (heading,) if heading else (), bool(record.get("is_heading"))))
    return contexts


def read_contexts(path: Path) -> list[ParagraphContext]:
    """Paragraphs of one report file (or of every row of a CSV corpus) with their headings."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl_contexts(path)
    reports = read_csv_reports(path) if suffix in CORPUS_SUFFIXES else [(path.stem,
                                                                     read_report(path))]
    contexts = []
    for report_id, text in reports:
        if not text.strip():
            raise ReadError(f"{path}: report {report_id} has no text")
        contexts.extend(build_contexts(report_id, [p.text for p in segment_report(text)]))
    return contexts


def known_texts(labels_dir: Path, sources: Iterable[str]) -> set[str]:
    """Normalised paragraph texts already in the named label sources."""
    texts = set()
    for source in sources:
        for path in sorted((labels_dir / SOURCE_FOLDERS[source]).glob("*.jsonl")):
            texts.update(normalize_text(r["text"]) for r in read_jsonl_records(path))
    return texts


def _record(ctx: ParagraphContext, themes: Sequence[str] | None, rule: str,
            source: str) -> dict[str, Any]:
    return {"report_id": ctx.report_id, "source": source, "index": ctx.index,
            "heading": ctx.heading, "is_heading": ctx.is_heading, "text": ctx.text,
            "labels": list(themes) if themes is not None else None, "rule": rule}


def label_corpus(paths: Sequence[str | Path], lexicon: Lexicon, source: str = "silver",
                 require_heading: bool = False, exclude: set[str] | None = None) -> SilverRun:
    """Silver-label every report under ``paths``; a bad file is recorded and skipped.

    ``require_heading`` keeps only paragraphs whose label a heading took part in and that got
    at least one theme. Paragraphs whose normalised text is in ``exclude`` or was seen before
    are dropped, so no text appears twice.
    """
    seen = set(exclude or ())
    run = SilverRun([], [], [], [], 0)
    for raw in paths:
        try:
            files = list(iter_corpus_paths(Path(raw)))
        except ReadError as error:
            run.failures.append(str(error))
            continue
        for path in files:
            try:
                contexts = read_contexts(path)
            except (ReadError, OSError, UnicodeDecodeError, csv.Error) as error:
                message = str(error)
                run.failures.append(message if str(path) in message else f"{path}: {message}")
                continue
            run.files += 1
            for ctx in contexts:
                key = normalize_text(ctx.text)
                if not key or key in seen:
                    continue
                seen.add(key)
                votes = vote_all(ctx, lexicon)
                run.votes.append(votes)
                label = combine_votes(ctx, votes, lexicon)
                keep = not label.abstained and (
                    not require_heading or (label.rule in _STRUCTURAL_RULES and label.themes))
                target = run.records if keep else run.unlabelled
                target.append(_record(ctx, label.themes, label.rule, source))
    return run


def write_jsonl_atomic(records: Iterable[dict[str, Any]], path: Path) -> None:
    """Write JSON Lines so that an interrupted run leaves any old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            for record in records:
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def evaluate_on_gold(labels_dir: Path) -> dict[str, Any]:
    """Per-theme precision and recall of the silver labeller on the gold seed paragraphs.

    The seed reports (``labels/reports/<report_id>.txt``) are segmented and labelled as any
    user's corpus would be, then aligned with ``labels/gold/*.jsonl`` by report id and index.
    An abstention counts as no prediction: it lowers recall and coverage, not precision.
    ``none`` is the no-theme class (an empty label set).
    """
    lexicon = build_lexicon(labels_dir)
    gold: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((labels_dir / SOURCE_FOLDERS["gold"]).glob("*.jsonl")):
        for record in read_jsonl_records(path):
            gold.setdefault(str(record["report_id"]), []).append(record)
    classes = [*lexicon.themes, NO_THEME]
    tally = {name: Counter() for name in classes}
    covered = total = 0
    all_votes, skipped = [], []
    for report_id, records in sorted(gold.items()):
        report_path = labels_dir / "reports" / f"{report_id}.txt"
        if not report_path.is_file():
            # Gold added without its report text cannot be re-segmented; say so, go on.
            skipped.append(report_id)
            continue
        texts = [p.text for p in segment_report(read_report(report_path))]
        contexts = build_contexts(report_id, texts)
        for record in records:
            ctx = contexts[int(record["index"])]
            if ctx.text != record["text"]:
                raise ValueError(f"{report_id}#{record['index']}: gold text differs from the "
                                 "segmented report; re-align labels/gold before evaluating")
            votes = vote_all(ctx, lexicon)
            all_votes.append(votes)
            label = combine_votes(ctx, votes, lexicon)
            total += 1
            truth = set(record["labels"]) or {NO_THEME}
            if label.abstained:
                for name in truth:
                    tally[name]["fn"] += 1
                continue
            covered += 1
            predicted = set(label.themes) or {NO_THEME}
            for name in classes:
                if name in predicted and name in truth:
                    tally[name]["tp"] += 1
                elif name in predicted:
                    tally[name]["fp"] += 1
                elif name in truth:
                    tally[name]["fn"] += 1
    per_class = {}
    for name, counts in tally.items():
        tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
        per_class[name] = {"precision": tp / (tp + fp) if tp + fp else 0.0,
                           "recall": tp / (tp + fn) if tp + fn else 0.0,
                           "support": tp + fn, "predicted": tp + fp}
    return {"paragraphs": total, "covered": covered, "coverage": covered / max(total, 1),
            "per_class": per_class, "skipped_reports": skipped,
            "lf_statistics": lf_statistics(all_votes, lf_names(lexicon))}
