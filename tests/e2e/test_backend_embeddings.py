"""The "backend" embedding provider against a real model server: llama.cpp's /v1/embeddings.

Qwen2.5-Coder is not an embedding model, but llama.cpp serves its pooled hidden states through
the same OpenAI endpoint an embedding model would use, so the wire format, batching, the
dimension probe and vector search over those vectors are all exercised for real.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assist_server.config import parse_settings
from assist_server.index.embed import BackendEmbedder
from assist_server.index.indexer import WorkspaceIndex
from conftest import FIXTURE
from llama_stack import MODEL_ALIAS, LlamaServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def embedding_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(tmp_path_factory.mktemp("llama-embed") / "llama.log", embedding=True)
    server.start()
    yield server
    server.stop()


def settings(url: str, store: Path) -> object:
    return parse_settings(
        {
            "backend": {"kind": "openai", "url": url, "timeoutMs": 120000},
            "index": {
                "embeddingProvider": "backend",
                "embeddingModel": MODEL_ALIAS,
                "path": str(store),
            },
        }
    )


def test_backend_embedder_speaks_to_a_real_server(embedding_server: LlamaServer) -> None:
    found = settings(embedding_server.url, Path("unused"))
    embedder = BackendEmbedder(found.backend, MODEL_ALIAS)  # type: ignore[attr-defined]
    assert embedder.dimension == 896  # Qwen2.5-0.5B's hidden size
    vectors = embedder.encode(["def add(a, b):\n    return a + b", "SELECT * FROM users;"] * 3)
    assert vectors.shape == (6, 896)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # The same text alone gives the same vector. (Inside one batch llama-cpp-python 0.3.36 gives
    # a causal model's copies of a text different vectors: a server quirk, not tested here.)
    once, again = embedder.encode(["def add(a, b):"]), embedder.encode(["def add(a, b):"])
    assert np.allclose(once, again, atol=1e-4)


def test_index_embeds_through_the_backend_and_searches(
    embedding_server: LlamaServer, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    shutil.copytree(FIXTURE, root)
    found = settings(embedding_server.url, tmp_path / "index")
    index = WorkspaceIndex(root, found.index, backend=found.backend)  # type: ignore[attr-defined]
    index.index_all()
    embedded = index.embed_pending()
    status = index.status()
    assert embedded == status["chunks"] == status["embedded"] > 0
    hits = index.search("total value of the items in stock", limit=3, mode="vector")
    assert hits and all(hit.score > 0 for hit in hits)
    # A restart reuses the stored vectors: nothing left to embed.
    again = WorkspaceIndex(root, found.index, backend=found.backend)  # type: ignore[attr-defined]
    again.index_all()
    assert again.embed_pending() == 0
