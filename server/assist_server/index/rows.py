"""The index's table layout, and the Arrow rows of chunked files.

Apart from the store so that the processes that chunk files (index/chunk_workers.py) can build
the rows without loading LanceDB, which takes 1.5 s to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from assist_server.types import Chunk, FileSymbols


@dataclass(frozen=True)
class IndexedFile:
    """One file's worth of rows: its fingerprint and what the chunker found in it."""

    rel_path: str
    content_hash: str
    mtime_ns: int
    size: int
    symbols: FileSymbols | None  # None: content unchanged, only the fingerprint moves


@dataclass(frozen=True)
class FileRows:
    """The rows of some files for each table; the chunks' vector column is empty (null)."""

    chunks: pa.Table
    symbols: pa.Table
    files: pa.Table

    @staticmethod
    def concat(parts: Sequence[FileRows]) -> FileRows:
        """The rows of several groups of files, in order, as one group."""
        return FileRows(
            pa.concat_tables([p.chunks for p in parts]),
            pa.concat_tables([p.symbols for p in parts]),
            pa.concat_tables([p.files for p in parts]),
        )


def schemas(dimension: int) -> dict[str, pa.Schema]:
    """The tables `chunks`, `files` and `symbols`, for vectors of this dimension."""
    vector = pa.list_(pa.float32(), dimension)
    return {
        "chunks": pa.schema(
            [
                pa.field("id", pa.string()),
                pa.field("path", pa.string()),
                pa.field("language", pa.string()),
                pa.field("symbol", pa.string()),
                pa.field("kind", pa.string()),
                pa.field("start_line", pa.int32()),
                pa.field("end_line", pa.int32()),
                pa.field("text", pa.string()),
                pa.field("content_hash", pa.string()),
                pa.field("vector", vector, nullable=True),
            ]
        ),
        "files": pa.schema(
            [
                pa.field("path", pa.string()),
                pa.field("content_hash", pa.string()),
                pa.field("mtime_ns", pa.int64()),
                pa.field("size", pa.int64()),
                pa.field("chunks", pa.int32()),
            ]
        ),
        "symbols": pa.schema(
            [
                pa.field("name", pa.string()),
                pa.field("role", pa.string()),  # "definition" | "import" | "reference"
                pa.field("kind", pa.string()),
                pa.field("module", pa.string()),
                pa.field("path", pa.string()),
                pa.field("line", pa.int32()),
                pa.field("end_line", pa.int32()),
            ]
        ),
    }


def chunk_id(chunk: Chunk) -> str:
    """A stable row id: the same chunk text at the same place keeps its id (and embedding).

    The kind is part of it: a class skeleton's piece and a one-line method can share lines and
    text.
    """
    return (
        f"{chunk.path}:{chunk.start_line}-{chunk.end_line}:{chunk.kind}:{chunk.content_hash[:16]}"
    )


def file_rows(files: Sequence[IndexedFile], dimension: int) -> FileRows:
    """The chunks, symbols and files rows of these files (those with symbols), column by column.

    Columns rather than one dict per row: a file has hundreds of symbol rows, and building
    the dicts cost more than writing them.
    """
    files = [f for f in files if f.symbols is not None]
    tables = schemas(dimension)
    chunks = [c for f in files if f.symbols is not None for c in f.symbols.chunks]
    chunk_columns: dict[str, Any] = {
        "id": [chunk_id(c) for c in chunks],
        "path": [c.path for c in chunks],
        "language": [c.language for c in chunks],
        "symbol": [c.symbol for c in chunks],
        "kind": [c.kind for c in chunks],
        "start_line": [c.start_line for c in chunks],
        "end_line": [c.end_line for c in chunks],
        "text": [c.text for c in chunks],
        "content_hash": [c.content_hash for c in chunks],
        "vector": pa.nulls(len(chunks), tables["chunks"].field("vector").type),
    }
    symbols: dict[str, list[Any]] = {
        "name": [],
        "role": [],
        "kind": [],
        "module": [],
        "path": [],
        "line": [],
        "end_line": [],
    }
    for file in files:
        if file.symbols is not None:
            _add_symbols(symbols, file.symbols)
    file_columns = {
        "path": [f.rel_path for f in files],
        "content_hash": [f.content_hash for f in files],
        "mtime_ns": [f.mtime_ns for f in files],
        "size": [f.size for f in files],
        "chunks": [len(f.symbols.chunks) if f.symbols is not None else 0 for f in files],
    }
    return FileRows(
        pa.Table.from_pydict(chunk_columns, schema=tables["chunks"]),
        pa.Table.from_pydict(symbols, schema=tables["symbols"]),
        pa.Table.from_pydict(file_columns, schema=tables["files"]),
    )


def with_vectors(chunks: pa.Table, kept: dict[str, list[float]]) -> pa.Table:
    """The chunk rows with the vectors of unchanged chunk texts (by content hash) put back."""
    if not kept:
        return chunks
    column = chunks.schema.get_field_index("vector")
    vectors = pa.array(
        [kept.get(h) for h in chunks.column("content_hash").to_pylist()],
        chunks.schema.field(column).type,
    )
    return chunks.set_column(column, chunks.schema.field(column), vectors)


def _add_symbols(columns: dict[str, list[Any]], symbols: FileSymbols) -> None:
    """Append one file's definitions, imports and references to the symbols columns."""
    definitions, imports, references = symbols.definitions, symbols.imports, symbols.references
    names, paths, lines = zip(*references, strict=True) if references else ((), (), ())
    columns["name"] += [d.name for d in definitions]
    columns["name"] += [i.name for i in imports]
    columns["name"] += names
    columns["role"] += ["definition"] * len(definitions)
    columns["role"] += ["import"] * len(imports)
    columns["role"] += ["reference"] * len(references)
    columns["kind"] += [d.kind for d in definitions]
    columns["kind"] += ["import"] * len(imports)
    columns["kind"] += [""] * len(references)
    columns["module"] += [""] * len(definitions)
    columns["module"] += [i.module for i in imports]
    columns["module"] += [""] * len(references)
    columns["path"] += [d.path for d in definitions]
    columns["path"] += [i.path for i in imports]
    columns["path"] += paths
    columns["line"] += [d.start_line for d in definitions]
    columns["line"] += [i.line for i in imports]
    columns["line"] += lines
    columns["end_line"] += [d.end_line for d in definitions]
    columns["end_line"] += [i.line for i in imports]
    columns["end_line"] += lines
