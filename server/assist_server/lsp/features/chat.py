"""`assist/chat`: a chat turn for rich clients, streamed through `$/progress`.

Params: `{"messages": [{"role": "user" | "assistant", "content": str}, ...], "uri"?: str,
"range"?: Range, "workDoneToken"?: token, "newConversation"?: bool}`. The messages are the new
turn; the server keeps the conversation (the last `chat.historyMessages` messages) and sends it
along. With `uri` (and `range`) the selected code and related workspace code go into the prompt.
While the model writes, each `$/progress` report on the request's `workDoneToken` carries the new
piece of text in `message` (clients append them). The answer: `{"content": str}`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from assist_server.backends import BackendError
from assist_server.engine.chat import Selection
from assist_server.lsp.progress import Progress
from assist_server.lsp.server import AssistServer
from assist_server.types import ChatMessage

log = logging.getLogger(__name__)

CHAT = "assist/chat"
ROLES = ("user", "assistant")
FLUSH_S = 0.05  # streamed pieces are sent at most this often


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be answered."""

    CODE = -32803


def plain_json(params: Any) -> Any:
    """Params as plain JSON data (pygls hands custom-method params over as named tuples)."""
    if hasattr(params, "_asdict"):
        return {key: plain_json(value) for key, value in params._asdict().items()}
    if isinstance(params, dict):
        return {key: plain_json(value) for key, value in params.items()}
    if isinstance(params, (list, tuple)):
        return [plain_json(value) for value in params]
    return params


def _messages(params: dict[str, Any]) -> list[ChatMessage]:
    raw = params.get("messages")
    if not isinstance(raw, list) or not raw:
        raise JsonRpcInvalidParams(f"{CHAT} needs messages: [{{role, content}}, ...]")
    messages = []
    for item in raw:
        if not isinstance(item, dict) or item.get("role") not in ROLES:
            raise JsonRpcInvalidParams(f"{CHAT}: each message needs a role of {', '.join(ROLES)}")
        if not isinstance(item.get("content"), str):
            raise JsonRpcInvalidParams(f"{CHAT}: each message needs a content string")
        messages.append(ChatMessage(item["role"], item["content"]))
    if messages[-1].role != "user":
        raise JsonRpcInvalidParams(f"{CHAT}: the last message must be the user's")
    return messages


def _selection(server: AssistServer, params: dict[str, Any]) -> Selection | None:
    uri = params.get("uri")
    if uri is None:
        return None
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams(f"{CHAT}: uri must be a string")
    document = server.workspace.text_documents.get(uri)
    if document is None:
        return None
    if (rng := params.get("range")) is None:
        return server.selection(document, None)
    try:
        start, end = types.Position(**rng["start"]), types.Position(**rng["end"])
        if (end.line, end.character) < (start.line, start.character):
            start, end = end, start  # a range selected backwards
        return server.selection(document, types.Range(start, end))
    except (KeyError, TypeError) as exc:
        raise JsonRpcInvalidParams(f"{CHAT}: range must be an LSP Range: {exc}") from None


def register(server: AssistServer) -> None:
    """Wire the request."""

    @server.feature(CHAT)
    async def chat(raw: Any) -> dict[str, Any]:
        params = plain_json(raw) if raw is not None else {}
        if not isinstance(params, dict):
            raise JsonRpcInvalidParams(f"{CHAT} takes an object {{messages, uri?, range?}}")
        new = _messages(params)
        if params.get("newConversation"):
            server.conversation.clear()
        settings = server.settings.chat
        selection = _selection(server, params)
        history = [*server.conversation.messages(settings.history_messages), *new]
        engine = server.chat
        messages = await asyncio.to_thread(engine.chat_request, history, selection)
        token = params.get("workDoneToken")
        progress = await Progress.open(server, "assist: chat", token=token, percentage=None)
        pending: list[str] = []
        last = time.monotonic()

        def on_text(piece: str) -> None:
            nonlocal last
            pending.append(piece)
            if time.monotonic() - last >= FLUSH_S:
                progress.report("".join(pending))
                pending.clear()
                last = time.monotonic()

        try:
            answer = await engine.stream(messages, on_text)
        except BackendError as exc:
            server.errors.report(exc)
            raise RequestFailed(str(exc)) from None
        finally:
            if pending:
                progress.report("".join(pending))
            progress.close("")
        server.errors.recovered()
        server.conversation.add([*new, ChatMessage("assistant", answer)], settings.history_messages)
        log.info(
            "chat: %d messages in, %d characters out%s",
            len(messages),
            len(answer),
            f" about {selection.rel_path}" if selection else "",
        )
        return {"content": answer}
