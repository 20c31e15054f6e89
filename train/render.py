"""A tagged report as one self-contained HTML page: no scripts, fonts or images from outside.

Each paragraph is coloured by its themes and shows its score per theme and its evidence; each
report's theme profile is drawn as CSS bars. Part of the tagging path: no mlflow here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

__all__ = ["CJK_FAMILY", "THEME_COLOURS", "plot_profiles", "register_cjk_font", "render_html",
           "short_theme_names", "theme_names"]

THEME_COLOURS = {
    "ideology": "#c0392b",
    "economy": "#2471a3",
    "livelihood": "#1e8449",
    "united_front": "#d68910",
    "self_construction": "#7d3c98",
    "none": "#909497",
}
_FALLBACK_COLOURS = ("#117a65", "#a04000", "#1f618d", "#6c3483", "#7b7d7d")

_CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
       "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif;
       margin: 0 auto; max-width: 60rem; padding: 1.5rem; color: #1c2833; line-height: 1.6; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid #d5d8dc; padding-bottom: .2rem; }
.source, .note { color: #5d6d7e; font-size: .85rem; }
.legend span, .chip { display: inline-block; border-radius: .7rem; padding: 0 .55rem;
       margin: 0 .3rem .2rem 0; font-size: .8rem; color: #fff; }
table.profile { border-collapse: collapse; width: 100%; margin: .6rem 0 1.2rem; }
table.profile td { padding: .15rem .4rem; font-size: .85rem; vertical-align: middle; }
table.profile td.name { width: 11rem; white-space: nowrap; }
table.profile td.num { width: 4.2rem; text-align: right; font-variant-numeric: tabular-nums; }
.track { background: #eaecee; height: .55rem; border-radius: .3rem; margin: .12rem 0; }
.fill { height: 100%; border-radius: .3rem; }
.fill.chars { opacity: .55; }
.paragraph { border-left: .45rem solid #d5d8dc; padding: .45rem .8rem; margin: .5rem 0;
       border-radius: .2rem; }
.paragraph.heading { font-weight: bold; }
.paragraph .meta { font-size: .78rem; color: #34495e; margin-top: .25rem; font-weight: normal; }
.scores { display: flex; flex-wrap: wrap; gap: .2rem .8rem; }
.score { display: inline-flex; align-items: center; gap: .25rem; }
.score .track { width: 3.5rem; display: inline-block; height: .45rem; }
.score.assigned { font-weight: bold; }
.evidence { color: #566573; }
.errors { background: #fdedec; border-left: .45rem solid #c0392b; padding: .5rem .8rem; }
"""


def theme_names(labels: Sequence[str]) -> dict[str, str]:
    """Display names of the themes (the codebook's Chinese names), ids where unknown."""
    names = {label: label for label in labels}
    try:
        from cppcc_themes.train.themes import load_themes

        names.update({t.id: t.name for t in load_themes() if t.id in names})
    except (OSError, KeyError, ValueError):
        pass  # no codebook beside this installation: ids are still meaningful
    names["none"] = "无主题 (none)"
    return names


def short_theme_names(labels: Sequence[str], size: int = 4) -> dict[str, str]:
    """Column headers of at most ``size`` characters per theme id, distinct from each other:
    the first letters of each word of the id (``united_front`` -> ``unit``, ``economy`` ->
    ``econ``), lengthened where two would clash."""
    names: dict[str, str] = {}
    for label in labels:
        words = [word for word in label.replace("-", "_").split("_") if word]
        candidate = (words[0] if words else label)[:size] or label[:size]
        taken = set(names.values())
        if candidate in taken:
            initials = "".join(word[0] for word in words)[:size]
            candidate = initials if initials not in taken else label[:size]
        suffix = 2
        while candidate in taken:
            candidate = f"{label[:size - 1]}{suffix}"
            suffix += 1
        names[label] = candidate
    return names


def _colours(labels: Sequence[str]) -> dict[str, str]:
    colours = {}
    for i, label in enumerate([*labels, "none"]):
        colours[label] = THEME_COLOURS.get(label, _FALLBACK_COLOURS[i % len(_FALLBACK_COLOURS)])
    return colours


def _tint(colour: str, alpha: str = "1f") -> str:
    """A light background from a theme colour (hex with alpha)."""
    return f"{colour}{alpha}"


