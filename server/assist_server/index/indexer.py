"""Keep one workspace root's index current: crawl, chunk, store, embed; and search it.

All methods here block (tree-sitter, LanceDB, the embedding model): callers run them in worker
threads. Files are compared by size and mtime first and by content hash only when those changed,
so a restart re-uses everything that did not change. The lexical index is searchable as soon as
chunks are stored; embeddings follow in their own pass.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Container, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from assist_server.config import BackendSettings, IndexSettings, parse_settings
from assist_server.index.crawl import CrawledFile, CrawlReport, CrawlRules, crawl, read_text
from assist_server.index.embed import (
    Embedder,
    QueryCache,
    create_embedder,
    expected_dimension,
    expected_model_id,
)
from assist_server.index.rows import IndexedFile
from assist_server.index.store import META_FILE, ChunkStore, StoredChunk, StoreIdentity
from assist_server.index.vectors import VectorMatrix
from assist_server.syntax import chunking
from assist_server.syntax.chunking import chunk_file
from assist_server.syntax.languages import language_id

log = logging.getLogger(__name__)

# Files per LanceDB write: few table versions and fragments, bounded memory, and the first
# rows searchable soon. Whichever limit comes first.
WRITE_BATCH_FILES = 512
WRITE_BATCH_BYTES = 2_000_000  # of source text
EMBED_BATCH = 64
EMBED_WINDOW = 8  # batches fetched at once, to sort by length
COMPACT_EVERY_WRITES = 50

Progress = Callable[[str, int, int], None]  # (phase, done, total)


def _chunker_version() -> str:
    """A fingerprint of the chunker's code and queries: any change to them rebuilds the index."""
    digest = hashlib.sha256()
    folder = Path(chunking.__file__).parent
    for part in [Path(chunking.__file__), *sorted((folder / "queries").glob("*.scm"))]:
        digest.update(part.name.encode() + b"\0" + part.read_bytes())
    return digest.hexdigest()[:16]


CHUNKER_VERSION = _chunker_version()


def default_index_path(root: Path) -> Path:
    """One database per workspace root under the user cache folder."""
    resolved = root.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in resolved.name) or "root"
    return Path(platformdirs.user_cache_dir("assist-server")) / "index" / f"{name}-{digest}"


