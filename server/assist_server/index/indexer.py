"""Keep one workspace root's index current: crawl, chunk, store, embed; and search it.

All methods here block (tree-sitter, LanceDB, the embedding model): callers run them in worker
threads. Files are compared by size and mtime first and by content hash only when those changed,
so a restart re-uses everything that did not change. A pass with enough changed files chunks them
in worker processes (`index.workers`, index/chunk_workers.py) while this process writes. The
lexical index is searchable as soon as chunks are stored; embeddings follow in their own pass.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Container, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import platformdirs
import pyarrow as pa

from assist_server.config import BackendSettings, IndexSettings, parse_settings
from assist_server.index.chunk_workers import (
    NOTHING,
    ChunkedFiles,
    ChunkTask,
    ChunkWorkers,
    Fingerprint,
    WorkerFailed,
    WorkersUnavailable,
    chunk_task,
    chunked_file,
    content_hash,
)
from assist_server.index.crawl import CrawledFile, CrawlReport, CrawlRules, crawl, read_text
from assist_server.index.embed import (
    Embedder,
    QueryCache,
    create_embedder,
    expected_dimension,
    expected_model_id,
)
from assist_server.index.store import (
    META_FILE,
    ChunkStore,
    StoredChunk,
    StoreIdentity,
    chunk_location,
    vectors_of,
)
from assist_server.index.vectors import VectorMatrix
from assist_server.syntax import chunking

log = logging.getLogger(__name__)

# Files per LanceDB write: few table versions and fragments, bounded memory, and the first
# rows searchable soon. Whichever limit comes first.
WRITE_BATCH_FILES = 512
WRITE_BATCH_BYTES = 2_000_000  # of source text
# Files per chunking task: the unit handed to a worker process, and the unit between two looks
# at the cancel flag. Whichever limit comes first.
TASK_FILES = 64
TASK_BYTES = 256_000
# Fewer changed bytes than this are chunked in this process: each worker costs ~0.3 s of CPU to
# start, and two workers broke even with this process at 2.5-3.5 MB (2 cores, bench corpus).
WORKERS_MIN_BYTES = 3_000_000
TASKS_AHEAD_PER_WORKER = 2  # queued per worker: none waits, results held in memory stay few
# Files a pass leaves out (each one killed or hung a worker on its own) before it chunks the
# rest in this process.
MAX_LEFT_OUT = 3
CANCEL_POLL_S = 0.1
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


def chunk_path(chunk_id: str) -> str:
    """The file a chunk id belongs to."""
    return chunk_location(chunk_id)[0]


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
    processes: int = 1  # that chunked the files: 1 is the server's own
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
        self.vectors = VectorMatrix(self.store.identity.dimension, chunk_path)
        self.stale = False  # True when the store was emptied after opening: index_all again
        self._counts = self.store.counts()
        self._writes = 0
        # Whether self.vectors holds the store's vectors; writes then update it in place.
        self._vectors_loaded = False
        self._vectors_lock = threading.Lock()

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
                    with self._vectors_lock:
                        self.vectors = VectorMatrix(identity.dimension, chunk_path)
                        self._vectors_loaded = False
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
        todo = [(f, known.get(f.rel_path)) for f in files if not _unchanged(f, known)]
        tasks = _tasks(todo, self.store.identity.dimension)
        summary.processes = self._processes(tasks)
        done = len(files) - len(todo)
        batch: list[ChunkedFiles] = []
        # LanceDB writes run in its own threads without the GIL: one batch is written while
        # the next is chunked. One write at a time keeps memory bounded and rows in order.
        with (
            ThreadPoolExecutor(1, thread_name_prefix="assist-index-write") as writer,
            contextlib.closing(self._chunk(tasks, cancel, summary.processes)) as results,
        ):
            writing: Future[None] | None = None
            for task, result in results:
                batch.append(result)
                summary.changed += result.files
                summary.chunks += result.chunks
                summary.bytes += result.bytes
                if (
                    sum(r.files for r in batch) >= WRITE_BATCH_FILES
                    or sum(r.bytes for r in batch) >= WRITE_BATCH_BYTES
                ):
                    if writing is not None:
                        writing.result()
                    writing = writer.submit(self._write, ChunkedFiles.concat(batch), known)
                    batch = []
                done += len(task.files)
                if progress is not None:
                    progress("index", done, len(files))
            if writing is not None:
                writing.result()
        self._write(ChunkedFiles.concat(batch), known)
        if cancel is None or not cancel.is_set():
            seen = {f.rel_path for f in files}
            gone = [path for path in known if path not in seen]
            self.store.remove_files(gone)
            self._recount()
            summary.removed = len(gone)
            self._vectors_written(gone)
            self.stale = False
        self.store.compact()
        summary.seconds = time.perf_counter() - started
        return summary

    def _processes(self, tasks: Sequence[ChunkTask]) -> int:
        """How many processes chunk this pass: 1 is this one, more are worker processes.

        Up to `index.workers` (0: one per core), and no more than the cores other programs
        leave idle (1-minute load average, rounded in our favour): with no core to spare,
        workers add their start-up and hand-over costs and take no less time (2 cores, load
        4-5: 30 % slower than this process). Small passes stay in this process.
        """
        cores = _cores()
        wanted = self.settings.workers or cores
        if wanted < 2 or sum(task.bytes for task in tasks) < WORKERS_MIN_BYTES:
            return 1
        return max(1, min(wanted, len(tasks), math.ceil(cores - _load())))

    def _chunk(
        self, tasks: Sequence[ChunkTask], cancel: threading.Event | None, processes: int
    ) -> Generator[tuple[ChunkTask, ChunkedFiles], None, None]:
        """Each task with what it found, in order, from `processes` worker processes if > 1."""
        if processes < 2:
            for task in tasks:
                if cancel is not None and cancel.is_set():
                    return
                yield task, chunk_task(task)
            return
        workers = ChunkWorkers(processes)
        try:
            yield from _through_workers(workers, tasks, cancel, processes * TASKS_AHEAD_PER_WORKER)
        finally:
            workers.close()

    def _write(self, chunked: ChunkedFiles, stored: Container[str] | None = None) -> None:
        if chunked.rows is not None:
            written = self.store.replace_rows(chunked.rows, stored=stored)
            self._vectors_written(chunked.rows.files.column("path").to_pylist(), written)
        if chunked.touched:
            self.store.touch_files(chunked.touched)
        if chunked.rows is not None or chunked.touched:
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
            self._vectors_written([rel])
            self._recount()
            return False
        if text is None:
            text = read_text(crawled)
            if text is None:
                return False
        indexed = chunked_file(rel, text, content_hash(text), crawled.mtime_ns, crawled.size)
        self._write(ChunkedFiles.of([indexed], self.store.identity.dimension))
        return True

    def remove(self, paths: Sequence[Path]) -> None:
        """Forget deleted files."""
        rels = [rel for p in paths if (rel := self.relative(p)) is not None]
        self.store.remove_files(rels)
        self._vectors_written(rels)
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
            written = self.store.set_vectors([chunk_id for chunk_id, _ in window], vectors)
            done += len(window)
            self._vectors_written((), written)
            self._recount()
            if progress is not None:
                progress("embed", done, max(todo, done))
        self.refresh_vectors()
        return done

    def _vectors_written(self, paths: Iterable[str], chunks: pa.Table | None = None) -> None:
        """The store replaced these files' rows by `chunks` (None: removed them).

        The matrix follows in place. Reloading all of it took 0.3-2 s of CPU at 107k chunks,
        after every pause in typing.
        """
        with self._vectors_lock:
            if not self._vectors_loaded:  # the first refresh loads everything
                return
            dimension = self.vectors.dimension
            ids: list[str] = []
            matrix = np.zeros((0, dimension), dtype=np.float32)
            if chunks is not None:
                ids, matrix = vectors_of(chunks, dimension)
            self.vectors.update(set(paths), ids, matrix)

    def refresh_vectors(self) -> None:
        """Load the in-memory matrix from the store, once: writes keep it up to date."""
        if not self.embeddings_enabled or self._vectors_loaded:
            return
        with self._vectors_lock:
            if not self._vectors_loaded:
                ids, matrix = self.store.all_vectors()
                self.vectors.replace(ids, matrix)
                self._vectors_loaded = True

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


def _cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _load() -> float:
    """Runnable processes over the last minute (0 where the system does not say)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return 0.0


