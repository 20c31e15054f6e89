"""The unlabelled corpus that training may read (idf_corpus, self-training): it ships with
the package and holds no paragraph the yardstick scores, so fitting on it never sees a
held-out gold report or real-style page."""

from __future__ import annotations

from pathlib import Path

from cppcc_themes.features.corpus import corpus_dir, corpus_paragraphs
from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.train.data import load_paragraphs

ROOT = Path(__file__).resolve().parents[2]
CORPUS = "gov-work-reports-2026"
# Shorter lines ("各位代表：", a date) may well recur in any report; they carry no theme.
MIN_CHARS = 12


def test_the_shipped_corpus_is_the_package_folder_and_segments_into_paragraphs():
    assert corpus_dir() == ROOT / "labels" / "corpus"
    paragraphs, report_ids = corpus_paragraphs(CORPUS)
    assert paragraphs.shape[1] == 2 and len(paragraphs) == len(report_ids) > 2500
    assert len(set(report_ids)) == 31
    keys = [normalize_text(text) for text in paragraphs[:, 0]]
    assert len(set(keys)) == len(keys) and all(keys)


def test_no_corpus_paragraph_overlaps_a_scored_paragraph():
    scored = load_paragraphs(["gold", "real-style"], ROOT / "labels")
    scored_keys = [normalize_text(text) for text in scored["text"][:]]
    corpus_keys = [normalize_text(text) for text in corpus_paragraphs(CORPUS)[0][:, 0]]
    corpus_text, scored_text = "\n".join(corpus_keys), "\n".join(scored_keys)
    assert not set(scored_keys) & set(corpus_keys)
    inside = [key for key in scored_keys if len(key) >= MIN_CHARS and key in corpus_text]
    assert not inside, inside[:3]
    holding = [key for key in corpus_keys if len(key) >= MIN_CHARS and key in scored_text]
    assert not holding, holding[:3]
