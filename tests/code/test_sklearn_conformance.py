"""The package's estimators follow scikit-learn's conventions: its own estimator checks, search
with any scorer (on one machine and through the Dask joblib backend), and FastTfidfVectorizer
equal to TfidfVectorizer for any corpus, settings and refit (hypothesis)."""

from __future__ import annotations

import pickle
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

import cppcc_themes.features.vectorize as vectorize
from cppcc_themes.experiments.config import load_config
from cppcc_themes.features.cues import CueFeatures
from cppcc_themes.features.embeddings import SentenceEmbedder
from cppcc_themes.features.shape import LineShapeFeatures
from cppcc_themes.features.vectorize import FastTfidfVectorizer
from cppcc_themes.train.data import label_matrix, label_names
from cppcc_themes.train.model import MultiLabelThemeClassifier, build_classifier, build_pipeline

# Checks that do not apply to a multi-label classifier, and why. Each theme is a binary
# problem with a 0/1 column in Y and a 0/1 column (a probability column) in the output; these
# checks train on one 1-D column of class labels, or on labels other than 0/1, and expect 1-D
# class predictions or [1 - p, p] probability pairs back.
MULTI_LABEL_ONLY = {
    "check_classifiers_train": "expects 1-D class predictions; this gives one 0/1 column per "
                               "theme",
    "check_classifiers_classes": "trains on 1-D (and string) class labels, not a 0/1 matrix",
    "check_classifier_data_not_an_array": "trains on labels {1, 2}, not 0/1 theme indicators",
    "check_estimators_dtypes": "trains on integer labels other than 0/1",
    "check_fit2d_1feature": "trains on labels other than 0/1 before the check it makes",
    "check_estimator_sparse_array": "expects [1 - p, p] probabilities for one binary target; "
                                    "this gives one probability column per theme",
    "check_estimator_sparse_matrix": "as check_estimator_sparse_array",
    # fit takes sample_weight (pseudo-labelled rows weigh less, train.selftrain); these checks
    # of it train on labels {1, 2} or 1-D classes (tests/model/test_corpus_training.py checks
    # the weights on theme indicators).
    "check_sample_weights_pandas_series": "trains on labels {1, 2}, not 0/1 theme indicators",
    "check_sample_weights_not_an_array": "trains on labels {1, 2}, not 0/1 theme indicators",
    "check_sample_weights_shape": "trains on labels {1, 2}, not 0/1 theme indicators",
    "check_sample_weights_not_overwritten": "trains on labels {1, 2}, not 0/1 theme "
                                            "indicators",
    "check_sample_weight_equivalence_on_dense_data": "fits 1-D class labels passed as y=; "
                                                     "fit takes the 0/1 indicator matrix Y",
    "check_sample_weight_equivalence_on_sparse_data": "as "
        "check_sample_weight_equivalence_on_dense_data",
}


TUNED = {"check_classifier_multioutput": "with tuned thresholds a theme is assigned at its "
                                        "own threshold, not at probability 0.5"}


def expected_failed_checks(estimator) -> dict[str, str]:
    if not isinstance(estimator, MultiLabelThemeClassifier):
        return {}
    return {**MULTI_LABEL_ONLY, **(TUNED if estimator.thresholds == "tuned" else {})}


