"""The weak labeller: labelling functions, their combination, and silver vs gold on the seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from cppcc_themes.features.readers import read_report
from cppcc_themes.features.segment import segment_report
from cppcc_themes.train.silver import evaluate_on_gold
from cppcc_themes.train.weak import (
    ParagraphContext,
    build_contexts,
    build_lexicon,
    combine_votes,
    count_cues,
    label_contexts,
    lf_names,
    lf_statistics,
    vote_all,
)

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "labels"


@pytest.fixture(scope="module")
def lexicon():
    return build_lexicon(LABELS)


def _label(lexicon, text, headings=(), is_heading=False):
    ctx = ParagraphContext("r", 0, text, tuple(headings), is_heading)
    return combine_votes(ctx, vote_all(ctx, lexicon), lexicon)


def test_contexts_match_segmentation_and_keep_outer_headings(seed_paths):
    paragraphs = segment_report(read_report(seed_paths["seed-001"]))
    contexts = build_contexts("seed-001", [p.text for p in paragraphs])
    assert [c.heading for c in contexts] == [p.heading for p in paragraphs]
    assert [c.is_heading for c in contexts] == [p.is_heading for p in paragraphs]
    nested = [c for c in contexts if len(c.headings) > 1]
    assert nested and nested[0].headings[0].startswith("一、")


def test_a_longer_cue_hides_the_shorter_one_inside_it(lexicon):
    counts = count_cues("深入开展主题教育和党史学习教育", lexicon.cues)
    assert counts["ideology"] and not counts["livelihood"]


def test_a_heading_passes_its_theme_to_the_paragraphs_under_it(lexicon):
    heading = "(一)坚持凝心聚力,促进大团结大联合"
    assert _label(lexicon, heading, is_heading=True).themes == ("united_front",)
    body = _label(lexicon, "组织委员开展调研视察,形成调研报告3篇。", [heading])
    assert body.themes == ("united_front",) and body.rule == "heading"


def test_content_decides_over_the_heading(lexicon):
    heading = "(一)加强党的创新理论武装,筑牢共同思想政治基础"
    text = ("广泛凝聚共识,画好最大同心圆。建立同宗教界人士、党外知识分子、非公有制经济人士、"
            "新的社会阶层人士的沟通联络机制,组织各民主党派参加调研视察。")
    assert _label(lexicon, text, [heading]).themes == ("united_front",)


def test_formalities_preambles_and_rule_of_law_get_no_theme(lexicon):
    for text in ["各位委员:", "我代表常务委员会,向大会报告工作,请予审议。", "本报记者 何龙 摄",
                 "过去的一年,我们坚持以习近平新时代中国特色社会主义思想为指导,深刻领悟两个确立。",
                 "围绕平安建设和普法宣传开展视察,就禁毒和安全生产提出建议。"]:
        label = _label(lexicon, text, ["(五)加强自身建设,提高履职能力"])
        assert label.themes == (), (text, label)


def test_an_all_areas_summary_gets_no_theme(lexicon):
    text = ("一年来,我们坚持党的领导、理论武装,服务高质量发展和营商环境,关注民生和就业,"
            "凝聚共识、团结联谊,加强自身建设和履职能力。")
    assert _label(lexicon, text).themes == ()


def test_slogans_alone_do_not_make_a_theme(lexicon):
    text = "我们要以更加饱满的热情、更加务实的作风,团结奋斗,开拓进取,奋力谱写新篇章。"
    assert _label(lexicon, text).abstained


def test_a_government_heading_is_not_cppcc_self_construction(lexicon):
    heading = "四、全面加强政府自身建设"
    assert _label(lexicon, heading, is_heading=True).abstained


def test_lf_statistics_count_coverage_overlap_and_conflict(lexicon):
    contexts = build_contexts("r", ["(一)突出党建引领,党对政协工作的领导更加有力", "各位委员:"])
    votes = [vote_all(c, lexicon) for c in contexts]
    stats = lf_statistics(votes, lf_names(lexicon))
    assert stats["heading_self"]["coverage"] == 0.5
    assert stats["heading_self"]["conflict"] == 0.0
    # The greeting sits under the heading: the section vote and the no-theme vote disagree.
    assert stats["none_formality"]["coverage"] == 0.5
    assert stats["none_formality"]["conflict"] == 0.5
    assert stats["heading_section"]["conflict"] == 0.5
    assert all(0 <= s["conflict"] <= s["overlap"] <= s["coverage"] <= 1 for s in stats.values())


def test_labelling_is_deterministic(seed_paths, lexicon):
    texts = [p.text for p in segment_report(read_report(seed_paths["seed-002"]))]
    first = label_contexts(build_contexts("seed-002", texts), lexicon)
    again = label_contexts(build_contexts("seed-002", texts), lexicon)
    assert first == again


def test_silver_labels_against_gold_seeds_are_sane():
    result = evaluate_on_gold(LABELS)
    print(f"\nsilver vs gold: coverage {result['coverage']:.3f} "
          f"({result['covered']}/{result['paragraphs']})")
    for name, s in result["per_class"].items():
        print(f"  {name:18s} precision {s['precision']:.2f} recall {s['recall']:.2f} "
              f"(gold {s['support']}, silver {s['predicted']})")
    assert not result["skipped_reports"]
    assert result["coverage"] >= 0.6
    # Floors, not the measured figures: silver labels must be right far more often than not,
    # and must find a fair share of every class.
    for name, s in result["per_class"].items():
        assert s["precision"] >= 0.6, (name, s)
        assert s["recall"] >= 0.3, (name, s)
