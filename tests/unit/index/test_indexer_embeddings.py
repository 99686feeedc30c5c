"""WorkspaceIndex with embedders: query vectors reused, a runtime falling back after opening."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assist_server.config import BackendSettings, IndexSettings, parse_settings
from assist_server.index import indexer, runtimes
from assist_server.index.indexer import WorkspaceIndex

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "workspace"


class Hashing:
    """Deterministic stand-in for a model: vectors from a hash of the text."""

    dimension = 8

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        rows = [
            np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], dtype=np.uint8) for t in texts
        ]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), 8) + 1.0
        normalised: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return normalised


@pytest.fixture
def root(tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(FIXTURE, target)
    return target


def settings() -> IndexSettings:
    return parse_settings({"index": {"embeddingRuntime": "openvino"}}).index


def embedded(root: Path, store: Path, embedder: Hashing) -> tuple[WorkspaceIndex, int]:
    """The workspace indexed and embedded; how many chunks were embedded."""
    index = WorkspaceIndex(root, settings(), embedder=embedder, store_path=store)
    index.index_all()
    return index, index.embed_pending()


def test_a_repeated_query_is_embedded_once(root: Path, tmp_path: Path) -> None:
    embedder = Hashing("hashing")
    index, count = embedded(root, tmp_path / "i", embedder)
    assert count > 0
    embedder.texts.clear()
    first = index.search("total value of items", mode="vector")
    again = index.search("total value of items", mode="hybrid")
    assert first and again
    assert embedder.texts == ["total value of items"]


def test_runtime_that_fails_after_opening_rebuilds_under_the_fallback(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = Hashing("openvino-int8:all-MiniLM-L6-v2")
    first, count = embedded(root, tmp_path / "i", fast)
    assert count > 0

    # Next start: the conversion looks complete, so the store opens without the model; then
    # loading it fails and torch (another model_id) takes over.
    fallback = Hashing("sentence-transformers:all-MiniLM-L6-v2")

    def create(
        settings: IndexSettings, backend: BackendSettings, problems: list[str] | None = None
    ) -> Hashing:
        if problems is not None:
            problems.append("embedding with torch instead of openvino int8: broken")
        return fallback

    monkeypatch.setattr(indexer, "expected_model_id", lambda *a: fast.model_id)
    monkeypatch.setattr(indexer, "create_embedder", create)
    second = WorkspaceIndex(root, settings(), store_path=tmp_path / "i")
    assert second.store.identity.embedding_model == fast.model_id
    assert second.index_all().changed == 0
    assert second.search("total value of items", mode="vector") == []  # the store starts over
    assert second.stale and second.problems
    assert second.store.identity.embedding_model == fallback.model_id
    assert second.embed_pending() == count  # indexes again, then embeds with the fallback
    assert not second.stale
    assert second.status()["embedded"] == second.status()["chunks"] == count
    assert second.search("total value of items", mode="vector")


def test_first_start_of_an_int8_runtime_indexes_before_converting(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_yet(*args: object) -> None:
        raise AssertionError("the model is converted by embed_pending, not when opening")

    monkeypatch.setattr(runtimes, "cache_root", lambda: tmp_path / "models")
    monkeypatch.setattr(indexer, "create_embedder", not_yet)
    index = WorkspaceIndex(root, settings(), store_path=tmp_path / "i")
    identity = index.store.identity
    assert (identity.embedding_model, identity.dimension) == ("openvino-int8:all-MiniLM-L6-v2", 384)
    assert index.index_all().changed >= 4
    assert index.search("total value of items", mode="lexical")


def test_a_reindexed_file_updates_the_vector_matrix_without_reading_the_store(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = Hashing("hashing")
    index, _ = embedded(root, tmp_path / "i", embedder)
    loads: list[int] = []
    all_vectors = index.store.all_vectors

    def counted() -> tuple[list[str], np.ndarray]:
        loads.append(1)
        return all_vectors()

    monkeypatch.setattr(index.store, "all_vectors", counted)
    items = root / "inventory" / "items.py"
    items.write_text(
        items.read_text(encoding="utf-8") + "\n\ndef restock_everything(items):\n    pass\n",
        encoding="utf-8",
    )
    assert index.reindex_file(items)
    index.embed_pending()
    (root / "inventory" / "report.py").unlink()
    index.remove([root / "inventory" / "report.py"])
    assert loads == []
    top = index.search("def restock_everything(items):\n    pass", limit=1, mode="vector")
    assert top and "restock_everything" in top[0].text

    # What the matrix holds equals a fresh load of the store.
    fresh = WorkspaceIndex(root, settings(), embedder=embedder, store_path=tmp_path / "i")
    fresh.refresh_vectors()
    assert len(index.vectors) == len(fresh.vectors) == fresh.store.stats().embedded
    query = embedder.encode(["total value"])[0]
    got, want = index.vectors.search(query, 50), fresh.vectors.search(query, 50)
    assert [c for c, _ in got] == [c for c, _ in want]
    assert np.allclose([s for _, s in got], [s for _, s in want])
    assert not any(c.startswith("inventory/report.py:") for c, _ in got)
