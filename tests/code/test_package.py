import json
import sys
from pathlib import Path

import pytest
from model_files import copy_model, edit_metadata

from cppcc_themes.train.package import FORMAT_VERSION, ModelLoadError, load_model, save_model


def test_package_holds_model_metadata_and_card(packaged_model_dir):
    names = sorted(p.name for p in packaged_model_dir.iterdir())
    assert names == ["README.md", "metadata.json", "model.joblib"]
    meta = json.loads((packaged_model_dir / "metadata.json").read_text(encoding="utf-8"))
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["labels"] == ["ideology", "economy", "livelihood", "united_front",
                              "self_construction"]
    assert {"scikit-learn", "jieba", "python"} <= set(meta["library_versions"])
    assert len(meta["model_sha256"]) == 64


def test_format_1_model_with_scikit_learn_vectorizer_still_tags_the_same(packaged_model_dir,
                                                                          tmp_path):
    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer

    fast = load_model(packaged_model_dir)
    pipeline = joblib.load(packaged_model_dir / "model.joblib")
    pipeline.named_steps["features"].__class__ = TfidfVectorizer  # what format 1 held
    meta = json.loads((packaged_model_dir / "metadata.json").read_text(encoding="utf-8"))
    save_model(pipeline, {"labels": meta["labels"], "thresholds": meta["thresholds"]},
               tmp_path / "old")
    edit_metadata(tmp_path / "old", format_version=1)
    old = load_model(tmp_path / "old")
    assert type(old.pipeline.named_steps["features"]) is TfidfVectorizer
    texts = ["坚持和加强党对政协工作的全面领导", "围绕营商环境开展专题协商", "办好民生实事"]
    assert [p.to_dict() for p in old.tag(texts)] == [p.to_dict() for p in fast.tag(texts)]


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(ModelLoadError, match="no model directory"):
        load_model(tmp_path / "nowhere")


def test_other_format_version_is_refused(packaged_model_dir, tmp_path):
    directory = copy_model(packaged_model_dir, tmp_path)
    edit_metadata(directory, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ModelLoadError, match="format version"):
        load_model(directory)


def test_other_scikit_learn_version_is_refused(packaged_model_dir, tmp_path):
    directory = copy_model(packaged_model_dir, tmp_path)
    meta = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    edit_metadata(directory, library_versions={**meta["library_versions"],
                                                "scikit-learn": "0.24.2"})
    with pytest.raises(ModelLoadError, match="scikit-learn 0.24.2"):
        load_model(directory)


def test_tampered_model_file_is_refused(packaged_model_dir, tmp_path):
    directory = copy_model(packaged_model_dir, tmp_path)
    with (directory / "model.joblib").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelLoadError, match="sha256"):
        load_model(directory)


def test_corrupt_metadata_is_refused(packaged_model_dir, tmp_path):
    directory = copy_model(packaged_model_dir, tmp_path)
    (directory / "metadata.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(directory)


def test_failed_save_leaves_the_existing_model_whole(packaged_model_dir, tmp_path):
    directory = copy_model(packaged_model_dir, tmp_path)
    before = {p.name: p.read_bytes() for p in directory.iterdir()}

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("interrupted while writing")

    with pytest.raises(RuntimeError, match="interrupted"):
        save_model(Unpicklable(), {"labels": ["a"], "thresholds": {"a": 0.5}}, directory)
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    load_model(directory)


def test_a_format_2_model_saved_before_the_namespace_still_loads_and_tags():
    """tests/fixtures/format2-model was packaged by commit c92928b, whose pickles name
    ``features.vectorize.FastTfidfVectorizer`` and ``train.model...`` as top-level modules."""
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "format2-model"
    model = load_model(fixture)
    assert model.metadata["format_version"] == 2
    [paragraph] = model.tag(["坚持和加强党对政协工作的全面领导，深入开展理论学习。"])
    assert set(paragraph.scores) == set(model.labels)
    assert "features" not in sys.modules and "train" not in sys.modules


_COUNTS = {"tp": 3, "fn": 1, "fp": 2, "tn": 90}


@pytest.mark.parametrize("entry", [
    "rates",
    {"tpr": {"economy": 0.9}},
    {"counts": {"economy": {**_COUNTS, "tp": -1}}},
    {"counts": {"economy": _COUNTS}, "sources": {"gold": {"rows": "96", "groups": 4}}},
    {"counts": {"economy": _COUNTS}, "rows": 9.5},
    {"counts": {"economy": _COUNTS}, "recalibration": {"economy": {"intercept": 0.1}}},
    {"counts": {"economy": _COUNTS}, "training_prior": {"economy": 1.5}},
])
def test_malformed_error_rates_are_refused_at_load(packaged_model_dir, tmp_path, entry):
    from cppcc_themes.train.package import read_metadata

    model = copy_model(packaged_model_dir, tmp_path)
    edit_metadata(model, quantification=entry)
    with pytest.raises(ModelLoadError, match="'quantification' must be an object of "
                                             "out-of-fold error counts"):
        read_metadata(model)


def test_error_rates_without_rows_or_sources_still_load(packaged_model_dir, tmp_path):
    from cppcc_themes.train.package import read_metadata

    model = copy_model(packaged_model_dir, tmp_path)
    older = {"error_rates_from": "leave-one-report-out", "counts": {"economy": _COUNTS},
             "tpr": {"economy": 0.75}, "fpr": {"economy": None},
             "recalibration": {"economy": None,
                               "none": {"intercept": 0.2, "slope": 1.1,
                                        "covariance": [[0.01, 0.0], [0.0, 0.02]]}}}
    edit_metadata(model, quantification=older)
    assert read_metadata(model)["quantification"] == older
