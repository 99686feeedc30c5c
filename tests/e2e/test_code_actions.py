"""Chat code actions and assist/chat over stdio, against the real Qwen2.5-Coder-0.5B-Instruct."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Union
from urllib.parse import unquote, urlparse

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from assist_server.lsp.features.chat import plain_json
from assist_server.syntax.cursor import syntax_errors
from conftest import MODEL_ALIAS, LlamaServer, open_document, settings_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RUN_ACTION = "assist.runAction"


def editor_capabilities() -> types.ClientCapabilities:
    """An editor that applies versioned edits, creates files, shows documents and progress."""
    return types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(
                document_changes=True,
                resource_operations=[types.ResourceOperationKind.Create],
            ),
        ),
        window=types.WindowClientCapabilities(
            work_done_progress=True,
            show_document=types.ShowDocumentClientCapabilities(support=True),
        ),
    )


def chat_settings(url: str, **chat: Any) -> dict[str, Any]:
    settings = settings_for(url)
    settings["chat"] = {"model": MODEL_ALIAS, "temperature": 0.0, "maxTokens": 400, **chat}
    return settings


async def start(
    client: LanguageClient, workspace: Path, settings: dict[str, Any], locale: str | None = None
) -> list[types.ApplyWorkspaceEditParams]:
    """Initialize like a full editor; return the list the applied edits are recorded in."""
    edits: list[types.ApplyWorkspaceEditParams] = []
    read_code_actions_right(client)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        edits.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    await client.initialize_session(
        types.InitializeParams(
            capabilities=editor_capabilities(),
            root_uri=workspace.as_uri(),
            initialization_options=settings,
            locale=locale,
        )
    )
    return edits


def read_code_actions_right(client: LanguageClient) -> None:
    """lsprotocol 2025.0.0 reads every code action that carries a command as a Command (it only
    asks whether a "command" key exists); a Command's `command` is a string, a CodeAction's an
    object. Teach the test client the difference."""
    converter = client.protocol._converter

    def structure(obj: Any, _: Any) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)  # type: ignore[no-any-return]
        return converter.structure(obj, types.CodeAction)  # type: ignore[no-any-return]

    converter.register_structure_hook(Union[types.Command, types.CodeAction], structure)  # noqa: UP007


def plain(value: Any) -> Any:
    """Plain JSON data of a typed object, a named tuple (pygls' untyped results) or a dict."""
    if hasattr(value, "__attrs_attrs__"):
        from lsprotocol import converters

        return converters.get_converter().unstructure(value)
    return plain_json(value)


def function_range(text: str, name: str) -> types.Range:
    """The whole lines of the top-level function `name`."""
    lines = text.split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith(f"def {name}("))
    last = first + 1
    while last < len(lines) and (lines[last].startswith((" ", "\t")) or not lines[last].strip()):
        last += 1
    while not lines[last - 1].strip():
        last -= 1
    return types.Range(types.Position(first, 0), types.Position(last - 1, len(lines[last - 1])))


async def actions_for(
    client: LanguageClient,
    uri: str,
    rng: types.Range,
    diagnostics: list[types.Diagnostic] | None = None,
) -> dict[str, types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng,
            context=types.CodeActionContext(diagnostics=diagnostics or []),
        )
    )
    actions = [a for a in result or [] if isinstance(a, types.CodeAction)]
    return {a.title: a for a in actions}


