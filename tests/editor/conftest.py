"""The extension built from this checkout in a real VS Code (code-server), driven through
Chromium, against the real llama.cpp server and model.

One code-server, one browser page and one model server serve all the tests of a module:
starting code-server and loading the workbench costs ~10-15 s on 2 cores, so tests share them
and run in file order. The language server is this checkout's (PYTHONPATH), started by the
extension from `assist.server.path` = this interpreter, exactly as a user's settings would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from code_server import Editor, EditorStack, assist_settings, build_vsix, open_vscode
from llama_stack import LlamaServer


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


@pytest.fixture(scope="module")
def editor(
    tmp_path_factory: pytest.TempPathFactory,
    editor_stack: EditorStack,
    vsix: Path,
    screenshots: Path,
) -> Iterator[Editor]:
    """VS Code with the extension, open on a copy of the fixture workspace.

    Module scope, not session: Playwright's sync API runs an event loop in the main thread
    while it is open, and pytest-asyncio cannot run the async tests collected after these.
    """
    base = tmp_path_factory.mktemp("vscode")
    with LlamaServer(base / "llama.log") as llama:
        settings = assist_settings(llama.url)
        with open_vscode(base, editor_stack, vsix, settings) as (code, workbench, workspace):
            yield Editor(code, workbench, workspace, llama, screenshots, settings)


_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_REPORT] = report
    return report


@pytest.fixture(autouse=True)
def picture_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """A screenshot of VS Code as the failing test left it (in the screenshots folder), and the
    end of the Assist output channel in the report: CI keeps the report, not the screenshots."""
    yield
    report = request.node.stash.get(_REPORT, None)
    if report is not None and report.failed and "editor" in request.fixturenames:
        editor: Editor = request.getfixturevalue("editor")
        editor.workbench.screenshot(editor.screenshots / f"failed-{request.node.name}.png")
        try:
            log = editor.server_log()
        except Exception as exc:  # the page may be gone with the failure
            log = f"(cannot read the Assist output: {exc})"
        report.sections.append(("Assist output channel (last 6000 characters)", log[-6000:]))
