#!/usr/bin/env python3
"""Latency as the user feels it: keystroke to visible ghost text in a real VS Code.

Starts the real llama.cpp server, code-server with the extension built from this checkout and
Chromium (as tests/editor do), opens inventory/items.py of the fixture workspace where
`total_value` has no body, and types a line one character at a time, waiting after each until
ghost text that fits what was typed is on screen. The page itself records when each key went
down and when the ghost text was drawn (the animation frame after the DOM change), so
Playwright's round trips are not in the figures. Each keystroke is matched with the server's
answer that was shown, from the server's own log line (total_ms); a keystroke whose ghost text
came with no new answer is one where VS Code kept showing the earlier suggestion because the typed
character matched it.

Prints per keystroke and as p50/p95: time to visible ghost text, the server's time for the same
request, and the difference (VS Code's debounce, the language client, the extension host,
JSON-RPC over stdio, the websocket to the page and drawing). One warm-up completion comes first,
so that the model server holds the file's prompt as it would after a moment of editing.

Example: PYTHONPATH=server python scripts/bench_editor.py --json bench-editor.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from bench_stats import loadavg, summary  # noqa: E402
from code_server import (  # noqa: E402
    EditorStack,
    Workbench,
    assist_settings,
    build_vsix,
    completions_in,
    dropped_in,
    open_vscode,
    wait_for_index_ready,
)
from llama_stack import LlamaServer  # noqa: E402

LINE = "return sum(item.value() for item in items)"
# VS Code 1.139's own default: while a word is typed it waits 750 ms for inline suggestions,
# then cancels them for the suggest widget (the tests and the default run turn it off).
VSCODE_QUICK_SUGGESTIONS = {
    "other": "offWhenInlineCompletions",
    "comments": "off",
    "strings": "off",
}
DOCSTRING = "Return the total value of all items in stock."

# In-page: after each keydown, the first animation frame at which ghost text is drawn on the
# cursor's line and the text before it ends with what the line should now hold.
_EXPECT = """
(expect) => {
  const state = window.__assistGhost;
  state.expect = expect;
  state.hit = null;
  if (state.watching) return;
  state.watching = true;
  const fits = () => {
    const editor = document.querySelector('.monaco-editor.focused');
    const ghost = editor && editor.querySelector('.view-lines .ghost-text-decoration');
    if (!ghost) return false;
    const line = ghost.closest('.view-line');
    let before = '';
    for (const span of line.querySelectorAll('span > span')) {
      if (span.classList.contains('ghost-text-decoration')) break;
      before += span.textContent;
    }
    return before.replace(/\\u00a0/g, ' ').endsWith(state.expect);
  };
  new MutationObserver(() => {
    if (state.hit !== null || state.keyAt === undefined || !fits()) return;
    state.hit = 'pending';
    requestAnimationFrame(() => {
      const t = performance.now();
      state.hit = { ms: t - state.keyAt, epoch: performance.timeOrigin + t };
    });
  }).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
  window.addEventListener('keydown', (e) => {
    state.keyAt = performance.now();
    state.keyEpoch = performance.timeOrigin + state.keyAt;
  }, true);
}
"""


def keystroke(
    workbench: Workbench, char: str, expect: str, timeout: float
) -> tuple[float | None, float, float]:
    """Type one character; (ms to fitting ghost text or None, key epoch ms, shown epoch ms)."""
    page = workbench.page
    page.evaluate(_EXPECT, expect)
    page.keyboard.type(char)
    try:
        # Polled in the page, sparingly: the time itself is taken there, at the frame drawn.
        page.wait_for_function(
            "() => typeof window.__assistGhost.hit === 'object' && window.__assistGhost.hit",
            polling=100,
            timeout=timeout * 1000,
        )
    except PlaywrightTimeout:
        key_epoch = float(page.evaluate("() => window.__assistGhost.keyEpoch"))
        return None, key_epoch, key_epoch + timeout * 1000
    hit = page.evaluate("() => window.__assistGhost.hit")
    key_epoch = float(page.evaluate("() => window.__assistGhost.keyEpoch"))
    return float(hit["ms"]), key_epoch, float(hit["epoch"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    stack = EditorStack.find()
    vsix = Path(args.vsix) if args.vsix else build_vsix()
    base = Path(tempfile.mkdtemp(prefix="bench-editor-"))
    text = args.text[: args.chars]
    rows: list[dict[str, Any]] = []
    with LlamaServer(base / "llama.log") as llama:
        settings = assist_settings(llama.url)
        if args.vscode_defaults:
            settings["editor.quickSuggestions"] = VSCODE_QUICK_SUGGESTIONS
        with open_vscode(base, stack, vsix, settings) as (code, workbench, workspace):
            workbench.open_file("inventory/items.py")
            wait_for_index_ready(workbench)
            lines = (workspace / "inventory" / "items.py").read_text(encoding="utf-8").split("\n")
            number = next(i for i, line in enumerate(lines) if DOCSTRING in line) + 1
            workbench.go_to(number, 200)
            workbench.page.evaluate("() => { window.__assistGhost.expect = ''; }")
            # Warm-up: the new line's first completion (a cold prompt for the model server).
            start = len(code.output_channel("Assist"))
            warm_ms, _, _ = keystroke(workbench, "\n", "    ", args.timeout)
            warm = completions_in(code.output_channel("Assist")[start:])
            print(
                f"warm-up: ghost text after {warm_ms or float('nan'):.0f} ms "
                f"(server {warm[-1].total_ms if warm else float('nan'):.0f} ms); load {loadavg()}",
                file=sys.stderr,
            )
            typed = "    "
            for char in text:
                typed += char
                start = len(code.output_channel("Assist"))
                ui_ms, key_epoch, shown_epoch = keystroke(workbench, char, typed, args.timeout)
                time.sleep(args.settle)  # let late log lines arrive before reading them
                log = code.output_channel("Assist")[start:]
                window = (key_epoch / 1000 - 0.01, shown_epoch / 1000 + 0.05)
                answers = [c for c in completions_in(log) if window[0] <= c.logged_at <= window[1]]
                shown = next((c for c in reversed(answers) if c.text), None)
                server_ms = shown.total_ms if shown else None
                rows.append(
                    {
                        "char": char,
                        "ui_ms": ui_ms,
                        "server_ms": server_ms,
                        "diff_ms": ui_ms - server_ms
                        if ui_ms is not None and server_ms is not None
                        else None,
                        "source": shown.source if shown else "kept",
                        "answers": len(answers),
                        "dropped": len(dropped_in(log)),
                    }
                )
                print(_row(rows[-1]), file=sys.stderr)
    visible = [r for r in rows if r["ui_ms"] is not None]
    model = [r for r in visible if r["source"] == "model"]
    no_model = [r for r in visible if r["source"] not in ("model", "kept")]
    return {
        "typed": text,
        "warm_up": {"ui_ms": warm_ms, "server_ms": warm[-1].total_ms if warm else None},
        "keystrokes": rows,
        "ui_ms": summary([r["ui_ms"] for r in visible]),
        "model_ui_ms": summary([r["ui_ms"] for r in model]),
        "model_server_ms": summary([r["server_ms"] for r in model]),
        "model_diff_ms": summary([r["diff_ms"] for r in model]),
        "no_model_ui_ms": summary([r["ui_ms"] for r in no_model]),
        "no_model_diff_ms": summary([r["diff_ms"] for r in no_model]),
        "kept_ui_ms": summary([r["ui_ms"] for r in visible if r["source"] == "kept"]),
        "no_ghost_text": sum(1 for r in rows if r["ui_ms"] is None),
        "load": loadavg(),
        "cpus": os.cpu_count(),
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _row(row: dict[str, Any]) -> str:
    return (
        f"{row['char']!r:>5} ui {_fmt(row['ui_ms']):>6} ms  server {_fmt(row['server_ms']):>6} ms"
        f"  diff {_fmt(row['diff_ms']):>6} ms  {row['source']:<10} answers {row['answers']}"
        f" dropped {row['dropped']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", default=LINE, help="the line typed (its first --chars)")
    parser.add_argument("--chars", type=int, default=20, help="characters typed, one at a time")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait per key")
    parser.add_argument(
        "--vscode-defaults",
        action="store_true",
        help="keep VS Code's default editor.quickSuggestions (offWhenInlineCompletions)",
    )
    parser.add_argument("--settle", type=float, default=0.3, help="pause after each key (s)")
    parser.add_argument("--vsix", help="the extension package (default: scripts/build_vscode.sh)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    results = run(args)
    quick = "VS Code's default" if args.vscode_defaults else "off"
    print(
        f"typed {results['typed']!r} after a warm-up completion; editor.quickSuggestions "
        f"{quick}; load {results['load']}"
    )
    warm = results["warm_up"]
    print(
        f"warm-up (cold prompt): visible {_fmt(warm['ui_ms'])} ms, "
        f"server {_fmt(warm['server_ms'])} ms"
    )
    print(f"{'ms':<44} {'n':>3} {'p50':>7} {'p95':>7}")
    for key, label in (
        ("ui_ms", "keystroke -> ghost text visible, all shown"),
        ("model_ui_ms", "answer from the model: keystroke -> visible"),
        ("model_server_ms", "... the server's total_ms for it"),
        ("model_diff_ms", "... difference (editor side)"),
        ("no_model_ui_ms", "typed-ahead or cache: keystroke -> visible"),
        ("no_model_diff_ms", "... difference (editor side)"),
        ("kept_ui_ms", "no new answer, VS Code kept its suggestion"),
    ):
        s = results[key]
        print(f"{label:<44} {s['n']:>3} {_fmt(s['p50']):>7} {_fmt(s['p95']):>7}")
    if results["no_ghost_text"]:
        print(f"no ghost text within {args.timeout:.0f} s after {results['no_ghost_text']} keys")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