async def run(client: LanguageClient, action: types.CodeAction) -> dict[str, Any]:
    assert action.command is not None
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments
        )
    )
    return dict(plain(result))


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP edits (UTF-16 positions; the fixture is ASCII) to a text, last first."""
    lines = text.split("\n")

    def offset(position: types.Position) -> int:
        return sum(len(line) + 1 for line in lines[: position.line]) + position.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


async def test_actions_listed_without_a_model_call(
    client: LanguageClient, workspace: Path, llama: LlamaServer
) -> None:
    await start(client, workspace, chat_settings("http://127.0.0.1:9/v1"))  # nobody listens
    path = workspace / "inventory" / "items.py"
    text = path.read_text()
    uri = open_document(client, path)
    rng = function_range(text, "restock")
    problem = types.Diagnostic(range=rng, message="undefined name 'amount'")
    titles = await actions_for(client, uri, rng, [problem])
    assert {
        "Assist: Explain",
        "Assist: Add docstring",
        "Assist: Refactor / simplify",
        "Assist: Generate unit tests",
        "Assist: Fix: undefined name 'amount'",
    } <= set(titles)
    assert list(titles["Assist: Fix: undefined name 'amount'"].diagnostics or []) == [problem]
    assert titles["Assist: Fix: undefined name 'amount'"].kind == "quickfix.assist"
    # A cursor inside a function (empty range) gets the actions for that function.
    inside = types.Position(rng.start.line + 2, 4)
    at_cursor = await actions_for(client, uri, types.Range(inside, inside))
    argument = at_cursor["Assist: Explain"].command.arguments[0]  # type: ignore[union-attr]
    assert argument["range"]["start"]["line"] == rng.start.line
    assert argument["range"]["end"]["line"] == rng.end.line
    # `only` filters by kind: the light bulb asking for quick fixes gets only fixes.
    only = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng,
            context=types.CodeActionContext(
                diagnostics=[problem], only=[types.CodeActionKind.QuickFix]
            ),
        )
    )
    assert [a.title for a in only or [] if isinstance(a, types.CodeAction)] == [
        "Assist: Fix: undefined name 'amount'"
    ]
    assert not client.messages, "listing must not contact the (absent) model server"


async def test_add_docstring_applies_an_edit_inside_the_selection(
    client: LanguageClient, workspace: Path, llama: LlamaServer
) -> None:
    edits = await start(client, workspace, chat_settings(llama.url))
    path = workspace / "inventory" / "report.py"
    source = (
        "def average_price(prices):\n"
        "    if not prices:\n"
        "        return 0.0\n"
        "    return sum(prices) / len(prices)\n"
    )
    text = path.read_text().rstrip("\n") + "\n\n\n" + source
    uri = open_document(client, path, text)
    rng = function_range(text, "average_price")
    action = (await actions_for(client, uri, rng))["Assist: Add docstring"]
    result = await run(client, action)
    assert result["outcome"] == "edit" and result["applied"], result
    assert len(edits) == 1
    change = plain(edits[0].edit)["documentChanges"][0]
    assert change["textDocument"] == {"uri": uri, "version": 1}
    text_edits = [
        types.TextEdit(
            range=types.Range(
                types.Position(**e["range"]["start"]), types.Position(**e["range"]["end"])
            ),
            new_text=e["newText"],
        )
        for e in change["edits"]
    ]
    for edit in text_edits:  # the edit stays inside the selected function
        assert rng.start.line <= edit.range.start.line <= edit.range.end.line <= rng.end.line
    after = apply_text_edits(text, text_edits)
    assert after != text
    assert syntax_errors("python", after) == 0, after
    body = after[after.index("def average_price") :]
    assert '"""' in body or "'''" in body or "#" in body, body
    progress = [r for values in client.progress_reports.values() for r in values]
    assert any(
        isinstance(r, types.WorkDoneProgressBegin) and "Add docstring" in r.title for r in progress
    )


async def test_explain_opens_a_markdown_document_in_the_editors_language(
    client: LanguageClient, workspace: Path, llama: LlamaServer
) -> None:
    await start(client, workspace, chat_settings(llama.url), locale="zh-CN")
    path = workspace / "inventory" / "items.py"
    text = path.read_text()
    uri = open_document(client, path)
    action = (await actions_for(client, uri, function_range(text, "restock")))["Assist: Explain"]
    result = await run(client, action)
    assert result["outcome"] == "document", result
    assert len(client.shown_documents) == 1
    shown = client.shown_documents[0]
    assert shown.uri == result["uri"] and shown.uri.endswith(".md")
    document = Path(unquote(urlparse(shown.uri).path))
    content = await asyncio.to_thread(document.read_text)
    assert len(content) > 100
    # The editor said zh-CN: the answer is in Chinese.
    han = sum(1 for c in content if "\u4e00" <= c <= "\u9fff")
    assert han >= 10, content
    assert path.read_text() == text  # the source file is never written


