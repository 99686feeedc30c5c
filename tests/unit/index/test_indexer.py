"""WorkspaceIndex over real files, the real chunker and a real LanceDB database."""

from __future__ import annotations

import gc
import os
import shutil
import time
from pathlib import Path

import pytest

from assist_server.config import parse_settings
from assist_server.index import indexer
from assist_server.index.indexer import WorkspaceIndex, fuse
from assist_server.index.store import StoredChunk

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "workspace"


def lexical_settings(**extra: object):  # type: ignore[no-untyped-def]
    return parse_settings({"index": {"embeddingProvider": "none", **extra}}).index


@pytest.fixture
def root(tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(FIXTURE, target)
    (target / ".env").write_text("API_KEY=do-not-index-me\n")
    (target / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    return target


def make(root: Path, tmp_path: Path, **extra: object) -> WorkspaceIndex:
    return WorkspaceIndex(root, lexical_settings(**extra), store_path=tmp_path / "index")


def test_index_search_and_secrets_never_stored(root: Path, tmp_path: Path) -> None:
    index = make(root, tmp_path)
    summary = index.index_all()
    assert summary.changed == summary.files >= 4
    hits = index.search("total value of items in stock", mode="lexical")
    assert hits and hits[0].path == "inventory/items.py"
    # Nothing of the secret files is anywhere in the tables.
    for table in index.store._tables.values():
        dump = str(table.to_arrow().to_pylist())
        assert "do-not-index-me" not in dump and "OPENSSH" not in dump
        assert ".env" not in dump and "id_rsa" not in dump


def test_restart_reuses_unchanged_files(root: Path, tmp_path: Path) -> None:
    make(root, tmp_path).index_all()
    again = make(root, tmp_path)
    summary = again.index_all()
    assert summary.changed == 0 and summary.removed == 0
    # Touching a file without changing it only refreshes its fingerprint.
    items = root / "inventory" / "items.py"
    os.utime(items, ns=(time.time_ns(), time.time_ns()))
    assert make(root, tmp_path).index_all().changed == 1
    assert make(root, tmp_path).index_all().changed == 0


def test_incremental_update_delete_and_rename(root: Path, tmp_path: Path) -> None:
    index = make(root, tmp_path)
    index.index_all()
    items = root / "inventory" / "items.py"
    items.write_text(items.read_text() + "\n\ndef discontinued_items(items):\n    return []\n")
    assert index.reindex_file(items)
    assert index.search("discontinued_items", mode="lexical")[0].path == "inventory/items.py"

    renamed = root / "inventory" / "stock.py"
    items.rename(renamed)
    index.remove([items])
    index.reindex_file(renamed)
    hits = index.search("discontinued_items", mode="lexical")
    assert hits[0].path == "inventory/stock.py"
    assert "inventory/items.py" not in {hit.path for hit in hits}

    (root / "inventory" / "util.js").unlink()
    summary = index.index_all()
    assert summary.removed == 1
    assert "inventory/util.js" not in index.store.file_fingerprints()


def test_reindex_refuses_secrets_and_outside_files(root: Path, tmp_path: Path) -> None:
    index = make(root, tmp_path)
    index.index_all()
    assert not index.reindex_file(root / ".env")
    assert not index.reindex_file(tmp_path / "elsewhere.py")


def test_exclude_setting(root: Path, tmp_path: Path) -> None:
    index = make(root, tmp_path, exclude=["*.js"])
    index.index_all()
    assert not any(p.endswith(".js") for p in index.store.file_fingerprints())


def test_reciprocal_rank_fusion_prefers_agreement() -> None:
    def c(i: str) -> StoredChunk:
        return StoredChunk(i, "p", "python", "", "function", 1, 2, "")

    fused = fuse([[c("a"), c("b"), c("c")], [c("c"), c("b"), c("d")]], limit=4)
    # c: 1/61 + 1/63, b: 2/62, a: 1/61, d: 1/63 (k = 60)
    assert [x.id for x in fused] == ["c", "b", "a", "d"]


def _rows(index: WorkspaceIndex) -> dict[str, list[str]]:
    return {
        name: sorted(repr(sorted(row.items())) for row in table.to_arrow().to_pylist())
        for name, table in index.store._tables.items()
    }


def test_batches_written_while_chunking_store_the_same_rows(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = WorkspaceIndex(root, lexical_settings(), store_path=tmp_path / "whole")
    whole.index_all()
    monkeypatch.setattr(indexer, "WRITE_BATCH_FILES", 2)  # several writes, one in flight
    batched = WorkspaceIndex(root, lexical_settings(), store_path=tmp_path / "batched")
    summary = batched.index_all()
    assert summary.changed >= 4
    assert _rows(batched) == _rows(whole)
    assert batched.status() == whole.status()
    # A second pass over a changed file deletes its old rows before adding the new ones.
    items = root / "inventory" / "items.py"
    items.write_text(items.read_text() + "\n\ndef restock_all():\n    pass\n")
    assert batched.index_all().changed == 1
    whole.index_all()
    assert _rows(batched) == _rows(whole)


def test_index_all_unfreezes_the_heap_even_when_it_fails(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = make(root, tmp_path)
    before = gc.get_freeze_count()
    index.index_all()
    assert gc.get_freeze_count() == before

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(index.store, "replace_rows", broken)
    (root / "new.py").write_text("def added():\n    pass\n")
    with pytest.raises(RuntimeError, match="disk full"):
        index.index_all()
    assert gc.get_freeze_count() == before
