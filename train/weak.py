"""Weak supervision: labelling functions over report structure and cue lexicons, combined into
silver labels.

Every function here is pure: paragraphs (with the headings they sit under) in, votes and labels
out. A labelling function (LF) either abstains (``None``) or votes a set of theme ids; the empty
set is a vote for *no theme*. The lexicon comes from ``labels/themes.toml``.

Labelling functions:

- ``heading_self``: a heading line is labelled by what it announces (its ``heading_cues``).
- ``bullet_title``: a bullet's title (``一是…。``, ``●…。``, ``(一)…。``) announces its subject.
- ``heading_section``: the innermost enclosing heading that maps onto a theme passes it down.
- ``cues:<theme>``: enough distinct cues of one theme in the paragraph (see ``cue_votes``).
- ``none_formality``: greetings, titles, bylines, dates, news leads, thanks, exhortations.
- ``none_preamble``: year-in-review preambles (``过去的一年…``, ``2023年是…``).
- ``none_topic``: rule-of-law, safety or stability cues outnumber every theme's cues.
- ``none_all_areas``: cues of four or more themes and no theme standing out.
- ``none_heading``: the enclosing heading announces a topic outside the five (stability, safety).

``combine_votes`` documents the rule that turns votes into one silver label.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cppcc_themes.features.clean import is_residue_line
from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.segment import heading_level
from cppcc_themes.train.themes import (
    load_no_theme_cues,
    load_no_theme_heading_cues,
    load_structural_heading_cues,
    load_themes,
)

__all__ = [
    "ABSTAIN_RULE",
    "Lexicon",
    "ParagraphContext",
    "SilverLabel",
    "build_contexts",
    "build_lexicon",
    "combine_votes",
    "count_cues",
    "label_contexts",
    "lf_statistics",
    "vote_all",
]

ABSTAIN_RULE = "abstain"
NO_THEME = "none"
# Three themes or more in one paragraph are almost never right (GUIDELINES §5).
_MAX_THEMES = 2
# A cue theme counts when it has this many distinct cues, or one cue in a short paragraph.
_MIN_DISTINCT_CUES = 2
_SHORT_PARAGRAPH = 60
# An all-areas summary touches at least this many themes with no theme standing out.
_ALL_AREAS_THEMES = 4
# features.segment gives bullet markers (●, 一是) this heading level.
_BULLET_LEVEL = 5

_BULLET_TITLE = re.compile(
    r"^(?:[一二三四五六七八九十]+是|[●■◆▲○•]|[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[.、．]|"
    r"[一二三四五六七八九十]+、)\s*([^。;；!！?？]{4,40})[。;；!！?？]")
_FORMALITY = re.compile(
    r"^(各位委员|各位代表|同志们|各位同志)[,，、:：!！]|请予审议|向大会报告工作|向大会作.{0,12}报告|"
    r"讲[一二三四五两几]点意见|表示(诚挚|衷心|诚心)的感谢|^本报记者|摄[)）]?$|"
    r"^(——|[(（])?.{0,12}\d{1,2}月\d{1,2}日在.{0,40}(会议|大会)上|在.{0,30}会议上.{0,20}(主席|书记)|"
    r"^(政协|中国人民政治协商会议).{0,30}(工作报告|讲话)|(工作报告|讲话)([(（]摘要[)）])?$|"
    r"^(上一篇|下一篇|来源|发布时间|责任编辑)|^\d{4}年$|^(工作回顾|工作部署|工作安排)$|"
    r"让我们更加紧密地团结在|会议.{0,20}(隆重)?开幕|胜利闭幕|分享到|打印本页|关闭窗口|返回顶部|"
    r"【字号|浏览次数|^(编辑|审核|校对)[:：]")
_PREAMBLE = re.compile(r"^(过去的一年|过去一年|刚刚过去的|\d{4}年(是|,|，)|近年来|"
                       r"这次会议的主要任务|本届政协的?[五5]年|[一五]年来,在)")


@dataclass(frozen=True)
class Lexicon:
    """Normalised cue lists per theme, read from ``themes.toml``."""

    themes: tuple[str, ...]
    cues: dict[str, tuple[str, ...]]
    heading_cues: dict[str, tuple[str, ...]]
    heading_blockers: dict[str, tuple[str, ...]]
    no_theme_heading_cues: tuple[str, ...]
    no_theme_cues: tuple[str, ...]
    structural_heading_cues: tuple[str, ...] = ()

    @property
    def all_cues(self) -> dict[str, tuple[str, ...]]:
        """Theme cues plus the no-theme topic cues under the key ``NO_THEME``."""
        return {**self.cues, NO_THEME: self.no_theme_cues}


@dataclass(frozen=True)
class ParagraphContext:
    """A paragraph with what the labelling functions read: its text and enclosing headings."""

    report_id: str
    index: int
    text: str
    headings: tuple[str, ...] = ()
    is_heading: bool = False

    @property
    def heading(self) -> str | None:
        """The innermost enclosing heading, as ``features.segment.Paragraph.heading``."""
        return self.headings[-1] if self.headings else None


@dataclass(frozen=True)
class SilverLabel:
    """The combined label of one paragraph: themes (empty = no theme) or an abstention."""

    themes: tuple[str, ...] | None
    rule: str
    votes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def abstained(self) -> bool:
        return self.themes is None


def build_lexicon(labels_dir: Path | None = None) -> Lexicon:
    """Read and normalise the cue lexicon of every theme."""
    themes = load_themes(labels_dir)

    def norm(items: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalize_text(item) for item in items))

    return Lexicon(
        themes=tuple(t.id for t in themes),
        cues={t.id: norm(t.cues) for t in themes},
        heading_cues={t.id: norm(t.heading_cues) for t in themes},
        heading_blockers={t.id: norm(t.heading_blockers) for t in themes},
        no_theme_heading_cues=norm(load_no_theme_heading_cues(labels_dir)),
        no_theme_cues=norm(load_no_theme_cues(labels_dir)),
        structural_heading_cues=norm(load_structural_heading_cues(labels_dir)),
    )


def build_contexts(report_id: str, texts: Sequence[str]) -> list[ParagraphContext]:
    """Give paragraphs in reading order their heading lines and enclosing headings.

    Uses the heading rules of ``features.segment``, so the result matches ``segment_report``
    while also keeping the outer headings that ``Paragraph.heading`` drops.
    """
    open_headings: dict[int, str] = {}
    contexts = []
    for index, text in enumerate(texts):
        level = heading_level(text)
        if level is not None:
            for deeper in [lv for lv in open_headings if lv >= level]:
                del open_headings[deeper]
        chain = tuple(open_headings[lv] for lv in sorted(open_headings))
        contexts.append(ParagraphContext(report_id, index, text, chain, level is not None))
        if level is not None:
            open_headings[level] = text
    return contexts


def count_cues(text: str, cues: dict[str, tuple[str, ...]]) -> dict[str, Counter]:
    """Count cue occurrences per theme in normalised text, longest cue first.

    A shorter cue inside a longer one is not counted again, so ``主题教育`` is ideology and not
    also the livelihood cue ``教育``.
    """
    found = []
    for theme, theme_cues in cues.items():
        for cue in theme_cues:
            found.extend((match.start(), match.start() + len(cue), theme, cue)
                         for match in re.finditer(re.escape(cue), text))
    found.sort(key=lambda hit: (-(hit[1] - hit[0]), hit[0]))
    taken = [False] * (len(text) + 1)
    counts: dict[str, Counter] = {theme: Counter() for theme in cues}
    for start, end, theme, cue in found:
        if any(taken[start:end]):
            continue
        taken[start:end] = [True] * (end - start)
        counts[theme][cue] += 1
    return counts


def map_heading(heading: str, lexicon: Lexicon) -> frozenset[str] | None:
    """Themes a heading announces (at most two), the empty set for a no-theme topic, or None."""
    text = normalize_text(heading)
    if any(cue in text for cue in lexicon.structural_heading_cues):
        return None
    themes = {theme for theme, cues in lexicon.heading_cues.items()
              if any(cue in text for cue in cues)
              and not any(block in text for block in lexicon.heading_blockers[theme])}
    no_theme = any(cue in text for cue in lexicon.no_theme_heading_cues)
    if no_theme:
        # A heading that names a theme and a no-theme topic at once is not clear: abstain.
        return None if themes else frozenset()
    if not themes or len(themes) > _MAX_THEMES:
        return None
    return frozenset(themes)


def heading_self(ctx: ParagraphContext, lexicon: Lexicon) -> frozenset[str] | None:
    """A heading line gets the themes it announces."""
    if not ctx.is_heading:
        return None
    themes = map_heading(ctx.text, lexicon)
    return themes or None


def bullet_title(ctx: ParagraphContext, lexicon: Lexicon) -> frozenset[str] | None:
    """A bullet's title sentence (``二是紧贴民生助推高质量发展。``) announces its subject."""
    if ctx.is_heading:
        return None
    match = _BULLET_TITLE.match(normalize_text(ctx.text))
    if not match:
        return None
    return map_heading(match.group(1), lexicon) or None


