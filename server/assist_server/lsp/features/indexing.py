"""The workspace index over LSP.

Background indexing with `$/progress`, `assist/status`, the `assist.reindex` command, and
re-indexing on save, on watched-file changes and (debounced) on edits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.uris import to_fs_path

from assist_server.config import IndexSettings, Settings
from assist_server.index.indexer import WorkspaceIndex
from assist_server.lsp.progress import Progress
from assist_server.lsp.server import AssistServer

log = logging.getLogger(__name__)

STATUS = "assist/status"
REINDEX = "assist.reindex"
CHANGE_DEBOUNCE_S = 1.5
PROGRESS_EVERY_S = 0.25

T = TypeVar("T")


class Indexing:
    """Index state of the workspace folders; all index work runs on one worker thread."""

    def __init__(self, server: AssistServer) -> None:
        self.server = server
        self.state = "disabled"
        self.last_error: str | None = None
        self.indexes: list[WorkspaceIndex] = []
        self.worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="assist-index")
        self.cancel = threading.Event()
        self._debounce: dict[str, asyncio.Task[None]] = {}
        self._settings: IndexSettings | None = None
        self._pass: asyncio.Task[None] | None = None

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """Run blocking index work on the worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.worker, lambda: call(*args))

    def status(self) -> dict[str, Any]:
        """The `assist/status` answer (counts summed over the workspace folders)."""
        totals = {"files": 0, "chunks": 0, "embedded": 0}
        for index in self.indexes:
            try:
                for key, value in index.status().items():
                    totals[key] += value
            except Exception as exc:  # a damaged table must not break the status request
                log.warning("index status failed: %s", exc)
        return {"state": self.state, **totals, "lastError": self.last_error}

    def index_for(self, path: Path) -> WorkspaceIndex | None:
        """The index whose root holds `path`."""
        for index in self.indexes:
            if index.relative(path) is not None:
                return index
        return None

    def restart(self, roots: list[Path], settings: IndexSettings) -> None:
        """Index again (new settings): the pass under way stops at its next batch first."""
        previous = self._pass
        if settings.enabled and roots:
            self.state = "indexing"  # from now on, not once the task runs: status tells the truth

        async def after_previous() -> None:
            if previous is not None and not previous.done():
                self.cancel.set()
                await asyncio.gather(previous, return_exceptions=True)
            self.cancel.clear()
            await self.start(roots, settings)

        self._pass = self.server.run_background(after_previous(), "index")

    def stop(self) -> None:
        """Stop indexing at the next batch (shutdown)."""
        self.cancel.set()
        self.worker.shutdown(wait=False, cancel_futures=True)

    async def start(self, roots: list[Path], settings: IndexSettings) -> None:
        """(Re-)index every root in the background, reporting `$/progress`."""
        self._settings = settings
        if not settings.enabled or not roots:
            self.state = "disabled"
            return
        self.state = "indexing"
        self.last_error = None
        progress = await Progress.open(self.server, "assist: indexing")
        try:
            self.indexes = []
            for root in roots:
                index = await self.run(
                    lambda root=root: WorkspaceIndex(
                        root, settings, backend=self.server.settings.backend
                    )
                )
                if index.store.rebuilt:
                    self.server.errors.message(f"the index was rebuilt: {index.store.rebuilt}")
                self.indexes.append(index)
            for index in self.indexes:
                summary = await self.run(index.index_all, progress_reporter(progress), self.cancel)
                log.info(
                    "indexed %s: %d files, %d changed, %d removed, %d chunks in %.1f s "
                    "(%d chunking processes); %s",
                    index.root,
                    summary.files,
                    summary.changed,
                    summary.removed,
                    summary.chunks,
                    summary.seconds,
                    summary.processes,
                    summary.report.summary(),
                )
            for index in self.indexes:
                await self.run(
                    index.embed_pending,
                    progress_reporter(progress),
                    self.cancel,
                    self.open_paths(index),
                )
                while index.problems:
                    self.server.errors.message(index.problems.pop(0))
            self.state = "ready"
        except Exception as exc:  # indexing fails alone: completions go on without it
            log.exception("indexing failed")
            self.state = "error"
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.server.errors.message(f"indexing failed: {self.last_error}")
        finally:
            progress.close(f"{self.status()['chunks']} chunks")

    def open_paths(self, index: WorkspaceIndex) -> list[str]:
        """Relative paths of the documents open in the editor: embedded first."""
        paths = []
        for uri in self.server.workspace.text_documents:
            fs = to_fs_path(uri)
            if fs and (rel := index.relative(Path(fs))) is not None:
                paths.append(rel)
        return paths

    async def reindex(self, path: Path, text: str | None = None) -> None:
        """Re-index one file now (lexical), then embed what changed."""
        index = self.index_for(path)
        if index is None or self.state == "disabled":
            return
        try:
            await self.run(index.reindex_file, path, text)
            await self.run(index.embed_pending, None, self.cancel, [index.relative(path) or ""])
        except Exception as exc:
            log.exception("re-indexing %s failed", path)
            self.last_error = f"{type(exc).__name__}: {exc}"

    async def remove(self, path: Path) -> None:
        """Forget a deleted file."""
        index = self.index_for(path)
        if index is not None:
            await self.run(index.remove, [path])

    def changed_later(self, uri: str) -> None:
        """Re-index an edited document once the edits pause (debounced per document)."""
        old = self._debounce.pop(uri, None)
        if old is not None:
            old.cancel()

        async def later() -> None:
            await asyncio.sleep(CHANGE_DEBOUNCE_S)
            document = self.server.workspace.text_documents.get(uri)
            fs = to_fs_path(uri)
            if document is not None and fs:
                await self.reindex(Path(fs), document.source)

        self._debounce[uri] = self.server.run_background(later(), f"reindex {uri}")


