"""Read and chunk files for the index, in the server's process or in worker processes.

`chunk_task` does one group of files: it reads each one, hashes it, and if the content changed,
chunks it and builds its table rows. `ChunkWorkers` runs tasks in other Python processes. With
several cores, the parsing then runs beside the LanceDB writes of the indexing thread, and the
server's own process stays free for requests. Both run the same function, so the rows are the
same whichever ran it.

This is not `concurrent.futures.ProcessPoolExecutor`, for two reasons. Its spawn and forkserver
children run the parent's main script again: the bench script imports LanceDB, which costs
1.6 s more per worker. And it cannot stop one worker that is stuck in a file. A worker here is
`python -m assist_server.index.chunk_workers`. It reads length-prefixed pickles from stdin and
writes them to stdout, one task at a time. Its log records go back to the server with each
result.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import assist_server
from assist_server.index.crawl import CrawledFile, read_text
from assist_server.index.rows import FileRows, IndexedFile, file_rows
from assist_server.syntax.chunking import chunk_file
from assist_server.syntax.languages import language_id

log = logging.getLogger(__name__)

MODULE = "assist_server.index.chunk_workers"
READY = "ready"
STARTUP_TIMEOUT_S = 60.0  # a busy machine takes seconds to start Python and import
# A task taking longer than this is taken for a worker stuck in a file. Chunking runs at
# 1-3 MB/s; the limit leaves room for a machine busy with other work.
TASK_TIMEOUT_S = 60.0
TASK_TIMEOUT_S_PER_BYTE = 20 / 1_000_000
PARENT_POLL_S = 1.0
# Workers yield to the editor, the model server and the server's own process.
WORKER_NICENESS = 5

Fingerprint = tuple[str, int, int]  # content hash, mtime_ns, size: ChunkStore.file_fingerprints


@dataclass(frozen=True)
class ChunkTask:
    """Files to read and chunk, each with the store's fingerprint of it (None: a new file)."""

    files: tuple[tuple[CrawledFile, Fingerprint | None], ...]
    dimension: int  # of the vector column of the rows built

    @property
    def bytes(self) -> int:
        """The files' size on disk when crawled."""
        return sum(file.size for file, _ in self.files)

    def split(self) -> list[ChunkTask]:
        """One task per file."""
        return [ChunkTask((one,), self.dimension) for one in self.files]


@dataclass(frozen=True)
class ChunkedFiles:
    """What a task found: rows of the changed files, new fingerprints of the touched ones."""

    rows: FileRows | None  # None: no file's content changed
    touched: tuple[IndexedFile, ...]  # same content, new mtime: only the fingerprint moves
    files: int  # changed and touched
    chunks: int
    bytes: int

    @staticmethod
    def of(files: Sequence[IndexedFile], dimension: int) -> ChunkedFiles:
        """The rows and fingerprints of these files."""
        changed = [f for f in files if f.symbols is not None]
        return ChunkedFiles(
            file_rows(changed, dimension) if changed else None,
            tuple(f for f in files if f.symbols is None),
            len(files),
            sum(len(f.symbols.chunks) for f in changed if f.symbols is not None),
            sum(f.size for f in files),
        )

    @staticmethod
    def concat(parts: Sequence[ChunkedFiles]) -> ChunkedFiles:
        """Several results as one, in order."""
        rows = [p.rows for p in parts if p.rows is not None]
        return ChunkedFiles(
            FileRows.concat(rows) if rows else None,
            tuple(t for p in parts for t in p.touched),
            sum(p.files for p in parts),
            sum(p.chunks for p in parts),
            sum(p.bytes for p in parts),
        )


NOTHING = ChunkedFiles(None, (), 0, 0, 0)


def content_hash(text: str) -> str:
    """The hash the store keeps of a file's text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def chunked_file(rel_path: str, text: str, digest: str, mtime_ns: int, size: int) -> IndexedFile:
    """A file's fingerprint and chunks."""
    symbols = chunk_file(rel_path, text, language_id("", rel_path))
    return IndexedFile(rel_path, digest, mtime_ns, size, symbols)


def changed_file(file: CrawledFile, known: Fingerprint | None) -> IndexedFile | None:
    """The file read and, if its content changed, chunked; None when it cannot be read."""
    text = read_text(file)
    if text is None:
        return None
    digest = content_hash(text)
    if known is not None and known[0] == digest:  # touched, not changed: keep its rows
        return IndexedFile(file.rel_path, digest, file.mtime_ns, file.size, None)
    return chunked_file(file.rel_path, text, digest, file.mtime_ns, file.size)


def chunk_task(task: ChunkTask) -> ChunkedFiles:
    """Read and chunk the task's files (unreadable ones are left out)."""
    indexed = [changed_file(file, known) for file, known in task.files]
    return ChunkedFiles.of([f for f in indexed if f is not None], task.dimension)


class WorkerFailed(Exception):
    """A worker process died, or was stopped for taking too long, while chunking a task."""


class WorkersUnavailable(WorkerFailed):
    """No worker process could be started: chunk in this process instead."""