def _bar(share: float, colour: str, kind: str) -> str:
    return (f'<div class="track"><div class="fill {kind}" style="width:{100 * share:.1f}%;'
            f'background:{colour}"></div></div>')


def _profile_table(report: Any, names: dict[str, str], colours: dict[str, str]) -> str:
    rows = []
    for theme, row in report.profile.items():
        rows.append(
            f'<tr><td class="name"><span class="chip" style="background:{colours[theme]}">'
            f'{html.escape(names.get(theme, theme))}</span></td>'
            f'<td>{_bar(row["paragraph_share"], colours[theme], "paragraphs")}'
            f'{_bar(row["char_share"], colours[theme], "chars")}</td>'
            f'<td class="num">{100 * row["paragraph_share"]:.0f}%<br>'
            f'{100 * row["char_share"]:.0f}%</td></tr>')
    return ('<table class="profile" aria-label="theme profile">'
            '<tr><td></td><td class="note">upper bar: share of paragraphs · lower bar: share '
            'of characters</td><td class="num note">段落<br>字数</td></tr>'
            + "".join(rows) + "</table>")


def _paragraph(paragraph: Any, names: dict[str, str], colours: dict[str, str],
               is_heading: bool) -> str:
    themes = paragraph.themes
    if themes:
        stops = ", ".join(f"{_tint(colours[t])} {100 * i / len(themes):.0f}% "
                          f"{100 * (i + 1) / len(themes):.0f}%" for i, t in enumerate(themes))
        style = (f"border-left-color:{colours[themes[0]]};"
                 f"background:linear-gradient(90deg, {stops})")
    else:
        style = "background:#fbfcfc"
    chips = "".join(f'<span class="chip" style="background:{colours[t]}">'
                    f'{html.escape(names.get(t, t))}</span>' for t in themes)
    scores = "".join(
        f'<span class="score{" assigned" if theme in themes else ""}" '
        f'title="{html.escape(names.get(theme, theme))}">{html.escape(theme)}'
        f'<span class="track"><span class="fill" style="display:block;'
        f'width:{100 * score:.0f}%;background:{colours.get(theme, "#909497")}"></span></span>'
        f'{score:.2f}</span>'
        for theme, score in paragraph.scores.items())
    evidence = "; ".join(
        f"{html.escape(names.get(theme, theme))}: "
        + ", ".join(f"{html.escape(ngram)} (+{weight:.2f})" for ngram, weight in grams.items())
        for theme, grams in paragraph.evidence.items() if grams)
    evidence_html = f'<div class="evidence">依据 evidence: {evidence}</div>' if evidence else ""
    kind = "paragraph heading" if is_heading else "paragraph"
    return (f'<div class="{kind}" id="{html.escape(paragraph.id)}" style="{style}">'
            f'<div class="text">{html.escape(paragraph.text)}</div>'
            f'<div class="meta">{chips}<div class="scores">{scores}</div>{evidence_html}</div>'
            "</div>")


def _report_section(report: Any, names: dict[str, str], colours: dict[str, str]) -> str:
    headings = {p.heading for p in report.paragraphs if p.heading}
    body = "".join(_paragraph(p, names, colours, p.text in headings) for p in report.paragraphs)
    source = f'<div class="source">{html.escape(report.source)}</div>' if report.source else ""
    return (f'<section class="report"><h2>{html.escape(report.name)} · '
            f"{len(report.paragraphs)} paragraphs</h2>{source}"
            f"{_profile_table(report, names, colours)}{body}</section>")


def render_html(reports: Sequence[Any], labels: Sequence[str], errors: Sequence[str] = (),
                title: str = "cppcc-themes: tagged reports") -> str:
    """The HTML page of tagged reports; ``errors`` lists inputs that could not be tagged."""
    names = theme_names(labels)
    colours = _colours(labels)
    legend = "".join(f'<span style="background:{colours[t]}">{html.escape(names[t])}</span>'
                     for t in [*labels, "none"])
    failed = ""
    if errors:
        items = "".join(f"<li>{html.escape(e)}</li>" for e in errors)
        failed = f'<div class="errors">Not tagged:<ul>{items}</ul></div>'
    sections = "".join(_report_section(r, names, colours) for r in reports)
    return (f'<!DOCTYPE html>\n<html lang="zh-Hans"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f'<h1>{html.escape(title)}</h1><div class="legend">{legend}</div>'
            f"{failed}{sections}</body></html>\n")


