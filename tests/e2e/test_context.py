"""Cross-file context end to end: the real index, `assist.showContext`, the CLI, the real model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from test_index import wait_ready

from conftest import ROOT, SERVER_ENV, initialize, inline_params, items_of, open_document
from conftest import settings_for as completion_settings
from llama_stack import LlamaServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHOP = ROOT / "tests" / "fixtures" / "retrieval" / "shop"
LINE = "            unit = price_of(product)"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    target = tmp_path / "shop"
    shutil.copytree(SHOP, target)
    return target


def typed_cart(shop: Path) -> tuple[str, int, int]:
    """cart.py with `.` typed after `price_of(product)`: text, 0-based line and column."""
    text = (shop / "shop" / "cart.py").read_text()
    at = text.index(LINE) + len(LINE)
    text = text[:at] + "." + text[at:]
    line = text.count("\n", 0, at)
    return text, line, len(LINE) + 1


def settings(url: str, tmp_path: Path) -> dict[str, Any]:
    chosen = completion_settings(url)
    chosen["index"] = {
        "enabled": True,
        "path": str(tmp_path / "index"),
        "embeddingProvider": "none",
    }
    return chosen


async def show_context(client: LanguageClient, uri: str, line: int, col: int) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="assist.showContext",
            arguments=[
                {"textDocument": {"uri": uri}, "position": {"line": line, "character": col}}
            ],
        )
    )
    return json.loads(json.dumps(result, default=lambda o: o._asdict()))


async def test_show_context_and_a_completion_that_uses_it(
    client: LanguageClient, llama: LlamaServer, shop: Path, tmp_path: Path
) -> None:
    init = await initialize(client, shop, settings(llama.url, tmp_path))
    assert init.capabilities.execute_command_provider is not None
    assert "assist.showContext" in init.capabilities.execute_command_provider.commands
    assert (await wait_ready(client))["state"] == "ready"

    text, line, col = typed_cart(shop)
    uri = open_document(client, shop / "shop" / "cart.py", text)
    shown = await show_context(client, uri, line, col)
    usages = [s for s in shown["snippets"] if s["source"] == "usage"]
    assert any(s["path"] == "shop/invoice.py" for s in usages), shown
    assert all(s["path"] != "shop/cart.py" for s in shown["snippets"])
    assert shown["prompt_tokens"] > sum(s["tokens"] for s in shown["snippets"]) > 0
    for snippet in shown["snippets"]:
        assert set(snippet) == {"path", "start_line", "end_line", "source", "score", "tokens"}
        assert 1 <= snippet["start_line"] <= snippet["end_line"]

    # The real model, shown how invoice.py calls price_of, completes the same call here.
    result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    items = items_of(result)
    assert items and items[0].insert_text.startswith("converted_to("), items

    # A bad argument gets a clear error, not a hang or a crash.
    with pytest.raises(Exception, match="textDocument"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="assist.showContext", arguments=[{"uri": 3}])
        )


def test_cli_context_matches_the_contract(shop: Path, tmp_path: Path) -> None:
    text, line, col = typed_cart(shop)
    (shop / "shop" / "cart.py").write_text(text)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "assist_server",
            "context",
            "--root",
            str(shop),
            "--file",
            str(shop / "shop" / "cart.py"),
            "--line",
            str(line),
            "--col",
            str(col),
            "--json",
            "--settings",
            json.dumps({"index": {"embeddingProvider": "none", "path": str(tmp_path / "ix")}}),
        ],
        capture_output=True,
        text=True,
        env=SERVER_ENV,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert set(report) == {"snippets", "prompt_tokens"}
    assert any(
        s["path"] == "shop/invoice.py" and s["source"] == "usage" for s in report["snippets"]
    )
    invoice = (shop / "shop" / "invoice.py").read_text().split("\n")
    usage = next(s for s in report["snippets"] if s["path"] == "shop/invoice.py")
    shown = "\n".join(invoice[usage["start_line"] - 1 : usage["end_line"]])
    assert "price_of" in shown

    outside = subprocess.run(
        [sys.executable, "-m", "assist_server", "context", "--root", str(shop / "shop"),
         "--file", str(tmp_path / "x.py"), "--line", "0", "--col", "0"],
        capture_output=True,
        text=True,
        env=SERVER_ENV,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert outside.returncode != 0 and "cannot read" in outside.stderr
