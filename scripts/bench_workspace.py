"""A large real workspace and its index, built once and cached, for retrieval benchmarks.

The pinned sdists of `bench_index.PACKAGES` are unpacked once into `copy000/` of a workspace
folder and hard-linked into `copy001/`, `copy002/`, ... until the chunker's output reaches the
wanted number of chunk rows. Every copy is a real file on disk (retrieval reads snippet lines from
disk), and the index holds what `WorkspaceIndex.index_all` would store for it: chunks, file
fingerprints that match the disk (so a server opening it finds nothing to re-index) and symbol
rows (definitions, imports, references) scaled with the copies. The chunker runs once per distinct
file; copies only change the path. Vectors are real: every distinct chunk text is embedded with
the index's own embedder, and copies of a chunk share its vector.

Built under ASSIST_CACHE/bench-retrieval/<key>/ (default ~/.cache/assist-server/...), where the
key covers the sdists, the row target, the chunker and store versions and the embedding model; a
later run with the same inputs reuses it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from assist_server.config import IndexSettings, parse_settings
from assist_server.index.crawl import crawl, read_text
from assist_server.index.embed import expected_model_id
from assist_server.index.indexer import CHUNKER_VERSION, WorkspaceIndex
from assist_server.index.rows import IndexedFile, chunk_id
from assist_server.index.store import STORE_FORMAT
from assist_server.syntax.chunking import chunk_file
from assist_server.syntax.languages import language_id
from assist_server.types import FileSymbols

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fetch_model  # noqa: E402
from bench_index import PACKAGES, fetch_sdists, unpack  # noqa: E402

BUILDER_VERSION = 1  # bump when what this module writes changes
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
FILES_PER_WRITE = 64
VECTORS_PER_WRITE = 8192
EMBED_BATCH = 64


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def index_settings(store_path: Path, provider: str = "sentence-transformers") -> IndexSettings:
    """The index settings the workspace was built with (and a server must use to reopen it)."""
    return parse_settings(
        {
            "index": {
                "path": str(store_path),
                "embeddingProvider": provider,
                "embeddingModel": EMBEDDING_MODEL,
            }
        }
    ).index


@dataclasses.dataclass(frozen=True)
class BenchWorkspace:
    """Where the workspace and its index are, and what they hold."""

    root: Path
    store_path: Path
    manifest: dict[str, Any]


def _key(rows: int, embeddings: bool) -> dict[str, Any]:
    return {
        "builder": BUILDER_VERSION,
        "embeddings": embeddings,
        "packages": [f"{name}=={version}" for name, version in PACKAGES],
        "rows": rows,
        "chunker": CHUNKER_VERSION,
        "store_format": STORE_FORMAT,
        "embedding_model": EMBEDDING_MODEL,
        # the runtime too: an index embedded by torch reopened for int8 would be rebuilt
        "model_id": expected_model_id(index_settings(Path("unused")), parse_settings().backend),
    }


def large_workspace(rows: int = 100_000, embeddings: bool = True) -> BenchWorkspace:
    """The cached workspace of at least `rows` chunks, built first if missing or stale."""
    key = _key(rows, embeddings)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    folder = fetch_model.cache_dir() / "bench-retrieval" / f"rows{rows}-{digest}"
    manifest_path = folder / "manifest.json"
    root, store_path = folder / "workspace", folder / "index"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("key") == key and manifest.get("complete"):
            log(f"bench: reusing the {manifest['chunks']}-chunk workspace at {folder}")
            return BenchWorkspace(root, store_path, manifest)
    log(f"bench: building a workspace of >= {rows} chunks at {folder} (once; cached)")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    manifest = _build(root, store_path, rows, embeddings)
    manifest["key"] = key
    manifest["complete"] = True
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return BenchWorkspace(root, store_path, manifest)


def _build(root: Path, store_path: Path, rows: int, embeddings: bool) -> dict[str, Any]:
    started = time.perf_counter()
    sdists = fetch_sdists(fetch_model.cache_dir() / "bench-corpus", PACKAGES)
    original = root / "copy000"
    unpack(sdists, original)
    index = WorkspaceIndex(root, index_settings(store_path))
    # What the chunker makes of each file of the first copy (the crawl rules of the server).
    per_file: dict[str, tuple[str, FileSymbols]] = {}
    chunks_per_copy = 0
    for file in crawl(original, index.rules):
        text = read_text(file)
        if text is None:
            continue
        symbols = chunk_file(file.rel_path, text, language_id("", file.rel_path))
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        per_file[file.rel_path] = (digest, symbols)
        chunks_per_copy += len(symbols.chunks)
    copies = -(-rows // max(1, chunks_per_copy))
    log(f"  {len(per_file)} files, {chunks_per_copy} chunks per copy: {copies} copies")
    for n in range(1, copies):
        for rel in per_file:
            target = root / f"copy{n:03d}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(original / rel, target)

    # Write every copy's rows as index_all would, with fingerprints taken from the disk.
    batch: list[IndexedFile] = []
    counts = {"files": 0, "chunks": 0, "definitions": 0, "imports": 0, "references": 0}
    for file in crawl(root, index.rules):
        copy, _, rel = file.rel_path.partition("/")
        if rel not in per_file:
            continue
        digest, symbols = per_file[rel]
        batch.append(
            IndexedFile(
                file.rel_path, digest, file.mtime_ns, file.size, _moved(symbols, file.rel_path)
            )
        )
        counts["files"] += 1
        counts["chunks"] += len(symbols.chunks)
        counts["definitions"] += len(symbols.definitions)
        counts["imports"] += len(symbols.imports)
        counts["references"] += len(symbols.references)
        if len(batch) >= FILES_PER_WRITE:
            index.store.replace_files(batch)
            batch = []
            if counts["files"] % (FILES_PER_WRITE * 20) == 0:
                log(f"  {counts['chunks']} chunk rows ({time.perf_counter() - started:.0f} s)")
    index.store.replace_files(batch)
    index.store.compact()  # text index, id and symbol-name indexes, as the server makes them
    write_seconds = time.perf_counter() - started

    embed_seconds = 0.0
    if embeddings:
        embed_seconds = _embed(index, per_file, copies)
        index.store.compact()
    stats = index.store.stats()
    return {
        **counts,
        "copies": copies,
        "chunks_per_copy": chunks_per_copy,
        "stored_chunks": stats.chunks,
        "embedded": stats.embedded,
        "disk_mb": round(stats.disk_bytes / 1e6, 1),
        "write_seconds": round(write_seconds, 1),
        "embed_seconds": round(embed_seconds, 1),
    }


def _moved(symbols: FileSymbols, path: str) -> FileSymbols:
    """The same symbols, found in the file at `path`."""
    return FileSymbols(
        tuple(dataclasses.replace(c, path=path) for c in symbols.chunks),
        tuple(dataclasses.replace(d, path=path) for d in symbols.definitions),
        tuple(dataclasses.replace(i, path=path) for i in symbols.imports),
        tuple(r._replace(path=path) for r in symbols.references),
    )


def _embed(
    index: WorkspaceIndex, per_file: dict[str, tuple[str, FileSymbols]], copies: int
) -> float:
    """Embed each distinct chunk text once (the index's embedder); copies share its vector."""
    started = time.perf_counter()
    texts: dict[str, str] = {}
    for _, symbols in per_file.values():
        for chunk in symbols.chunks:
            texts.setdefault(chunk.content_hash, chunk.text)
    hashes = sorted(texts, key=lambda h: len(texts[h]))  # similar lengths pad less
    embedder = index.embedder()
    vectors: dict[str, np.ndarray] = {}
    for i in range(0, len(hashes), EMBED_BATCH):
        part = hashes[i : i + EMBED_BATCH]
        for h, vector in zip(part, embedder.encode([texts[h] for h in part]), strict=True):
            vectors[h] = vector
        if (i // EMBED_BATCH) % 20 == 0:
            log(
                f"  {i + len(part)}/{len(hashes)} distinct chunks embedded "
                f"({time.perf_counter() - started:.0f} s)"
            )
    ids: dict[str, str] = {}  # chunk id -> content hash (an id can repeat within a file)
    for n in range(copies):
        for rel, (_, symbols) in per_file.items():
            path = f"copy{n:03d}/{rel}"
            for chunk in symbols.chunks:
                moved = dataclasses.replace(chunk, path=path)
                ids.setdefault(chunk_id(moved), chunk.content_hash)
    order = list(ids)
    for i in range(0, len(order), VECTORS_PER_WRITE):
        part = order[i : i + VECTORS_PER_WRITE]
        index.store.set_vectors(part, np.stack([vectors[ids[c]] for c in part]))
        log(f"  {i + len(part)}/{len(order)} vectors written")
    return time.perf_counter() - started


def working_copy(workspace: BenchWorkspace, into: Path) -> Path:
    """A throw-away copy of the index for a server run: its re-indexing must not touch the cache."""
    target = into / "index"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(workspace.store_path, target)
    return target


if __name__ == "__main__":
    built = large_workspace(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    print(json.dumps(built.manifest, indent=2))
