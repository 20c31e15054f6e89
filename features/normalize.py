"""Text normalisation: what the model sees, derived from what the user gave.

Traditional characters become simplified (OpenCC), inline pinyin glosses such as ``協(xié)商``
are stripped, full-width ASCII forms become half-width and white space is folded. The original
text is kept elsewhere; these functions never touch files.
"""

from __future__ import annotations

import functools
import re

__all__ = ["forget_normalized_texts", "normalize_text", "strip_pinyin", "to_half_width",
           "to_simplified"]

_TONED_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
# A gloss is one pinyin syllable in brackets right after a Han character; at least one tone
# mark is required so that English in brackets, e.g. "(app)", is left alone.
_PINYIN_GLOSS = re.compile(
    rf"(?<=[\u4e00-\u9fff])[(（]\s*[a-zü{_TONED_VOWELS}]*[{_TONED_VOWELS}][a-zü{_TONED_VOWELS}]*\s*[)）]"
)
# Some copies mangle a glossed character into "?" and leave its gloss behind: "?yún)f(xié)".
_ORPHAN_GLOSS = re.compile(rf"\?[a-zü{_TONED_VOWELS}]+\)[a-z]?(?=[(（\u4e00-\u9fff])")
_HALF_WIDTH = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
_HALF_WIDTH["\u3000"] = " "
_FULL_WIDTH_CHAR = re.compile("[\uff01-\uff5e\u3000]")
_SPACES = re.compile(r"\s+")
# A space between two Han characters is layout, not content.
_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])")


@functools.lru_cache(maxsize=1)
def _t2s_converter():
    import opencc

    return opencc.OpenCC("t2s")


def strip_pinyin(text: str) -> str:
    """Remove inline pinyin glosses such as the ``(xié)`` in ``協(xié)商``."""
    # Most paragraphs have neither a "?" nor a bracket: a substring test is far cheaper than
    # letting each pattern scan the text.
    if "?" in text:
        text = _ORPHAN_GLOSS.sub("", text)
    if "(" in text or "（" in text:
        text = _PINYIN_GLOSS.sub("", text)
    return text


def to_half_width(text: str) -> str:
    """Map full-width ASCII forms (digits, Latin letters, punctuation) to half-width."""
    # str.replace per distinct full-width character is ~5x faster than str.translate with a
    # table: a paragraph holds few distinct ones (，：；) and translate walks every character.
    for char in set(_FULL_WIDTH_CHAR.findall(text)):
        text = text.replace(char, _HALF_WIDTH[char])
    return text


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters to simplified ones with OpenCC."""
    return _t2s_converter().convert(text)


def normalize_text(text: str) -> str:
    """Return the form of ``text`` that features are computed from."""
    if len(text) <= _REMEMBERED_CHARS:
        return _normalize_remembered(text)
    return _normalize(text)


def _normalize(text: str) -> str:
    text = strip_pinyin(text)
    text = to_half_width(text)
    text = to_simplified(text)
    text = _SPACES.sub(" ", text).strip()
    return _SPACE_BETWEEN_HAN.sub("", text) if " " in text else text


# Tagging normalises most paragraphs three times: as a line when cleaning, as a heading
# candidate when segmenting, and in the vectoriser. Remembering recent short texts makes the
# later passes lookups; the bounds keep the memory to a few MB.
_REMEMBERED_CHARS = 400
_normalize_remembered = functools.lru_cache(maxsize=8192)(_normalize)


def forget_normalized_texts() -> None:
    """Empty the memory of recent results, e.g. to time a first pass over a corpus."""
    _normalize_remembered.cache_clear()
