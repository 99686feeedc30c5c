"""Tell the user about backend problems once, not on every keystroke."""

from __future__ import annotations

import logging

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from assist_server.backends import BackendError

log = logging.getLogger(__name__)


class ErrorReporter:
    """Shows each distinct problem once (window/showMessage) until a request succeeds again."""

    def __init__(self, server: LanguageServer) -> None:
        self._server = server
        self._shown: tuple[str, str, str] | None = None

    def report(self, error: BackendError) -> None:
        """Show the error unless the same one is already on screen."""
        log.warning("%s", error)
        if error.key == self._shown:
            return
        self._shown = error.key
        self._server.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Error, message=f"assist: {error}")
        )

    def message(self, text: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        """Show a one-off message (settings problems and the like)."""
        log.warning("%s", text)
        self._server.window_show_message(
            types.ShowMessageParams(type=kind, message=f"assist: {text}")
        )

    def recovered(self) -> None:
        """A request worked: forget the shown error so that a new failure is shown again."""
        if self._shown is not None:
            self._shown = None
            log.info("the model server answers again")
            self._server.window_log_message(
                types.LogMessageParams(
                    type=types.MessageType.Info, message="assist: the model server answers again"
                )
            )
