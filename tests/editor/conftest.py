"""The extension built from this checkout in a real VS Code (code-server), driven through
Chromium, against the real llama.cpp server and model.

One code-server, one browser page and one model server serve the whole session: starting
code-server and loading the workbench costs ~10-15 s on 2 cores, so tests share them and run in
file order. The language server is this checkout's (PYTHONPATH), started by the extension from
`assist.server.path` = this interpreter, exactly as a user's settings would.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import pytest
from playwright.sync_api import sync_playwright

from code_server import (
    CodeServer,
    EditorStack,
    Workbench,
    build_vsix,
    copy_workspace,
    launch_chromium,
)
from llama_stack import MODEL_ALIAS, LlamaServer

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "workspace"

# One line per completion (-v) and its text (-vv, a Python repr on one line), as the server
# logs them to stderr, which the extension shows in its "Assist" output channel.
COMPLETION_LINE = re.compile(
    r"completion id=(?P<id>\S+) source=(?P<source>\S+) .*? chars=(?P<chars>\d+) .*?"
    r"total_ms=(?P<total_ms>[\d.]+)"
)
TEXT_LINE = re.compile(r"completion id=(?P<id>\S+) text=(?P<text>.*)$")
# The output channel's own time at the head of each line (when the extension got the line).
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[.,](\d{3})")


@dataclass(frozen=True)
class Completion:
    """One answered completion request, from the server's log."""

    id: str
    source: str
    total_ms: float
    text: str
    logged_at: float  # epoch seconds, from the server's log line


def completions_in(log: str) -> list[Completion]:
    """The completions answered in a piece of the server's log, in order."""
    texts: dict[str, str] = {}
    found: list[tuple[str, str, float, float]] = []
    for line in log.splitlines():
        if match := TEXT_LINE.search(line):
            texts[match["id"]] = ast.literal_eval(match["text"].strip())
        elif match := COMPLETION_LINE.search(line):
            stamp = LOG_TIME.search(line)
            logged = (
                time.mktime(time.strptime(stamp[1], "%Y-%m-%d %H:%M:%S")) + int(stamp[2]) / 1000
                if stamp
                else 0.0
            )
            found.append((match["id"], match["source"], float(match["total_ms"]), logged))
    return [Completion(i, s, ms, texts.get(i, ""), at) for i, s, ms, at in found]


@dataclass
class Editor:
    """The session's VS Code: code-server, the page, the workspace and the model server."""

    code: CodeServer
    workbench: Workbench
    workspace: Path
    llama: LlamaServer
    screenshots: Path
    settings: dict[str, Any] = field(default_factory=dict)

    def server_log(self) -> str:
        """The "Assist" output channel so far (the extension's lines and the server's stderr)."""
        return self.code.output_channel("Assist")

    def completions_since(self, start: int) -> list[Completion]:
        """Completions the server answered after `start` characters of its log."""
        return completions_in(self.server_log()[start:])

    def wait_for_log(self, pattern: str, start: int = 0, timeout: float = 60.0) -> str:
        """Wait until the output channel after `start` matches `pattern`; that part."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.server_log()[start:]
            if re.search(pattern, text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"the Assist output has no {pattern!r} after {start} characters")


def editor_settings(llama_url: str) -> dict[str, Any]:
    """User settings: the real model server, this checkout's server, logs for the tests."""
    return {
        "assist.server.path": sys.executable,  # a Python interpreter: `-m assist_server` runs
        "assist.server.args": ["--stdio", "-vv"],
        "assist.backend.kind": "openai",
        "assist.backend.url": llama_url,
        "assist.backend.timeoutMs": 60000,
        "assist.completion.model": MODEL_ALIAS,
        "assist.completion.fimTemplate": "qwen",
        "assist.chat.model": MODEL_ALIAS,
    }


@pytest.fixture(scope="session")
def editor_stack() -> EditorStack:
    try:
        return EditorStack.find()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def vsix() -> Path:
    """The extension package: the one scripts/test just built, else built here."""
    if given := os.environ.get("ASSIST_VSIX"):
        return Path(given)
    return build_vsix()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests leave their pictures (ASSIST_SCREENSHOTS, else a temporary folder)."""
    if given := os.environ.get("ASSIST_SCREENSHOTS"):
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def editor(
    tmp_path_factory: pytest.TempPathFactory,
    editor_stack: EditorStack,
    vsix: Path,
    screenshots: Path,
) -> Iterator[Editor]:
    """VS Code with the extension, open on a copy of the fixture workspace."""
    base = tmp_path_factory.mktemp("vscode")
    llama = LlamaServer(base / "llama.log")
    llama.start()
    home = base / "home"
    # The server's caches (its index) stay in the scratch HOME; the converted embedding models
    # are shared with the user's cache, as in tests/e2e, so that they are not converted again.
    models = Path(platformdirs.user_cache_dir("assist-server")) / "embedding-models"
    models.mkdir(parents=True, exist_ok=True)
    (home / ".cache" / "assist-server").mkdir(parents=True)
    (home / ".cache" / "assist-server" / "embedding-models").symlink_to(models)
    code = CodeServer(home, editor_stack, env={"PYTHONPATH": str(ROOT / "server")})
    workspace = copy_workspace(FIXTURE, base / "workspace")
    settings = editor_settings(llama.url)
    try:
        code.install_extension(vsix)
        code.write_settings(settings)
        code.start()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, editor_stack)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            workbench = Workbench(page)
            workbench.open(code.url(workspace))
            try:
                yield Editor(code, workbench, workspace, llama, screenshots, settings)
            finally:
                browser.close()
    finally:
        code.stop()
        llama.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_REPORT] = report
    return report


_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.fixture(autouse=True)
def picture_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """A screenshot of VS Code as the failing test left it (in the screenshots folder)."""
    yield
    report = request.node.stash.get(_REPORT, None)
    if report is not None and report.failed and "editor" in request.fixturenames:
        editor: Editor = request.getfixturevalue("editor")
        editor.workbench.screenshot(editor.screenshots / f"failed-{request.node.name}.png")
