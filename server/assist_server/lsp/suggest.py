"""One suggestion for a document position, shared by inline completion and completion items.

Handles what every LSP entry point needs: reading the document, superseding older requests for
the same document, turning backend failures into one message, and the per-request log line.
"""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types
from pygls.uris import to_fs_path

from assist_server.backends import BackendError
from assist_server.lsp.positions import offset_at
from assist_server.lsp.server import AssistServer
from assist_server.types import CompletionRequest, CompletionResult

log = logging.getLogger(__name__)

MAX_DOCUMENT_CHARS = 5_000_000  # beyond this we do not complete (generated or data files)

_inflight: dict[str, asyncio.Task[CompletionResult]] = {}


def request_for(
    server: AssistServer, uri: str, position: types.Position, request_id: str
) -> CompletionRequest | str:
    """The engine request, or the reason there is none."""
    document = server.workspace.text_documents.get(uri)
    if document is None:
        return "document is not open"
    text = document.source
    if len(text) > MAX_DOCUMENT_CHARS:
        return f"document larger than {MAX_DOCUMENT_CHARS} characters"
    offset = offset_at(text, position, server.position_encoding)
    return CompletionRequest(
        text=text,
        offset=offset,
        language=document.language_id or "",
        path=to_fs_path(uri) or uri,
        document_key=uri,
        request_id=request_id,
    )


async def suggest(server: AssistServer, uri: str, position: types.Position) -> CompletionResult:
    """The suggestion at a position; an empty result, never an exception, when there is none."""
    request_id = str(server.protocol.msg_id or "")
    request = request_for(server, uri, position, request_id)
    if isinstance(request, str):
        log.info("completion id=%s skipped: %s", request_id, request)
        return CompletionResult("", source="skipped", reason=request)

    older = _inflight.get(uri)
    if older is not None and not older.done():
        older.cancel()  # a newer request for the same document makes the older one stale
    task = asyncio.get_running_loop().create_task(server.engine.complete(request))
    _inflight[uri] = task
    try:
        result = await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            task.cancel()
            log.info("completion id=%s cancelled by the client", request_id)
            raise  # the client cancelled: pygls answers RequestCancelled
        log.info("completion id=%s superseded by a newer request", request_id)
        return CompletionResult("", source="skipped", reason="superseded")
    except BackendError as exc:
        server.errors.report(exc)
        return CompletionResult("", source="error", reason=str(exc))
    except Exception:  # the editor must keep working whatever went wrong in the pipeline
        log.exception("completion id=%s failed", request_id)
        return CompletionResult("", source="error", reason="internal error (see the log)")
    finally:
        if _inflight.get(uri) is task:
            del _inflight[uri]

    if result.source == "model":
        server.errors.recovered()
    t = result.timings
    log.info(
        "completion id=%s source=%s reason=%s lines=%s tokens_in=%d tokens_out=%d chars=%d "
        "snippets=%s prepare_ms=%.1f retrieval_ms=%.1f first_token_ms=%s model_ms=%.1f "
        "post_ms=%.1f total_ms=%.1f overhead_ms=%.1f",
        request_id,
        result.source,
        result.reason or "-",
        "multi" if result.multiline else "one",
        result.prompt_tokens,
        result.output_tokens,
        len(result.text),
        result.snippet_sources,
        t.prepare_ms,
        t.retrieval_ms,
        f"{t.first_token_ms:.1f}" if t.first_token_ms is not None else "-",
        t.model_ms,
        t.postprocess_ms,
        t.total_ms,
        t.overhead_ms,
    )
    log.debug("completion id=%s text=%r", request_id, result.text)
    return result
