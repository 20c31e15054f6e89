"""TF-IDF features over jieba words, characters, or both, built from an experiment's config."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

try:  # scikit-learn >= 1.8 returns sparse arrays or matrices as configured
    from sklearn.utils._sparse import _align_api_if_sparse
except ImportError:  # pragma: no cover - older scikit-learn counts into a sparse matrix
    def _align_api_if_sparse(matrix):
        return sp.csr_matrix(matrix)

from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.tokenize import Tokenizer, tagging_backend

__all__ = ["DEFAULT_FEATURES", "FastTfidfVectorizer", "build_vectorizer", "describe_tokenizers",
           "find_tokenizers", "set_tagging_tokenizers", "tokenizer_from_config", "with_tokenizer"]

DEFAULT_FEATURES: dict[str, Any] = {
    "analyzer": "word",  # word | char | word+char
    "word_ngrams": [1, 2],
    "char_ngrams": [1, 3],
    "min_df": 1,
    "max_df": 1.0,
    "max_features": None,
    "sublinear_tf": True,
    "tokenizer": "jieba",
    "hmm": False,
    "remove_stopwords": True,
    # An unlabelled corpus (a name under labels/corpus, or a path) whose paragraphs join the
    # training texts when the TF-IDF vocabulary and IDF weights are fitted (fit time only);
    # idf_vocabulary "training" takes the vocabulary from the training texts alone.
    "idf_corpus": "",
    "idf_vocabulary": "corpus",
}


# Bits per unit of an n-gram's integer key: every Unicode code point fits in 21 bits, and so
# does the number of a token unless the vocabulary has over two million distinct tokens; three
# units pack into one uint64.
_UNIT_BITS = 21
_MAX_PACKED_UNITS = 3
# Units (characters, tokens, n-grams) counted together: the integer arrays of a batch take a
# few tens of MB however long the report.
_UNITS_PER_BATCH = 1 << 20
_CHARS_PER_TERM_TO_PACK = 10


class FastTfidfVectorizer(TfidfVectorizer):
    """scikit-learn's ``TfidfVectorizer`` with a fast ``transform`` and a compact pickle.

    Fitting is scikit-learn's own. Applying a fitted vocabulary is where tagging spends its
    time, and scikit-learn counts there with one dictionary lookup and one caught KeyError
    per n-gram in Python. Here the n-grams of up to three units (characters, or tokens
    numbered by the vocabulary) are packed into integers and looked up for a batch of
    documents at once with numpy and a hash index; other settings look up n-gram strings with
    ``dict.get`` mapped in C. The counts are exactly scikit-learn's (tests compare both on
    real reports), so the Pipeline is still the model.

    The vocabulary pickles as one string plus term lengths instead of a dict of ~10^5
    strings, which joblib's pure-Python unpickler loads several times faster.
    """

    def fit(self, raw_documents, y=None):
        self._forget_packed_vocabulary()
        return super().fit(raw_documents, y)

    def fit_transform(self, raw_documents, y=None):
        self._forget_packed_vocabulary()
        return super().fit_transform(raw_documents, y)

    def set_params(self, **params):
        # Only settings the packed lookup depends on: loading a model sets the tokenizer,
        # and rebuilding the lookup of a large vocabulary takes ~0.2 s.
        if set(params) & {"analyzer", "ngram_range", "stop_words", "vocabulary"}:
            self._forget_packed_vocabulary()
        return super().set_params(**params)

    def _forget_packed_vocabulary(self) -> None:
        """Drop the packed lookup, which belongs to the vocabulary fitted before."""
        self.__dict__.pop("_packed_vocabulary_cache", None)

    def _word_ngrams(self, tokens, stop_words=None):
        """The n-grams of scikit-learn's ``_word_ngrams``, in the same order, built faster."""
        if self.ngram_range[0] < 1:
            # scikit-learn counts an empty "0-gram" per position there: its own code does.
            return super()._word_ngrams(tokens, stop_words)
        if stop_words is not None:
            tokens = [token for token in tokens if token not in stop_words]
        min_n, max_n = self.ngram_range
        if max_n == 1:
            return tokens
        grams = list(tokens) if min_n == 1 else []
        for n in range(max(min_n, 2), min(max_n, len(tokens)) + 1):
            if n == 2:
                pairs = zip(tokens, tokens[1:], strict=False)
                grams += [f"{first} {second}" for first, second in pairs]
            else:
                grams += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        return grams

    def _count_vocab(self, raw_documents, fixed_vocab):
        if not fixed_vocab:
            return super()._count_vocab(raw_documents, fixed_vocab)
        packed = getattr(self, "_packed_vocabulary_cache", False)
        if packed is False:
            # Packing costs ~2 µs per vocabulary term, once per fitted vectoriser, and pays
            # for itself after ~10 characters per term: not on the small folds of training.
            raw_documents = list(raw_documents)
            chars = sum(len(document) for document in raw_documents
                        if isinstance(document, str))
            worth_it = chars >= _CHARS_PER_TERM_TO_PACK * len(self.vocabulary_)
            packed = self._packed_vocabulary() if worth_it else None
        if packed is None:
            rows, columns, n_documents = self._ngram_hits(raw_documents)
        else:
            rows, columns, n_documents = self._packed_ngram_hits(raw_documents, packed)
        # 32-bit indices, as scikit-learn's own counts have below 2**31 entries.
        index_dtype = np.int32 if max(len(columns), len(self.vocabulary_)) < 2**31 else np.int64
        counts = sp.csr_array((np.ones(len(columns), dtype=self.dtype),
                               (rows.astype(index_dtype), columns.astype(index_dtype))),
                              shape=(n_documents, len(self.vocabulary_)))
        counts.sum_duplicates()  # sorted indices, one entry per (document, n-gram) with its count
        return self.vocabulary_, _align_api_if_sparse(counts)

    def _ngram_hits(self, raw_documents) -> tuple[np.ndarray, np.ndarray, int]:
        """(document row, vocabulary column) of every in-vocabulary n-gram, any analyzer.

        The n-grams of a batch of documents are looked up by ``dict.get`` mapped in C into
        one numpy array, with no Python step per n-gram; batches of about ``_UNITS_PER_BATCH``
        n-grams keep the n-gram strings of a long report from piling up.
        """
        analyze = self.build_analyzer()
        rows, columns, n_documents = [], [], 0
        for batch in _batches(map(analyze, raw_documents)):
            self._add_gram_hits(batch, n_documents, rows, columns)
            n_documents += len(batch)
        return _joined(rows), _joined(columns), n_documents

    def _add_gram_hits(self, batch: list[list[str]], first_row: int, rows: list[np.ndarray],
                       columns: list[np.ndarray]) -> None:
        """Append the (row, column) hits of the n-gram lists in ``batch``."""
        lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
        found = np.fromiter(map(self.vocabulary_.get, itertools.chain.from_iterable(batch),
                                itertools.repeat(-1)), dtype=np.int64, count=int(lengths.sum()))
        known = found >= 0
        rows.append(np.repeat(np.arange(first_row, first_row + len(batch)), lengths)[known])
        columns.append(found[known])

    def _packed_ngram_hits(self, raw_documents, packed: _PackedVocabulary,
                           ) -> tuple[np.ndarray, np.ndarray, int]:
        """``_ngram_hits`` with every n-gram packed into one integer: the units (characters,
        or tokens numbered by the vocabulary) of a batch of documents go into one array, and
        the n-grams of each length are looked up at once in a hash index."""
        preprocess, decode = self.build_preprocessor(), self.decode
        tokenize = None if packed.token_ids is None else self.build_tokenizer()
        rows, columns, n_documents = [], [], 0
        for documents in _batches(raw_documents):
            texts = [preprocess(decode(document)) for document in documents]
            # Normalising a whole batch before segmenting it keeps jieba's dictionary in the
            # CPU caches: ~7 % faster than alternating per document.
            if tokenize is None:
                units = [self._white_spaces.sub(" ", text) for text in texts]
            else:
                units = [tokenize(text) for text in texts]
            self._add_packed_hits(units, n_documents, rows, columns, packed)
            n_documents += len(documents)
        return _joined(rows), _joined(columns), n_documents

    def _add_packed_hits(self, batch: list, first_row: int, rows: list[np.ndarray],
                         columns: list[np.ndarray], packed: _PackedVocabulary) -> None:
        """Append the (row, column) hits of the unit sequences in ``batch``."""
        lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
        total = int(lengths.sum())
        if packed.token_ids is None:
            ids = np.frombuffer("".join(batch).encode("utf-32-le", "surrogatepass"),
                                dtype=np.uint32).astype(np.int64)
        else:
            # A token holding a space would make scikit-learn's n-gram strings ambiguous in a
            # way numbered tokens are not: such batches take the string path.
            if " " in "\x00".join(itertools.chain.from_iterable(batch)):
                grams = [self._word_ngrams(document) for document in batch]
                self._add_gram_hits(grams, first_row, rows, columns)
                return
            ids = np.fromiter(map(packed.token_ids.get, itertools.chain.from_iterable(batch),
                                  itertools.repeat(-1)), dtype=np.int64, count=total)
        ends = np.repeat(np.cumsum(lengths), lengths)
        rows_of = np.repeat(np.arange(first_row, first_row + len(batch)), lengths)
        positions = np.arange(total)
        for n, (keys, key_columns) in packed.tables.items():
            if not self.ngram_range[0] <= n <= self.ngram_range[1] or not len(key_columns):
                continue
            starts = positions[positions + n <= ends]
            units = [ids[starts + offset] for offset in range(n)]
            known = np.logical_and.reduce([unit >= 0 for unit in units])
            slot = keys.get_indexer(_pack_units(units, len(starts))[known])
            hit = slot >= 0
            rows.append(rows_of[starts[known][hit]])
            columns.append(key_columns[slot[hit]])

    def _packed_vocabulary(self) -> _PackedVocabulary | None:
        """The vocabulary as packed integer keys, or None where packing does not apply.

        Character n-grams pack their code points; word n-grams the numbers of their tokens
        among all tokens of the vocabulary. Up to three units of 21 bits fit in a uint64.
        A pandas hash index looks up ~5x faster than ``np.searchsorted`` on sorted keys, and
        pandas is loaded with scikit-learn anyway.
        """
        packed = getattr(self, "_packed_vocabulary_cache", False)
        if packed is False:
            packed = _pack_vocabulary(self)
            # Threads of one process may build it at once; each result is the same.
            self._packed_vocabulary_cache = packed
        return packed

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """scikit-learn's feature names (terms in column order), placed by column instead of
        sorted, which took a tenth of a second per model load on a large vocabulary."""
        self._check_vocabulary()
        names = np.empty(len(self.vocabulary_), dtype=object)
        names[np.fromiter(self.vocabulary_.values(), dtype=np.int64,
                          count=len(self.vocabulary_))] = list(self.vocabulary_)
        return names

    def __getstate__(self) -> dict:
        # A copy: the base class may hand out the instance's own __dict__.
        state = dict(super().__getstate__())
        state.pop("_packed_vocabulary_cache", None)
        vocabulary = state.pop("vocabulary_", None)
        if vocabulary is not None:
            terms = sorted(vocabulary, key=vocabulary.__getitem__)
            state["_vocabulary_terms"], state["_vocabulary_lengths"] = _join_strings(terms)
            state["_vocabulary_columns"] = np.fromiter(map(vocabulary.__getitem__, terms),
                                                       dtype=np.int64, count=len(terms))
            # Packing a large vocabulary takes ~0.2 s: done once here, not at every load.
            packed = self._packed_vocabulary()
            state["_packed_vocabulary"] = None if packed is None else packed.to_state()
        return state

    def __setstate__(self, state: dict) -> None:
        if "_vocabulary_terms" in state:
            terms = _split_strings(state.pop("_vocabulary_terms"),
                                   state.pop("_vocabulary_lengths"))
            columns = state.pop("_vocabulary_columns").tolist()
            state["vocabulary_"] = dict(zip(terms, columns, strict=True))
        if "_packed_vocabulary" in state:
            packed = state.pop("_packed_vocabulary")
            state["_packed_vocabulary_cache"] = \
                None if packed is None else _PackedVocabulary.from_state(packed)
        super().__setstate__(state)


