"""textDocument/completion offering the suggestion as one item.

For clients without inline completion; registered at initialize per `completion.asCompletionItem`.
"""

from __future__ import annotations

import re

from lsprotocol import types

from assist_server.lsp.positions import offset_at
from assist_server.lsp.server import AssistServer
from assist_server.lsp.suggest import suggest

_WORD_BEFORE = re.compile(r"\w*$")


def wanted(server: AssistServer, params: types.InitializeParams) -> bool:
    """Whether to advertise completion items for this client."""
    mode = server.settings.completion.as_completion_item
    if mode != "auto":
        return mode == "always"
    text_document = params.capabilities.text_document
    return not (text_document and text_document.inline_completion)


def register(server: AssistServer) -> None:
    """Register the handler at initialize, if this client wants completion items."""

    def on_initialize(params: types.InitializeParams) -> None:
        if wanted(server, params):
            server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())(completion)

    async def completion(params: types.CompletionParams) -> types.CompletionList:
        result = await suggest(server, params.text_document.uri, params.position)
        if not result.text:
            return types.CompletionList(is_incomplete=True, items=[])
        document = server.workspace.get_text_document(params.text_document.uri)
        text = document.source
        offset = offset_at(text, params.position, server.position_encoding)
        line_start = text.rfind("\n", 0, offset) + 1
        word = _WORD_BEFORE.search(text[line_start:offset])
        typed = word.group(0) if word else ""
        # Replace the word being typed so that the client's filter keeps the item.
        start = types.Position(
            line=params.position.line, character=params.position.character - _units(typed, server)
        )
        label = (typed + result.text).split("\n", 1)[0].strip() or result.text.strip()
        item = types.CompletionItem(
            label=label[:80],
            kind=types.CompletionItemKind.Text,
            detail="assist",
            filter_text=typed + result.text,
            sort_text="0",
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(
                range=types.Range(start=start, end=params.position), new_text=typed + result.text
            ),
        )
        return types.CompletionList(is_incomplete=True, items=[item])

    server.on_initialize.append(on_initialize)


def _units(text: str, server: AssistServer) -> int:
    """Length of `text` in the negotiated position encoding."""
    encoding = server.position_encoding
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8"))
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le")) // 2
