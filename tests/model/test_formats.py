"""The seeds as users have them (GB18030 and Big5 text, Word, PDF, web page) tag alike; the
outputs (evidence, profile, DataFrames, json, HTML, plot) hold what they promise."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from documents import write_docx, write_html, write_pdf

import cppcc_themes.train.predict as predict
from cppcc_themes.experiments.cli import main
from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.readers import ReadError
from cppcc_themes.train.package import load_model
from cppcc_themes.train.predict import Report, ThemeModel, tag_path, tag_paths, tag_report

SEEDS = ["seed-000", "seed-001", "seed-002", "seed-003"]
FORMATS = ["gb18030.txt", "big5.txt", "docx", "pdf", "html"]


def _big5_text(text: str) -> str:
    import opencc

    return opencc.OpenCC("s2tw").convert(text)


@pytest.fixture(scope="module")
def copies(seed_paths, tmp_path_factory) -> Path:
    """A folder of reports: each seed as UTF-8 text and in every other format."""
    folder = tmp_path_factory.mktemp("copies")
    for seed in SEEDS:
        text = seed_paths[seed].read_text(encoding="utf-8")
        (folder / "txt").mkdir(exist_ok=True)
        (folder / "txt" / f"{seed}.txt").write_text(text, encoding="utf-8")
        for fmt in FORMATS:
            (folder / fmt).mkdir(exist_ok=True)
            path = folder / fmt / f"{seed}.{fmt.split('.')[-1]}"
            if fmt == "gb18030.txt":
                path.write_bytes(text.encode("gb18030"))
            elif fmt == "big5.txt":
                # See test_readers.big5_copy_text; "replace" only hits a dropped © line.
                path.write_bytes(_big5_text(text).encode("big5hkscs", errors="replace"))
            else:
                {"docx": write_docx, "pdf": write_pdf, "html": write_html}[fmt](text, path)
    return folder


@pytest.fixture(scope="module")
def model(packaged_model_dir):
    return load_model(packaged_model_dir)


@pytest.fixture(scope="module")
def tagged(model, copies) -> dict[str, Report]:
    results = dict(tag_paths(model, [copies]))
    assert not [r for r in results.values() if isinstance(r, ReadError)]
    return {str(Path(path).relative_to(copies)): report for path, report in results.items()}


def _summary(report: Report, normalise: bool = False):
    return [(normalize_text(p.text) if normalise else p.text, p.heading is None, p.themes)
            for p in report.paragraphs]


@pytest.mark.parametrize("fmt", ["gb18030.txt", "docx", "pdf", "html"])
@pytest.mark.parametrize("seed", SEEDS)
def test_every_format_gives_the_same_paragraphs_and_themes(seed, fmt, tagged):
    original = tagged[f"txt/{seed}.txt"]
    copy = tagged[f"{fmt}/{seed}.{fmt.split('.')[-1]}"]
    assert _summary(copy) == _summary(original)
    assert [p.scores for p in copy.paragraphs] == [p.scores for p in original.paragraphs]


@pytest.mark.parametrize("seed", SEEDS)
def test_big5_copy_gives_the_same_paragraphs_and_themes(seed, tagged):
    """The Big5 copy holds traditional characters: its original text differs, what the model
    sees (the normalised text) and the themes do not. Simplified → traditional → simplified is
    not always the identity (着 → 著 stays 著), so the copy is compared with that round trip."""
    original = tagged[f"txt/{seed}.txt"]
    copy = tagged[f"big5.txt/{seed}.txt"]
    assert [p.themes for p in copy.paragraphs] == [p.themes for p in original.paragraphs]
    assert [normalize_text(p.text) for p in copy.paragraphs] == \
        [normalize_text(_big5_text(p.text)) for p in original.paragraphs]


def test_workers_give_the_same_results_in_the_same_order(model, copies, tagged, monkeypatch):
    monkeypatch.setattr(predict, "_CHUNK_FILES", 2)  # several chunks: the pool is used
    parallel = [(str(Path(path).relative_to(copies)), report)
                for path, report in tag_paths(model, [copies], workers=2)]
    assert [name for name, _ in parallel] == list(tagged)
    for name, report in parallel:
        assert report.to_dict() == tagged[name].to_dict()


def test_batches_of_reports_tag_as_each_report_alone(model, copies, tagged):
    for name, report in tagged.items():
        assert tag_path(model, copies / name).to_dict() == report.to_dict()


@pytest.mark.parametrize("workers", [1, 2])
def test_tiny_batches_and_window_give_the_same_results(model, copies, tagged, workers,
                                                        monkeypatch):
    monkeypatch.setattr(predict, "BATCH_CHARS", 1)
    monkeypatch.setattr(predict, "_CHUNKS_AHEAD_PER_WORKER", 1)
    monkeypatch.setattr(predict, "_CHUNK_BYTES", 1)  # one file per chunk
    results = [(str(Path(path).relative_to(copies)), report.to_dict())
               for path, report in tag_paths(model, [copies], workers=workers)]
    assert results == [(name, report.to_dict()) for name, report in tagged.items()]


def test_a_report_that_breaks_the_model_fails_alone_in_its_batch(model, copies, tagged,
                                                                  tmp_path):
    class FragileModel(ThemeModel):
        def _judge(self, texts, headings=None):
            if any("弄坏模型" in text for text in texts):
                raise RuntimeError("boom")
            return super()._judge(texts, headings)

    bad = tmp_path / "bad.txt"
    bad.write_text("这一段会弄坏模型。", encoding="utf-8")
    good = [copies / "txt" / "seed-000.txt", copies / "txt" / "seed-001.txt"]
    results = list(tag_paths(FragileModel(model.pipeline, model.metadata),
                             [good[0], bad, good[1]]))
    assert [path for path, _ in results] == [str(good[0]), str(bad), str(good[1])]
    assert str(results[1][1]) == f"{bad}: cannot be tagged (RuntimeError: boom)"
    for (_, report), name in zip([results[0], results[2]], ["seed-000", "seed-001"], strict=True):
        assert report.to_dict() == tagged[f"txt/{name}.txt"].to_dict()


def test_evidence_is_the_ngrams_that_pushed_each_assigned_theme(model, tagged):
    report = tagged["txt/seed-001.txt"]
    with_themes = [p for p in report.paragraphs if p.themes]
    assert with_themes
    for paragraph in report.paragraphs:
        assert set(paragraph.evidence) == set(paragraph.themes)
        for grams in paragraph.evidence.values():
            weights = list(grams.values())
            assert weights == sorted(weights, reverse=True) and all(w > 0 for w in weights)
            text = normalize_text(paragraph.text)
            assert all(token in text for gram in grams for token in gram.split())
    # The weights are feature value × coefficient of the fitted pipeline: recompute one.
    paragraph = with_themes[0]
    theme = paragraph.themes[0]
    gram, weight = next(iter(paragraph.evidence[theme].items()))
    vectorizer = model.pipeline.named_steps["features"]
    column = list(vectorizer.get_feature_names_out()).index(gram)
    value = vectorizer.transform([paragraph.text])[0, column]
    estimator = model.pipeline.named_steps["classifier"].classifier_.estimators_[
        model.labels.index(theme)]
    assert weight == pytest.approx(value * estimator.coef_[0, column], abs=1e-4)


@pytest.mark.parametrize("analyzer", ["char", "word+char"])
def test_evidence_ngrams_are_in_the_paragraph_even_with_underscores(gold_dataset, analyzer):
    """Only a FeatureUnion's names carry a "part__" prefix; a plain vectoriser's n-gram that
    holds "__" itself must come out whole."""
    from cppcc_themes.train.data import label_matrix, label_names
    from cppcc_themes.train.model import build_pipeline
    from cppcc_themes.train.predict import ThemeModel

    labels = label_names(gold_dataset)
    texts = [*gold_dataset["text"], "政协__委员__协商"]
    targets = label_matrix([*gold_dataset["labels"], gold_dataset["labels"][0]], len(labels))
    # 4-grams: evidence needs two characters besides punctuation, so "协__委" can show.
    pipeline = build_pipeline({"analyzer": analyzer, "char_ngrams": [1, 4]}).fit(texts, targets)
    meta = {"labels": labels, "thresholds": dict.fromkeys(labels, 0.0)}  # every theme shown
    [tagged] = ThemeModel(pipeline, meta).tag(["政协__委员__协商"])
    grams = [gram for found in tagged.evidence.values() for gram in found]
    assert any("__" in gram for gram in grams) or analyzer == "word+char"
    assert all(token in "政协__委员__协商" for gram in grams for token in gram.split())


def test_evidence_from_calibrated_and_nonlinear_classifiers(gold_dataset):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    from cppcc_themes.train.data import label_matrix, label_names
    from cppcc_themes.train.model import MultiLabelThemeClassifier, build_pipeline
    from cppcc_themes.train.predict import ThemeModel

    labels = label_names(gold_dataset)
    texts, targets = list(gold_dataset["text"]), label_matrix(gold_dataset["labels"],
                                                             len(labels))
    meta = {"labels": labels, "thresholds": dict.fromkeys(labels, 0.5)}
    for base, expect_evidence in ((CalibratedClassifierCV(LinearSVC(), cv=3), True),
                                  (DecisionTreeClassifier(max_depth=3, random_state=0), False)):
        pipeline = build_pipeline()
        pipeline.set_params(classifier=MultiLabelThemeClassifier(base))
        pipeline.fit(texts, targets)
        tagged = ThemeModel(pipeline, meta).tag(texts[:40])
        assigned = [p for p in tagged if p.themes]
        assert assigned
        assert any(p.evidence for p in assigned) == expect_evidence
        np.testing.assert_allclose([list(p.scores.values()) for p in tagged],
                                   pipeline.predict_proba(texts[:40]), atol=1e-4)


def test_profile_shares_and_frames(model, seed_paths):
    report = tag_report(model, seed_paths["seed-002"])
    profile = report.profile
    assert list(profile) == [*model.labels, "none"]
    assert profile["none"]["paragraphs"] == sum(not p.themes for p in report.paragraphs)
    for theme in model.labels:
        members = [p for p in report.paragraphs if theme in p.themes]
        assert profile[theme]["paragraphs"] == len(members)
        assert profile[theme]["chars"] == sum(len(p.text) for p in members)
    frame = report.paragraphs.to_frame()
    assert len(frame) == len(report.paragraphs)
    assert {"text", "themes", "evidence", *[f"score_{t}" for t in model.labels]} <= set(frame)
    profile_frame = profile.to_frame()
    assert list(profile_frame.index) == [*model.labels, "none"]
    assert profile_frame.loc["none", "paragraph_share"] == profile["none"]["paragraph_share"]


def test_json_format_is_one_object_per_report(packaged_model_dir, seed_paths, capsys):
    code = main(["tag", str(seed_paths["seed-000"]), str(seed_paths["seed-001"]),
                 "--model", str(packaged_model_dir), "--format", "json"])
    reports = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [r["report"] for r in reports] == ["seed-000", "seed-001"]
    assert [len(r["paragraphs"]) for r in reports] == [9, 19]
    assert set(reports[0]["profile"]) == {"ideology", "economy", "livelihood", "united_front",
                                          "self_construction", "none"}


def test_html_page_shows_paragraphs_scores_and_profile(packaged_model_dir, seed_paths, tmp_path,
                                                       capsys):
    page = tmp_path / "tags.html"
    missing = tmp_path / "missing.txt"
    code = main(["tag", str(seed_paths["seed-001"]), str(missing), "--model",
                 str(packaged_model_dir), "--format", "csv", "--html", str(page)])
    capsys.readouterr()
    text = page.read_text(encoding="utf-8")
    assert code == 1
    assert text.count('class="paragraph') == 19
    assert "二是紧贴民生助推高质量发展。" in text
    assert text.count('class="fill paragraphs"') == 6  # one profile bar per theme and none
    assert "民生福祉" in text and "missing.txt: no such file" in text
    assert "http" not in text.replace("http-equiv", "")  # nothing loaded from outside


def test_profile_plot_draws_chinese_labels(packaged_model_dir, seed_paths, tmp_path, capsys):
    plot = tmp_path / "profiles.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["profile", *[str(seed_paths[s]) for s in SEEDS], "--model",
                     str(packaged_model_dir), "--plot", str(plot)])
    out = capsys.readouterr().out
    assert code == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [w for w in caught if "missing from font" in str(w.message)]
    assert all(seed in out for seed in SEEDS)


@pytest.mark.slow
def test_html_page_renders_in_headless_chromium(packaged_model_dir, root, tmp_path):
    import shutil
    import subprocess
    import sys

    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    output = tmp_path / "tag-html.png"
    subprocess.run([sys.executable, str(root / "docs" / "screenshot.py"), "--model",
                    str(packaged_model_dir), "--output", str(output)], check=True, timeout=300)
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and output.stat().st_size > 50_000