CJK_FAMILY = "Noto Sans CJK SC"


def register_cjk_font() -> str:
    """Register the packaged Noto Sans CJK collection with matplotlib; return its family.

    Without it matplotlib draws Chinese labels as empty boxes.
    """
    from importlib.resources import files

    from matplotlib import font_manager

    if not any(entry.name == CJK_FAMILY for entry in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(
            str(files("noto_cjk_sans_otc") / "NotoSansCJK-Regular.ttc"))
    return CJK_FAMILY


def _share_chart(labels: Sequence[str], bars: int
                 ) -> tuple[Any, dict[str, Any], list[str], list[Any], float]:
    """What a chart of shares per theme needs: pyplot (drawing to files), its style with the
    CJK font, the themes along x (``none`` last), and the x positions and width of each of
    ``bars`` side-by-side bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    style = {"font.family": [register_cjk_font(), "DejaVu Sans"], "axes.unicode_minus": False}
    themes = [*labels, "none"]
    width = 0.8 / max(bars, 1)
    positions = np.arange(len(themes))
    slots = [positions + (i - (bars - 1) / 2) * width for i in range(bars)]
    return plt, style, themes, slots, width


def _theme_axis(axis: Any, themes: Sequence[str], labels: Sequence[str]) -> None:
    """Theme names under the ticks, shares as percentages, a light grid."""
    import matplotlib.ticker

    names = theme_names(labels)
    axis.set_xticks(range(len(themes)), [names.get(t, t) for t in themes], rotation=25,
                    ha="right")
    axis.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axis.grid(axis="y", alpha=0.3)


def plot_profiles(reports: Sequence[Any], labels: Sequence[str], path: str) -> None:
    """Bar charts of the theme profiles of several reports side by side, written as PNG.

    Two panels: share of paragraphs and share of characters; one bar per report per theme.
    """
    plt, style, themes, slots, width = _share_chart(labels, len(reports))
    with plt.rc_context(style):
        figure, axes = plt.subplots(1, 2, figsize=(14, 5.2),
                                    sharey=True, layout="constrained")
        for axis, share, title in zip(axes, ("paragraph_share", "char_share"),
                                      ("段落占比 share of paragraphs",
                                       "字数占比 share of characters"), strict=True):
            for slot, report in zip(slots, reports, strict=True):
                profile = report.profile
                axis.bar(slot, [profile.get(theme, {}).get(share, 0.0) for theme in themes],
                         width, label=report.name)
            _theme_axis(axis, themes, labels)
            axis.set_title(title)
        axes[0].legend(title="报告 report", fontsize="small")
        figure.suptitle("主题分布 theme profiles")
        figure.savefig(path, dpi=120)
        plt.close(figure)


def plot_share_intervals(rows: Sequence[tuple[str, Sequence[Any]]], labels: Sequence[str],
                         path: str, difference: bool = False) -> None:
    """Adjusted shares (or differences of shares) per theme with their 95 % intervals as error
    bars, one bar per report or comparison; written as PNG.

    ``rows``: (name, estimates) with ``quantify.ShareEstimate`` objects in theme order.
    """
    import numpy as np

    plt, style, themes, slots, width = _share_chart(labels, len(rows))
    with plt.rc_context(style):
        figure, axis = plt.subplots(figsize=(11, 5.2), layout="constrained")
        for slot, (name, estimates) in zip(slots, rows, strict=True):
            by_theme = {e.theme: e for e in estimates}
            values = np.asarray([by_theme[t].adjusted for t in themes], dtype=float)
            low = np.asarray([by_theme[t].low for t in themes], dtype=float)
            high = np.asarray([by_theme[t].high for t in themes], dtype=float)
            shown = np.nan_to_num(values, nan=0.5)
            axis.bar(slot, shown, width,
                     yerr=np.vstack([np.maximum(shown - low, 0), np.maximum(high - shown, 0)]),
                     capsize=3, label=name)
        _theme_axis(axis, themes, labels)
        if difference:
            axis.axhline(0, color="grey", linewidth=1)
        axis.legend(title="报告 report", fontsize="small")
        axis.set_title("校正后段落占比及95%区间 adjusted share of paragraphs, 95% interval"
                       if not difference else
                       "占比差异及95%区间 difference of adjusted shares (B - A), 95% interval")
        figure.savefig(path, dpi=120)
        plt.close(figure)
