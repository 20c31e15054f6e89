"""Cleaning of raw report text: web and document residue out, broken lines mended.

Reports reach users as saved web pages, document-sharing downloads and newspaper pages. This
module removes the lines that are not report text (navigation, share prompts, page counters,
copyright and ICP lines) and mends the line breaks those sources insert mid-sentence: page
breaks, and the chunk numbers ``1、`` ``2、`` that document-sharing sites put into the text.
"""

from __future__ import annotations

import re

from cppcc_themes.features.normalize import normalize_text

__all__ = ["clean_text", "is_residue_line", "split_lines"]

_RESIDUE_PATTERNS = [
    r"下载|打印|全屏|收藏|加大|还原|减小|】|【字号[:：]?|分享|返回|举报|相关|纠错",
    r"(打印本页|关闭窗口|分享到[:：]?.*|【?字号[:：].*|字体[:：]?\s*[大中小\s]+)",
    r"(上一篇|下一篇|上一页|下一页)[:：]?.*",
    r"第\s*\d+\s*页\s*/\s*共\s*\d+\s*页",
    r"(点击查看更多|展开阅读全文|资源描述|相关资源|相关搜索|领取福利|微信扫码.*|扫一扫.*)(>>)?",
    r"(当前位置|您的位置)[:：].*",
    r"上传人[:：].*|文档编号[:：].*",
    r"\(?（?下转\s*\d+\s*版\)?）?|\(?（?上接\s*\d+\s*版\)?）?",
    r"\d{4,}",
    # Page numbers of printed documents: "3", "- 3 -", "— 12 —", "3 / 10".
    r"[-—–－]?\s*\d{1,3}\s*[-—–－]?|\d{1,3}\s*/\s*\d{1,3}",
    r"本站为文档.*",
    r"《.*》由会员分享.*",
    r"[^\s]+\.(docx?|pdf|pptx?|txt|html?)",
    r"\(?(责任编辑|编辑|校对|审核)[:：][^)）]*\)?）?",
    r"(来源|时间|发布时间|作者)[:：].{0,40}",
    r"(?:(?:下载|打印|全屏|收藏|返回|相关|举报|分享|关闭)\s*){2,}",
]
# Residue wherever it sits in a line (a whole-line match of ".*X.*" is a search for X, and
# one search is several times cheaper than backtracking through each such alternative).
_RESIDUE_ANYWHERE = [
    r"ICP备|ICP证|网安备|版权所有|Copyright|©",
    r"客服QQ|客服电话|联系我们",
    r"记住我,来上我|观山文库",
    r"共计\d+个字,?预计阅读时长",
    r"请立即通知.*删除",
    r"\.(docx?|pdf|pptx?)_第\d+页\Z",
    r"\(第\d+/\d+页\)\Z",
]
_MAX_RESIDUE_CHARS = 300
_RESIDUE = re.compile("|".join(f"(?:{p})" for p in _RESIDUE_PATTERNS))
_RESIDUE_SEARCH = re.compile("|".join(f"(?:{p})" for p in _RESIDUE_ANYWHERE))

_SENTENCE_END = "。！？!?;；:：…”’\"』」)）】》"
_HEADING_START = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）]|\d{1,2}[.、．]|[●■◆▲○]|"
    r"[一二三四五六七八九十]是|第[一二三四五六七八九十]+[,，、])"
)
_CHUNK_MARKER = re.compile(r"^\s*(\d{1,3})、\s*")
# Matched on the raw line, so in both scripts (點擊查看更多 in traditional copies).
_INLINE_RESIDUE = re.compile(r"[点點][击擊]查看更多\s*[:：>]*\S*")


def split_lines(text: str) -> list[str]:
    """Split text into stripped, non-empty lines, whatever the newline convention."""
    return [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            if line.strip()]


def is_residue_line(line: str) -> bool:
    """Tell whether a whole line is web or document residue rather than report text.

    The test runs on the normalised line, so traditional-character residue counts too. A line
    longer than any residue line is report text even if it mentions 版权所有 or ICP: patterns
    such as ``.*ICP备.*`` would otherwise drop a whole report that lost its line breaks.
    """
    if len(line) > _MAX_RESIDUE_CHARS:
        return False
    text = normalize_text(line)
    return _RESIDUE.fullmatch(text) is not None or _RESIDUE_SEARCH.search(text) is not None


def _ends_sentence(line: str) -> bool:
    return line.endswith(tuple(_SENTENCE_END))


def _strip_chunk_markers(lines: list[str]) -> list[str]:
    """Join the chunks of document-sharing sites, which number them ``1、`` ``2、`` mid-sentence.

    Only a run of at least three consecutively numbered markers counts, and only when most of
    them interrupt a sentence; a real numbered list ends its items with punctuation.
    """
    markers = [(i, int(m.group(1))) for i, line in enumerate(lines)
               if (m := _CHUNK_MARKER.match(line))]
    if len(markers) < 3:
        return lines
    numbers = [n for _, n in markers]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        return lines
    interrupted = sum(1 for i, _ in markers[1:] if i > 0 and not _ends_sentence(lines[i - 1]))
    if interrupted * 2 < len(markers) - 1:
        return lines
    marker_rows = {i for i, _ in markers}
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in marker_rows:
            body = _CHUNK_MARKER.sub("", line, count=1)
            if out and i != markers[0][0]:
                out[-1] += body
            else:
                out.append(body)
        else:
            out.append(line)
    return out


def _join_broken_lines(lines: list[str], min_length: int = 80) -> list[str]:
    """Mend page breaks: a long line cut mid-sentence continues on the next line."""
    out: list[str] = []
    for line in lines:
        if (out and len(out[-1]) >= min_length and not _ends_sentence(out[-1])
                and not _HEADING_START.match(line)):
            out[-1] += line
        else:
            out.append(line)
    return out


def clean_text(text: str) -> str:
    """Drop residue lines and mend broken lines; one paragraph candidate per output line."""
    lines = [_INLINE_RESIDUE.sub("", line).strip() for line in split_lines(text)]
    lines = [line for line in lines if line and not is_residue_line(line)]
    lines = _strip_chunk_markers(lines)
    lines = _join_broken_lines(lines)
    return "\n".join(lines)
