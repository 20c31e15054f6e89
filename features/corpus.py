"""Unlabelled corpora: report files read into paragraphs, and TF-IDF fitted with their help.

A corpus is a folder of reports (CSV files with a ``full_text`` column, one report per row, or
any file ``features.readers`` reads). The package ships one, ``labels/corpus/
gov-work-reports-2026`` (31 provincial government work reports of 2026, a neighbouring genre
in the same register), so a configuration may name it and train from an installed package.
Training may read a corpus; a fitted model never does: what it learnt from the corpus is in
its fitted attributes (vocabulary, IDF weights, coefficients), and tagging reads nothing else.
"""

from __future__ import annotations

import csv
import functools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.readers import ReadError, iter_report_paths, read_report
from cppcc_themes.features.segment import segment_report

__all__ = ["CORPUS_SUFFIXES", "CorpusTfidf", "corpus_dir", "corpus_paragraphs",
           "iter_corpus_paths", "read_csv_reports", "resolve_corpus"]

CORPUS_SUFFIXES = (".csv",)
_CSV_TEXT_COLUMN = "full_text"


def corpus_dir() -> Path:
    """``labels/corpus`` of the package (a checkout or an installed wheel)."""
    return Path(__file__).resolve().parents[1] / "labels" / "corpus"


def resolve_corpus(corpus: str | Path) -> Path:
    """The folder or file of a corpus: a name under ``labels/corpus`` or a path."""
    named = corpus_dir() / str(corpus)
    if str(corpus) and "/" not in str(corpus) and named.is_dir():
        return named
    path = Path(corpus).expanduser()
    if str(corpus) and path.exists():
        return path
    shipped = sorted(p.name for p in corpus_dir().iterdir() if p.is_dir()) \
        if corpus_dir().is_dir() else []
    raise ValueError(f"unknown corpus {str(corpus)!r}: neither a corpus of the package "
                     f"({', '.join(shipped) or 'none'}) nor an existing path")


def iter_corpus_paths(path: Path) -> Iterator[Path]:
    """Report files at ``path``: what ``features.readers`` reads, plus CSV corpora."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() in CORPUS_SUFFIXES:
        yield path
        return
    if path.is_dir():
        csvs = sorted(p for p in path.rglob("*") if p.suffix.lower() in CORPUS_SUFFIXES)
        yield from sorted({*csvs, *iter_report_paths(path)})
        return
    yield from iter_report_paths(path)


def read_csv_reports(path: Path) -> list[tuple[str, str]]:
    """(report id, text) of each row of a CSV corpus with a ``full_text`` column."""
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or _CSV_TEXT_COLUMN not in rows[0]:
        raise ReadError(f"{path}: CSV needs a '{_CSV_TEXT_COLUMN}' column")
    texts = [row[_CSV_TEXT_COLUMN] or "" for row in rows]
    if len(texts) == 1:
        return [(path.stem, texts[0])]
    return [(f"{path.stem}#{number}", text) for number, text in enumerate(texts, 1)]


@functools.lru_cache(maxsize=4)
def _paragraphs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    texts, headings, reports, seen = [], [], [], set()
    for file in iter_corpus_paths(path):
        pairs = read_csv_reports(file) if file.suffix.lower() in CORPUS_SUFFIXES \
            else [(file.stem, read_report(file))]
        for report_id, text in pairs:
            for paragraph in segment_report(text):
                key = normalize_text(paragraph.text)
                if not key or key in seen:
                    continue
                seen.add(key)
                texts.append(paragraph.text)
                headings.append(paragraph.heading or "")
                reports.append(report_id)
    columns = np.empty((len(texts), 2), dtype=object)
    columns[:, 0], columns[:, 1] = texts, headings
    columns.flags.writeable = False
    report_ids = np.asarray(reports, dtype=object)
    report_ids.flags.writeable = False
    return columns, report_ids


def corpus_paragraphs(corpus: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct paragraph of a corpus, in file order: an (n, 2) array of text and the
    heading it sits under (``""`` if none), and each paragraph's report id.

    Read and segmented once per process (the arrays are read-only); a paragraph whose
    normalised text came before is dropped, so none weighs twice.
    """
    return _paragraphs(resolve_corpus(corpus).resolve())


class CorpusTfidf(TransformerMixin, BaseEstimator):
    """A TF-IDF vectorizer fitted on the training texts plus an unlabelled corpus.

    vectorizer: the TF-IDF vectorizer (``features.vectorize.FastTfidfVectorizer``); it is
        fitted in place, as a Pipeline fits its steps, so its tokenizer stays reachable by
        ``set_params`` (tagging switches the jieba backend that way).
    corpus: a corpus name under ``labels/corpus`` or a path (see ``resolve_corpus``).
    vocabulary: ``"corpus"`` — vocabulary and IDF weights from training texts and corpus
        paragraphs together; ``"training"`` — vocabulary from the training texts only, IDF
        weights from both (document frequencies counted over both).

    Words frequent across real reports but rare in the labelled text get the low weight
    their frequency deserves. Only ``fit`` reads the corpus; ``transform`` is the fitted
    vectorizer's own.
    """

    def __init__(self, vectorizer: Any = None, corpus: str = "",
                 vocabulary: str = "corpus"):
        self.vectorizer = vectorizer
        self.corpus = corpus
        self.vocabulary = vocabulary

    def fit(self, raw_documents: Any, y: Any = None) -> CorpusTfidf:
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents: Any, y: Any = None) -> Any:
        if self.vocabulary not in ("corpus", "training"):
            raise ValueError(f"vocabulary must be 'corpus' or 'training', "
                             f"not {self.vocabulary!r}")
        documents = list(raw_documents)
        corpus = list(corpus_paragraphs(self.corpus)[0][:, 0])
        vectorizer = self.vectorizer
        if self.vocabulary == "corpus":
            vectorizer.fit(documents + corpus)
            matrix = vectorizer.transform(documents)
        else:
            matrix = vectorizer.fit_transform(documents)
            vectorizer.idf_ = _idf_with(vectorizer, len(documents), matrix,
                                        vectorizer.transform(corpus))
            matrix = vectorizer.transform(documents)
        self.corpus_documents_ = len(corpus)
        self.n_features_out_ = len(vectorizer.vocabulary_)
        return matrix

    def transform(self, raw_documents: Any) -> Any:
        check_is_fitted(self, "corpus_documents_")
        return self.vectorizer.transform(raw_documents)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "corpus_documents_")
        return self.vectorizer.get_feature_names_out(input_features)


def _idf_with(vectorizer: Any, n_training: int, training: Any, corpus: Any) -> np.ndarray:
    """IDF of each vocabulary term over training and corpus documents together, with the
    vectorizer's own smoothing (scikit-learn's formula)."""
    frequency = np.bincount(training.indices, minlength=training.shape[1]) \
        + np.bincount(corpus.indices, minlength=corpus.shape[1])
    n_documents = n_training + corpus.shape[0]
    smooth = int(vectorizer.smooth_idf)
    return np.log((n_documents + smooth) / (frequency + smooth)) + 1.0