ESTIMATORS = [
    build_classifier(),  # the shipped [model] defaults: logistic regression per theme
    build_classifier({"threshold": "tuned"}),
    MultiLabelThemeClassifier(),
    # The content gate (train/gate.py), as a threshold (the product is the simpler path).
    build_classifier({"gate": "threshold", "gate_threshold": 0.4}),
    # Text in: scikit-learn skips its numeric checks for string input (see the API checks
    # below and the equivalence test for what runs on these instead).
    FastTfidfVectorizer(),
    SentenceEmbedder(),
    CueFeatures(),
    LineShapeFeatures(),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# scikit-learn's checks that need no numeric data, run on the text estimators too.
API_CHECKS = ["check_no_attributes_set_in_init", "check_estimator_repr",
              "check_get_params_invariance", "check_set_params",
              "check_parameters_default_constructible",
              "check_do_not_raise_errors_in_init_or_set_params", "check_mixin_order",
              "check_valid_tag_types", "check_estimator_tags_renamed",
              "check_estimator_cloneable"]


TEXT_ESTIMATORS = [FastTfidfVectorizer(), SentenceEmbedder(), CueFeatures(), LineShapeFeatures()]


@pytest.mark.parametrize("check_name", API_CHECKS)
@pytest.mark.parametrize("estimator", TEXT_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_text_estimators_pass_the_api_checks(estimator, check_name):
    getattr(estimator_checks, check_name)(type(estimator).__name__, estimator)


def test_text_estimators_declare_string_input():
    for estimator in TEXT_ESTIMATORS:
        tags = estimator.__sklearn_tags__()
        assert tags.input_tags.string and not tags.input_tags.two_d_array


# --- MultiLabelThemeClassifier -------------------------------------------------------------

def _multi_label_data(rows: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((rows, 6))
    X[X < 0.5] = 0.0
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0.6, X[:, 3] > 0]).astype(int)
    return X, Y


def test_classifier_fitted_attributes_and_tags():
    X, Y = _multi_label_data()
    model = MultiLabelThemeClassifier().fit(X, Y)
    assert list(model.classes_) == [0, 1, 2]
    assert model.n_features_in_ == 6
    assert model.predict(X).shape == Y.shape
    tags = model.__sklearn_tags__()
    assert tags.input_tags.sparse and tags.classifier_tags.multi_label
    assert tags.target_tags.multi_output


def test_classifier_refuses_use_before_fit_and_bad_targets():
    X, Y = _multi_label_data()
    with pytest.raises(NotFittedError):
        MultiLabelThemeClassifier().predict(X)
    with pytest.raises(ValueError, match="multi-label indicator"):
        MultiLabelThemeClassifier().fit(X, np.arange(len(X)) % 3)
    with pytest.raises(ValueError, match="multi-label indicator"):
        MultiLabelThemeClassifier().fit(X, Y * 2)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MultiLabelThemeClassifier().fit(X, Y[:-1])
    with pytest.raises(ValueError, match="features"):
        MultiLabelThemeClassifier().fit(X, Y).predict(X[:, :4])


@pytest.mark.parametrize("as_input", [list, sp.coo_matrix], ids=["list", "coo"])
def test_tuned_thresholds_accept_any_array_like(as_input):
    """Tuning indexes the inner folds' rows: lists and COO matrices, which cannot be indexed
    by rows, give the model a dense or CSR array gives."""
    X, Y = _multi_label_data()
    groups = np.arange(len(X)) % 5
    reference = MultiLabelThemeClassifier(thresholds="tuned").fit(X, Y, groups=groups)
    given_input = as_input(X.tolist() if as_input is list else X)
    model = MultiLabelThemeClassifier(thresholds="tuned").fit(given_input, Y, groups=groups)
    np.testing.assert_array_equal(model.thresholds_, reference.thresholds_)
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X))


def test_tuned_thresholds_reach_the_best_f1_score_on_the_grid():
    from sklearn.metrics import f1_score

    from cppcc_themes.train.model import THRESHOLD_GRID, tune_thresholds

    rng = np.random.default_rng(3)
    Y = (rng.random((80, 4)) < 0.3).astype(int)
    probabilities = np.clip(0.35 * Y + 0.65 * rng.random(Y.shape), 0, 1).round(2)
    thresholds = tune_thresholds(Y, probabilities)
    for theme, threshold in enumerate(thresholds):
        scores = [f1_score(Y[:, theme], probabilities[:, theme] >= t) for t in THRESHOLD_GRID]
        assert f1_score(Y[:, theme], probabilities[:, theme] >= threshold) == max(scores)


def test_models_packaged_before_classes_existed_get_them_on_load():
    X, Y = _multi_label_data()
    model = MultiLabelThemeClassifier().fit(X, Y)
    state = model.__getstate__()
    for name in ("classes_", "n_features_in_"):
        state.pop(name)
    old = MultiLabelThemeClassifier.__new__(MultiLabelThemeClassifier)
    old.__setstate__(state)
    assert list(old.classes_) == [0, 1, 2] and old.n_features_in_ == 6
    np.testing.assert_array_equal(old.predict(X), model.predict(X))


@pytest.fixture(scope="module")
def shipped_search(root, gold_dataset):
    """The shipped pipeline (experiments/baseline.toml) and a small grid over it."""
    config = load_config(root / "experiments" / "baseline.toml")
    pipeline = build_pipeline(config.features, config.model)
    texts = list(gold_dataset["text"])
    Y = label_matrix(gold_dataset["labels"], len(label_names(gold_dataset)))
    groups = list(gold_dataset["report_id"])
    grid = {"classifier__estimator__estimator__C": [1.0, 10.0]}
    return pipeline, grid, texts, Y, groups


def _search(pipeline, grid, n_jobs: int = 1) -> GridSearchCV:
    return GridSearchCV(pipeline, grid, cv=GroupKFold(n_splits=2), scoring="f1_macro",
                        n_jobs=n_jobs, error_score="raise")


@pytest.fixture(scope="module")
def local_search(shipped_search) -> GridSearchCV:
    pipeline, grid, texts, Y, groups = shipped_search
    return _search(pipeline, grid).fit(texts, Y, groups=groups)


