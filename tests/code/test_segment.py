import pytest

from cppcc_themes.features.clean import clean_text, is_residue_line
from cppcc_themes.features.segment import heading_level, segment_report

# Paragraph and heading counts of each seed document, checked by reading them.
EXPECTED = {
    "seed-000": (9, 2),
    "seed-001": (19, 4),
    "seed-002": (37, 5),
    "seed-003": (31, 3),
}


@pytest.mark.parametrize("seed", sorted(EXPECTED))
def test_seed_paragraph_and_heading_counts(seed, seed_paths):
    paragraphs = segment_report(seed_paths[seed].read_text(encoding="utf-8"))
    assert (len(paragraphs), sum(p.is_heading for p in paragraphs)) == EXPECTED[seed]
    assert [p.index for p in paragraphs] == list(range(len(paragraphs)))


def test_paragraphs_know_their_heading(seed_paths):
    paragraphs = segment_report(seed_paths["seed-001"].read_text(encoding="utf-8"))
    second_bullet = next(p for p in paragraphs if p.text.startswith("二是紧贴民生"))
    assert second_bullet.heading.startswith("(二) 聚焦新时代党的治疆方略")
    subsection = next(p for p in paragraphs if p.text.startswith("(一) 加强党的创新理论武装"))
    assert subsection.is_heading and subsection.heading == "一、2022年工作回顾"


def test_numbered_headings_of_the_traditional_seed(seed_paths):
    paragraphs = segment_report(seed_paths["seed-002"].read_text(encoding="utf-8"))
    headings = [p.text[:1] for p in paragraphs if p.is_heading]
    assert headings == ["1", "2", "3", "4", "5"]


def test_page_break_mid_sentence_is_mended(seed_paths):
    paragraphs = segment_report(seed_paths["seed-001"].read_text(encoding="utf-8"))
    texts = [p.text for p in paragraphs]
    assert any("与学贯彻区、州党委部署要求相结合" in t for t in texts)
    assert not any(t.startswith("贯彻区、州党委部署要求") for t in texts)


def test_document_site_chunk_numbers_are_joined(seed_paths):
    paragraphs = segment_report(seed_paths["seed-003"].read_text(encoding="utf-8"))
    texts = [p.text for p in paragraphs]
    assert any("始终把政协协商纳入市委、市政府决策程序" in t for t in texts)
    assert not any(t.startswith(("2、", "3、")) for t in texts)
    assert texts[0] == "2023年市政协工作会讲话"


@pytest.mark.parametrize("line", [
    "下载", "【字号：", "上一篇：关于政协工作", "第1页 / 共10页", "点击查看更多>>",
    "2023年市政协工作会讲话.docx_第2页", "工信部备案号:黑ICP备15003705号© 2020-2023", "221381",
    "(下转06版)", "(責任編輯:盧相汀)", "返回 下载 相关 举报",
])
def test_residue_lines_are_recognised(line):
    assert is_residue_line(line)


@pytest.mark.parametrize("line", [
    "各位委员:", "李玉金", "一、2022年工作回顾", "本报记者 何龙 摄", "2023年",
    "●加强履职平台建设。完成市县两级“智慧政协”平台建设。",
])
def test_report_lines_are_kept(line):
    assert not is_residue_line(line)


def test_clean_text_drops_page_residue_of_government_reports():
    raw = ("下载\n打印\n全屏\n收藏\n【字号：\n加大\n还原\n减小\n】\n"
           "2026年北京市政府工作报告\n各位代表：")
    assert clean_text(raw).split("\n") == ["2026年北京市政府工作报告", "各位代表："]


@pytest.mark.parametrize(("line", "level"), [
    ("一、2022年工作回顾", 1), ("(一) 加强党的创新理论武装", 2), ("（二）服务大局", 2),
    ("1突出黨建引領(lǐng),在筑牢共同思想政治基礎(chǔ)上得到新加強(qiáng)", 3),
    ("●加强专委会建设", 5), ("一是持之以恒推进依法治疆。", 5),
    ("2022年工作回顾", None), ("一是持之以恒推进依法治疆。始终把依法治疆作为基石。", None),
])
def test_heading_levels(line, level):
    assert heading_level(line) == level