def _section_headings(ctx: ParagraphContext) -> list[str]:
    """Enclosing headings, innermost first, without bullet-level lines."""
    return [h for h in reversed(ctx.headings) if (heading_level(h) or 0) < _BULLET_LEVEL]


def heading_section(ctx: ParagraphContext, lexicon: Lexicon) -> frozenset[str] | None:
    """The innermost enclosing section heading that maps onto a theme passes its themes down.

    Bullet lines (``●…``, ``一是…``) that segmentation takes for headings are skipped: they
    head one bullet, not a section.
    """
    for heading in _section_headings(ctx):
        themes = map_heading(heading, lexicon)
        if themes is not None:
            # The innermost clear heading decides; a no-theme one passes nothing down.
            return themes or None
    return None


def none_heading(ctx: ParagraphContext, lexicon: Lexicon) -> frozenset[str] | None:
    """Under a heading about stability, safety or rule of law the codebook gives no theme."""
    for heading in _section_headings(ctx):
        themes = map_heading(heading, lexicon)
        if themes is not None:
            return frozenset() if not themes else None
    return None


def none_formality(ctx: ParagraphContext, lexicon: Lexicon) -> frozenset[str] | None:
    """Greetings, titles, bylines, dates, news leads, thanks and closing exhortations."""
    text = normalize_text(ctx.text)
    if _FORMALITY.search(text) or is_residue_line(ctx.text):
        return frozenset()
    # A short line with no sentence punctuation and no cue is a name, date or stray label.
    if len(text) <= 12 and not re.search(r"[,，。;；:：]", text) and not ctx.is_heading \
            and not any(count_cues(text, lexicon.cues).values()):
        return frozenset()
    return None