async def test_answer_without_code_applies_nothing_and_says_so(
    client: LanguageClient, workspace: Path, llama: LlamaServer
) -> None:
    # A user-defined action that asks for an edit, with a prompt that gets no code back.
    settings = chat_settings(
        llama.url,
        actions=[
            {
                "title": "Say hello",
                "prompt": "Reply with exactly the word: hello. Do not write any code.",
                "result": "edit",
            }
        ],
    )
    edits = await start(client, workspace, settings)
    path = workspace / "inventory" / "items.py"
    text = path.read_text()
    uri = open_document(client, path)
    action = (await actions_for(client, uri, function_range(text, "restock")))["Assist: Say hello"]
    result = await run(client, action)
    assert result["outcome"] == "refused" and not result["applied"], result
    assert "no code" in result["message"]
    assert edits == []
    assert any("no code" in m.message for m in client.messages)


async def test_cancel_mid_stream(
    client: LanguageClient, workspace: Path, llama: LlamaServer
) -> None:
    edits = await start(client, workspace, chat_settings(llama.url, maxTokens=2000))
    path = workspace / "inventory" / "items.py"
    text = path.read_text()
    uri = open_document(client, path)
    action = (await actions_for(client, uri, function_range(text, "restock")))[
        "Assist: Generate unit tests"
    ]
    assert action.command is not None
    request = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND,
            types.ExecuteCommandParams(
                command=action.command.command, arguments=action.command.arguments
            ),
            msg_id="cancel-me",
        )
    )
    # Wait until the model is writing (a progress report with text), then cancel.
    for _ in range(600):
        reports = [
            r
            for values in client.progress_reports.values()
            for r in values
            if isinstance(r, types.WorkDoneProgressReport) and r.message
        ]
        if reports:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the model never started writing")
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="cancel-me"))
    with pytest.raises(Exception, match="(?i)cancel"):
        await request
    await asyncio.sleep(1.0)
    assert edits == [] and client.shown_documents == []
    assert not (workspace / "tests").exists()
    ends = [
        r
        for values in client.progress_reports.values()
        for r in values
        if isinstance(r, types.WorkDoneProgressEnd)
    ]
    assert any(e.message == "cancelled" for e in ends), ends
    # The server goes on: a chat request right after is answered.
    answer = plain(
        await client.protocol.send_request_async(
            "assist/chat", {"messages": [{"role": "user", "content": "Say OK."}]}
        )
    )
    assert answer["content"].strip()


async def test_chat_streams_progress_and_keeps_history(
    client: LanguageClient, workspace: Path, llama: LlamaServer
) -> None:
    await start(client, workspace, chat_settings(llama.url, maxTokens=120))
    path = workspace / "inventory" / "items.py"
    text = path.read_text()
    uri = open_document(client, path)
    rng = function_range(text, "cheapest")
    token = "chat-1"
    client.progress_reports.setdefault(token, [])
    first = plain(
        await client.protocol.send_request_async(
            "assist/chat",
            {
                "messages": [
                    {"role": "user", "content": "What does the selected function return?"}
                ],
                "uri": uri,
                "range": plain(rng),
                "workDoneToken": token,
            },
        )
    )
    content = first["content"]
    assert content.strip()
    pieces = [
        r.message
        for r in client.progress_reports[token]
        if isinstance(r, types.WorkDoneProgressReport) and r.message
    ]
    assert pieces and "".join(pieces) == content  # the deltas add up to the answer
    kinds = [type(r).__name__ for r in client.progress_reports[token]]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
    # A second turn: the server remembers the first (the model can refer to it).
    second = plain(
        await client.protocol.send_request_async(
            "assist/chat",
            {"messages": [{"role": "user", "content": "Repeat your previous answer exactly."}]},
        )
    )
    assert second["content"].strip()
    # Bad params get a clear error, not a hang.
    with pytest.raises(Exception, match="messages"):
        await client.protocol.send_request_async("assist/chat", {"messages": "hi"})
