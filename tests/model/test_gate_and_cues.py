"""The content gate (``model.gate``), the codebook cue features (``features.cues``) and the
line-shape features (``features.shape``) of issue 10: each is part of the one Pipeline, so
training and every tagging path give one score; all pickle and load through ``load_model``;
evidence stays words and phrases, never a count or a lone character."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

from cppcc_themes.features.cues import CODEBOOK_CUES, CueFeatures, load_codebook_cues
from cppcc_themes.features.shape import LineShapeFeatures
from cppcc_themes.train.data import load_paragraphs
from cppcc_themes.train.gate import GatedThemeClassifier
from cppcc_themes.train.package import load_model, save_model
from cppcc_themes.train.predict import is_evidence, readable_feature_name, tag_report
from cppcc_themes.train.train import fit_final, prepare_data

FEATURES = {"analyzer": "word+char", "word_ngrams": [1, 2], "char_ngrams": [2, 3]}
# Logistic regression: the same code paths as the shipped calibrated SVM, a fraction of the fit.
LOGREG = {"classifier": "logreg", "C": 10.0}
_NOT_A_CHARACTER = re.compile(r"[\W_]+")


@pytest.fixture(scope="module")
def data(root):
    return prepare_data(load_paragraphs(["gold"], root / "labels"))


def _packaged(data, features, model, directory):
    pipeline = fit_final(data, features, model)
    save_model(pipeline, {"experiment": "option-test", "labels": data.labels,
                          "thresholds": {label: float(t) for label, t
                                         in zip(data.labels, pipeline[-1].thresholds_,
                                                strict=True)},
                          "features": features, "model": model}, directory)
    return pipeline, load_model(directory)


@pytest.fixture(scope="module")
def gated(data, tmp_path_factory):
    return _packaged(data, FEATURES, {**LOGREG, "gate": "product"},
                     tmp_path_factory.mktemp("gate") / "model")


@pytest.fixture(scope="module")
def cued(data, tmp_path_factory):
    features = {**FEATURES, "cues": True, "cue_weight": 1.0, "shape": True, "heading": True}
    return _packaged(data, features, LOGREG, tmp_path_factory.mktemp("cues") / "model")


def _assert_one_score(trained, loaded, data):
    expected = trained.predict_proba(data.inputs)
    np.testing.assert_allclose(loaded.pipeline.predict_proba(data.inputs), expected, atol=1e-12)
    tagged = loaded.tag(data.texts, headings=data.headings)
    np.testing.assert_allclose([list(p.scores.values()) for p in tagged], expected.round(4),
                               atol=1e-9)
    decided = expected >= trained[-1].thresholds_
    assert [p.themes for p in tagged] == [[label for label, yes in zip(data.labels, row,
                                                                       strict=True) if yes]
                                          for row in decided]


def test_gated_model_scores_the_same_after_packaging_and_tagging(gated, data):
    trained, loaded = gated
    assert isinstance(loaded.pipeline[-1], GatedThemeClassifier)
    _assert_one_score(trained, loaded, data)


def test_the_gate_scales_every_theme_by_the_probability_of_content(gated, data):
    trained, _ = gated
    classifier = trained[-1]
    X = trained[:-1].transform(data.inputs)
    content = classifier.gate_probability(X)
    ungated = super(GatedThemeClassifier, classifier).predict_proba(X)
    np.testing.assert_allclose(classifier.predict_proba(X), ungated * content[:, None])
    # Trained on "has any theme": it separates content from no-theme lines it was fitted on.
    has_theme = data.Y.any(axis=1)
    assert content[has_theme].mean() > content[~has_theme].mean() + 0.3


def test_a_threshold_gate_assigns_no_theme_below_its_threshold(data):
    pipeline = fit_final(data, FEATURES, {**LOGREG, "gate": "threshold", "gate_threshold": 0.7})
    X = pipeline[:-1].transform(data.inputs)
    content = pipeline[-1].gate_probability(X)
    decided = pipeline.predict(data.inputs)
    assert (content < 0.7).any() and (content >= 0.7).any()
    assert not decided[content < 0.7].any()
    ungated = super(GatedThemeClassifier, pipeline[-1]).predict_proba(X)
    kept = content >= 0.7
    np.testing.assert_allclose(pipeline.predict_proba(data.inputs)[kept], ungated[kept])
    with pytest.raises(ValueError, match="fixed theme thresholds"):
        fit_final(data, FEATURES, {**LOGREG, "gate": "threshold", "threshold": "tuned"})
    with pytest.raises(ValueError, match="combine must be one of"):
        fit_final(data, FEATURES, {**LOGREG, "gate": "maybe"})


def test_cue_model_scores_the_same_after_packaging_and_tagging(cued, data):
    trained, loaded = cued
    names = list(trained.named_steps["features"].get_feature_names_out())
    assert "text__cues__党建引领" in names and "text__shape__#shape:date" in names
    _assert_one_score(trained, loaded, data)


def test_cue_evidence_shows_cue_words_never_counts_or_lone_characters(cued, seed_paths):
    _, loaded = cued
    shown, cues_shown = 0, 0
    for seed in sorted(seed_paths):
        for paragraph in tag_report(loaded, seed_paths[seed]).paragraphs:
            for grams in paragraph.evidence.values():
                for gram in grams:
                    shown += 1
                    cues_shown += gram.startswith("cue:")
                    assert "#cues:" not in gram and "#shape:" not in gram, gram
                    core = gram.removeprefix("heading:").removeprefix("cue:")
                    assert len(_NOT_A_CHARACTER.sub("", core)) >= 2, gram
    assert shown > 50 and cues_shown > 5, (shown, cues_shown)
    assert readable_feature_name("text__cues__党建引领") == "cue:党建引领"
    assert not is_evidence(readable_feature_name("text__cues__#cues:economy"))
    assert not is_evidence(readable_feature_name("text__shape__#shape:length<=8"))


def test_cues_match_normalised_text_and_count_the_areas_a_line_runs_through():
    cues = CueFeatures().fit()
    names = list(cues.get_feature_names_out())
    simplified, traditional = cues.transform(["坚持党建引领，凝聚共识", "堅持黨建引領，凝聚共識"])
    assert (simplified != traditional).nnz == 0
    row = dict(zip(names, simplified.toarray()[0], strict=True))
    assert row["党建引领"] == 1 and row["凝聚共识"] == 1 and row["产业"] == 0
    assert row["#cues:ideology"] == pytest.approx(np.log(3))  # 党建引领 and 党建
    assert row["#cues:themes>=2"] == 1 and row["#cues:themes>=3"] == 0
    summary = "报告指出，坚持党的领导，推动高质量发展，办好民生实事，凝聚共识，加强自身建设"
    breadth = dict(zip(names, cues.transform([summary]).toarray()[0], strict=True))
    assert breadth["#cues:themes>=4"] == 1


def test_fitted_cue_lists_travel_with_the_model():
    cues = CueFeatures(cues={"ideology": ["理論學習"], "none": ["上一篇"]}).fit()
    assert cues.cues_ == {"ideology": ("理论学习",), "none": ("上一篇",)}
    copy = pickle.loads(pickle.dumps(cues))
    np.testing.assert_array_equal(copy.transform(["加强理论学习", "上一篇"]).toarray(),
                                  cues.transform(["加强理论学习", "上一篇"]).toarray())
    assert list(copy.get_feature_names_out())[:2] == ["理论学习", "上一篇"]


def test_codebook_cue_file_names_every_theme_and_no_theme(data):
    groups = load_codebook_cues(CODEBOOK_CUES)
    assert list(groups) == [*data.labels, "none"]
    for group, terms in groups.items():
        assert len(terms) == len(set(terms)) >= 5, group
        assert all(len(term) >= 2 for term in terms), group


def test_line_shape_tells_furniture_from_prose():
    shape = LineShapeFeatures().fit()
    names = list(shape.get_feature_names_out())
    byline, prose = shape.transform(["2024年3月5日 来源:人民网 Share",
                                     "一是加强理论学习，全年组织专题学习十二次。"]).toarray()
    byline, prose = dict(zip(names, byline, strict=True)), dict(zip(names, prose, strict=True))
    assert byline["#shape:date"] == 1 and prose["#shape:date"] == 0
    assert byline["#shape:latin"] > 0.1 and prose["#shape:latin"] == 0
    assert prose["#shape:sentence_end"] == 1 and prose["#shape:enumerator"] == 1
    assert byline["#shape:length<=32"] == 1 and prose["#shape:length<=32"] == 1
    assert sum(value for name, value in byline.items() if "length" in name) == 1