def none_preamble(ctx: ParagraphContext, lexicon: Lexicon) -> frozenset[str] | None:
    """Year-in-review preambles praise the year in stock phrases: no theme (GUIDELINES §8.4)."""
    return frozenset() if _PREAMBLE.match(normalize_text(ctx.text)) else None


def none_topic(ctx: ParagraphContext, lexicon: Lexicon) -> frozenset[str] | None:
    """Rule of law, safety, stability: no theme when those cues outnumber every theme's."""
    counts = count_cues(normalize_text(ctx.text), lexicon.all_cues)
    topic = len(counts[NO_THEME])
    if topic and all(len(counts[theme]) < topic for theme in lexicon.themes):
        return frozenset()
    return None


def none_all_areas(ctx: ParagraphContext, lexicon: Lexicon) -> frozenset[str] | None:
    """Cues of four or more themes with none standing out: an all-areas summary."""
    counts = count_cues(normalize_text(ctx.text), lexicon.cues)
    distinct = sorted((len(c) for c in counts.values() if c), reverse=True)
    if len(distinct) >= _ALL_AREAS_THEMES and distinct[0] < 2 * distinct[1]:
        return frozenset()
    return None


def cue_votes(ctx: ParagraphContext, lexicon: Lexicon) -> dict[str, frozenset[str] | None]:
    """One cue LF per theme: votes its theme with enough distinct cues, else abstains."""
    text = normalize_text(ctx.text)
    counts = count_cues(text, lexicon.cues)
    needed = 1 if len(text) <= _SHORT_PARAGRAPH else _MIN_DISTINCT_CUES
    return {f"cues:{theme}": frozenset({theme}) if len(counts[theme]) >= needed else None
            for theme in lexicon.themes}


STRUCTURE_LFS = {"heading_self": heading_self, "bullet_title": bullet_title,
                 "heading_section": heading_section}
NONE_LFS = {"none_formality": none_formality, "none_preamble": none_preamble,
            "none_topic": none_topic, "none_all_areas": none_all_areas,
            "none_heading": none_heading}


def lf_names(lexicon: Lexicon) -> list[str]:
    """Names of every labelling function, in reporting order."""
    return [*STRUCTURE_LFS, *(f"cues:{theme}" for theme in lexicon.themes), *NONE_LFS]


def vote_all(ctx: ParagraphContext, lexicon: Lexicon) -> dict[str, frozenset[str] | None]:
    """Run every labelling function on one paragraph."""
    votes = {name: lf(ctx, lexicon) for name, lf in STRUCTURE_LFS.items()}
    votes.update(cue_votes(ctx, lexicon))
    votes.update({name: lf(ctx, lexicon) for name, lf in NONE_LFS.items()})
    return votes


