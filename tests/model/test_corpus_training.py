"""Training with an unlabelled corpus (issue 10): TF-IDF vocabulary and IDF fitted with the
corpus (``features.idf_corpus``) and self-training on pseudo-labelled corpus paragraphs
(``model.self_training``). Both read the corpus at fit time only: the packaged model tags
exactly as fitted with the corpus gone, and the yardstick's shared path scores as the
pipeline does alone."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

import cppcc_themes
from cppcc_themes.features.corpus import corpus_paragraphs, resolve_corpus
from cppcc_themes.features.token_cache import use_token_cache
from cppcc_themes.features.vectorize import build_vectorizer
from cppcc_themes.train import select
from cppcc_themes.train.data import load_paragraphs
from cppcc_themes.train.model import build_classifier, build_pipeline
from cppcc_themes.train.package import save_model
from cppcc_themes.train.select import Candidate, FoldUnit, joint_folds
from cppcc_themes.train.selftrain import (
    SelfTrainingPipeline,
    choose_pseudo_labels,
    self_training_settings,
)
from cppcc_themes.train.train import prepare_data

SMALL = {"analyzer": "word", "word_ngrams": [1, 1]}
ONE_REPORT = "2026_上海市_政府工作报告.csv"


@pytest.fixture(scope="module")
def corpus(root, tmp_path_factory):
    """One report of the shipped corpus, copied: a small corpus a test may delete."""
    folder = tmp_path_factory.mktemp("corpus") / "one-report"
    folder.mkdir()
    shutil.copy(root / "labels" / "corpus" / "gov-work-reports-2026" / ONE_REPORT, folder)
    return folder


@pytest.fixture(scope="module")
def gold(root):
    return prepare_data(load_paragraphs(["gold"], root / "labels"))


def test_corpus_vocabulary_and_idf_count_the_corpus_paragraphs(gold, corpus):
    texts = gold.texts
    paragraphs = list(corpus_paragraphs(corpus)[0][:, 0])
    assert len(paragraphs) > 50
    plain = build_vectorizer(SMALL).fit(texts)
    both = build_vectorizer({**SMALL, "idf_corpus": str(corpus)}).fit(texts)
    idf_only = build_vectorizer({**SMALL, "idf_corpus": str(corpus),
                                 "idf_vocabulary": "training"}).fit(texts)
    analyze = plain.build_analyzer()
    training_sets = [set(analyze(text)) for text in texts]
    corpus_sets = [set(analyze(paragraph)) for paragraph in paragraphs]
    training_terms, corpus_terms = set().union(*training_sets), set().union(*corpus_sets)
    assert set(plain.vocabulary_) == training_terms
    # vocabulary "corpus": the words of both; "training": the training texts' only.
    assert set(both.vectorizer.vocabulary_) == training_terms | corpus_terms
    assert set(idf_only.vectorizer.vocabulary_) == training_terms
    # IDF over training texts and corpus paragraphs together, scikit-learn's smoothed formula.
    documents = training_sets + corpus_sets
    for fitted in (both.vectorizer, idf_only.vectorizer):
        for term in sorted(training_terms)[::50]:
            frequency = sum(term in d for d in documents)
            expected = np.log((len(documents) + 1) / (frequency + 1)) + 1
            assert fitted.idf_[fitted.vocabulary_[term]] == pytest.approx(expected)
    # A word common in government reports weighs less than the labelled text alone says.
    common = max(sorted(training_terms & corpus_terms),
                 key=lambda t: sum(t in d for d in corpus_sets))
    assert idf_only.vectorizer.idf_[idf_only.vectorizer.vocabulary_[common]] \
        < plain.idf_[plain.vocabulary_[common]]
    assert both.get_feature_names_out().tolist() == \
        both.vectorizer.get_feature_names_out().tolist()


def test_choose_pseudo_labels_takes_confident_rows_within_each_budget():
    Y = np.array([[1, 0], [1, 0], [0, 1], [0, 0], [0, 0], [0, 0], [0, 0]])
    probabilities = np.array([
        [0.99, 0.01],   # theme 0, most confident
        [0.95, 0.02],   # theme 0, beyond its budget of ceil(0.5 * 2) = 1
        [0.95, 0.50],   # theme 1 undecided: never taken
        [0.02, 0.97],   # theme 1
        [0.01, 0.01],   # no theme, least theme-like first
        [0.05, 0.04],   # no theme
        [0.08, 0.02],   # no theme, beyond its budget of ceil(0.5 * 4) = 2
        [0.93, 0.96],   # both themes, whose budgets surer rows spent
    ])
    chosen = choose_pseudo_labels(probabilities, Y, confidence=0.9, share=0.5)
    assert chosen.rows.tolist() == [0, 3, 4, 5]
    assert chosen.labels.tolist() == [[1, 0], [0, 1], [0, 0], [0, 0]]
    assert chosen.qualified == 7
    assert chosen.counts(["a", "b"]) == {"a": 1, "b": 1, "none": 2, "paragraphs": 4,
                                         "qualified": 7}
    assert not len(choose_pseudo_labels(probabilities, Y, confidence=0.9, share=0).rows)


def test_weights_of_one_fit_as_no_weights(gold):
    X = build_vectorizer(SMALL).fit_transform(gold.texts)
    plain = build_classifier({"classifier": "linear_svm"}).fit(X, gold.Y)
    weighted = build_classifier({"classifier": "linear_svm"}).fit(
        X, gold.Y, sample_weight=np.ones(len(gold.Y)))
    np.testing.assert_allclose(weighted.predict_proba(X), plain.predict_proba(X), atol=1e-12)
    lighter = build_classifier({"classifier": "linear_svm"}).fit(
        X, gold.Y, sample_weight=np.where(np.arange(len(gold.Y)) % 2, 1.0, 0.2))
    assert not np.allclose(lighter.predict_proba(X), plain.predict_proba(X))


def test_self_training_settings_are_checked():
    assert self_training_settings({"classifier": "logreg"}) == {}
    assert self_training_settings({"self_training": "x"})["confidence"] == 0.9
    with pytest.raises(ValueError, match="confidence"):
        self_training_settings({"self_training": "x", "self_training_confidence": 0.4})
    with pytest.raises(ValueError, match="unknown corpus 'no-such-corpus'"):
        resolve_corpus("no-such-corpus")
    assert resolve_corpus("gov-work-reports-2026").name == "gov-work-reports-2026"


def test_models_fitted_with_a_corpus_tag_as_fitted_without_it(gold, corpus, tmp_path):
    """Both options package and load through cppcc_themes.load_model and tag exactly as the
    fitted pipeline, with the corpus deleted: it is read at fit time only."""
    own = tmp_path / "corpus"
    shutil.copytree(corpus, own)
    features = {**SMALL, "idf_corpus": str(own)}
    model = {"classifier": "linear_svm", "self_training": str(own),
             "self_training_confidence": 0.8}
    with use_token_cache():
        fitted = build_pipeline(features, model).fit(
            gold.inputs, gold.Y, classifier__groups=list(gold.report_ids),
            classifier__tune_on=gold.scored)
    assert isinstance(fitted, SelfTrainingPipeline) and isinstance(fitted, Pipeline)
    assert type(fitted[:-1]) is Pipeline
    [round_one] = fitted.pseudo_labels_
    assert 0 < round_one["paragraphs"] <= round_one["qualified"]
    # Within budget: at most half the labelled rows of each theme (rounded up).
    for k in range(len(gold.labels)):
        assert round_one[str(k)] <= np.ceil(0.5 * gold.Y[:, k].sum())
    expected = fitted.predict_proba(gold.inputs)
    directory = save_model(fitted, {"experiment": "corpus-test", "labels": gold.labels,
                                    "thresholds": dict.fromkeys(gold.labels, 0.5),
                                    "features": features, "model": model}, tmp_path / "model")
    shutil.rmtree(own)
    loaded = cppcc_themes.load_model(directory)
    np.testing.assert_allclose(loaded.predict_proba(gold.texts), expected, atol=1e-12)
    with pytest.raises(ValueError, match="unknown corpus"):
        clone(fitted).fit(gold.inputs, gold.Y)


def test_shared_yardstick_path_scores_corpus_options_as_their_pipelines(root, corpus):
    """The yardstick fits each feature configuration once per fold and self-trains there;
    its scores equal each candidate's own pipeline fitted on the fold's rows, to 1e-9."""
    full = prepare_data(load_paragraphs(["gold", "real-style"], root / "labels"))
    pages = sorted(set(full.report_ids[full.sources == "real-style"]))[:4]
    keep = (full.sources == "gold") | np.isin(full.report_ids, pages)
    from dataclasses import replace

    data = replace(full, texts=[t for t, k in zip(full.texts, keep, strict=True) if k],
                   headings=[h for h, k in zip(full.headings, keep, strict=True) if k],
                   Y=full.Y[keep], report_ids=full.report_ids[keep],
                   scored=full.scored[keep], sources=full.sources[keep])
    sources = ["gold", "real-style"]
    candidates = [
        Candidate("self-trained", sources, SMALL,
                  {"classifier": "logreg", "self_training": str(corpus),
                   "self_training_confidence": 0.6, "self_training_rounds": 2}),
        Candidate("corpus idf", sources, {**SMALL, "idf_corpus": str(corpus)},
                  {"classifier": "logreg"}),
    ]
    folds = joint_folds(data.report_ids, data.sources, n_folds=2)
    units = [FoldUnit(f"fold{f}", folds != f, folds == f) for f in range(2)]
    shared, _ = select.out_of_fold(data, candidates, units, n_jobs=1)
    inputs = data.inputs
    with use_token_cache():
        for f, unit in enumerate(units):
            train, test = np.flatnonzero(unit.train), np.flatnonzero(unit.test)
            for index, candidate in enumerate(candidates):
                alone = build_pipeline(candidate.features, candidate.model).fit(
                    inputs[train], data.Y[train],
                    classifier__groups=list(data.report_ids[train]),
                    classifier__tune_on=np.isin(data.sources[train], sources))
                if isinstance(alone, SelfTrainingPipeline):
                    assert all(r["paragraphs"] > 0 for r in alone.pseudo_labels_)
                got, _ = shared[f"fold{f}"][index]
                np.testing.assert_allclose(got[test], alone.predict_proba(inputs[test]),
                                           rtol=0, atol=1e-9)