@dataclass
class IndexSummary:
    """What one indexing pass did."""

    files: int = 0
    changed: int = 0
    removed: int = 0
    chunks: int = 0
    bytes: int = 0
    seconds: float = 0.0
    report: CrawlReport = field(default_factory=CrawlReport)


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the objects alive before indexing out of the garbage collector's full passes.

    Chunking allocates millions of short-lived tree-sitter nodes, and each full collection
    they trigger walked the whole heap (LanceDB, pyarrow, the server: ~135k objects); that
    was ~40 % of chunking time. Frozen objects are still freed when unreferenced; cycles
    among them wait for the next full collection after `gc.unfreeze()`.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class WorkspaceIndex:
    """The index of one workspace root."""

    def __init__(
        self,
        root: Path,
        settings: IndexSettings,
        *,
        embedder: Embedder | None = None,
        store_path: Path | None = None,
        backend: BackendSettings | None = None,
    ) -> None:
        self.root = root.resolve()
        self.settings = settings
        # The model server, for the "backend" embedding provider.
        self.backend_settings = backend or parse_settings().backend
        self.store_path = store_path or (
            Path(settings.path) if settings.path else default_index_path(self.root)
        )
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        # Problems the user should see (a fast embedding runtime that fell back to torch).
        self.problems: list[str] = []
        self._query_vectors = QueryCache()
        self.rules = CrawlRules(
            exclude=tuple(settings.exclude),
            max_file_bytes=settings.max_file_bytes,
            extra_secret_patterns=tuple(settings.secret_patterns),
        )
        self.store = ChunkStore(self.store_path, self._identity())
        self.vectors = VectorMatrix(self.store.identity.dimension)
        self.stale = False  # True when the store was emptied after opening: index_all again
        self._counts = self.store.counts()
        self._writes = 0
        self._vectors_dirty = True

    # --- identity and embedder ----------------------------------------------------------

    @property
    def embeddings_enabled(self) -> bool:
        """False when `index.embeddingProvider` is "none"."""
        return self.settings.embedding_provider != "none"

    def _model_id(self) -> str | None:
        """The embedding model_id, or None when only loading the embedder can tell."""
        if self._embedder is not None:
            return self._embedder.model_id
        return expected_model_id(self.settings, self.backend_settings)

    def _identity(self) -> StoreIdentity:
        """Reuse the recorded dimension when the model matches, so opening needs no model."""
        model = self._model_id()
        meta = self.store_path / META_FILE
        try:
            found = json.loads(meta.read_text(encoding="utf-8"))
            if (
                model is not None
                and found.get("embedding_model") == model
                and found.get("chunker") == CHUNKER_VERSION
            ):
                return StoreIdentity(CHUNKER_VERSION, model, int(found["dimension"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if not self.embeddings_enabled:
            return StoreIdentity(CHUNKER_VERSION, "none", 1)
        # A first start of an int8 runtime opens the store without converting the model (a
        # minute), so that lexical search is ready first; embed_pending converts it.
        dimension = expected_dimension(self.settings) if self._embedder is None else None
        if model is not None and dimension is not None:
            return StoreIdentity(CHUNKER_VERSION, model, dimension)
        embedder = self.embedder()
        return StoreIdentity(CHUNKER_VERSION, embedder.model_id, embedder.dimension)

    @property
    def embedder_loaded(self) -> bool:
        """Whether the embedding model is already loaded (loading takes seconds)."""
        return self._embedder is not None

    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use (seconds; a first conversion takes longer)."""
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = create_embedder(
                    self.settings, self.backend_settings, self.problems
                )
                store: ChunkStore | None = getattr(self, "store", None)
                if store is not None and (
                    store.identity.embedding_model != self._embedder.model_id
                    or store.identity.dimension != self._embedder.dimension
                ):
                    # The store was opened for a runtime that has just failed to convert or load:
                    # its vectors would not match the fallback's, so the index starts over under
                    # the fallback's identity (embed_pending indexes again).
                    identity = StoreIdentity(
                        CHUNKER_VERSION, self._embedder.model_id, self._embedder.dimension
                    )
                    self.store = ChunkStore(self.store_path, identity)
                    self.vectors = VectorMatrix(identity.dimension)
                    self._vectors_dirty = True
                    self._recount()
                    self.stale = True
            return self._embedder

    # --- indexing -----------------------------------------------------------------------

    def index_all(
        self, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> IndexSummary:
        """Bring the lexical index up to date with the files on disk.

        Runs on the index worker thread, the only writer of this store: the paths stored when it
        starts are the only ones that need deleting before their new rows are added.
        """
        with _heap_frozen():
            return self._index_all(progress, cancel)

    def _index_all(self, progress: Progress | None, cancel: threading.Event | None) -> IndexSummary:
        started = time.perf_counter()
        summary = IndexSummary()
        known = self.store.file_fingerprints()
        files = list(crawl(self.root, self.rules, summary.report))
        summary.files = len(files)
        seen: set[str] = set()
        batch: list[IndexedFile] = []
        batch_bytes = 0
        # LanceDB writes run in its own threads without the GIL: one batch is written while
        # the next is chunked. One write at a time keeps memory bounded and rows in order.
        with ThreadPoolExecutor(1, thread_name_prefix="assist-index-write") as writer:
            writing: Future[None] | None = None
            for done, file in enumerate(files, 1):
                if cancel is not None and cancel.is_set():
                    break
                seen.add(file.rel_path)
                indexed = self._read_if_changed(file, known.get(file.rel_path))
                if indexed is not None:
                    batch.append(indexed)
                    batch_bytes += indexed.size
                    summary.changed += 1
                    summary.chunks += len(indexed.symbols.chunks) if indexed.symbols else 0
                    summary.bytes += indexed.size
                if len(batch) >= WRITE_BATCH_FILES or batch_bytes >= WRITE_BATCH_BYTES:
                    if writing is not None:
                        writing.result()
                    writing = writer.submit(self._write, batch, known)
                    batch, batch_bytes = [], 0
                if progress is not None:
                    progress("index", done, len(files))
            if writing is not None:
                writing.result()
        self._write(batch, known)
        if cancel is None or not cancel.is_set():
            gone = [path for path in known if path not in seen]
            self.store.remove_files(gone)
            self._recount()
            summary.removed = len(gone)
            if gone:
                self._vectors_dirty = True
            self.stale = False
        self.store.compact()
        summary.seconds = time.perf_counter() - started
        return summary

    def _read_if_changed(
        self, file: CrawledFile, known: tuple[str, int, int] | None
    ) -> IndexedFile | None:
        if known is not None and known[1] == file.mtime_ns and known[2] == file.size:
            return None  # same size and mtime: unchanged
        text = read_text(file)
        if text is None:
            return None
        digest = _sha256(text)
        if known is not None and known[0] == digest:  # touched, not changed: keep its rows
            return IndexedFile(file.rel_path, digest, file.mtime_ns, file.size, None)
        return self._chunked(file.rel_path, text, digest, file.mtime_ns, file.size)

    def _chunked(
        self, rel_path: str, text: str, digest: str, mtime_ns: int, size: int
    ) -> IndexedFile:
        symbols = chunk_file(rel_path, text, language_id("", rel_path))
        return IndexedFile(rel_path, digest, mtime_ns, size, symbols)

    def _write(self, batch: list[IndexedFile], stored: Container[str] | None = None) -> None:
        changed = [f for f in batch if f.symbols is not None]
        touched = [f for f in batch if f.symbols is None]
        if changed:
            self.store.replace_files(changed, stored=stored)
            self._vectors_dirty = True
        if touched:
            self.store.touch_files(touched)
        if changed or touched:
            self._writes += 1
            if self._writes % COMPACT_EVERY_WRITES == 0:
                self.store.compact()
            self._recount()

    def reindex_file(self, path: Path, text: str | None = None) -> bool:
        """Re-index one file (on save or change); False when it is not indexable."""
        rel = self.relative(path)
        if rel is None:
            return False
        report = CrawlReport()
        crawled = next(iter(crawl(self.root, self.rules, report, only=[path])), None)
        if crawled is None:
            self.store.remove_files([rel])
            self._vectors_dirty = True
            self._recount()
            return False
        if text is None:
            text = read_text(crawled)
            if text is None:
                return False
        self._write([self._chunked(rel, text, _sha256(text), crawled.mtime_ns, crawled.size)])
        return True

    def remove(self, paths: Sequence[Path]) -> None:
        """Forget deleted files."""
        rels = [rel for p in paths if (rel := self.relative(p)) is not None]
        self.store.remove_files(rels)
        self._vectors_dirty = True
        self._recount()

    def relative(self, path: Path) -> str | None:
        """The workspace-relative path with forward slashes, or None outside the root."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    # --- embeddings ---------------------------------------------------------------------

    def embed_pending(
        self,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        prefer: Sequence[str] = (),
    ) -> int:
        """Embed chunks that have no vector yet, `prefer`red paths first; returns how many."""
        if not self.embeddings_enabled:
            return 0
        if self._counts["chunks"] > self._counts["embedded"]:
            self.embedder()  # loads first: a fallback to another model may empty the store
        if self.stale:
            self.index_all(progress, cancel)
        todo = self._counts["chunks"] - self._counts["embedded"]
        done = 0
        while cancel is None or not cancel.is_set():
            # A window of pending chunks (open files first) goes to the embedder in one call: it
            # sorts them by length and encodes batches of similar length (mixed lengths padded
            # 51% more word pieces than needed), and one store write per window costs less than
            # one per batch (embed_pending went from 85% to 94% of a raw encode, 1600 chunks).
            window = self.store.pending_embeddings(EMBED_BATCH * EMBED_WINDOW, prefer=prefer)
            if not window:
                break
            vectors = self.embedder().encode([text for _, text in window])
            self.store.set_vectors([chunk_id for chunk_id, _ in window], vectors)
            done += len(window)
            self._vectors_dirty = True
            self._recount()
            if progress is not None:
                progress("embed", done, max(todo, done))
        self.refresh_vectors()
        return done

    def refresh_vectors(self) -> None:
        """Reload the in-memory matrix when the store's vectors changed."""
        if self._vectors_dirty and self.embeddings_enabled:
            ids, matrix = self.store.all_vectors()
            self.vectors.replace(ids, matrix)
            self._vectors_dirty = False

    # --- search -------------------------------------------------------------------------

    def nearest(self, query: str, limit: int) -> list[tuple[str, float]]:
        """Ids of the chunks most similar to `query` by embedding, with cosine scores.

        Ids name the chunk's place (`chunk_location`), so a caller that needs no text skips the
        store.
        """
        if not self.embeddings_enabled:
            return []
        self.refresh_vectors()
        if not len(self.vectors):
            return []
        return self.vectors.search(self._query_vectors.vector(self.embedder(), query), limit)

    def search(self, query: str, limit: int = 10, mode: str = "hybrid") -> list[StoredChunk]:
        """Lexical (BM25), vector (cosine) or hybrid (reciprocal rank fusion) search."""
        lexical: list[StoredChunk] = []
        vector: list[StoredChunk] = []
        if mode in ("lexical", "hybrid"):
            lexical = self.store.search_text(query, limit * 2 if mode == "hybrid" else limit)
        if mode in ("vector", "hybrid"):
            hits = self.nearest(query, limit * 2 if mode == "hybrid" else limit)
            scores = dict(hits)
            vector = [
                _with_score(chunk, scores[chunk.id])
                for chunk in self.store.chunks_by_id([i for i, _ in hits])
            ]
        if mode == "lexical":
            return lexical[:limit]
        if mode == "vector":
            return vector[:limit]
        return fuse([lexical, vector], limit)

    def status(self) -> dict[str, int]:
        """Counts for `assist/status`, as of the last change.

        Answering takes no I/O and no lock, so the editor never waits on the worker thread.
        """
        return dict(self._counts)

    def _recount(self) -> None:
        self._counts = self.store.counts()


def _with_score(chunk: StoredChunk, score: float) -> StoredChunk:
    return StoredChunk(**{**chunk.__dict__, "score": score})


def fuse(rankings: Sequence[Sequence[StoredChunk]], limit: int, k: int = 60) -> list[StoredChunk]:
    """Reciprocal rank fusion: each list adds 1/(k + rank) to a chunk's score."""
    scores: dict[str, float] = {}
    chunks: dict[str, StoredChunk] = {}
    for ranking in rankings:
        for rank, chunk in enumerate(ranking):
            scores[chunk.id] = scores.get(chunk.id, 0.0) + 1.0 / (k + rank + 1)
            chunks.setdefault(chunk.id, chunk)
    order = sorted(scores, key=lambda i: -scores[i])[:limit]
    return [_with_score(chunks[i], scores[i]) for i in order]
