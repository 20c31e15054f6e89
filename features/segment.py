"""Segmentation of a cleaned report into paragraphs, each with the heading it sits under."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cppcc_themes.features.clean import clean_text, split_lines
from cppcc_themes.features.normalize import normalize_text

__all__ = ["Paragraph", "cut_overlong", "heading_level", "segment_report", "split_paragraphs",
           "strip_heading_markers"]

# Heading markers, outermost first. The level orders nesting: a new heading closes every
# heading of the same or a deeper level.
_HEADING_MARKERS: list[tuple[int, re.Pattern[str]]] = [
    (1, re.compile(r"^第[一二三四五六七八九十]+[部分章节]")),
    (1, re.compile(r"^[一二三四五六七八九十]+[、.．]")),
    (2, re.compile(r"^[(（][一二三四五六七八九十]+[)）]")),
    (3, re.compile(r"^\d{1,2}(?:[.、．]\s*|(?=[\u4e00-\u9fff]))(?![年月日号%万亿个项件次])")),
    (4, re.compile(r"^[(（]\d{1,2}[)）]")),
    (5, re.compile(r"^[●■◆▲○•]")),
    (5, re.compile(r"^[一二三四五六七八九十]是")),
]
_MAX_HEADING_CHARS = 60
# Inside a long line, white space between two Han characters (or after a full stop) marks a
# paragraph break that HTML flattening left behind; Chinese prose puts no spaces between words.
_PARAGRAPH_GAP = re.compile(
    r"(?<=[\u4e00-\u9fff。！？!?:：;；”」])[ \t\u3000]+(?=[\u4e00-\u9fff“「(（●])")
_LONG_LINE = 150
# Longer than any real paragraph: a report whose line breaks were lost. It is cut at sentence
# ends so that no single "paragraph" holds a whole report.
_MAX_PARAGRAPH_CHARS = 3000
_SENTENCE = re.compile(r"[^。！？!?]*(?:[。！？!?]+[”’\"」』)）]*|$)")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a report: its text as given, position and enclosing heading."""

    index: int
    text: str
    heading: str | None
    is_heading: bool


def heading_level(line: str) -> int | None:
    """Return the nesting level of a heading line, or None for a body paragraph.

    A heading is short and announces a section; a bullet such as ``一是…。`` followed by
    sentences of content is a body paragraph even though it starts with a marker.
    """
    if len(line) > 3 * _MAX_HEADING_CHARS:  # normalising never shrinks a line this much
        return None
    text = normalize_text(line)
    if len(text) > _MAX_HEADING_CHARS:
        return None
    body = text.rstrip("。.;；")
    if "。" in body:
        return None
    for level, marker in _HEADING_MARKERS:
        if marker.match(text):
            return level
    return None


def strip_heading_markers(headings: Any) -> list[str]:
    """Headings without their enumerator ("(四)加强自身建设" -> "加强自身建设"): a section's
    number says where it stands in one report, not what it is about."""
    stripped = []
    for heading in headings:
        text = "" if heading is None else str(heading).strip()
        for _, marker in _HEADING_MARKERS:
            match = marker.match(text)
            if match:
                text = text[match.end():]
                break
        stripped.append(text)
    return stripped


def cut_overlong(paragraph: str, limit: int = _MAX_PARAGRAPH_CHARS) -> list[str]:
    """Cut a paragraph longer than ``limit`` at sentence ends into pieces of at most ``limit``.

    A sentence longer than ``limit`` is cut hard. One pass over the text: linear time.
    """
    if len(paragraph) <= limit:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for match in _SENTENCE.finditer(paragraph):
        sentence = match.group()
        if not sentence:
            continue
        if current and len(current) + len(sentence) > limit:
            pieces.append(current)
            current = ""
        while len(sentence) > limit:
            pieces.append(sentence[:limit])
            sentence = sentence[limit:]
        current += sentence
    if current:
        pieces.append(current)
    return pieces


def split_paragraphs(text: str) -> list[str]:
    """Split cleaned text into paragraph strings: one per line, long lines cut at gaps."""
    paragraphs: list[str] = []
    for line in split_lines(text):
        parts = _PARAGRAPH_GAP.split(line) if len(line) >= _LONG_LINE else [line]
        for part in parts:
            if part.strip():
                paragraphs.extend(cut_overlong(part.strip()))
    return paragraphs


def segment_report(raw_text: str) -> list[Paragraph]:
    """Clean a raw report and return its paragraphs with their innermost enclosing heading."""
    open_headings: dict[int, str] = {}
    paragraphs: list[Paragraph] = []
    for index, text in enumerate(split_paragraphs(clean_text(raw_text))):
        level = heading_level(text)
        if level is not None:
            for deeper in [lv for lv in open_headings if lv >= level]:
                del open_headings[deeper]
        enclosing = open_headings[max(open_headings)] if open_headings else None
        paragraphs.append(Paragraph(index, text, enclosing, level is not None))
        if level is not None:
            open_headings[level] = text
    return paragraphs
