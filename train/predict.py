"""Applying a packaged model: paragraphs in, themes and scores out.

This is the tagging path: it imports neither mlflow nor datasets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from features.readers import read_report
from features.segment import segment_report

__all__ = ["Report", "TaggedParagraph", "ThemeModel", "tag_report"]


@dataclass
class TaggedParagraph:
    """A paragraph with the themes the model gave it and its score per theme."""

    report: str
    id: str
    index: int
    heading: str | None
    text: str
    themes: list[str]
    scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """A tagged report: its paragraphs and its theme profile."""

    name: str
    paragraphs: list[TaggedParagraph] = field(default_factory=list)

    @property
    def profile(self) -> dict[str, dict[str, float]]:
        """Share of paragraphs and of characters per theme, plus ``none``."""
        themes = list(self.paragraphs[0].scores) if self.paragraphs else []
        total_paragraphs = len(self.paragraphs) or 1
        total_chars = sum(len(p.text) for p in self.paragraphs) or 1
        profile = {}
        for theme in [*themes, "none"]:
            members = [p for p in self.paragraphs
                       if (theme in p.themes if theme != "none" else not p.themes)]
            profile[theme] = {
                "paragraphs": len(members),
                "paragraph_share": len(members) / total_paragraphs,
                "char_share": sum(len(p.text) for p in members) / total_chars,
            }
        return profile


class ThemeModel:
    """A fitted pipeline with its label list, thresholds and metadata."""

    def __init__(self, pipeline: Any, metadata: dict[str, Any]):
        self.pipeline = pipeline
        self.metadata = metadata
        self.labels: list[str] = list(metadata["labels"])
        self.thresholds = np.asarray([metadata["thresholds"][label] for label in self.labels])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability per theme for each paragraph text."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        return self.pipeline.predict_proba(list(texts))

    def tag(self, texts: Sequence[str], *, report: str = "", ids: Sequence[str] | None = None,
            headings: Sequence[str | None] | None = None) -> list[TaggedParagraph]:
        """Tag paragraph texts; ``ids`` and ``headings`` are carried through when given."""
        texts = list(texts)
        probabilities = self.predict_proba(texts)
        tagged = []
        for index, (text, row) in enumerate(zip(texts, probabilities, strict=True)):
            themes = [label for label, p, t in zip(self.labels, row, self.thresholds, strict=True)
                      if p >= t]
            tagged.append(TaggedParagraph(
                report=report,
                id=str(ids[index]) if ids is not None else f"{report}#{index}",
                index=index,
                heading=headings[index] if headings is not None else None,
                text=text,
                themes=themes,
                scores={label: round(float(p), 4) for label, p in zip(self.labels, row,
                                                                       strict=True)},
            ))
        return tagged


def tag_text(model: ThemeModel, raw_text: str, name: str) -> Report:
    """Segment raw report text and tag every paragraph."""
    paragraphs = segment_report(raw_text)
    tagged = model.tag([p.text for p in paragraphs], report=name,
                       headings=[p.heading for p in paragraphs])
    for paragraph, source in zip(tagged, paragraphs, strict=True):
        paragraph.index = source.index
    return Report(name=name, paragraphs=tagged)


def tag_report(model: ThemeModel, path: str | Path) -> Report:
    """Read, clean, segment and tag one report file."""
    path = Path(path)
    return tag_text(model, read_report(path), path.stem)


def tag_records(model: ThemeModel, records: Iterable[dict[str, Any]], name: str) -> Report:
    """Tag ready paragraphs, one per ``{"id", "text"}`` record, keeping their ids."""
    records = list(records)
    tagged = model.tag([r["text"] for r in records], report=name,
                       ids=[str(r.get("id", i)) for i, r in enumerate(records)])
    return Report(name=name, paragraphs=tagged)