def progress_reporter(progress: Progress) -> Callable[[str, int, int], None]:
    """A callback for the index worker thread: throttled "N/M files" reports."""

    def report(phase: str, done: int, total: int) -> None:
        if time.monotonic() - progress.last_report < PROGRESS_EVERY_S and done < total:
            return
        unit = "files" if phase == "index" else "chunks embedded"
        progress.report_threadsafe(f"{done}/{total} {unit}", 100 * done // max(total, 1))

    return report


def workspace_roots(server: AssistServer) -> list[Path]:
    """The workspace folders (multi-root), or the root URI of older clients."""
    roots = []
    for folder in server.workspace.folders.values():
        if (path := to_fs_path(folder.uri)) is not None:
            roots.append(Path(path))
    if not roots and server.workspace.root_path:
        roots.append(Path(server.workspace.root_path))
    return [root for root in roots if root.is_dir()]


def register(server: AssistServer) -> None:
    """Wire indexing into the server lifecycle and document events."""
    indexing = Indexing(server)
    server.indexing = indexing
    started = False

    def on_initialized() -> None:
        nonlocal started
        started = True
        indexing.restart(workspace_roots(server), server.settings.index)
        server.run_background(_watch_files(server), "register-file-watchers")

    def on_settings(old: Settings, new: Settings) -> None:
        if started and old.index != new.index:  # e.g. new excludes: index again
            indexing.restart(workspace_roots(server), new.index)

    server.on_initialized.append(on_initialized)
    server.on_settings.append(on_settings)

    @server.feature(STATUS)
    def status(params: Any) -> dict[str, Any]:
        return indexing.status()

    @server.command(REINDEX)
    async def reindex(*args: Any) -> dict[str, Any]:
        # Picks up what changed on disk behind the editor's back (a checkout, a generator) for
        # editors that do not watch files; unchanged files are skipped by the pass.
        indexing.restart(workspace_roots(server), server.settings.index)
        return indexing.status()

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(params: types.DidSaveTextDocumentParams) -> None:
        fs = to_fs_path(params.text_document.uri)
        if fs:
            server.run_background(indexing.reindex(Path(fs)), "reindex-saved")

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched(params: types.DidChangeWatchedFilesParams) -> None:
        for change in params.changes:
            fs = to_fs_path(change.uri)
            if not fs:
                continue
            if change.type == types.FileChangeType.Deleted:
                await indexing.remove(Path(fs))
            else:
                await indexing.reindex(Path(fs))


async def _watch_files(server: AssistServer) -> None:
    """Ask the client to tell us about file changes it sees on disk."""
    workspace = server.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    await server.register_capability(
        types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern="**/*")]
        ),
        bool(watched and watched.dynamic_registration),
    )
