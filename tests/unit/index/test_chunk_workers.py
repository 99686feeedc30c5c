"""Chunking in worker processes: the same rows as in the server's process, failures contained."""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from assist_server.config import parse_settings
from assist_server.index import chunk_workers, indexer
from assist_server.index.chunk_workers import ChunkWorkers
from assist_server.index.indexer import WorkspaceIndex

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

# A worker that fails on purpose: it exits on a file named crash*, never answers on hang*, and
# logs a warning on warn*; other files are chunked as usual.
FAULTY_WORKER = """
import logging, os, sys, time
from assist_server.index import chunk_workers

real = chunk_workers.chunk_task

def faulty(task):
    for file, _ in task.files:
        name = file.path.name
        if name.startswith("crash"):
            os._exit(3)
        if name.startswith("hang"):
            time.sleep(600)
        if name.startswith("warn"):
            logging.getLogger("assist_server.test").warning("worker saw %s", name)
    return real(task)

chunk_workers.chunk_task = faulty
chunk_workers.serve(sys.argv[1:])
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Files of every language the chunker knows, and a small Python package."""
    target = tmp_path / "ws"
    shutil.copytree(FIXTURES / "languages", target / "languages")
    shutil.copytree(FIXTURES / "workspace", target / "workspace")
    return target


@pytest.fixture(autouse=True)
def small_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers even for a small workspace on a busy machine, and tasks of a few files each."""
    monkeypatch.setattr(indexer, "WORKERS_MIN_BYTES", 0)
    monkeypatch.setattr(indexer, "TASK_FILES", 2)
    monkeypatch.setattr(indexer, "_load", lambda: 0.0)  # whatever else runs on the machine
    monkeypatch.setattr(indexer, "_cores", lambda: 2)


def make(root: Path, path: Path, workers: int) -> WorkspaceIndex:
    settings = parse_settings({"index": {"embeddingProvider": "none", "workers": workers}})
    return WorkspaceIndex(root, settings.index, store_path=path)


def rows(index: WorkspaceIndex) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, in the order stored."""
    return {name: table.to_arrow().to_pylist() for name, table in index.store._tables.items()}


def use_worker(monkeypatch: pytest.MonkeyPatch, script: str) -> list[ChunkWorkers]:
    """Run `script` as the worker; returns the pools made, to look at after indexing."""
    made: list[ChunkWorkers] = []

    def workers(count: int) -> ChunkWorkers:
        pool = ChunkWorkers(count, [sys.executable, "-c", script])
        made.append(pool)
        return pool

    monkeypatch.setattr(indexer, "ChunkWorkers", workers)
    return made


def test_workers_store_the_same_rows_as_the_server_process(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here: list[object] = []  # tasks chunked in this process
    real = indexer.chunk_task
    monkeypatch.setattr(indexer, "chunk_task", lambda task: here.append(task) or real(task))
    one = make(root, tmp_path / "one", workers=1)
    two = make(root, tmp_path / "two", workers=2)
    first = one.index_all()
    assert here
    here.clear()
    second = two.index_all()
    assert not here
    assert (second.files, second.changed, second.chunks, second.bytes) == (
        first.files,
        first.changed,
        first.chunks,
        first.bytes,
    )
    assert first.changed >= 20
    stored = rows(one)
    assert {"definition", "import", "reference"} <= {r["role"] for r in stored["symbols"]}
    assert rows(two) == stored
    assert two.status() == one.status()

    # A changed file, a touched one and a new one: the second pass agrees too.
    (root / "workspace" / "inventory" / "items.py").write_text("def restock():\n    pass\n")
    report = root / "workspace" / "inventory" / "report.py"
    report.write_text(report.read_text())
    (root / "new.py").write_text("import os\n\n\ndef added():\n    return os.sep\n")
    assert one.index_all().changed == 3
    here.clear()
    assert two.index_all().changed == 3
    assert not here
    assert rows(two) == rows(one)


def test_a_file_that_kills_or_hangs_a_worker_is_left_out_alone(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reference = make(root, tmp_path / "reference", workers=1)
    reference.index_all()
    (root / "languages" / "crash_me.py").write_text("def boom():\n    pass\n")
    (root / "languages" / "hang_me.py").write_text("def forever():\n    pass\n")
    (root / "languages" / "warn_me.py").write_text("def loud():\n    pass\n")
    monkeypatch.setattr(chunk_workers, "TASK_TIMEOUT_S", 2.0)
    made = use_worker(monkeypatch, FAULTY_WORKER)
    index = make(root, tmp_path / "faulty", workers=2)
    with caplog.at_level(logging.INFO):
        summary = index.index_all()

    stored = index.store.file_fingerprints()
    assert "languages/crash_me.py" not in stored and "languages/hang_me.py" not in stored
    assert "languages/warn_me.py" in stored
    assert summary.changed == reference.status()["files"] + 1  # every other file
    messages = [r.getMessage() for r in caplog.records]
    assert any("crash_me.py failed (exited with code 3)" in m for m in messages)
    assert any("hang_me.py failed (stopped after 2 s)" in m for m in messages)
    assert "worker saw warn_me.py" in messages  # the worker's log record, re-emitted here
    # Everything the good files hold is there, as chunked in the server's process.
    mine = [r for r in rows(index)["chunks"] if not r["path"].endswith("warn_me.py")]
    assert mine == rows(reference)["chunks"]
    assert made and all(not pool._processes for pool in made)


def test_workers_that_cannot_start_leave_the_work_to_this_process(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reference = make(root, tmp_path / "reference", workers=1)
    reference.index_all()
    use_worker(monkeypatch, "import sys; sys.exit(1)")
    index = make(root, tmp_path / "broken", workers=2)
    with caplog.at_level(logging.WARNING):
        index.index_all()
    assert rows(index) == rows(reference)
    assert any("no chunking process could start" in r.getMessage() for r in caplog.records)


def test_a_missing_python_makes_workers_unavailable(tmp_path: Path) -> None:
    pool = ChunkWorkers(1, [str(tmp_path / "no-such-python")])
    future = pool.submit(chunk_workers.ChunkTask((), 1))
    with pytest.raises(chunk_workers.WorkersUnavailable, match="cannot run"):
        future.result(timeout=30)
    pool.close()


def test_cancel_stops_the_pass_and_its_workers(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = use_worker(monkeypatch, FAULTY_WORKER)
    (root / "languages" / "hang_me.py").write_text("def forever():\n    pass\n")
    cancel = threading.Event()

    def progress(phase: str, done: int, total: int) -> None:
        cancel.set()  # after the first task: the pass stops while a worker hangs

    index = make(root, tmp_path / "index", workers=2)
    summary = index.index_all(progress, cancel)
    assert summary.changed < len(list((root / "languages").iterdir()))
    assert made and all(not pool._processes for pool in made)
    assert all(not thread.is_alive() for pool in made for thread in pool._threads)
