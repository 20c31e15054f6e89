"""What cleaning drops from each seed document, line by line; everything else is kept."""

import re

import pytest

from cppcc_themes.features.clean import clean_text, is_residue_line, split_lines
from cppcc_themes.features.segment import segment_report

INLINE_PROMPT = re.compile(r"点击查看更多\s*[:：>]*\S*")

DROPPED = {
    "seed-000": [
        "文似观山不喜平 — — 观山文库◆记住我,来上我~",
        "2023年最全政协工作报告-31篇(第107/112页)",
        "admin 分享 时间: 加入收藏 共计303846个字,预计阅读时长1013分钟",
        "221381",
        "领取福利",
        "微信扫码领取福利",
        "微信扫码分享",
    ],
    "seed-001": ["(下转06版)"],
    "seed-002": ["(責(zé)任編輯:盧相汀)"],
    "seed-003": [
        "2023年市政协工作会讲话.docx",
        "上传人:说****呢 文档编号:87763916 上传时间:2023-04-17 格式:DOCX 页数:10 大小:19.14KB",
        "返回 下载 相关 举报",
        "2023年市政协工作会讲话.docx_第1页",
        "第1页 / 共10页",
        "2023年市政协工作会讲话.docx_第2页",
        "第2页 / 共10页",
        "点击查看更多>>",
        "资源描述",
        "《2023年市政协工作会讲话.docx》由会员分享",
        "展开阅读全文",
        "相关资源",
        "相关搜索",
        "当前位置:首页 > 教育专区 > 高考资料",
        "本站为文档C TO C交易模式",
        "工信部备案号:黑ICP备15003705号© 2020-2023 www.taowenge.com 淘文阁",
    ],
}


def _han(text: str) -> int:
    return sum("\u4e00" <= c <= "\u9fff" for c in text)


@pytest.mark.parametrize("seed", sorted(DROPPED))
def test_exactly_the_residue_lines_are_dropped(seed, seed_paths):
    raw = seed_paths[seed].read_text(encoding="utf-8")
    dropped = [line for line in split_lines(raw) if is_residue_line(line)]
    assert len(dropped) == len(DROPPED[seed])
    for line, expected_start in zip(dropped, DROPPED[seed], strict=True):
        assert line.startswith(expected_start)


@pytest.mark.parametrize("seed", sorted(DROPPED))
def test_every_other_character_is_kept(seed, seed_paths):
    """All Han characters of the other lines reach the paragraphs, in order; only the inline
    prompt 点击查看更多 with its link text goes (seed-003's chunk lines carry it)."""
    raw = seed_paths[seed].read_text(encoding="utf-8")
    kept_lines = [INLINE_PROMPT.sub("", line) for line in split_lines(raw)
                  if not is_residue_line(line)]
    paragraphs = "".join(p.text for p in segment_report(raw))
    assert _han(paragraphs) == _han("".join(kept_lines))
    assert [c for c in paragraphs if "\u4e00" <= c <= "\u9fff"] == \
        [c for c in "".join(kept_lines) if "\u4e00" <= c <= "\u9fff"]


@pytest.mark.parametrize("line", ["3", "- 3 -", "— 12 —", "3 / 10", "－ 7 －"])
def test_page_numbers_are_residue(line):
    assert is_residue_line(line)


@pytest.mark.parametrize("line", ["2023年", "1.加强学习", "20个", "各位委员:"])
def test_numbers_with_words_are_kept(line):
    assert not is_residue_line(line)


def test_a_long_line_mentioning_copyright_is_report_text():
    line = "加强知识产权保护，打击侵犯版权所有人权益的行为。" * 20
    assert not is_residue_line(line)
    assert clean_text(line) == line


def test_inline_prompt_goes_in_both_scripts():
    assert clean_text("1、 會議講話點擊查看更多:會議講話 這次會議的主要任務是。") == \
        "1、 會議講話 這次會議的主要任務是。"
