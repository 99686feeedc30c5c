"""ChunkStore on a real LanceDB database in a temporary folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from assist_server.index.rows import IndexedFile
from assist_server.index.store import META_FILE, ChunkStore, StoreIdentity
from assist_server.types import Chunk, Definition, FileSymbols, Import, Reference

IDENTITY = StoreIdentity("chunker-1", "model-1", 4)


def chunk(path: str, text: str, start: int = 1, symbol: str = "f") -> Chunk:
    digest = hashlib.sha256(text.encode()).hexdigest()
    end = start + text.count("\n")
    return Chunk(path, "python", symbol, "function", start, end, text, digest)


def indexed(path: str, *texts: str) -> IndexedFile:
    chunks = tuple(chunk(path, t, 1 + 10 * i) for i, t in enumerate(texts))
    symbols = FileSymbols(
        chunks,
        (Definition("parse_settings", "function", path, 1, 2),),
        (Import("Path", "pathlib", path, 1),),
        (Reference("load_config", path, 3),),
    )
    return IndexedFile(path, hashlib.sha256("".join(texts).encode()).hexdigest(), 1, 10, symbols)


@pytest.fixture
def store(tmp_path: Path) -> ChunkStore:
    return ChunkStore(tmp_path / "index", IDENTITY)


def test_rows_are_replaced_per_file_and_searchable(store: ChunkStore) -> None:
    store.replace_files(
        [
            indexed("a.py", "def parse_settings(raw):\n    return raw"),
            indexed("b/it's.py", "class ChunkStore:\n    pass"),
        ]
    )
    assert store.stats().files == 2 and store.stats().chunks == 2
    assert [hit.path for hit in store.search_text("parse settings", 5)] == ["a.py"]
    store.replace_files([indexed("a.py", "def other():\n    pass", "x = 1")])
    assert store.stats().chunks == 3
    assert store.search_text("parse_settings", 5) == []
    store.remove_files(["b/it's.py"])
    assert set(store.file_fingerprints()) == {"a.py"}


def test_symbols_are_stored_by_role(store: ChunkStore) -> None:
    store.replace_files([indexed("a.py", "def parse_settings(raw):\n    return raw")])
    [definition] = store.symbols(["parse_settings"], "definition")
    assert (definition["path"], definition["line"]) == ("a.py", 1)
    assert store.symbols(["Path"], "import")[0]["module"] == "pathlib"
    assert store.symbols(["load_config"], "reference")[0]["line"] == 3
    store.remove_files(["a.py"])
    assert store.symbols(["parse_settings"], "definition") == []


def test_vectors_survive_reindexing_of_unchanged_chunks(store: ChunkStore) -> None:
    store.replace_files([indexed("a.py", "def f():\n    pass", "def g():\n    pass")])
    pending = store.pending_embeddings(10)
    assert len(pending) == 2
    store.set_vectors([i for i, _ in pending], np.eye(4, dtype=np.float32)[:2])
    assert store.stats().embedded == 2
    # g changed, f did not: f keeps its vector, g needs a new one.
    store.replace_files([indexed("a.py", "def f():\n    pass", "def g():\n    return 1")])
    assert store.stats().embedded == 1
    assert [text for _, text in store.pending_embeddings(10)] == ["def g():\n    return 1"]
    ids, matrix = store.all_vectors()
    assert len(ids) == 1 and matrix.shape == (1, 4)


def test_pending_embeddings_prefer_open_files(store: ChunkStore) -> None:
    store.replace_files([indexed(f"f{i}.py", f"def f{i}():\n    pass") for i in range(5)])
    first = store.pending_embeddings(2, prefer=["f3.py"])
    assert first[0][1] == "def f3():\n    pass"


def test_disk_use_does_not_grow_with_saves(store: ChunkStore, tmp_path: Path) -> None:
    def disk() -> int:
        return sum(p.stat().st_size for p in (tmp_path / "index").rglob("*") if p.is_file())

    for _ in range(3):
        store.replace_files([indexed("a.py", "def f():\n    pass")])
    store.compact(older_than_seconds=0)
    after_few = disk()
    for _ in range(30):
        store.replace_files([indexed("a.py", "def f():\n    pass")])
    store.compact(older_than_seconds=0)
    assert disk() < after_few * 1.5


def test_identity_change_rebuilds(tmp_path: Path) -> None:
    first = ChunkStore(tmp_path / "index", IDENTITY)
    first.replace_files([indexed("a.py", "def f():\n    pass")])
    same = ChunkStore(tmp_path / "index", IDENTITY)
    assert same.rebuilt is None and same.stats().chunks == 1
    other = ChunkStore(tmp_path / "index", StoreIdentity("chunker-2", "model-1", 4))
    assert other.rebuilt is not None and "chunker" in other.rebuilt
    assert other.stats().chunks == 0


def test_damaged_index_is_rebuilt_with_a_reason(tmp_path: Path) -> None:
    first = ChunkStore(tmp_path / "index", IDENTITY)
    first.replace_files([indexed("a.py", "def f():\n    pass")])
    for data in (tmp_path / "index" / "chunks.lance" / "data").iterdir():
        data.write_bytes(b"not a lance file")
    again = ChunkStore(tmp_path / "index", IDENTITY)
    assert again.rebuilt is not None and "damaged" in again.rebuilt
    again.replace_files([indexed("a.py", "def f():\n    pass")])
    assert again.stats().chunks == 1


def test_deleted_identity_file_rebuilds(tmp_path: Path) -> None:
    first = ChunkStore(tmp_path / "index", IDENTITY)
    first.replace_files([indexed("a.py", "def f():\n    pass")])
    (tmp_path / "index" / META_FILE).unlink()
    again = ChunkStore(tmp_path / "index", IDENTITY)
    assert again.rebuilt is not None


def test_pending_embeddings_take_neighbours_of_open_files_next(store: ChunkStore) -> None:
    store.replace_files(
        [
            indexed("a/x.py", "def x():\n    pass"),
            indexed("b/open.py", "def opened():\n    pass"),
            indexed("b/near.py", "def near():\n    pass"),
            indexed("c/far.py", "def far():\n    pass"),
        ]
    )
    order = [text for _, text in store.pending_embeddings(3, prefer=["b/open.py"])]
    assert order[:2] == ["def opened():\n    pass", "def near():\n    pass"]


def _rows(store: ChunkStore) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, in a stable order."""
    out = {}
    for name, table in store._tables.items():
        rows = table.to_arrow().to_pylist()
        out[name] = sorted(rows, key=lambda row: sorted((k, repr(v)) for k, v in row.items()))
    return out


