"""textDocument/inlineCompletion (LSP 3.18): ghost text at the cursor."""

from __future__ import annotations

from lsprotocol import types

from assist_server.lsp.server import AssistServer
from assist_server.lsp.suggest import suggest


def register(server: AssistServer) -> None:
    """Wire the handler; the options object makes pygls advertise the capability."""

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        params: types.InlineCompletionParams,
    ) -> types.InlineCompletionList:
        result = await suggest(server, params.text_document.uri, params.position)
        if not result.text:
            return types.InlineCompletionList(items=[])
        # The suggestion is inserted at the cursor: the replace range is empty, which every
        # client renders as ghost text after the cursor.
        here = types.Range(start=params.position, end=params.position)
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text=result.text, range=here)]
        )