def test_grid_search_with_a_scorer_runs_over_the_shipped_pipeline(shipped_search,
                                                                   local_search):
    _, _, texts, Y, _ = shipped_search
    search = local_search
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores > 0.3) & (scores <= 1.0)), scores
    assert search.best_estimator_.predict(texts[:3]).shape == (3, Y.shape[1])


def test_grid_search_runs_through_the_dask_joblib_backend(shipped_search, local_search):
    distributed = pytest.importorskip("distributed")
    from cppcc_themes.experiments.dask_cluster import dask_joblib_backend

    pipeline, grid, texts, Y, groups = shipped_search
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            dask_joblib_backend(cluster.scheduler_address) as client, \
            distributed.get_task_stream(client) as tasks:
        remote = _search(pipeline, grid, n_jobs=2).fit(texts, Y, groups=groups)
    assert len(tasks.data) >= 4  # 2 candidates x 2 folds ran as tasks on the cluster
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local_search.cv_results_["mean_test_score"])


# --- FastTfidfVectorizer against TfidfVectorizer -------------------------------------------

def test_refit_drops_the_packed_lookup_of_the_old_vocabulary():
    """The issue's example: the packed lookup of the first corpus must not serve the second."""
    fast = FastTfidfVectorizer(analyzer="char")
    fast.fit(["ab"])
    fast.transform(["ab" * 20])
    fast.fit(["xy"])
    reference = TfidfVectorizer(analyzer="char").fit(["xy"]).transform(["xy" * 20]).toarray()
    np.testing.assert_allclose(fast.transform(["xy" * 20]).toarray(), reference)
    assert reference.max() > 0.7


def test_fitted_vectorizer_refuses_transform_before_fit():
    with pytest.raises(NotFittedError):
        FastTfidfVectorizer().transform(["协商"])


# Short texts from a small alphabet: Chinese, Latin, digits, spaces and a character outside
# the Basic Multilingual Plane, so n-grams repeat and the vocabulary stays small.
_ALPHABET = "协商民主政协ab1 𠀀"
texts = st.lists(st.text(alphabet=_ALPHABET, max_size=12), min_size=1, max_size=6)
vectorizer_settings = st.fixed_dictionaries({
    "analyzer": st.sampled_from(["char", "word", "char_wb"]),
    "ngram_range": st.tuples(st.integers(0, 4), st.integers(0, 4)),
    "sublinear_tf": st.booleans(),
    "norm": st.sampled_from(["l2", "l1", None]),
    "lowercase": st.booleans(),
    "min_df": st.sampled_from([1, 2]),
})


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(vectorizer_settings, texts, texts, texts, texts, st.booleans())
def test_fast_vectorizer_equals_scikit_learn_across_refits(settings_, first, apply_first,
                                                           second, apply_second, pack):
    """Fit, transform, fit again on another corpus, transform: every matrix (or the error
    raised, e.g. for an ngram_range scikit-learn refuses) is scikit-learn's, on both lookup
    paths (packed integer keys, n-gram strings)."""
    threshold = 0 if pack else 10**9
    with mock.patch.object(vectorize, "_CHARS_PER_TERM_TO_PACK", threshold):
        fast = FastTfidfVectorizer(**settings_)
        reference = TfidfVectorizer(**settings_)
        for train, apply in ((first, apply_first), (second, apply_second)):
            outcomes = []
            for vectorizer in (fast, reference):
                try:
                    outcomes.append(vectorizer.fit(train).transform(apply).toarray())
                except ValueError as error:
                    outcomes.append(type(error))
            mine, theirs = outcomes
            if isinstance(theirs, type):
                assert mine is theirs
            else:
                np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)
                assert fast.vocabulary_ == reference.vocabulary_
        # A pickled copy carries the packed lookup of the latest vocabulary only.
        if hasattr(fast, "vocabulary_") and not isinstance(theirs, type):
            copy = pickle.loads(pickle.dumps(fast))
            np.testing.assert_allclose(copy.transform(apply_second).toarray(), theirs,
                                       rtol=1e-12, atol=1e-12)


def test_zero_length_ngrams_match_scikit_learn():
    for analyzer in ("word", "char"):
        settings_ = {"analyzer": analyzer, "ngram_range": (0, 2)}
        corpus = ["ab cd ef", "ab xy"]
        with mock.patch.object(vectorize, "_CHARS_PER_TERM_TO_PACK", 0):
            mine = FastTfidfVectorizer(**settings_).fit(corpus).transform(corpus * 5)
        theirs = TfidfVectorizer(**settings_).fit(corpus).transform(corpus * 5)
        np.testing.assert_allclose(mine.toarray(), theirs.toarray())


def test_clone_of_a_fitted_vectorizer_is_unfitted():
    fitted = FastTfidfVectorizer(analyzer="char").fit(["政协"])
    fitted.transform(["政协" * 10])
    with pytest.raises(NotFittedError):
        clone(fitted).transform(["政协"])
