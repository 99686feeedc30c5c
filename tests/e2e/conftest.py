"""End-to-end fixtures: a real llama.cpp server with the real model, and the real server over
stdio driven by pytest-lsp like an editor."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import platformdirs
import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from llama_stack import MODEL_ALIAS, LlamaServer, free_port

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "workspace"
SERVER = [sys.executable, "-m", "assist_server", "--stdio", "-vv"]
# The servers under test keep their caches (indexes) in a scratch folder, not the user's; only
# the converted embedding models are shared with the user's cache (keyed by everything they
# depend on, written atomically), so that each session does not convert the model again.
SERVER_ENV = {**os.environ, "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="assist-e2e-cache-")}
_MODELS = Path(platformdirs.user_cache_dir("assist-server")) / "embedding-models"
_MODELS.mkdir(parents=True, exist_ok=True)
(Path(SERVER_ENV["XDG_CACHE_HOME"]) / "assist-server").mkdir()
(Path(SERVER_ENV["XDG_CACHE_HOME"]) / "assist-server" / "embedding-models").symlink_to(_MODELS)


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """One real model server for the whole session (loading the model takes a few seconds)."""
    server = LlamaServer(tmp_path_factory.mktemp("llama") / "llama.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of the small real workspace."""
    target = tmp_path / "workspace"
    shutil.copytree(FIXTURE, target)
    return target


def settings_for(url: str, **completion: Any) -> dict[str, Any]:
    """Settings that point the server at a llama.cpp server, as an editor would send them.

    The workspace index is off here (completions do not use it yet, and indexing would compete
    with the model for the CPU); tests of the index turn it on.
    """
    return {
        "backend": {"kind": "openai", "url": url, "timeoutMs": 60000},
        "completion": {
            "model": MODEL_ALIAS,
            "fimTemplate": "qwen",
            "temperature": 0.0,
            **completion,
        },
        "index": {"enabled": False},
    }


def inline_capabilities(
    *, utf8: bool = False, configuration: bool = False
) -> types.ClientCapabilities:
    """What an editor with LSP 3.18 inline completion says about itself."""
    encodings = [types.PositionEncodingKind.Utf16]
    if utf8:
        encodings.insert(0, types.PositionEncodingKind.Utf8)
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=encodings),
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities()
        ),
        workspace=types.WorkspaceClientCapabilities(
            configuration=configuration,
            did_change_configuration=types.DidChangeConfigurationClientCapabilities(
                dynamic_registration=False
            ),
        ),
        window=types.WindowClientCapabilities(work_done_progress=True),
    )


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env=SERVER_ENV))
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    """A started (not yet initialized) server: each test initializes it with its own settings."""
    yield
    await lsp_client.shutdown_session()


async def initialize(
    client: LanguageClient,
    workspace: Path,
    settings: dict[str, Any] | None = None,
    *,
    utf8: bool = False,
    configuration: bool = False,
) -> types.InitializeResult:
    """Initialize the server like an editor with inline completion, on `workspace`."""
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=inline_capabilities(utf8=utf8, configuration=configuration),
            root_uri=workspace.as_uri(),
            initialization_options=settings,
        )
    )


def items_of(
    result: types.InlineCompletionList | list[types.InlineCompletionItem] | None,
) -> list[types.InlineCompletionItem]:
    """The items of an inline completion answer, whichever of its two shapes it has."""
    if isinstance(result, types.InlineCompletionList):
        return list(result.items)
    return list(result or [])


def open_document(
    client: LanguageClient, path: Path, text: str | None = None, language: str = "python"
) -> str:
    """didOpen a file (optionally with edited text) and return its URI."""
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id=language,
                version=1,
                text=path.read_text() if text is None else text,
            )
        )
    )
    return uri


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked
        ),
    )


def with_body_line(text: str, marker: str, indent: str = "    ") -> tuple[str, int]:
    """Insert an indented empty line after the line holding `marker` (where a body is missing);
    return the new text and that line's number."""
    lines = text.split("\n")
    number = next(i for i, line in enumerate(lines) if marker in line) + 1
    lines.insert(number, indent)
    return "\n".join(lines), number


EVAL_LINE = re.compile(r"^\S*\s+eval time =.*?/\s*(\d+) runs", re.MULTILINE)


def log_since(log: Path, start: int) -> str:
    """What the llama.cpp server logged after byte `start`."""
    with log.open("rb") as fh:
        fh.seek(start)
        return fh.read().decode("utf-8", "replace")


async def wait_for_log(log: Path, start: int, pattern: str, seconds: float = 60.0) -> str:
    """Wait until the log after `start` matches `pattern`; return that part of the log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = log_since(log, start)
        if re.search(pattern, text, re.MULTILINE):
            return text
        await asyncio.sleep(0.2)  # never block the loop: the server's output must be read
    raise AssertionError(f"llama.cpp logged no {pattern!r} after byte {start} of {log}")


def generation_counts(text: str) -> list[int]:
    """Tokens generated per finished generation in a piece of llama.cpp's log (its
    "eval time = ... / N runs" lines; llama.cpp prints one when a generation finishes)."""
    return [int(n) for n in EVAL_LINE.findall(text)]


__all__ = [
    "free_port",
    "generation_counts",
    "log_since",
    "wait_for_log",
    "inline_capabilities",
    "initialize",
    "inline_params",
    "items_of",
    "open_document",
    "settings_for",
    "with_body_line",
]
