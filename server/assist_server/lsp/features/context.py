"""`assist.showContext`: what a completion at a cursor would put in the prompt.

Arguments (workspace/executeCommand): one object `{"textDocument": {"uri": ...}, "position":
{"line": L, "character": C}}` (as in textDocument/inlineCompletion), or `uri, position`. The answer
is the JSON of `assist-server context`: `{"snippets": [...], "prompt_tokens": N}`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from assist_server.lsp.server import AssistServer
from assist_server.lsp.suggest import request_for

SHOW_CONTEXT = "assist.showContext"


def _cursor(args: tuple[Any, ...]) -> tuple[str, types.Position]:
    """The document and position named by the command's arguments."""
    try:
        if len(args) == 1 and isinstance(args[0], dict):
            uri, position = args[0]["textDocument"]["uri"], args[0]["position"]
        else:
            uri, position = args[0], args[1]
        if not isinstance(uri, str):
            raise TypeError("the document uri must be a string")
        line, character = int(position["line"]), int(position["character"])
        if line < 0 or character < 0:
            raise ValueError("line and character are 0-based and cannot be negative")
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise JsonRpcInvalidParams(
            f"{SHOW_CONTEXT} takes {{textDocument: {{uri}}, position: {{line, character}}}}: {exc}"
        ) from None
    return uri, types.Position(line, character)


def register(server: AssistServer) -> None:
    """Wire the command."""

    @server.command(SHOW_CONTEXT)
    async def show_context(*args: Any) -> dict[str, Any]:
        uri, position = _cursor(args)
        request = request_for(server, uri, position, str(server.protocol.msg_id or ""))
        if isinstance(request, str):
            return {"snippets": [], "prompt_tokens": 0, "skipped": request}
        engine = server.engine
        return await asyncio.to_thread(engine.context_report, request)