def _unchanged(file: CrawledFile, known: dict[str, Fingerprint]) -> bool:
    """Whether the store has the file at the same size and mtime (then it is not even read)."""
    found = known.get(file.rel_path)
    return found is not None and found[1] == file.mtime_ns and found[2] == file.size


def _tasks(
    files: Sequence[tuple[CrawledFile, Fingerprint | None]], dimension: int
) -> list[ChunkTask]:
    """The files in order, in tasks of up to TASK_FILES files or TASK_BYTES bytes."""
    tasks: list[ChunkTask] = []
    group: list[tuple[CrawledFile, Fingerprint | None]] = []
    size = 0
    for item in files:
        group.append(item)
        size += item[0].size
        if len(group) >= TASK_FILES or size >= TASK_BYTES:
            tasks.append(ChunkTask(tuple(group), dimension))
            group, size = [], 0
    if group:
        tasks.append(ChunkTask(tuple(group), dimension))
    return tasks


def _through_workers(
    workers: ChunkWorkers,
    tasks: Sequence[ChunkTask],
    cancel: threading.Event | None,
    ahead: int,
) -> Iterator[tuple[ChunkTask, ChunkedFiles]]:
    """Each task with what the workers found, in order.

    A task whose worker failed is tried again one file per worker: a file that fails alone is
    left out of this pass (its old rows stay; the next pass tries it again), so a file that
    crashes or hangs tree-sitter costs one file, not the index. When no worker can start, or
    after MAX_LEFT_OUT such files, the rest is chunked in this process.
    """
    pending = deque(tasks)
    running: deque[tuple[ChunkTask, Future[ChunkedFiles] | None]] = deque()
    here = False  # chunk the rest in this process
    left_out = 0
    while pending or running:
        if cancel is not None and cancel.is_set():
            return
        while not here and pending and len(running) < ahead:
            task = pending.popleft()
            running.append((task, workers.submit(task)))
        task, future = running.popleft() if running else (pending.popleft(), None)
        if here or future is None:
            yield task, chunk_task(task)
            continue
        try:
            result = _result(future, cancel)
        except WorkersUnavailable as exc:
            log.warning("no chunking process could start (%s): chunking in this process", exc)
            here = True
            workers.close()
            running.appendleft((task, None))
            continue
        except WorkerFailed as exc:
            if len(task.files) > 1:
                log.warning(
                    "a chunking process failed on %d files from %s (%s): trying them one by one",
                    len(task.files),
                    task.files[0][0].rel_path,
                    exc,
                )
                running.extendleft(reversed([(t, workers.submit(t)) for t in task.split()]))
                continue
            left_out += 1
            log.warning(
                "chunking %s failed (%s): left out of the index until the next pass",
                task.files[0][0].rel_path,
                exc,
            )
            if left_out >= MAX_LEFT_OUT:
                log.warning(
                    "%d files failed in chunking processes: chunking in this process", left_out
                )
                here = True
                workers.close()
            result = NOTHING
        if result is None:  # cancelled
            return
        yield task, result


def _result(future: Future[ChunkedFiles], cancel: threading.Event | None) -> ChunkedFiles | None:
    """The task's result, or None as soon as the pass is cancelled."""
    while True:
        try:
            return future.result(timeout=CANCEL_POLL_S)
        except TimeoutError:
            if cancel is not None and cancel.is_set():
                return None


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
