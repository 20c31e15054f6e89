import pickle

import numpy as np
import pytest

from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.segment import segment_report
from cppcc_themes.features.tokenize import Tokenizer, load_stopwords, load_user_dictionary
from cppcc_themes.features.vectorize import (
    build_vectorizer,
    describe_tokenizers,
    find_tokenizers,
    with_tokenizer,
)

CPPCC_TERMS = ["统一战线", "凝聚共识", "专门协商机构", "习近平新时代中国特色社会主义思想",
               "铸牢中华民族共同体意识", "委员工作室"]


def test_tokenizer_pickles_by_value():
    tokenizer = Tokenizer(backend="jieba", hmm=False)
    clone = pickle.loads(pickle.dumps(tokenizer))
    assert clone == tokenizer
    assert clone("加强专门协商机构建设") == tokenizer("加强专门协商机构建设")


def test_fitted_vectorizer_pickles_and_gives_the_same_features():
    texts = ["坚持和加强党对政协工作的全面领导", "围绕营商环境开展专题协商", "广泛凝聚共识"]
    vectorizer = build_vectorizer({"analyzer": "word+char"}).fit(texts)
    restored = pickle.loads(pickle.dumps(vectorizer))
    assert (restored.transform(texts) != vectorizer.transform(texts)).nnz == 0


@pytest.mark.parametrize("term", CPPCC_TERMS)
def test_user_dictionary_keeps_cppcc_terms_whole(term):
    assert term in Tokenizer()(f"我们要坚持{term}不动摇")
    assert term in dict(load_user_dictionary())


def test_stopwords_and_punctuation_are_dropped():
    tokens = Tokenizer()("我们和他们的工作,2023年。")
    assert tokens == ["工作"]
    assert "的" in load_stopwords()


def test_stopwords_can_be_kept():
    assert "的" in Tokenizer(remove_stopwords=False)("政协的工作")


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown tokenizer backend"):
        Tokenizer(backend="thulac")


def test_rjieba_gives_the_same_tokens_as_jieba_on_the_seeds(seed_paths):
    pytest.importorskip("rjieba")
    reference, fast = Tokenizer("jieba"), Tokenizer("rjieba")
    for path in seed_paths.values():
        text = normalize_text(path.read_text(encoding="utf-8"))
        assert fast.cut(text) == reference.cut(text), path.name


def test_vectorizer_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown"):
        build_vectorizer({"ngram": [1, 2]})


def test_packaged_pipeline_records_its_tokenizer(packaged_model_dir):
    from cppcc_themes.train.package import load_model

    pipeline = load_model(packaged_model_dir, tokenizer="model").pipeline
    assert describe_tokenizers(pipeline) == {
        "features__tokenizer": {"backend": "jieba", "hmm": False, "remove_stopwords": True}}


@pytest.mark.parametrize(("trained_with", "tagged_with"), [("jieba", "rjieba"),
                                                           ("rjieba", "jieba")])
def test_a_model_trained_with_one_backend_tags_identically_with_the_other(
        trained_with, tagged_with, gold_dataset, seed_paths):
    pytest.importorskip("rjieba")
    from cppcc_themes.train.data import label_matrix, label_names
    from cppcc_themes.train.model import build_pipeline

    texts = list(gold_dataset["text"])
    Y = label_matrix(gold_dataset["labels"], len(label_names(gold_dataset)))
    fitted = build_pipeline({"tokenizer": trained_with, "analyzer": "word+char"}).fit(texts, Y)
    swapped = with_tokenizer(fitted, backend=tagged_with)
    assert {t.backend for t in find_tokenizers(swapped).values()} == {tagged_with}
    assert {t.backend for t in find_tokenizers(fitted).values()} == {trained_with}
    paragraphs = [p.text for path in seed_paths.values()
                  for p in segment_report(path.read_text(encoding="utf-8"))]
    assert np.array_equal(swapped.predict_proba(paragraphs), fitted.predict_proba(paragraphs))
