"""Build the server with all its features."""

from __future__ import annotations

from assist_server.lsp.features import (
    chat,
    code_actions,
    completion,
    configuration,
    context,
    documents,
    indexing,
    inline_completion,
)
from assist_server.lsp.server import AssistServer


def create_server() -> AssistServer:
    """A ready-to-start server."""
    server = AssistServer()
    for feature in (
        configuration,
        documents,
        inline_completion,
        completion,
        indexing,
        context,
        code_actions,
        chat,
    ):
        feature.register(server)
    return server