def combine_votes(ctx: ParagraphContext, votes: dict[str, frozenset[str] | None],
                  lexicon: Lexicon) -> SilverLabel:
    """Combine LF votes into one silver label. The rule, in order:

    1. A heading line gets what it announces (``heading_self``); otherwise no-theme LFs on the
       heading line decide, else abstain.
    2. A formality, preamble, rule-of-law/stability paragraph or all-areas summary
       (``none_formality``, ``none_preamble``, ``none_topic``, ``none_all_areas``) gets no theme,
       unless its own bullet title announces a theme.
    3. The paragraph's own bullet title, else the section heading, gives the structural themes.
       A section theme is dropped when the paragraph carries cues of other themes (or of
       no-theme topics) and not one cue of it (content decides, not position). Under a
       no-theme heading (``none_heading``) with no strong cues, the paragraph gets no theme.
    4. Cue themes are added to the structural ones; alone, they label the paragraph.
    5. More than two themes, or no vote at all: abstain.
    """
    cast = {name: tuple(sorted(v)) for name, v in votes.items() if v is not None}
    counts = count_cues(normalize_text(ctx.text), lexicon.all_cues)
    cue_themes = {theme for theme in lexicon.themes if votes.get(f"cues:{theme}")}

    def decided(themes: Iterable[str], rule: str) -> SilverLabel:
        chosen = tuple(t for t in lexicon.themes if t in set(themes))
        if len(chosen) > _MAX_THEMES:
            return SilverLabel(None, ABSTAIN_RULE, cast)
        return SilverLabel(chosen, rule, cast)

    if ctx.is_heading:
        if votes.get("heading_self"):
            return decided(votes["heading_self"], "heading_self")
        if any(votes.get(name) is not None for name in ("none_formality", "none_preamble")):
            return decided((), "none")
        return SilverLabel(None, ABSTAIN_RULE, cast)
    title = votes.get("bullet_title")
    if not title and any(votes.get(name) is not None for name in
                         ("none_formality", "none_preamble", "none_topic", "none_all_areas")):
        return decided((), "none")
    if title:
        return decided(title | cue_themes, "bullet_title+cues" if cue_themes - title
                       else "bullet_title")
    section = votes.get("heading_section")
    if section:
        other_cues = any(counts[t] for t in counts if t not in section)
        kept = {t for t in section if counts[t] or not other_cues}
        if kept:
            return decided(kept | cue_themes, "heading+cues" if cue_themes - kept
                           else "heading")
    if cue_themes:
        return decided(cue_themes, "cues")
    if votes.get("none_heading") is not None:
        return decided((), "none_heading")
    return SilverLabel(None, ABSTAIN_RULE, cast)


def label_contexts(contexts: Sequence[ParagraphContext],
                   lexicon: Lexicon) -> list[SilverLabel]:
    """Silver labels for paragraphs (abstentions included, ``themes is None``)."""
    return [combine_votes(ctx, vote_all(ctx, lexicon), lexicon) for ctx in contexts]


def _conflicts(name: str, vote: frozenset[str], votes: dict[str, frozenset[str] | None]) -> bool:
    """Two votes conflict when one says no theme and the other names themes, or when a
    structural vote and a cue vote name disjoint themes (two cue LFs never conflict: a
    paragraph may have two themes)."""
    for other, theirs in votes.items():
        if other == name or theirs is None:
            continue
        if bool(vote) != bool(theirs):
            return True
        structural = {name in STRUCTURE_LFS, other in STRUCTURE_LFS}
        if structural == {True, False} and vote and not vote & theirs:
            return True
    return False


def lf_statistics(all_votes: Sequence[dict[str, frozenset[str] | None]],
                  names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Coverage, overlap and conflict per LF, as fractions of all paragraphs.

    Coverage: the LF votes. Overlap: it votes and another LF votes too. Conflict: it votes
    and another LF's vote contradicts it (see ``_conflicts``).
    """
    total = max(len(all_votes), 1)
    stats = {}
    for name in names:
        voted = [v for v in all_votes if v.get(name) is not None]
        overlap = sum(any(o != name and x is not None for o, x in v.items()) for v in voted)
        conflict = sum(_conflicts(name, v[name], v) for v in voted)
        stats[name] = {"coverage": len(voted) / total, "overlap": overlap / total,
                       "conflict": conflict / total}
    return stats
