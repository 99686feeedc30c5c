"""`$/progress` work-done sequences: indexing, code actions and chat stream through one class."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)


class Progress:
    """One work-done sequence, if the client supports it; a no-op object otherwise.

    `report` is for the event loop, `report_threadsafe` for worker threads. With a client-given
    token (a request's `workDoneToken`) no token is created; a cancellable sequence calls
    `on_cancel` when the user cancels it in the editor.
    """

    def __init__(self, server: LanguageServer, token: types.ProgressToken | None) -> None:
        self.server = server
        self.token = token
        self.loop = asyncio.get_running_loop()
        self.last_report = 0.0

    @classmethod
    async def open(
        cls,
        server: LanguageServer,
        title: str,
        *,
        token: types.ProgressToken | None = None,
        cancellable: bool = False,
        percentage: int | None = 0,
        on_cancel: Callable[[], object] | None = None,
    ) -> Progress:
        """Begin a sequence on `token`, or on a new server-created token."""
        if token is None:
            window = server.client_capabilities.window
            if not (window and window.work_done_progress):
                return cls(server, None)
            token = f"assist-{uuid.uuid4()}"
            try:
                await server.work_done_progress.create_async(token)
            except JsonRpcException as exc:
                log.warning("client refused a progress token: %s", exc)
                return cls(server, None)
        server.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=title, percentage=percentage, cancellable=cancellable
            ),
        )
        if on_cancel is not None:
            future = server.work_done_progress.tokens.get(token)
            if future is not None:
                future.add_done_callback(lambda f: on_cancel() if f.cancelled() else None)
        return cls(server, token)

    def report(self, message: str, percentage: int | None = None) -> None:
        """Report from the event loop."""
        if self.token is not None:
            self.last_report = time.monotonic()
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def report_threadsafe(self, message: str, percentage: int | None = None) -> None:
        """Report from a worker thread."""
        if self.token is not None:
            self.last_report = time.monotonic()
            self.loop.call_soon_threadsafe(self.report, message, percentage)

    def close(self, message: str) -> None:
        """End the sequence."""
        if self.token is not None:
            self.server.work_done_progress.end(
                self.token, types.WorkDoneProgressEnd(message=message)
            )
            self.token = None