def test_first_index_without_deletes_stores_the_same_rows(tmp_path: Path) -> None:
    files = [
        indexed("a.py", "def parse_settings(raw):\n    return raw", "x = 1"),
        indexed("b.py", "class ChunkStore:\n    pass"),
    ]
    checked = ChunkStore(tmp_path / "checked", IDENTITY)
    checked.replace_files(files)  # every path looked up and deleted first
    fresh = ChunkStore(tmp_path / "fresh", IDENTITY)
    fresh.replace_files(files, stored=set())  # the caller knows none is stored
    assert _rows(fresh) == _rows(checked)
    assert checked.stats().chunks == 3


def test_only_stored_paths_are_replaced(store: ChunkStore) -> None:
    store.replace_files([indexed("a.py", "def f():\n    pass")], stored=set())
    store.replace_files(
        [indexed("a.py", "def g():\n    pass"), indexed("b.py", "def h():\n    pass")],
        stored={"a.py"},
    )
    assert sorted(text for _, text in store.pending_embeddings(10)) == [
        "def g():\n    pass",
        "def h():\n    pass",
    ]
    assert store.stats().files == 2


def _fragments(store: ChunkStore, name: str) -> int:
    return int(store._tables[name].stats()["fragment_stats"]["num_fragments"])


def test_compact_leaves_a_fresh_append_only_table_and_rewrites_one_with_deletes(
    store: ChunkStore,
) -> None:
    store.replace_files([indexed("a.py", "def parse_settings(raw):\n    return raw")], stored=set())
    store.replace_files([indexed("b.py", "def load_config():\n    pass")], stored=set())
    store.compact()
    # Nothing to reclaim: the rows stay in their two fragments, and are all searchable.
    assert _fragments(store, "symbols") == 2
    assert [hit.path for hit in store.search_text("load_config", 5)] == ["b.py"]
    assert [hit.path for hit in store.search_text("parse_settings", 5)] == ["a.py"]
    # Replacing a file deletes rows: the next compaction rewrites what is left.
    store.replace_files(
        [indexed("a.py", "def rebuild_cache():\n    pass")], stored={"a.py", "b.py"}
    )
    store.compact()
    # (checked on the files table: chunks and symbols carry indexes by then, and LanceDB 0.40
    # left their two small fragments apart here, deletes materialised or not)
    assert _fragments(store, "files") == 1
    assert [hit.path for hit in store.search_text("rebuild_cache", 5)] == ["a.py"]
    assert store.search_text("parse_settings", 5) == []


def test_chunk_location_reads_back_what_chunk_id_wrote() -> None:
    from assist_server.index.rows import chunk_id
    from assist_server.index.store import chunk_location
    from assist_server.types import Chunk

    chunk = Chunk("a:b/c.py", "python", "f", "function", 3, 9, "def f(): ...", "ab" * 32)
    assert chunk_location(chunk_id(chunk)) == ("a:b/c.py", 3, 9)
