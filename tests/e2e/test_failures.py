"""Failure paths over stdio: a model server that is down and comes back, bad requests, and
settings problems. Each gives a clear message and leaves the server responsive."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from conftest import (
    free_port,
    initialize,
    inline_params,
    items_of,
    open_document,
    settings_for,
    with_body_line,
)
from llama_stack import LlamaServer

pytestmark = [pytest.mark.e2e]


@pytest.mark.slow
async def test_backend_down_one_message_then_recovers(
    client: LanguageClient, workspace: Path, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    await initialize(client, workspace, settings_for(url))
    path = workspace / "inventory" / "items.py"
    text, line = with_body_line(path.read_text(), "Return the total value of all items")
    uri = open_document(client, path, text)

    for _ in range(3):  # three keystrokes' worth of requests while the server is down
        result = await client.text_document_inline_completion_async(inline_params(uri, line, 4))
        assert items_of(result) == []
    errors = [m for m in client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1, [m.message for m in client.messages]
    assert "Cannot reach the model server" in errors[0].message
    assert url in errors[0].message

    with LlamaServer(tmp_path / "llama.log", port=port):
        result = await client.text_document_inline_completion_async(inline_params(uri, line, 4))
        assert items_of(result), "no completion after the model server came back"
    assert len([m for m in client.messages if m.type == types.MessageType.Error]) == 1


async def test_requests_for_unknown_documents_and_bad_positions_are_harmless(
    client: LanguageClient, workspace: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    await initialize(client, workspace, settings_for(url))
    missing = (workspace / "nope.py").as_uri()
    result = await client.text_document_inline_completion_async(inline_params(missing, 0, 0))
    assert items_of(result) == []

    path = workspace / "inventory" / "items.py"
    uri = open_document(client, path)
    # Far past the end of the document: clamped, not a crash.
    result = await client.text_document_inline_completion_async(inline_params(uri, 10_000, 999))
    assert isinstance(items_of(result), list)


async def test_binary_and_invalid_text_documents_get_no_suggestion(
    client: LanguageClient, workspace: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    await initialize(client, workspace, settings_for(url))
    path = workspace / "blob.py"
    uri = open_document(client, path, "x = 1\x00\x00\ufffd\ud800\n")
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 0))
    assert items_of(result) == []
    assert not [m for m in client.messages if m.type == types.MessageType.Error]


async def test_invalid_settings_are_reported_and_defaults_used(
    client: LanguageClient, workspace: Path
) -> None:
    settings = settings_for(f"http://127.0.0.1:{free_port()}/v1", maxTokens="lots")
    settings["backend"]["kind"] = "vllm"
    await initialize(client, workspace, settings)
    await asyncio.sleep(0.1)
    shown = " | ".join(m.message for m in client.messages)
    assert "assist.completion.maxTokens" in shown and "using 128" in shown
    assert "assist.backend.kind" in shown and '"ollama", "openai"' in shown


async def test_settings_pulled_with_workspace_configuration(
    client: LanguageClient, workspace: Path
) -> None:
    client.set_configuration({"completion": {"maxTokens": -5}}, section="assist")
    await initialize(
        client, workspace, settings_for(f"http://127.0.0.1:{free_port()}/v1"), configuration=True
    )
    for _ in range(50):
        if client.messages:
            break
        await asyncio.sleep(0.1)
    assert any("assist.completion.maxTokens" in m.message for m in client.messages)


async def test_position_encoding_prefers_utf8_when_offered(
    client: LanguageClient, workspace: Path
) -> None:
    init = await initialize(client, workspace, utf8=True)
    assert init.capabilities.position_encoding == types.PositionEncodingKind.Utf8
