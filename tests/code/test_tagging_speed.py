"""The fast paths of tagging give exactly what the plain ones gave: normalisation, token filter,
evidence, output dicts, the tokenizer backend chosen at load time, the model file format."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cppcc_themes.features.tokenize as tokenize_module
from cppcc_themes.features.normalize import normalize_text, to_half_width
from cppcc_themes.features.segment import segment_report
from cppcc_themes.features.tokenize import TOKENIZER_ENV, Tokenizer, tagging_backend
from cppcc_themes.train.package import ModelLoadError, load_model
from cppcc_themes.train.predict import is_evidence, readable_feature_name, theme_coefficients

ROOT = Path(__file__).resolve().parents[2]


# The normalisation as it was before the fast paths: the reference they must equal.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_GLOSS = re.compile(
    rf"(?<=[\u4e00-\u9fff])[(（]\s*[a-zü{_TONED}]*[{_TONED}][a-zü{_TONED}]*\s*[)）]")
_ORPHAN = re.compile(rf"\?[a-zü{_TONED}]+\)[a-z]?(?=[(（\u4e00-\u9fff])")


def _reference_normalize(text: str) -> str:
    import opencc

    text = _GLOSS.sub("", _ORPHAN.sub("", text)).translate(_FULL_WIDTH)
    text = opencc.OpenCC("t2s").convert(text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])", "", text)


@pytest.fixture(scope="module")
def paragraphs(seed_paths) -> list[str]:
    """Every paragraph of the seeds (one of them traditional, with pinyin glosses)."""
    return [p.text for path in seed_paths.values()
            for p in segment_report(path.read_text(encoding="utf-8"))]


def test_half_width_equals_the_translate_table_on_every_bmp_character():
    every = "".join(chr(code) for code in range(1, 0x10000) if not 0xD800 <= code < 0xE000)
    assert to_half_width(every) == every.translate(_FULL_WIDTH)
    assert to_half_width("（２０２３年）　ＡＢＣ，ｘ") == "(2023年) ABC,x"


def test_normalize_text_equals_the_reference(paragraphs, seed_paths):
    tricky = ["深入?yún)f(xié)商議政", "政協(xié)忻州市委員會", "本报记者 何龙 摄", "COVID 19 疫情",
              "（一）　全面 加强", "推广应用(app)", "?", "", "  ", "a\u3000b"]
    for text in [*paragraphs, *tricky, seed_paths["seed-002"].read_text(encoding="utf-8")]:
        assert normalize_text(text) == _reference_normalize(text), text[:40]


def test_content_token_filter_equals_the_regex(paragraphs, monkeypatch):
    monkeypatch.setattr(tokenize_module, "_CONTENT_TOKEN", {})
    monkeypatch.setattr(tokenize_module, "_CONTENT_TOKEN_LIMIT", 50)  # forces clearing
    keep = re.compile(r"[\u4e00-\u9fffA-Za-z]")
    tokenizer = Tokenizer(remove_stopwords=False)
    for text in paragraphs[:80]:
        normalised = normalize_text(text)
        expected = [t for t in tokenizer.cut(normalised) if keep.search(t)]
        assert tokenizer.tokenize(normalised) == expected
        assert len(tokenize_module._CONTENT_TOKEN) <= 50


@pytest.fixture(scope="module")
def model(packaged_model_dir):
    return load_model(packaged_model_dir)


def _reference_explain(model, features, row: int, themes: list[str], size: int = 5):
    """Evidence as computed before: one sparse row at a time, every feature named and
    sorted into evidence or not up front."""
    names = np.asarray([readable_feature_name(name) for name
                        in model.pipeline.steps[-2][1].get_feature_names_out()], dtype=object)
    coef = theme_coefficients(model.pipeline.steps[-1][1], len(model.labels), len(names))
    coef = np.where([is_evidence(name) for name in names], coef, 0.0)
    vector = features[row].tocsr()
    evidence = {}
    for theme in themes:
        contributions = vector.data * coef[model.labels.index(theme), vector.indices]
        order = np.argsort(-contributions)[:size]
        evidence[theme] = {str(names[vector.indices[i]]): round(float(contributions[i]), 4)
                           for i in order if contributions[i] > 0}
    return evidence


@pytest.fixture(scope="module")
def default_experiment_model(gold_dataset):
    """The default experiment's pipeline (word and character blocks, calibrated linear SVM:
    three coefficient rows per theme) fitted on gold, not packaged."""
    from cppcc_themes.experiments.config import load_config
    from cppcc_themes.train.data import label_matrix, label_names
    from cppcc_themes.train.model import build_pipeline
    from cppcc_themes.train.predict import ThemeModel

    config = load_config(ROOT / "experiments" / "baseline.toml")
    labels = label_names(gold_dataset)
    pipeline = build_pipeline(config.features, config.model).fit(
        list(gold_dataset["text"]), label_matrix(gold_dataset["labels"], len(labels)))
    return ThemeModel(pipeline, {"labels": labels, "thresholds": dict.fromkeys(labels, 0.5)})


@pytest.mark.parametrize("which", ["model", "default_experiment_model"])
def test_evidence_of_a_whole_report_equals_row_by_row(which, paragraphs, request):
    from cppcc_themes.train.predict import ThemeModel

    loaded = request.getfixturevalue(which)
    model = ThemeModel(loaded.pipeline, loaded.metadata)  # names no feature yet
    features, probabilities = model._features_and_proba(paragraphs)
    themes = [[label for label, p, t in zip(model.labels, row, model.thresholds, strict=True)
               if p >= t] for row in probabilities]
    assert sum(map(len, themes)) > 20  # the comparison covers real evidence
    # One paragraph first: features are named as paragraphs bring them, and the rest later.
    assert model.explain(features, 3, model.labels) == \
        _reference_explain(model, features, 3, model.labels)
    fast = model.explain_rows(features, themes)
    assert fast == [_reference_explain(model, features, i, t) for i, t in enumerate(themes)]
    # Dense features give the same as sparse ones, and explain() is one row of explain_rows().
    assert model.explain_rows(features.toarray()[:40], themes[:40]) == fast[:40]


def test_tagged_paragraph_dict_equals_asdict(model, paragraphs):
    tagged = model.tag(paragraphs[:60], report="seed")
    assert any(p.evidence for p in tagged)
    for paragraph in tagged:
        as_dict = paragraph.to_dict()
        # "columns" (a table row's other columns) only appears for paragraphs from tables.
        expected = {k: v for k, v in dataclasses.asdict(paragraph).items() if k != "columns"}
        assert as_dict == expected
        assert list(as_dict) == [f.name for f in dataclasses.fields(paragraph)
                                 if f.name != "columns"]
        as_dict["scores"]["economy"] = -1.0  # a copy, like asdict's
        assert paragraph.scores["economy"] != -1.0


def test_auto_backend_is_rjieba_only_where_tokens_agree(monkeypatch):
    pytest.importorskip("rjieba")
    monkeypatch.delenv(TOKENIZER_ENV, raising=False)
    assert tagging_backend(Tokenizer("jieba")) == "rjieba"
    assert tagging_backend(Tokenizer("jieba", hmm=True)) == "jieba"
    assert tagging_backend(Tokenizer("jieba"), "model") == "jieba"
    assert tagging_backend(Tokenizer("rjieba"), "jieba") == "jieba"
    monkeypatch.setenv(TOKENIZER_ENV, "jieba")
    assert tagging_backend(Tokenizer("jieba")) == "jieba"
    assert tagging_backend(Tokenizer("jieba"), "auto") == "rjieba"  # the argument wins
    monkeypatch.setenv(TOKENIZER_ENV, "thulac")
    with pytest.raises(ValueError, match=TOKENIZER_ENV):
        tagging_backend(Tokenizer("jieba"))


def test_load_model_records_the_backend_it_tags_with(packaged_model_dir, monkeypatch):
    pytest.importorskip("rjieba")
    monkeypatch.delenv(TOKENIZER_ENV, raising=False)
    assert load_model(packaged_model_dir).tokenizer_backends == {"features__tokenizer": "rjieba"}
    assert load_model(packaged_model_dir, "model").tokenizer_backends == \
        {"features__tokenizer": "jieba"}
    monkeypatch.setenv(TOKENIZER_ENV, "jieba")
    assert load_model(packaged_model_dir).tokenizer_backends == {"features__tokenizer": "jieba"}
    with pytest.raises(ModelLoadError, match="unknown tokenizer 'fast'"):
        load_model(packaged_model_dir, "fast")


def test_tag_command_writes_the_same_with_either_backend(packaged_model_dir, seed_paths,
                                                         tmp_path):
    """On the seeds and the 31 government work reports (610 k characters)."""
    pytest.importorskip("rjieba")
    from benchmarks.common import write_corpus
    from cppcc_themes.experiments.cli import main

    write_corpus(tmp_path / "corpus")
    outputs = {}
    for choice in ("jieba", "auto"):
        outputs[choice] = tmp_path / f"{choice}.jsonl"
        assert main(["tag", *map(str, seed_paths.values()), str(tmp_path / "corpus"),
                     "--model", str(packaged_model_dir),
                     "--format", "jsonl", "--output", str(outputs[choice]),
                     "--tokenizer", choice]) == 0
    jieba_text = outputs["jieba"].read_text(encoding="utf-8")
    assert jieba_text.count("\n") > 3000
    assert outputs["auto"].read_text(encoding="utf-8") == jieba_text


def test_bad_tokenizer_choice_is_one_line_and_exit_2(packaged_model_dir, seed_paths, capsys,
                                                     monkeypatch):
    from cppcc_themes.experiments.cli import main

    monkeypatch.setenv(TOKENIZER_ENV, "fastest")
    code = main(["tag", str(seed_paths["seed-000"]), "--model", str(packaged_model_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and TOKENIZER_ENV in err and "fastest" in err


def test_report_frames_work_in_a_process_that_tagged_first(packaged_model_dir,
                                                           seed_paths):
    """Report frames work in a process that loaded a model and tagged first."""
    code = ("import sys; from cppcc_themes import load_model, tag_report; "
            f"m = load_model({str(packaged_model_dir)!r}); "
            f"r = tag_report(m, {str(seed_paths['seed-001'])!r}); "
            "frame = r.to_frame(); "
            "print(len(frame), 'score_economy' in frame.columns)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    rows, has_scores = run.stdout.split()
    assert has_scores == "True" and int(rows) > 10