class ChunkWorkers:
    """Worker processes that chunk tasks; results come back as futures, run in any order.

    A worker that dies, or that overruns its task's time limit, is killed; its task fails with
    WorkerFailed and the next task starts a new worker. `close` kills them all.
    """

    def __init__(self, count: int, command: Sequence[str] | None = None) -> None:
        self._command = list(command or [sys.executable, "-m", MODULE])
        self._queue: queue.SimpleQueue[tuple[Future[ChunkedFiles], ChunkTask] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._processes: set[subprocess.Popen[bytes]] = set()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"assist-chunk-{i}", daemon=True)
            for i in range(max(1, count))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, task: ChunkTask) -> Future[ChunkedFiles]:
        """Queue a task for the next free worker."""
        future: Future[ChunkedFiles] = Future()
        self._queue.put((future, task))
        return future

    def close(self) -> None:
        """Kill the workers (a task under way is lost) and cancel the tasks still queued."""
        with self._lock:
            self._closed = True
            running = list(self._processes)
        for _ in self._threads:
            self._queue.put(None)
        for process in running:
            process.kill()  # its thread reads the end of its output and cleans up
        for thread in self._threads:
            thread.join(timeout=10)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()

    # --- one thread per worker process ------------------------------------------------------

    def _serve(self) -> None:
        process: subprocess.Popen[bytes] | None = None
        try:
            while (item := self._queue.get()) is not None:
                future, task = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if process is None:
                        process = self._start()
                    future.set_result(self._exchange(process, task))
                except WorkerFailed as exc:
                    if process is not None:
                        self._stop(process)
                        process = None
                    future.set_exception(exc)
                except Exception as exc:  # the future's owner decides what it means
                    future.set_exception(exc)
        finally:
            if process is not None:
                self._stop(process)

    def _start(self) -> subprocess.Popen[bytes]:
        if self._closed:
            raise WorkersUnavailable("closed")
        env = dict(os.environ)
        # The worker imports the same assist_server as this process, wherever it came from.
        package_root = str(Path(assist_server.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        level = logging.getLogger("assist_server").getEffectiveLevel()
        try:
            process = subprocess.Popen(
                [*self._command, str(level)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise WorkersUnavailable(f"cannot run {self._command[0]}: {exc}") from exc
        with self._lock:
            self._processes.add(process)
            closed = self._closed
        if closed:
            self._stop(process)
            raise WorkersUnavailable("closed")
        with _Deadline(process, STARTUP_TIMEOUT_S) as deadline:
            try:
                ready = _receive(_pipe(process.stdout))
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                self._stop(process)
                why = deadline.reason() or _exit_reason(process)
                raise WorkersUnavailable(f"the chunking process did not start ({why})") from exc
        if ready != READY:
            self._stop(process)
            raise WorkersUnavailable(f"the chunking process said {ready!r}")
        return process

    def _exchange(self, process: subprocess.Popen[bytes], task: ChunkTask) -> ChunkedFiles:
        limit = TASK_TIMEOUT_S + task.bytes * TASK_TIMEOUT_S_PER_BYTE
        with _Deadline(process, limit) as deadline:
            try:
                _send(_pipe(process.stdin), task)
                result, records = _receive(_pipe(process.stdout))
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                raise WorkerFailed(deadline.reason() or _exit_reason(process)) from exc
        for record in records:
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        if not isinstance(result, ChunkedFiles):
            raise WorkerFailed(f"the chunking process answered {type(result).__name__}")
        return result

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._processes.discard(process)
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:  # a broken pipe is closed all the same
                    pass


class _Deadline:
    """Kill a process if the block takes longer than `seconds`."""

    def __init__(self, process: subprocess.Popen[bytes], seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._process = process
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        self._process.kill()

    def reason(self) -> str:
        """Why the block failed, if the deadline was the cause."""
        return f"stopped after {self.seconds:.0f} s" if self.fired else ""

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _exit_reason(process: subprocess.Popen[bytes]) -> str:
    try:
        code = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return "its output ended"
    return f"killed by signal {-code}" if code < 0 else f"exited with code {code}"


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    if stream is None:
        raise OSError("no pipe to the chunking process")
    return stream


def _send(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(8, "big"))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the chunking process closed its output")
    size = int.from_bytes(head, "big")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the chunking process closed its output")
    return pickle.loads(data)


# --- the worker process -------------------------------------------------------------------


class _KeptRecords(logging.Handler):
    """Log records kept to go back to the server with the task's result."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None  # arguments may not pickle
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


def _exit_with(parent: int) -> None:
    """End this worker when the server is gone, even in the middle of a task that never ends.

    A server that exits normally kills its workers, and one that is killed closes their input;
    this covers a worker stuck in a file when the server is killed.
    """
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def serve(argv: Sequence[str]) -> None:
    """The worker process: chunk tasks from stdin, results to stdout, until stdin ends."""
    output = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printing (Python or C) goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    kept = _KeptRecords()
    root = logging.getLogger()
    root.handlers[:] = [kept]
    root.setLevel(int(argv[0]) if argv else logging.WARNING)
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    gc.freeze()  # the imports stay out of the collections that chunking triggers
    tasks = sys.stdin.buffer
    try:
        _send(output, READY)
        while True:
            task = _receive(tasks)
            result = chunk_task(task)
            _send(output, (result, kept.records))
            kept.records = []
    except (EOFError, OSError):  # the server closed the pipes: it is done with this worker
        return


if __name__ == "__main__":
    # Run the module's imported copy, not this `__main__` one: the classes of the results must be
    # assist_server.index.chunk_workers', which the server unpickles.
    from assist_server.index.chunk_workers import serve as serve_imported

    serve_imported(sys.argv[1:])