def _join_strings(strings: list[str]) -> tuple[str, np.ndarray]:
    """``strings`` as one string and their lengths: one pickle item instead of thousands."""
    return "".join(strings), np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))


def _split_strings(joined: str, lengths: np.ndarray) -> list[str]:
    """The strings ``_join_strings`` joined."""
    ends = np.cumsum(lengths).tolist()
    return [joined[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]


@dataclasses.dataclass(frozen=True)
class _PackedVocabulary:
    """Per n-gram length, a hash index of packed keys and the columns they stand for; for
    word n-grams also the number of each token."""

    tables: dict[int, tuple[Any, np.ndarray]]
    token_ids: dict[str, int] | None

    def to_state(self) -> dict[str, Any]:
        """Plain arrays and strings, for pickling (skops included)."""
        tokens = None if self.token_ids is None else _join_strings(list(self.token_ids))
        return {"lengths": sorted(self.tables),
                "keys": [np.asarray(self.tables[n][0]) for n in sorted(self.tables)],
                "columns": [self.tables[n][1] for n in sorted(self.tables)],
                "tokens": tokens}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> _PackedVocabulary:
        import pandas as pd

        tables = {n: (pd.Index(keys), columns) for n, keys, columns
                  in zip(state["lengths"], state["keys"], state["columns"], strict=True)}
        tokens = state["tokens"]
        token_ids = None if tokens is None else \
            {token: number for number, token in enumerate(_split_strings(*tokens))}
        return cls(tables, token_ids)


def _pack_vocabulary(vectorizer: FastTfidfVectorizer) -> _PackedVocabulary | None:
    import pandas as pd

    if vectorizer.ngram_range[1] > _MAX_PACKED_UNITS or vectorizer.ngram_range[0] < 1:
        return None
    terms = list(vectorizer.vocabulary_)
    columns = np.fromiter(vectorizer.vocabulary_.values(), dtype=np.int64, count=len(terms))
    if vectorizer.analyzer == "char":
        token_ids = None
        units = [[ord(char) for char in term] for term in terms]
    elif vectorizer.analyzer == "word" and vectorizer.get_stop_words() is None:
        token_ids = {}
        units = [[token_ids.setdefault(token, len(token_ids)) for token in term.split(" ")]
                 for term in terms]
        if len(token_ids) >= 1 << _UNIT_BITS:
            return None
    else:
        return None
    tables = {}
    lengths = np.fromiter(map(len, units), dtype=np.int64, count=len(units))
    for n in range(1, _MAX_PACKED_UNITS + 1):
        chosen = np.flatnonzero(lengths == n)
        unit_matrix = np.asarray([units[i] for i in chosen], dtype=np.int64).reshape(-1, n)
        keys = _pack_units(list(unit_matrix.T), len(chosen))
        tables[n] = (pd.Index(keys), columns[chosen])
    return _PackedVocabulary(tables, token_ids)


def _pack_units(units: Sequence[np.ndarray], count: int) -> np.ndarray:
    """The uint64 keys of ``count`` n-grams whose k-th units are ``units[k]`` (21 bits each;
    a negative, unknown unit packs to garbage that callers mask out)."""
    keys = np.zeros(count, dtype=np.uint64)
    for unit in units:
        keys = (keys << np.uint64(_UNIT_BITS)) | unit.astype(np.uint64)
    return keys


def _batches(items: Iterable[Sequence]) -> Iterator[list]:
    """``items`` in lists of about ``_UNITS_PER_BATCH`` units (characters, tokens, n-grams)."""
    batch, size = [], 0
    for item in items:
        batch.append(item)
        size += len(item)
        if size >= _UNITS_PER_BATCH:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """The parts end to end; an empty int64 array when there are none."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def tokenizer_from_config(config: Mapping[str, Any]) -> Tokenizer:
    """The tokenizer an experiment's ``[features]`` table asks for."""
    merged = {**DEFAULT_FEATURES, **config}
    return Tokenizer(backend=merged["tokenizer"], hmm=bool(merged["hmm"]),
                     remove_stopwords=bool(merged["remove_stopwords"]))


def _tfidf(merged: Mapping[str, Any], **kwargs: Any) -> FastTfidfVectorizer:
    return FastTfidfVectorizer(
        preprocessor=normalize_text,
        lowercase=False,
        min_df=merged["min_df"],
        max_df=merged["max_df"],
        max_features=merged["max_features"],
        sublinear_tf=bool(merged["sublinear_tf"]),
        **kwargs,
    )


def build_vectorizer(config: Mapping[str, Any] | None = None):
    """TF-IDF vectorizer (or a union of two) that reads raw paragraph text.

    Normalisation is the vectorizer's preprocessor, so the fitted pipeline does it itself and
    tagging sees exactly what training saw.
    """
    unknown = set(config or {}) - set(DEFAULT_FEATURES)
    if unknown:
        raise ValueError(f"unknown [features] keys: {sorted(unknown)}")
    merged = {**DEFAULT_FEATURES, **(config or {})}
    words = _tfidf(merged, tokenizer=tokenizer_from_config(merged), token_pattern=None,
                   ngram_range=tuple(merged["word_ngrams"]))
    chars = _tfidf(merged, analyzer="char", ngram_range=tuple(merged["char_ngrams"]))
    if merged["idf_corpus"]:
        from cppcc_themes.features.corpus import CorpusTfidf

        words, chars = (CorpusTfidf(vectorizer, str(merged["idf_corpus"]),
                                    str(merged["idf_vocabulary"])) for vectorizer in (words, chars))
    analyzer = merged["analyzer"]
    if analyzer == "word":
        return words
    if analyzer == "char":
        return chars
    if analyzer == "word+char":
        return FeatureUnion([("words", words), ("chars", chars)])
    raise ValueError(f"unknown analyzer {analyzer!r}; choose word, char or word+char")


def find_tokenizers(estimator: Any) -> dict[str, Tokenizer]:
    """The tokenizers inside a (fitted or not) scikit-learn estimator, by parameter name,
    e.g. ``{"features__tokenizer": Tokenizer(backend="jieba", ...)}``."""
    if not hasattr(estimator, "get_params"):
        return {}
    return {name: value for name, value in estimator.get_params(deep=True).items()
            if isinstance(value, Tokenizer)}


def describe_tokenizers(estimator: Any) -> dict[str, dict[str, Any]]:
    """The settings of every tokenizer in ``estimator``, ready for a model's metadata."""
    return {name: dataclasses.asdict(tokenizer)
            for name, tokenizer in find_tokenizers(estimator).items()}


def with_tokenizer(estimator: Any, **changes: Any) -> Any:
    """A copy of ``estimator``, fitted state kept, whose tokenizers have ``changes`` applied,
    e.g. ``with_tokenizer(pipeline, backend="rjieba")`` to tag with the fast backend."""
    swapped = copy.deepcopy(estimator)
    swapped.set_params(**{name: dataclasses.replace(tokenizer, **changes)
                          for name, tokenizer in find_tokenizers(swapped).items()})
    return swapped


def set_tagging_tokenizers(estimator: Any, choice: str | None = None) -> dict[str, str]:
    """Switch, in place, each tokenizer of a fitted ``estimator`` to the backend tagging uses
    (see ``features.tokenize.tagging_backend``); return the backend per parameter name.

    In place because a just-loaded model is ours alone: ``with_tokenizer``'s deep copy of the
    vocabulary would cost more than it saves on a short report.
    """
    tokenizers = find_tokenizers(estimator)
    chosen = {name: tagging_backend(tokenizer, choice) for name, tokenizer in tokenizers.items()}
    changes = {name: dataclasses.replace(tokenizer, backend=chosen[name])
               for name, tokenizer in tokenizers.items() if tokenizer.backend != chosen[name]}
    if changes:
        estimator.set_params(**changes)
    return chosen
