"""The real server over stdio, the real Qwen2.5-Coder-0.5B on a real llama.cpp server."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import LanguageClient

from conftest import (
    generation_counts,
    initialize,
    inline_params,
    items_of,
    open_document,
    settings_for,
    wait_for_log,
    with_body_line,
)
from llama_stack import LlamaServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EVAL_PATTERN = r"^\S*\s+eval time ="


async def test_completion_from_the_real_model_parses_and_respects_the_suffix(
    client: LanguageClient, llama: LlamaServer, workspace: Path
) -> None:
    init = await initialize(client, workspace, settings_for(llama.url))
    assert init.capabilities.inline_completion_provider is not None
    assert init.capabilities.position_encoding == types.PositionEncodingKind.Utf16

    path = workspace / "inventory" / "items.py"
    text, line = with_body_line(path.read_text(), "Return the total value of all items")
    uri = open_document(client, path, text)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, 4))
    items = items_of(result)

    assert len(items) == 1
    suggestion = str(items[0].insert_text)
    assert suggestion.strip(), "the model gave an empty suggestion"
    assert items[0].range == types.Range(
        start=types.Position(line=line, character=4), end=types.Position(line=line, character=4)
    )
    lines = text.split("\n")
    lines[line] = "    " + suggestion
    completed = "\n".join(lines)
    ast.parse(completed)  # the file with the suggestion inserted still parses
    # The suggestion stays inside the function: nothing of the code after it is repeated.
    assert "def cheapest" not in suggestion
    assert completed.count("def cheapest(") == 1
    assert not client.messages, [m.message for m in client.messages]


async def test_single_line_completion_inside_a_call(
    client: LanguageClient, llama: LlamaServer, workspace: Path
) -> None:
    await initialize(client, workspace, settings_for(llama.url), utf8=True)
    path = workspace / "inventory" / "report.py"
    text = path.read_text()
    marker = 'lines.append(f"total value: {total_value('
    line = next(i for i, s in enumerate(text.split("\n")) if marker in s)
    # Cut the line after "total_value(" and leave the closers, as while typing.
    lines = text.split("\n")
    column = lines[line].index(marker) + len(marker)
    lines[line] = lines[line][:column] + ")"
    uri = open_document(client, path, "\n".join(lines))
    result = await client.text_document_inline_completion_async(inline_params(uri, line, column))
    items = items_of(result)
    assert len(items) == 1
    suggestion = str(items[0].insert_text)
    assert "\n" not in suggestion
    assert suggestion.strip()


async def test_no_request_to_the_model_in_the_middle_of_a_word(
    client: LanguageClient, llama: LlamaServer, workspace: Path
) -> None:
    await initialize(client, workspace, settings_for(llama.url))
    path = workspace / "inventory" / "items.py"
    text = path.read_text()
    line = next(i for i, s in enumerate(text.split("\n")) if "def cheapest" in s)
    uri = open_document(client, path)
    start = llama.log_path.stat().st_size
    result = await client.text_document_inline_completion_async(inline_params(uri, line, 6))
    assert items_of(result) == []
    assert llama.log_path.stat().st_size == start, "the model server was asked anyway"


async def test_cancel_answers_request_cancelled_and_stops_generation(
    client: LanguageClient, llama: LlamaServer, workspace: Path
) -> None:
    """A client $/cancelRequest must stop the model server generating, not just drop the answer.

    A control request shows that this prompt makes the model generate up to its token limit;
    the cancelled request, allowed far more tokens, must have generated far fewer.
    """
    counting = "numbers = [\n" + "".join(f"    {n},\n" for n in range(1, 40)) + "    "
    path = workspace / "numbers.py"
    path.write_text(counting + "\n]\n")
    await initialize(client, workspace, settings_for(llama.url, maxTokens=400, maxLines=200))
    uri = open_document(client, path)
    line = counting.count("\n")

    # Control: the same prompt, not cancelled, limited to 24 tokens, runs to that limit
    # (llama.cpp counts the token sampled from the prompt pass separately: 23 "runs").
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"assist": settings_for(llama.url, maxTokens=24, maxLines=200)}
        )
    )
    await asyncio.sleep(0.2)
    start = llama.log_path.stat().st_size
    control = await client.text_document_inline_completion_async(inline_params(uri, line, 4))
    assert items_of(control), "the control request gave no suggestion"
    done = await wait_for_log(llama.log_path, start, EVAL_PATTERN)
    assert generation_counts(done) and generation_counts(done)[0] >= 23

    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"assist": settings_for(llama.url, maxTokens=400, maxLines=200)}
        )
    )
    await asyncio.sleep(0.2)
    # Change the document so the control's cached answer does not apply.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangeWholeDocument(
                    text="# count on\n" + counting + "\n]\n"
                )
            ],
        )
    )
    start = llama.log_path.stat().st_size
    # pytest-lsp's send_request_async is a coroutine: schedule it so the request goes out now.
    pending = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION,
            inline_params(uri, line + 1, 4),
            msg_id="to-be-cancelled",
        )
    )
    await asyncio.sleep(2.5)  # past the prompt (~1.5 s cold): the model is generating now
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="to-be-cancelled"))
    with pytest.raises(JsonRpcRequestCancelled):
        await pending
    # llama-cpp-python notices the closed stream and drops the generation: it logs the
    # disconnect and never finishes that generation (no "eval time" line for it).
    await wait_for_log(llama.log_path, start, r"^disconnected")

    # The server stays responsive; the next generation is the only one finished since the
    # cancel. Had the cancelled one gone on, its ~400-token run would be logged first.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"assist": settings_for(llama.url, maxTokens=24, maxLines=200)}
        )
    )
    await asyncio.sleep(0.2)
    again = await client.text_document_inline_completion_async(inline_params(uri, line + 1, 4))
    assert items_of(again)
    counts = generation_counts(await wait_for_log(llama.log_path, start, EVAL_PATTERN))
    assert len(counts) == 1 and counts[0] <= 24, counts
