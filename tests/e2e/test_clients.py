"""Other ways in: clients without inline completion, typing with incremental sync, TCP, and
`assist-server doctor` against the real model server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient as PlainClient
from pytest_lsp import LanguageClient

from conftest import (
    initialize,
    inline_params,
    items_of,
    open_document,
    settings_for,
    with_body_line,
)
from llama_stack import MODEL_ALIAS, LlamaServer, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_completion_item_for_clients_without_inline_completion(
    client: LanguageClient, llama: LlamaServer, workspace: Path
) -> None:
    init = await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),  # no inline completion
            root_uri=workspace.as_uri(),
            initialization_options=settings_for(llama.url),
        )
    )
    assert init.capabilities.completion_provider is not None
    path = workspace / "inventory" / "report.py"
    text = path.read_text()
    marker = "    low = chea"
    line = next(i for i, s in enumerate(text.split("\n")) if s.startswith("    low = cheapest"))
    lines = text.split("\n")
    lines[line] = marker
    uri = open_document(client, path, "\n".join(lines))
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=len(marker)),
        )
    )
    assert isinstance(result, types.CompletionList)
    assert len(result.items) == 1
    item = result.items[0]
    assert isinstance(item.text_edit, types.TextEdit)
    # The edit replaces the word being typed, so the client's filter keeps the item.
    assert item.text_edit.range.start == types.Position(line=line, character=len("    low = "))
    assert item.text_edit.new_text.startswith("chea")
    assert item.filter_text is not None and item.filter_text.startswith("chea")


async def test_inline_clients_do_not_get_completion_items(
    client: LanguageClient, llama: LlamaServer, workspace: Path
) -> None:
    init = await initialize(client, workspace, settings_for(llama.url))
    assert init.capabilities.completion_provider is None
    assert init.capabilities.inline_completion_provider is not None


async def test_typing_the_suggestion_with_incremental_changes_serves_the_rest(
    client: LanguageClient, llama: LlamaServer, workspace: Path
) -> None:
    await initialize(client, workspace, settings_for(llama.url))
    path = workspace / "inventory" / "items.py"
    text, line = with_body_line(path.read_text(), "Return the total value of all items")
    uri = open_document(client, path, text)
    first = items_of(
        await client.text_document_inline_completion_async(inline_params(uri, line, 4))
    )
    assert first
    suggestion = str(first[0].insert_text)
    assert len(suggestion) > 3
    start = llama.log_path.stat().st_size

    # Type the first three characters one by one, as incremental edits (UTF-16 positions).
    for n, char in enumerate(suggestion[:3]):
        at = types.Position(line=line, character=4 + n)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2 + n),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=at, end=at), text=char
                    )
                ],
            )
        )
        rest = items_of(
            await client.text_document_inline_completion_async(inline_params(uri, line, 5 + n))
        )
        assert rest and str(rest[0].insert_text) == suggestion[n + 1 :]
    assert llama.log_path.stat().st_size == start, "typed-ahead characters went to the model"


async def test_tcp_transport(llama: LlamaServer, workspace: Path) -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "assist_server",
        "--tcp",
        f"127.0.0.1:{port}",
        stderr=asyncio.subprocess.DEVNULL,
    )
    client = PlainClient("tcp-test", "1")
    try:
        for _ in range(100):
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        init = await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities()
                    )
                ),
                initialization_options=settings_for(llama.url),
            )
        )
        assert init.capabilities.inline_completion_provider is not None
        path = workspace / "inventory" / "items.py"
        text, line = with_body_line(path.read_text(), "Return the total value of all items")
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=path.as_uri(), language_id="python", version=1, text=text
                )
            )
        )
        result = await client.text_document_inline_completion_async(
            inline_params(path.as_uri(), line, 4)
        )
        assert items_of(result)
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()  # type: ignore[no-untyped-call]
        try:
            await asyncio.wait_for(server.wait(), timeout=10)
        except TimeoutError:
            server.kill()


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assist_server", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_doctor_passes_against_the_real_model_server(llama: LlamaServer) -> None:
    run = doctor("--kind", "openai", "--url", llama.url, "--model", MODEL_ALIAS)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[ok] 1-token FIM request" in run.stdout
    assert "[ok] FIM template: qwen" in run.stdout  # "auto" picked it from the model name
    assert f'backend.url = "{llama.url}"' in run.stdout


def test_doctor_names_the_fix_when_the_model_is_missing(llama: LlamaServer) -> None:
    run = doctor("--kind", "openai", "--url", llama.url, "--model", "no-such-model")
    assert run.returncode == 1
    assert "[FAIL] completion model exists" in run.stdout
    assert MODEL_ALIAS in run.stdout  # what the server does serve
    assert run.stdout.strip().splitlines()[-1].startswith("fix: ")


def test_doctor_when_nothing_listens() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = doctor("--url", url, "--json")
    assert run.returncode == 1
    assert '"ok": false' in run.stdout
    assert "ollama serve" in run.stdout
