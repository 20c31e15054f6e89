"""Heading context (issue 10): training and tagging read a paragraph's heading the same way;
evidence is words and phrases, never a lone character or a punctuation fragment."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from cppcc_themes.train.data import load_paragraphs
from cppcc_themes.train.package import load_model, save_model
from cppcc_themes.train.predict import ThemeModel, tag_path, tag_report
from cppcc_themes.train.train import fit_final, prepare_data

HEADING_FEATURES = {"analyzer": "word+char", "word_ngrams": [1, 2], "char_ngrams": [1, 3],
                    "heading": True, "heading_weight": 1.0}


@pytest.fixture(scope="module")
def data(root):
    return prepare_data(load_paragraphs(["gold"], root / "labels"))


@pytest.fixture(scope="module")
def model_dir(data, tmp_path_factory):
    pipeline = fit_final(data, HEADING_FEATURES, {"classifier": "logreg"})
    directory = tmp_path_factory.mktemp("heading") / "model"
    save_model(pipeline, {"experiment": "heading-test", "labels": data.labels,
                          "thresholds": dict.fromkeys(data.labels, 0.5),
                          "features": HEADING_FEATURES}, directory)
    return directory


def test_training_and_every_tagging_path_give_one_score(data, model_dir, seed_paths, tmp_path):
    model = load_model(model_dir)
    assert model.uses_headings
    # What training fitted on: the (text, heading) rows of the labelled data.
    trained = model.pipeline.predict_proba(data.inputs)
    by_tag = model.tag(data.texts, headings=data.headings)
    frame = model.pipeline.predict_proba(pd.DataFrame({"text": data.texts,
                                                       "heading": data.headings}))
    np.testing.assert_allclose(frame, trained, atol=1e-12)
    np.testing.assert_allclose([list(p.scores.values()) for p in by_tag], trained.round(4),
                               atol=1e-9)
    # A .jsonl of records carrying their heading.
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps({"id": str(i), "text": t, "heading": h},
                                          ensure_ascii=False) + "\n"
                               for i, (t, h) in enumerate(zip(data.texts, data.headings,
                                                              strict=True))), encoding="utf-8")
    from_jsonl = tag_path(model, records).paragraphs
    assert [p.scores for p in from_jsonl] == [p.scores for p in by_tag]
    # A report file: segmentation finds the headings the gold records were labelled under.
    gold = {(r, t): row for row, (r, t) in enumerate(zip(data.report_ids, data.texts,
                                                         strict=True))}
    report = tag_report(model, seed_paths["seed-001"])
    matched = under_heading = 0
    for paragraph in report.paragraphs:
        row = gold.get(("seed-001", paragraph.text))
        if row is not None and (paragraph.heading or "") == data.headings[row]:
            assert paragraph.scores == by_tag[row].scores
            matched += 1
            under_heading += bool(paragraph.heading)
    assert matched >= 15 and under_heading >= 10, (matched, under_heading)


def test_the_heading_changes_the_score_and_text_only_input_still_works(model_dir):
    model = load_model(model_dir)
    text = "全年共召开各类协商会议二十余次，形成一批有分量的成果。"
    plain = model.predict_proba([text])
    under = model.predict_proba([text], headings=["（四）加强自身建设，履职能力不断提升"])
    assert not np.allclose(plain, under)
    assert model.pipeline.predict_proba(pd.DataFrame({"text": [text]})) == pytest.approx(plain)
    assert model.pipeline.predict_proba([text]) == pytest.approx(plain)


_NOT_A_CHARACTER = re.compile(r"[\W_]+")


def test_evidence_is_never_a_lone_character_or_punctuation(model_dir, seed_paths):
    model = load_model(model_dir)
    names = model.pipeline.named_steps["features"].get_feature_names_out()
    # The features do include single characters and punctuation fragments (char 1-grams and
    # 2-grams such as "(一"): the filter is what keeps them out of the evidence.
    assert any(len(_NOT_A_CHARACTER.sub("", n.split("__")[-1])) < 2 for n in names)
    shown = 0
    for seed in sorted(seed_paths):
        for paragraph in tag_report(model, seed_paths[seed]).paragraphs:
            for grams in paragraph.evidence.values():
                for gram in grams:
                    shown += 1
                    core = gram.removeprefix("heading:")
                    assert len(_NOT_A_CHARACTER.sub("", core)) >= 2, gram
    assert shown > 50


def test_a_bad_heading_in_a_jsonl_input_is_named(tmp_path, model_dir):
    from cppcc_themes.features.readers import ReadError

    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "推动经济发展", "heading": 3}\n', encoding="utf-8")
    with pytest.raises(ReadError, match=r"bad.jsonl:1: 'heading'"):
        tag_path(ThemeModel(load_model(model_dir).pipeline, load_model(model_dir).metadata),
                 path)
