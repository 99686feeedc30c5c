"""Document lifecycle beyond pygls' own bookkeeping: forget per-document state on close."""

from __future__ import annotations

from lsprotocol import types

from assist_server.lsp.server import AssistServer


def register(server: AssistServer) -> None:
    """Wire the document handlers."""

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        server.engine.forget(params.text_document.uri)
