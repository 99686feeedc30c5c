#!/usr/bin/env python3
"""Drive `assist-server --stdio` like an editor, against a real llama.cpp server and model.

Starts the model server on a free loopback port, opens a file of a small real workspace, asks
for inline completions where a function body is missing, prints the ghost text and the timings.
Then opens a second workspace with the index on, shows the cross-file context the server picks
for a cursor (`assist.showContext`) and the completion that uses it. Stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fetch_model  # noqa: E402
from llama_stack import MODEL_ALIAS, LlamaServer, inline_client_capabilities, server_command  # noqa: E402,I001

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "workspace"
SHOP = ROOT / "tests" / "fixtures" / "retrieval" / "shop"
SHOP_LINE = "            unit = price_of(product)"  # in shop/cart.py; the user types "." after it


TYPED = "    return "  # what the user has typed on the empty line of the function body


def cursor_at(text: str, marker: str) -> types.Position:
    """The position after TYPED on the line below the one that contains `marker`."""
    for number, line in enumerate(text.split("\n")):
        if marker in line:
            return types.Position(line=number + 1, character=len(TYPED))
    raise SystemExit(f"demo: marker {marker!r} not found")


async def ask(client: LanguageClient, uri: str, position: types.Position) -> tuple[str, float]:
    started = time.perf_counter()
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    elapsed = (time.perf_counter() - started) * 1000
    items = result.items if isinstance(result, types.InlineCompletionList) else result or []
    return (str(items[0].insert_text) if items else ""), elapsed


def show(title: str, text: str, position: types.Position, ghost: str, ms: float) -> None:
    lines = text.split("\n")
    print(f"\n== {title}: {ms:.0f} ms in the client")
    for line in lines[max(0, position.line - 3) : position.line]:
        print(f"   {line}")
    head = lines[position.line][: position.character] if position.line < len(lines) else ""
    ghost_lines = (ghost or "<no suggestion>").split("\n")
    # Ghost text is dim on a terminal, and marked with "|" where escapes would be noise.
    dim, off = ("\x1b[2m", "\x1b[0m") if sys.stdout.isatty() else ("|", "")
    print(f"   {head}{dim}{ghost_lines[0]}{off}")
    for line in ghost_lines[1:]:
        print(f"   {dim}{line}{off}")


async def session(workspace: Path, settings: dict[str, Any], log: Path) -> LanguageClient:
    """Start `assist-server --stdio` and initialize it on `workspace` like an editor."""
    client = LanguageClient("assist-demo", "0.1")
    await client.start_io(*server_command(), "--stdio", "-v", "--log-file", str(log))
    init = await client.initialize_async(
        types.InitializeParams(
            process_id=os.getpid(),
            root_uri=workspace.as_uri(),
            capabilities=inline_client_capabilities(),
            initialization_options=settings,
        )
    )
    print(
        f"demo: initialized on {workspace.name}; inline completion advertised:",
        init.capabilities.inline_completion_provider is not None,
    )
    client.initialized(types.InitializedParams())
    return client


async def close(client: LanguageClient) -> None:
    try:
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()  # type: ignore[no-untyped-call]  # pygls leaves it untyped


async def cross_file(work: Path, url: str, settings: dict[str, Any], log: Path) -> None:
    """The index on: which code of other files a completion sees, and what it then suggests."""
    workspace = work / "shop"
    shutil.copytree(SHOP, workspace)
    settings = {
        **settings,
        # Lexical tiers only, so the demo needs no embedding model (vectors add one more tier).
        "index": {"enabled": True, "path": str(work / "index"), "embeddingProvider": "none"},
    }
    print("\n== cross-file context: indexing the second workspace ...", flush=True)
    client = await session(workspace, settings, log)
    try:
        for _ in range(600):
            status = await client.protocol.send_request_async("assist/status", {})
            if getattr(status, "state", None) in ("ready", "error"):
                break
            await asyncio.sleep(0.1)
        print(f"   assist/status: {status}")
        path = workspace / "shop" / "cart.py"
        text = path.read_text()
        at = text.index(SHOP_LINE) + len(SHOP_LINE)
        text = text[:at] + "." + text[at:]
        uri = path.as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        position = types.Position(line=text.count("\n", 0, at), character=len(SHOP_LINE) + 1)
        shown = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="assist.showContext",
                arguments=[
                    {
                        "textDocument": {"uri": uri},
                        "position": {"line": position.line, "character": position.character},
                    }
                ],
            )
        )
        if shown is None:
            raise SystemExit("demo: assist.showContext answered nothing")
        # pygls hands untyped results back as dicts or named tuples: make them plain JSON
        report = json.loads(json.dumps(shown, default=lambda o: o._asdict()))
        print("   assist.showContext: what a completion here puts before the file")
        for snippet in report["snippets"]:
            print(
                f"     {snippet['path']}:{snippet['start_line']}-{snippet['end_line']}  "
                f"{snippet['source']:<10} {snippet['tokens']} tokens"
            )
        print(f"     prompt: {report['prompt_tokens']} tokens")
        ghost, ms = await ask(client, uri, position)
        show("shop/cart.py after typing '.' (converted_to is only used in other files)",
             text, position, ghost, ms)  # fmt: skip
    finally:
        await close(client)


async def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="assist-demo-"))
    workspace = work / "workspace"
    shutil.copytree(FIXTURE, workspace)
    server_log = work / "assist-server.log"
    llama_log = fetch_model.cache_dir() / "logs" / "demo-llama.log"
    print(f"demo: starting the llama.cpp server with {fetch_model.FILENAME} ...", flush=True)
    with LlamaServer(llama_log) as llama:
        print(f"demo: model server at {llama.url}; starting {' '.join(server_command())} --stdio")
        settings = {
            "backend": {"kind": "openai", "url": llama.url},
            "completion": {
                "model": MODEL_ALIAS,
                "fimTemplate": "qwen",
                "maxTokens": 96,
                "temperature": 0,
            },
            # The first part shows the completion pipeline alone; the index would only compete
            # with the model for the CPU.
            "index": {"enabled": False},
        }
        client = await session(workspace, settings, server_log)
        try:
            path = workspace / "inventory" / "items.py"
            text = path.read_text()
            uri = path.as_uri()
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text=text
                    )
                )
            )
            position = cursor_at(text, "Return the total value of all items")
            # The user has opened a line in the empty function body and typed "return ".
            lines = text.split("\n")
            lines.insert(position.line, TYPED)
            text = "\n".join(lines)
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                )
            )
            ghost, ms = await ask(client, uri, position)
            show("cold request (model server has not seen this file)", text, position, ghost, ms)
            ghost2, ms2 = await ask(client, uri, position)
            show("same request again (served from the server's cache)", text, position, ghost2, ms2)
            if ghost:
                typed = ghost[: max(1, min(4, len(ghost) - 1))]  # leave a rest to serve
                lines = text.split("\n")
                lines[position.line] += typed
                text = "\n".join(lines)
                client.text_document_did_change(
                    types.DidChangeTextDocumentParams(
                        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
                        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                    )
                )
                moved = types.Position(
                    line=position.line, character=position.character + len(typed)
                )
                ghost3, ms3 = await ask(client, uri, moved)
                show(f"after typing {typed!r} (rest of the suggestion)", text, moved, ghost3, ms3)
        finally:
            await close(client)
        await cross_file(work, llama.url, settings, server_log)
    print("\n== the server's own log line per request (timings in ms):")
    for line in server_log.read_text().splitlines():
        if " completion id=" in line:
            fields = dict(re.findall(r"(\w+)=(\S+)", line.split(": ", 1)[1]))
            keys = (
                "id",
                "source",
                "tokens_in",
                "tokens_out",
                "first_token_ms",
                "model_ms",
                "snippets",
                "retrieval_ms",
                "total_ms",
                "overhead_ms",
            )
            print("   " + " ".join(f"{k}={fields.get(k, '-')}" for k in keys))
    print(f"\ndemo: done; logs in {work}")
    return 0 if ghost else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
