import numpy as np

from cppcc_themes.train.package import load_model, save_model


def test_packaged_model_predicts_like_the_fitted_one(packaged_model_dir, gold_dataset, tmp_path):
    model = load_model(packaged_model_dir)
    texts = list(gold_dataset["text"])
    before = model.predict_proba(texts)
    again = save_model(model.pipeline, {k: model.metadata[k] for k in ("labels", "thresholds")},
                       tmp_path / "again")
    after = load_model(again).predict_proba(texts)
    np.testing.assert_array_equal(before, after)
    assert before.shape == (len(texts), 5)


def test_tag_gives_themes_at_or_above_threshold(packaged_model_dir):
    model = load_model(packaged_model_dir)
    [tagged] = model.tag(["坚持和加强党对政协工作的全面领导,深入开展主题教育"])
    assert set(tagged.scores) == set(model.labels)
    assert tagged.themes == [t for t in model.labels if tagged.scores[t] >= 0.5]
