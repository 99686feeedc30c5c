"""Document lifecycle beyond pygls' own bookkeeping.

Edits are remembered (recent edits are a tier of cross-file context) and schedule a debounced
re-index; closing a document forgets per-document state.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.uris import to_fs_path

from assist_server.lsp.server import AssistServer


def register(server: AssistServer) -> None:
    """Wire the document handlers."""

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        server.engine.forget(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = to_fs_path(uri)
        for change in params.content_changes:
            if path and isinstance(change, types.TextDocumentContentChangePartial):
                server.recent.edited(path, change.range.start.line + 1)
        if server.indexing is not None:
            server.indexing.changed_later(uri)
