"""Word segmentation with jieba (reference) or rjieba (fast), plus the project's dictionaries.

``Tokenizer`` is a small frozen dataclass: it pickles by value (its settings), while the
loaded segmenter lives in a module-level cache, so a packaged model carries no dictionary and
no closure, and a model trained with one backend can tag with the other.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cppcc_themes.features.token_cache import active_token_cache

__all__ = ["BACKENDS", "TAGGING_CHOICES", "TOKENIZER_ENV", "Tokenizer", "cache_dir",
           "load_stopwords", "load_user_dictionary", "tagging_backend", "tokenizer_signature"]

BACKENDS = ("jieba", "rjieba")
# Which backend tagging uses: "auto" (rjieba in place of jieba when that gives the same
# tokens), "model" (as trained), or one backend forced.
TAGGING_CHOICES = ("auto", "model", *BACKENDS)
TOKENIZER_ENV = "CPPCC_THEMES_TOKENIZER"
_TOKEN_KEEP = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_LOCK = threading.Lock()
# token -> whether it holds a Han or Latin letter. A corpus has a few ten thousand distinct
# tokens, and the regex per token cost as much as segmenting with rjieba; the cap bounds memory
# on text full of distinct numbers.
_CONTENT_TOKEN: dict[str, bool] = {}
_CONTENT_TOKEN_LIMIT = 1 << 18


def cache_dir() -> Path:
    """Writable cache folder of ours: $CPPCC_THEMES_CACHE, else $XDG_CACHE_HOME/cppcc-themes."""
    explicit = os.environ.get("CPPCC_THEMES_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cppcc-themes"


def _resource_lines(name: str) -> list[str]:
    folder = resources.files("cppcc_themes.features").joinpath("resources")
    text = folder.joinpath(name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@functools.lru_cache(maxsize=1)
def load_user_dictionary() -> tuple[tuple[str, int], ...]:
    """The project's CPPCC and political terms as (word, frequency) pairs."""
    entries = []
    for line in _resource_lines("userdict.txt"):
        word, freq, *_ = line.split()
        entries.append((word, int(freq)))
    return tuple(entries)


@functools.lru_cache(maxsize=1)
def load_stopwords() -> frozenset[str]:
    """Function words and fillers dropped from the token stream."""
    return frozenset(_resource_lines("stopwords.txt"))


def _is_content(token: str) -> bool:
    """Tell whether ``token`` holds a Han or Latin letter, remembering the answer."""
    if len(_CONTENT_TOKEN) >= _CONTENT_TOKEN_LIMIT:
        _CONTENT_TOKEN.clear()
    keep = _CONTENT_TOKEN[token] = _TOKEN_KEEP.search(token) is not None
    return keep


def _load_jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    segmenter = jieba.Tokenizer()
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    segmenter.tmp_dir = str(folder)
    segmenter.initialize()
    for word, freq in load_user_dictionary():
        segmenter.add_word(word, freq)
    return segmenter


def _load_rjieba():
    try:
        import rjieba
    except ImportError as error:  # pragma: no cover - depends on the optional extra
        raise ImportError(
            "tokenizer backend 'rjieba' needs the fast extra: pip install 'cppcc-themes[fast]'"
        ) from error
    # Importing rjieba already builds its default segmenter (~0.15 s); a second rjieba.Jieba()
    # would double that start-up cost, so the user dictionary goes into the default one, as
    # with jieba's module-level add_word.
    for word, freq in load_user_dictionary():
        rjieba.add_word(word, freq, None)
    return rjieba


_SEGMENTERS: dict[str, object] = {}


def _segmenter(backend: str):
    segmenter = _SEGMENTERS.get(backend)
    if segmenter is None:
        with _LOCK:
            segmenter = _SEGMENTERS.get(backend)
            if segmenter is None:
                segmenter = _load_jieba() if backend == "jieba" else _load_rjieba()
                _SEGMENTERS[backend] = segmenter
    return segmenter


@dataclass(frozen=True)
class Tokenizer:
    """Callable that turns normalised text into a list of content tokens.

    backend: ``jieba`` (reference) or ``rjieba`` (jieba-rs, same dictionary, much faster).
    hmm: let jieba guess unknown words with its HMM; off by default because it is slower
    and the two backends agree token for token only without it.
    remove_stopwords: drop function words, digits and punctuation.
    """

    backend: str = "jieba"
    hmm: bool = False
    remove_stopwords: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown tokenizer backend {self.backend!r}; choose from {BACKENDS}")

    def cut(self, text: str) -> list[str]:
        """All segments of ``text``, punctuation and white space included."""
        return list(_segmenter(self.backend).cut(text, HMM=self.hmm)) if self.backend == "jieba" \
            else _segmenter(self.backend).cut(text, self.hmm)

    def tokenize(self, text: str) -> list[str]:
        """Content tokens of ``text``, segmented now (no cache)."""
        known = _CONTENT_TOKEN.get
        tokens = [token for token in self.cut(text)
                  if known(token) or (token not in _CONTENT_TOKEN and _is_content(token))]
        if self.remove_stopwords:
            stopwords = load_stopwords()
            tokens = [token for token in tokens if token not in stopwords]
        return tokens

    def __call__(self, text: str) -> list[str]:
        """Content tokens of ``text``, from the token cache when one is active."""
        cache = active_token_cache()
        if cache is None:
            return self.tokenize(text)
        return cache.tokens(tokenizer_signature(self), text, self.tokenize)


def tagging_backend(tokenizer: Tokenizer, choice: str | None = None) -> str:
    """The backend to tag with for a model's ``tokenizer``.

    ``choice`` (else ``$CPPCC_THEMES_TOKENIZER``, else ``auto``): ``auto`` tags a jieba model
    with rjieba when rjieba is installed and HMM is off, where both give the same tokens (user
    dictionary included) but rjieba loads and cuts many times faster; ``model`` keeps the
    trained backend; ``jieba`` or ``rjieba`` forces one (``jieba`` is the reference).
    """
    choice = choice or os.environ.get(TOKENIZER_ENV) or "auto"
    if choice not in TAGGING_CHOICES:
        raise ValueError(f"unknown tokenizer choice {choice!r} (from {TOKENIZER_ENV} or "
                         f"--tokenizer); choose from {', '.join(TAGGING_CHOICES)}")
    if choice in BACKENDS:
        return choice
    if choice == "auto" and tokenizer.backend == "jieba" and not tokenizer.hmm \
            and importlib.util.find_spec("rjieba") is not None:
        return "rjieba"
    return tokenizer.backend


@functools.lru_cache(maxsize=16)
def tokenizer_signature(tokenizer: Tokenizer) -> str:
    """sha256 of everything that decides a tokenizer's output: its settings, the backend's
    version, the user dictionary and the stopwords."""
    from importlib import metadata

    try:
        version = metadata.version(tokenizer.backend)
    except metadata.PackageNotFoundError:
        version = "unknown"
    described = json.dumps({
        "tokenizer": [tokenizer.backend, version, tokenizer.hmm, tokenizer.remove_stopwords],
        "user_dictionary": load_user_dictionary(),
        "stopwords": sorted(load_stopwords()) if tokenizer.remove_stopwords else [],
        "keep": _TOKEN_KEEP.pattern,
    }, ensure_ascii=False)
    return hashlib.sha256(described.encode("utf-8")).hexdigest()
