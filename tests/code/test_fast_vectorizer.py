"""FastTfidfVectorizer must give exactly scikit-learn's features, only faster."""

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

import cppcc_themes.features.vectorize as vectorize
from cppcc_themes.features.segment import segment_report
from cppcc_themes.features.vectorize import FastTfidfVectorizer, build_vectorizer

EDGE_CASES = ["", " ", "a", "ab", "协商 民主", "𠀀𠀁x", "\x00a\x00", "a  b\t\nc", "協(xié)商議政",
              "ＡＢＣ１２３，政协", "一" * 5000]


@pytest.fixture(scope="module")
def corpus(seed_paths, gold_dataset) -> tuple[list[str], list[str]]:
    """(training texts, texts to transform): gold paragraphs, and the seeds as tagging sees them."""
    to_tag = [p.text for path in seed_paths.values()
              for p in segment_report(path.read_text(encoding="utf-8"))]
    return list(gold_dataset["text"]), to_tag + EDGE_CASES


@pytest.fixture(params=["packed", "strings"], autouse=True)
def lookup_path(request, monkeypatch) -> str:
    """Every test runs on both ways of looking n-grams up: packed integer keys (what tagging
    uses) and n-gram strings (small inputs, e.g. the folds of training)."""
    monkeypatch.setattr(vectorize, "_CHARS_PER_TERM_TO_PACK",
                        0 if request.param == "packed" else 10**9)
    return request.param


def as_sklearn(vectorizer: FastTfidfVectorizer) -> TfidfVectorizer:
    """The same fitted vectorizer, counting with scikit-learn's own code."""
    twin = pickle.loads(pickle.dumps(vectorizer))
    twin.__class__ = TfidfVectorizer
    return twin


def assert_same_matrix(fast, reference) -> None:
    assert type(fast) is type(reference)
    assert fast.shape == reference.shape
    for part in ("indptr", "indices", "data"):
        got, expected = getattr(fast, part), getattr(reference, part)
        assert got.dtype == expected.dtype, part
        np.testing.assert_array_equal(got, expected, err_msg=part)


@pytest.mark.parametrize("config", [
    {"analyzer": "char", "char_ngrams": [1, 3]},
    {"analyzer": "char", "char_ngrams": [2, 3], "min_df": 2},
    {"analyzer": "char", "char_ngrams": [2, 4]},  # longer than three: the dictionary path
    {"analyzer": "word", "word_ngrams": [1, 2]},
    {"analyzer": "word", "word_ngrams": [1, 3], "tokenizer": "rjieba"},
    {"analyzer": "word", "word_ngrams": [2, 2], "max_features": 300},
])
def test_features_equal_scikit_learns(corpus, config, lookup_path):
    train, to_transform = corpus
    fast = build_vectorizer(config).fit(train + ["𠀀𠀁x", "\x00a\x00"])
    assert isinstance(fast, FastTfidfVectorizer)
    features = fast.transform(to_transform)
    assert (fast.__dict__.get("_packed_vocabulary_cache") is not None) == \
        (lookup_path == "packed" and config["char_ngrams" if config["analyzer"] == "char"
                                             else "word_ngrams"][1] <= 3)
    assert_same_matrix(features, as_sklearn(fast).transform(to_transform))
    names, expected = fast.get_feature_names_out(), as_sklearn(fast).get_feature_names_out()
    assert names.dtype == expected.dtype and names.tolist() == expected.tolist()


def test_union_of_words_and_chars_equals_scikit_learns(corpus):
    train, to_transform = corpus
    union = build_vectorizer({"analyzer": "word+char"}).fit(train)
    reference = pickle.loads(pickle.dumps(union))
    for _, part in reference.transformer_list:
        part.__class__ = TfidfVectorizer
    assert_same_matrix(union.transform(to_transform), reference.transform(to_transform))


def test_word_ngrams_are_scikit_learns_in_order():
    vectorizer = build_vectorizer({"word_ngrams": [1, 3]})
    reference = as_sklearn(vectorizer)
    tokens = ["政协", "委员", "协商", "议政", "建言"]
    for stop_words in (None, {"协商"}):
        for length in range(len(tokens) + 1):
            assert vectorizer._word_ngrams(tokens[:length], stop_words) == \
                reference._word_ngrams(tokens[:length], stop_words)


@pytest.mark.parametrize("analyzer", ["char", "word"])
def test_small_batches_give_the_same_features(corpus, monkeypatch, analyzer):
    train, to_transform = corpus
    fast = build_vectorizer({"analyzer": analyzer, "tokenizer": "rjieba"}).fit(train)
    expected = fast.transform(to_transform)
    monkeypatch.setattr(vectorize, "_UNITS_PER_BATCH", 50)
    assert_same_matrix(fast.transform(to_transform), expected)


def split_on_bars(text: str) -> list[str]:
    """A tokenizer whose tokens may hold spaces, which scikit-learn's n-gram strings blur."""
    return text.split("|")


def test_tokens_with_spaces_count_as_scikit_learn_counts():
    train = ["a b|c|d", "a|b c|d", "a|b|c d", "e|f"]
    to_transform = ["a b|c", "a|b|c", "a|b c", "e|f|a b", "x y|z"]
    fast = FastTfidfVectorizer(tokenizer=split_on_bars, token_pattern=None, lowercase=False,
                               ngram_range=(1, 3)).fit(train)
    assert_same_matrix(fast.transform(to_transform), as_sklearn(fast).transform(to_transform))
    # No token with a space in the batch: the packed path must still find the unigram "a b".
    without_spaces = ["a|b|c", "a|b", "b|c|d"]
    assert_same_matrix(fast.transform(without_spaces),
                       as_sklearn(fast).transform(without_spaces))


def test_vocabulary_pickles_compactly_and_comes_back_whole(corpus):
    train, to_transform = corpus
    fast = build_vectorizer({"analyzer": "char"}).fit(train)
    fast.transform(to_transform[:3])  # builds the packed lookup, which must not be pickled
    state = fast.__getstate__()
    assert "vocabulary_" not in state and "_packed_vocabulary_cache" not in state
    assert "vocabulary_" in fast.__dict__  # pickling leaves the live object alone
    restored = pickle.loads(pickle.dumps(fast))
    assert restored.vocabulary_ == fast.vocabulary_
    # The packed lookup travels in the pickle, so loading does not rebuild it.
    assert restored.__dict__["_packed_vocabulary_cache"] is not None
    assert_same_matrix(restored.transform(to_transform), fast.transform(to_transform))


def test_unfitted_vectorizer_pickles_too():
    restored = pickle.loads(pickle.dumps(build_vectorizer({"analyzer": "char"})))
    assert not hasattr(restored, "vocabulary_")
