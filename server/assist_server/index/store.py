"""The on-disk index of one workspace root in LanceDB: chunks, files and symbols.

The only module that imports lancedb. One database per workspace root; its identity (store format,
chunker version, embedding model and dimension) is recorded, and a mismatch or a damaged database
leads to a clean rebuild with a warning, never a crash. Writes are batched per group of files and
old table versions are cleaned up by `compact`, so disk use does not grow with the number of saves.
"""

from __future__ import annotations

import datetime
import json
import logging
import shutil
import threading
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lancedb.index import FTS, Bitmap, BTree

from assist_server.index.rows import (
    FileRows,
    IndexedFile,
    file_rows,
    schemas,
    with_vectors,
)

log = logging.getLogger(__name__)

STORE_FORMAT = 2  # bump when the table layout or row ids change
META_FILE = "assist-index.json"
CLEANUP_SECONDS = 10
# A table created by this store and only appended to is left as it is by `compact` up to this
# many fragments: rewriting it would reclaim nothing (see ChunkStore.compact).
MAX_APPENDED_FRAGMENTS = 16


@dataclass(frozen=True)
class StoreIdentity:
    """What the stored rows depend on: when any of it changes, the index is rebuilt."""

    chunker_version: str
    embedding_model: str
    dimension: int

    def as_dict(self) -> dict[str, Any]:
        """The identity as written next to the tables."""
        return {
            "format": STORE_FORMAT,
            "chunker": self.chunker_version,
            "embedding_model": self.embedding_model,
            "dimension": self.dimension,
        }


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back from the store, with its search score where there is one."""

    id: str
    path: str
    language: str
    symbol: str
    kind: str
    start_line: int
    end_line: int
    text: str
    score: float = 0.0


@dataclass(frozen=True)
class StoreStats:
    """Counts for `assist/status` and the CLI."""

    files: int
    chunks: int
    embedded: int
    disk_bytes: int


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(_quote(v) for v in values)})"


def vectors_of(chunks: pa.Table, dimension: int) -> tuple[list[str], np.ndarray]:
    """Ids and vectors of the chunk rows that have a vector."""
    chunks = chunks.filter(pc.is_valid(chunks.column("vector")))
    ids: list[str] = chunks.column("id").to_pylist()
    if not ids:
        return [], np.zeros((0, dimension), dtype=np.float32)
    flat = chunks.column("vector").combine_chunks().values.to_numpy(zero_copy_only=False)
    return ids, flat.reshape(len(ids), dimension).astype(np.float32)


def chunk_location(row_id: str) -> tuple[str, int, int]:
    """Path, first and last line of the chunk a `chunk_id` names."""
    path, lines, _kind, _digest = row_id.rsplit(":", 3)
    start, _, end = lines.partition("-")
    return path, int(start), int(end)


class ChunkStore:
    """LanceDB tables `chunks`, `files` and `symbols` under one folder."""

    def __init__(self, path: Path, identity: StoreIdentity) -> None:
        self.path = path
        self.identity = identity
        self.rebuilt: str | None = None  # why the store was rebuilt when opened, if it was
        self._lock = threading.RLock()  # LanceDB tables are used from worker threads
        self._open()

    # --- opening, identity and recovery -------------------------------------------------

    def _schemas(self) -> dict[str, pa.Schema]:
        return schemas(self.identity.dimension)

    def _open(self) -> None:
        meta = self.path / META_FILE
        wanted = self.identity.as_dict()
        reason: str | None = None
        if meta.exists():
            try:
                found = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                found = None
            if found != wanted:
                reason = f"index built by another chunker or embedding model ({found} != {wanted})"
        elif self.path.exists() and any(self.path.iterdir()):
            reason = "index has no identity file"
        if reason is None:
            try:
                self._connect()
                self._check()
                return
            except Exception as exc:  # lance raises many kinds of errors for a damaged dataset
                reason = f"index is damaged ({type(exc).__name__}: {exc})"
        log.warning("rebuilding the index at %s: %s", self.path, reason)
        self.rebuilt = reason
        self._wipe()
        self._connect()
        meta.write_text(json.dumps(wanted), encoding="utf-8")

    def _wipe(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _connect(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        meta = self.path / META_FILE
        if not meta.exists():
            meta.write_text(json.dumps(self.identity.as_dict()), encoding="utf-8")
        self._db = lancedb.connect(str(self.path))
        existing = set(self._db.list_tables().tables)
        self._tables: dict[str, Any] = {}
        self._append_only: set[str] = set()  # created here, no row deleted or updated since
        for name, schema in self._schemas().items():
            if name in existing:
                self._tables[name] = self._db.open_table(name)
            else:
                self._tables[name] = self._db.create_table(name, schema=schema)
                self._append_only.add(name)
        self._fts_ready = False
        self._symbols_indexed = False

    def _check(self) -> None:
        """Read every table once: a damaged dataset fails here, not in the middle of a search."""
        for name, table in self._tables.items():
            if table.schema != self._schemas()[name]:
                raise ValueError(f"table {name} has an unexpected schema")
            table.count_rows()
            table.search().limit(1).to_list()

    def reset(self, reason: str) -> None:
        """Drop everything and start over (used when a read or write finds damage)."""
        with self._lock:
            log.warning("rebuilding the index at %s: %s", self.path, reason)
            self.rebuilt = reason
            self._wipe()
            self._connect()

    # --- writing ------------------------------------------------------------------------

    def file_fingerprints(self) -> dict[str, tuple[str, int, int]]:
        """rel_path -> (content hash, mtime_ns, size) of every indexed file."""
        with self._lock:
            rows = self._tables["files"].to_arrow().to_pylist()
        return {r["path"]: (r["content_hash"], r["mtime_ns"], r["size"]) for r in rows}

    def replace_files(
        self, files: Sequence[IndexedFile], *, stored: Container[str] | None = None
    ) -> None:
        """Replace these files' rows in one batch; unchanged chunk texts keep their vectors.

        `stored` holds the paths the store has rows for, when the caller knows them (a first
        index knows none): only those are deleted and searched for vectors. None: all of them.
        """
        if any(f.symbols is not None for f in files):
            self.replace_rows(file_rows(files, self.identity.dimension), stored=stored)

    def replace_rows(self, rows: FileRows, *, stored: Container[str] | None = None) -> pa.Table:
        """Replace the rows of the files in `rows.files` by `rows` (see `replace_files`).

        Returns the chunk rows written, with the vectors they kept.
        """
        paths: list[str] = rows.files.column("path").to_pylist()
        if not paths:
            return rows.chunks
        old = paths if stored is None else [path for path in paths if path in stored]
        with self._lock:
            chunks = rows.chunks
            if old:
                chunks = with_vectors(chunks, self._vectors_by_hash(old))
                where = _in("path", old)
                for name in ("chunks", "files", "symbols"):
                    self._tables[name].delete(where)
                    self._append_only.discard(name)
            if chunks.num_rows:
                self._tables["chunks"].add(chunks)
            if rows.symbols.num_rows:
                self._tables["symbols"].add(rows.symbols)
            self._tables["files"].add(rows.files)
        return chunks

    def touch_files(self, files: Sequence[IndexedFile]) -> None:
        """Record new fingerprints (mtime) of files whose content did not change."""
        if not files:
            return
        rows = [
            {
                "path": f.rel_path,
                "content_hash": f.content_hash,
                "mtime_ns": f.mtime_ns,
                "size": f.size,
                "chunks": 0,
            }
            for f in files
        ]
        with self._lock:
            table = self._tables["files"]
            counts = {
                r["path"]: r["chunks"]
                for r in table.search().where(_in("path", [f.rel_path for f in files])).to_list()
            }
            for row in rows:
                row["chunks"] = counts.get(row["path"], 0)
            self._append_only.discard("files")
            table.merge_insert(
                "path"
            ).when_matched_update_all().when_not_matched_insert_all().execute(
                pa.Table.from_pylist(rows, schema=self._schemas()["files"])
            )

    def _vectors_by_hash(self, paths: Sequence[str]) -> dict[str, list[float]]:
        rows = (
            self._tables["chunks"]
            .search()
            .where(f"{_in('path', paths)} AND vector IS NOT NULL")
            .select(["content_hash", "vector"])
            .limit(None)
            .to_list()
        )
        return {r["content_hash"]: r["vector"] for r in rows}

    def remove_files(self, paths: Sequence[str]) -> None:
        """Forget deleted files."""
        if not paths:
            return
        where = _in("path", paths)
        with self._lock:
            for name, table in self._tables.items():
                table.delete(where)
                self._append_only.discard(name)

    def pending_embeddings(self, limit: int, prefer: Sequence[str] = ()) -> list[tuple[str, str]]:
        """(id, text) of chunks without a vector, in the order worth embedding.

        `prefer`red paths (open files) first, then their neighbours in the same folders, then
        the rest.
        """
        folders = sorted({path.rsplit("/", 1)[0] + "/" for path in prefer if "/" in path})
        tiers = []
        if prefer:
            tiers.append(f"vector IS NULL AND {_in('path', prefer)}")
        if folders:
            near = " OR ".join(f"starts_with(path, {_quote(folder)})" for folder in folders)
            tiers.append(f"vector IS NULL AND ({near})")
        tiers.append("vector IS NULL")
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        with self._lock:
            for where in tiers:
                rows = (
                    self._tables["chunks"]
                    .search()
                    .select(["id", "text"])
                    .where(where)
                    .limit(limit + len(out))  # room for rows an earlier tier already took
                    .to_list()
                )
                for row in rows:
                    if row["id"] not in seen and len(out) < limit:
                        seen.add(row["id"])
                        out.append((row["id"], row["text"]))
                if len(out) >= limit:
                    break
        return out

    def set_vectors(self, ids: Sequence[str], vectors: np.ndarray) -> pa.Table:
        """Store embeddings for chunks (rows deleted meanwhile are skipped); the rows stored."""
        if not ids:
            return pa.Table.from_pylist([], schema=self._schemas()["chunks"])
        with self._lock:
            table = self._tables["chunks"]
            current = {
                r["id"]: r for r in table.search().where(_in("id", ids)).limit(None).to_list()
            }
            rows = []
            for chunk_id_, vector in zip(ids, vectors, strict=True):
                row = current.get(chunk_id_)
                if row is None:
                    continue
                row = {k: v for k, v in row.items() if not k.startswith("_")}
                row["vector"] = [float(x) for x in vector]
                rows.append(row)
            stored = pa.Table.from_pylist(rows, schema=self._schemas()["chunks"])
            if rows:
                self._append_only.discard("chunks")
                table.merge_insert("id").when_matched_update_all().execute(stored)
            return stored

    def compact(self, older_than_seconds: float = CLEANUP_SECONDS) -> None:
        """Merge small fragments, fold new rows into the text index, drop old versions.

        Versions older than a few seconds go: a concurrent reader (the CLI next to the editor)
        finishes its query within that, and disk use stays bounded. A table this store created
        and only appended to since (a first index) is skipped while it has no index and few
        fragments: its old versions hold no rows of their own, and rewriting it into one fragment
        cost about half as much as building the text index (bench corpus).
        """
        with self._lock:
            for name, table in self._tables.items():
                if name in self._append_only and not table.list_indices():
                    fragments = table.stats()["fragment_stats"]["num_fragments"]
                    if fragments <= MAX_APPENDED_FRAGMENTS:
                        continue
                table.optimize(cleanup_older_than=datetime.timedelta(seconds=older_than_seconds))
                self._append_only.discard(name)
            self.ensure_text_index()

    def ensure_text_index(self) -> None:
        """Create the native full-text index on chunk text once there is text to index."""
        with self._lock:
            table = self._tables["chunks"]
            if self._fts_ready:
                return
            if any(i.index_type == "FTS" for i in table.list_indices()):
                self._fts_ready = True
                self.ensure_symbol_index()
                return
            if table.count_rows() == 0:
                return
            table.create_index("text", config=FTS(), replace=True)
            # Fetching hits by id is a full scan without this (19 ms -> 5 ms at 100k rows).
            table.create_index("id", config=BTree(), replace=True)
            self._fts_ready = True
        self.ensure_symbol_index()

    def ensure_symbol_index(self) -> None:
        """A BTREE index on symbol names and a bitmap index on roles, once there are symbols.

        Completions look names up on every new line: a scan of millions of reference rows would
        not fit in their time budget.
        """
        with self._lock:
            symbols = self._tables["symbols"]
            if self._symbols_indexed or not symbols.count_rows():
                return
            present = [i.columns for i in symbols.list_indices()]
            if ["name"] not in present:
                symbols.create_index("name", config=BTree(), replace=True)
            if ["role"] not in present:  # without it "role = x AND name IN (...)" scans: 4x slower
                symbols.create_index("role", config=Bitmap(), replace=True)
            self._symbols_indexed = True

    # --- reading ------------------------------------------------------------------------

    def search_text(self, query: str, limit: int) -> list[StoredChunk]:
        """Full-text (BM25) search over chunk text."""
        terms = " ".join(word for word in _words(query))
        if not terms:
            return []
        if not self._fts_ready:
            self.ensure_text_index()
            if not self._fts_ready:
                return []
        # Reads take no lock: LanceDB reads a consistent version while a write or a compaction
        # runs on the index worker, and completions must not wait for those.
        rows = (
            self._tables["chunks"]
            .search(terms, query_type="fts")
            .select(list(_CHUNK_COLUMNS) + ["_score"])
            .limit(limit)
            .to_list()
        )
        return [_stored(row, float(row.get("_score", 0.0))) for row in rows]

    def chunks_by_id(self, ids: Sequence[str]) -> list[StoredChunk]:
        """Chunks by row id, in the order asked."""
        if not ids:
            return []
        rows = (  # no lock, as in search_text
            self._tables["chunks"]
            .search()
            .where(_in("id", ids))
            .select(list(_CHUNK_COLUMNS))
            .limit(None)
            .to_list()
        )
        by_id = {row["id"]: _stored(row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def all_vectors(self) -> tuple[list[str], np.ndarray]:
        """Ids and vectors of every embedded chunk, for the in-memory vector search."""
        with self._lock:
            table = (
                self._tables["chunks"]
                .search()
                .where("vector IS NOT NULL")
                .select(["id", "vector"])
                .limit(None)
                .to_arrow()
            )
        return vectors_of(table, self.identity.dimension)

    def symbols(
        self, names: Sequence[str], roles: Sequence[str], limit: int = 200
    ) -> list[dict[str, Any]]:
        """Symbol rows of these roles ("definition", "import", "reference") for these names."""
        if isinstance(roles, str):
            roles = (roles,)
        if not names or not roles:
            return []
        rows: list[dict[str, Any]] = (  # no lock, as in search_text
            self._tables["symbols"]
            .search()
            .where(f"{_in('role', roles)} AND {_in('name', names)}")
            .limit(limit)
            .to_list()
        )
        return rows

    def counts(self) -> dict[str, int]:
        """Files, chunks and embedded chunks (no walk of the folder, unlike `stats`)."""
        with self._lock:
            return {
                "files": self._tables["files"].count_rows(),
                "chunks": self._tables["chunks"].count_rows(),
                "embedded": self._tables["chunks"].count_rows("vector IS NOT NULL"),
            }

    def stats(self) -> StoreStats:
        """Files, chunks, embedded chunks and bytes on disk."""
        disk = sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return StoreStats(**self.counts(), disk_bytes=disk)


_CHUNK_COLUMNS = ("id", "path", "language", "symbol", "kind", "start_line", "end_line", "text")


def _stored(row: dict[str, Any], score: float = 0.0) -> StoredChunk:
    return StoredChunk(
        id=row["id"],
        path=row["path"],
        language=row["language"],
        symbol=row["symbol"],
        kind=row["kind"],
        start_line=int(row["start_line"]),
        end_line=int(row["end_line"]),
        text=row["text"],
        score=score,
    )


def _words(query: str) -> list[str]:
    """Identifier-ish words of a query (the FTS parser rejects most punctuation)."""
    out: list[str] = []
    word = []
    for ch in query:
        if ch.isalnum() or ch == "_":
            word.append(ch)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return [w for w in out if len(w) > 1][:64]
