"""The index over LSP with the real embedding model: progress, assist/status, save, CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from conftest import initialize, settings_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def index_settings(tmp_path: Path) -> dict[str, Any]:
    settings = settings_for("http://127.0.0.1:9/v1")
    settings["index"] = {"enabled": True, "path": str(tmp_path / "index")}
    return settings


async def status(client: LanguageClient) -> dict[str, Any]:
    result = await client.protocol.send_request_async("assist/status", {})
    if isinstance(result, dict):
        return result
    return dict(result._asdict())  # pygls turns untyped results into named tuples


async def wait_ready(client: LanguageClient, seconds: float = 240) -> dict[str, Any]:
    for _ in range(int(seconds * 5)):
        current = await status(client)
        if current["state"] in ("ready", "error"):
            return current
        await asyncio.sleep(0.2)
    raise AssertionError(f"index not ready: {current}")


async def test_status_progress_and_save(
    client: LanguageClient, workspace: Path, tmp_path: Path
) -> None:
    (workspace / ".env").write_text("TOKEN=never-index\n")
    await initialize(client, workspace, index_settings(tmp_path))
    current = await wait_ready(client)
    assert current["state"] == "ready", current
    assert current["lastError"] is None
    assert current["files"] >= 4
    assert current["chunks"] > 0 and current["embedded"] == current["chunks"]

    reports = [r for values in client.progress_reports.values() for r in values]
    kinds = [type(r).__name__ for r in reports]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
    assert any(
        isinstance(r, types.WorkDoneProgressReport) and r.message and "files" in r.message
        for r in reports
    )

    # Save a new function: it is re-indexed (and embedded) without a full pass.
    path = workspace / "inventory" / "items.py"
    path.write_text(path.read_text() + "\n\ndef restock_all(items):\n    return None\n")
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri())
        )
    )
    for _ in range(100):
        after = await status(client)
        if after["chunks"] > current["chunks"] and after["embedded"] == after["chunks"]:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"the saved file was not re-indexed: {after} vs {current}")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assist_server", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


async def test_cli_index_then_editor_starts_ready(
    client: LanguageClient, workspace: Path, tmp_path: Path
) -> None:
    settings = json.dumps({"index": {"path": str(tmp_path / "index")}})
    run = cli("index", str(workspace), "--settings", settings, "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["files"] >= 4 and summary["chunks"] == summary["embedded"] > 0

    found = cli("search", str(workspace), "cheapest item", "--settings", settings, "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits and hits[0]["path"].startswith("inventory/")

    shown = cli("status", str(workspace), "--settings", settings, "--json")
    assert json.loads(shown.stdout)["chunks"] == summary["chunks"]

    await initialize(client, workspace, index_settings(tmp_path))
    current = await wait_ready(client, seconds=60)
    assert current["state"] == "ready"
    assert current["chunks"] == summary["chunks"] == current["embedded"]


async def test_new_excludes_reindex_without_the_excluded_files(
    client: LanguageClient, workspace: Path, tmp_path: Path
) -> None:
    await initialize(client, workspace, index_settings(tmp_path))
    before = await wait_ready(client)
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"assist": {"index": {"exclude": ["*.js"]}}})
    )
    for _ in range(300):
        after = await status(client)
        if after["state"] == "ready" and after["files"] == before["files"] - 1:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"excluding *.js did not drop util.js: {before} -> {after}")


async def test_reindex_command_picks_up_files_changed_behind_the_editor(
    client: LanguageClient, workspace: Path, tmp_path: Path
) -> None:
    settings = index_settings(tmp_path)
    settings["index"]["embeddingProvider"] = "none"  # the command is under test, not embeddings
    init = await initialize(client, workspace, settings)
    assert init.capabilities.execute_command_provider is not None
    assert "assist.reindex" in init.capabilities.execute_command_provider.commands
    before = await wait_ready(client)
    assert before["state"] == "ready", before

    # A file the editor was never told about (no didSave, no watched-file event).
    (workspace / "inventory" / "orders.py").write_text("def place_order(item):\n    return item\n")
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="assist.reindex", arguments=[])
    )
    state = answer["state"] if isinstance(answer, dict) else answer.state
    assert state == "indexing"
    after = await wait_ready(client)
    assert after["state"] == "ready" and after["files"] == before["files"] + 1, (before, after)
