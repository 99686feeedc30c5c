#!/usr/bin/env python3
"""Measure the server's own overhead per inline completion against the real model.

Opens real Python files of well-known packages installed in the venv (code nobody on this project
wrote), asks `assist-server --stdio` for inline completions at deterministic cursors over JSON-RPC
like an editor, and reads the server's per-request log line. From one run it reports the server
overhead (total_ms - model_ms) next to the model's time to the first token, the pure pipeline cost
of requests that never reach the model (cache hits, typed-ahead, skipped cursors) and the
JSON-RPC + stdio cost seen by the client. Issue target: server overhead p50 <= 15 ms; when it is
missed (or with --profile) the pipeline stages are timed and profiled in-process on the same
cursors to show where the time goes.

Parts (each alone with its flag; no flag runs all three, one llama.cpp server shared):

  --overhead   the measurement above: site-packages files, index off.
  --retrieval  a workspace of >= --rows chunks (default 100000; 12 copies of 7 sdists with their
               symbol rows and real all-MiniLM-L6-v2 vectors, built once and cached, see
               bench_workspace.py) opened by assist-server with the index on: server overhead
               incl. retrieval p50/p95 from the log lines (targets 20 / 50 ms), then the engine
               in-process with an instant model on many cursors: retrieval_ms on cache misses and
               `Retrieval.tier_ms` per tier.
  --typing     at --typing-cursors cursors, prompts built as the engine builds them (window,
               retrieval on the large workspace, render_fim) and sent straight to llama.cpp (so
               the completion cache and typed-ahead never serve them): the first prompt, the same
               prompt again, then one more real character of the line per request
               (--keystrokes), for several suffix sizes and PSM/SPM order. Reports TTFT of the
               next keystroke next to that of the repeated prompt (target <= 2x), llama.cpp's
               prompt-eval speed and a fitted fixed + per-token cost.

Example: PYTHONPATH=server python scripts/bench_completion.py --retrieval --typing
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import io
import json
import os
import pstats
import random
import re
import signal
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient

from assist_server.backends import create_backend
from assist_server.backends.base import BackendCapabilities
from assist_server.config import parse_settings
from assist_server.context.budget import estimate_tokens
from assist_server.context.retrieval import ContextRetriever, Retrieval
from assist_server.context.window import cursor_window
from assist_server.engine.completion import CompletionEngine
from assist_server.engine.postprocess import postprocess
from assist_server.index.indexer import WorkspaceIndex
from assist_server.prompts.fim import FimTemplate, render_fim
from assist_server.syntax.cursor import analyse_cursor, longest_parsable
from assist_server.syntax.languages import parse
from assist_server.types import CompletionRequest, GenerateRequest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fetch_model  # noqa: E402
from bench_stats import loadavg, p50, summary  # noqa: E402
from bench_workspace import (  # noqa: E402
    EMBEDDING_MODEL,
    BenchWorkspace,
    index_settings,
    large_workspace,
    working_copy,
)
from llama_stack import (  # noqa: E402
    MODEL_ALIAS,
    LlamaServer,
    inline_client_capabilities,
    model_path,
    server_command,
)

TARGET_OVERHEAD_P50_MS = 15.0
# Hand-written modules of well-known packages the venv installs (generated files are filtered).
PACKAGES = (
    "pygls",
    "httpx",
    "httpcore",
    "lsprotocol",
    "ollama",
    "anyio",
    "pydantic",
    "h11",
    "click",
    "starlette",
    "jinja2",
    "attr",
    "cattrs",
    "packaging",
)
MIN_BYTES, MAX_BYTES = 2_000, 60_000
_GENERATED = re.compile(r"auto-?generated|automatically generated|do not edit", re.IGNORECASE)
_DEF = re.compile(r"^(\s*)(async\s+)?def\s+\w+\s*\(.*\).*:\s*(#.*)?$")
_WORDS = re.compile(r"[A-Za-z_]\w{5,}")
_FIELDS = re.compile(r"(\w+)=(\S+)")
# Requests per file, in order: the body of a function (the first model request on this file:
# a cold prompt), typing the start of that suggestion (served typed-ahead), the end of a line a
# few lines below in the original text (the prompt's head is shared: the model server reuses its
# cached prefix), the middle of a word (skipped), and that last request again (a cache hit).
PLAN = ("body", "typed", "near", "skip", "cache")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The corpus and the cursors


def corpus(count: int, seed: int) -> list[tuple[Path, str]]:
    """Up to `count` (path, label) pairs, round-robin over the packages, each shuffled (seeded).

    Round-robin keeps the first files diverse when a run uses only some of them.
    """
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    rng = random.Random(seed)
    queues: list[list[tuple[Path, str]]] = []
    for package in PACKAGES:
        base = site / package
        if not base.is_dir():
            continue
        found: list[tuple[Path, str]] = []
        for path in sorted(base.rglob("*.py")):
            resolved = path.resolve()
            if (
                not resolved.is_relative_to(site)
                or not MIN_BYTES <= path.stat().st_size <= MAX_BYTES
            ):
                continue  # a link out of site-packages may point into this repository's own code
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "\r" in text or "\x00" in text or _GENERATED.search(text[:2000]):
                continue
            found.append((path, str(path.relative_to(site))))
        rng.shuffle(found)
        if found:
            queues.append(found)
    picked: list[tuple[Path, str]] = []
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop())
    return picked


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def position(lines: Sequence[str], line: int, column: int) -> types.Position:
    """The LSP position (UTF-16 units) of a Python index into a line."""
    return types.Position(line=line, character=utf16_len(lines[line][:column]))


def offset_of(lines: Sequence[str], line: int, column: int) -> int:
    return sum(len(text) + 1 for text in lines[:line]) + column


@dataclass(frozen=True)
class Cursor:
    """A document text and a cursor in it (line and Python column)."""

    text: str
    line: int
    column: int

    @property
    def offset(self) -> int:
        """The cursor as an index into the text."""
        return offset_of(self.text.split("\n"), self.line, self.column)

    def lsp(self) -> types.Position:
        """The cursor as an LSP position."""
        return position(self.text.split("\n"), self.line, self.column)


def end_of_line(text: str, rng: random.Random) -> Cursor | None:
    """The end of a non-blank code line: "rest of the line" (or a block after an opener)."""
    lines = text.split("\n")
    picks = [
        i
        for i, line in enumerate(lines[:-1])
        if i >= 5 and len(line.strip()) >= 10 and not line.lstrip().startswith("#")
    ]
    if not picks:
        return None
    i = rng.choice(picks)
    return Cursor(text, i, len(lines[i]))


def line_below(text: str, line: int, within: int = 12) -> Cursor | None:
    """The end of a code line 2..`within` lines below `line`: the prompt's head is shared."""
    lines = text.split("\n")
    for i in range(line + 2, min(len(lines) - 1, line + within)):
        if len(lines[i].strip()) >= 10 and not lines[i].lstrip().startswith("#"):
            return Cursor(text, i, len(lines[i]))
    return None


def function_body(text: str, rng: random.Random) -> Cursor | None:
    """A new indented blank line right after a `def ...:` header: the body is to be written."""
    lines = text.split("\n")
    picks = [i for i, line in enumerate(lines[:-1]) if _DEF.match(line)]
    if not picks:
        return None
    i = rng.choice(picks)
    header_indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    indent = header_indent + "    "
    for following in lines[i + 1 :]:
        if following.strip():
            own = following[: len(following) - len(following.lstrip())]
            if len(own) > len(header_indent):
                indent = own
            break
    edited = [*lines[: i + 1], indent, *lines[i + 1 :]]
    return Cursor("\n".join(edited), i + 1, len(indent))


def inside_word(text: str, rng: random.Random) -> Cursor | None:
    """The middle of an identifier: the server should skip without asking the model."""
    lines = text.split("\n")
    picks = [(i, m) for i, line in enumerate(lines) for m in _WORDS.finditer(line)]
    if not picks:
        return None
    i, match = rng.choice(picks)
    return Cursor(text, i, match.start() + (match.end() - match.start()) // 2)


def type_ahead(cursor: Cursor, answer: str) -> Cursor | None:
    """The user typed the first few characters of the suggestion (on the cursor's line)."""
    first_line = answer.split("\n", 1)[0]
    typed = first_line[: min(3, len(answer) - 1)]
    if not typed:
        return None
    lines = cursor.text.split("\n")
    line = lines[cursor.line]
    lines[cursor.line] = line[: cursor.column] + typed + line[cursor.column :]
    return Cursor("\n".join(lines), cursor.line, cursor.column + len(typed))


# ---------------------------------------------------------------------------------------------
# Driving the server


@dataclass
class Sent:
    """One request the client sent, with what it saw."""

    rid: str
    file: str
    kind: str  # one of PLAN, or "warm-up"
    cursor: Cursor
    client_ms: float
    answer: str
    timed_out: bool = False
    server: dict[str, str] = field(default_factory=dict)


def settings(url: str) -> dict[str, Any]:
    return {
        "backend": {"kind": "openai", "url": url},
        "completion": {
            "model": MODEL_ALIAS,
            "fimTemplate": "qwen",
            "maxTokens": 32,
            "temperature": 0,
        },
        # Overhead without retrieval: the workspace index is not used by completions yet, and
        # indexing site-packages in the background would skew the timings.
        "index": {"enabled": False},
    }


class Editor:
    """One open document at a time, kept in sync with the server by full-text changes."""

    def __init__(self, client: LanguageClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.count = 0
        self.uri = ""
        self.text = ""
        self.version = 0

    def open(self, uri: str, text: str) -> None:
        """Open a document (didOpen)."""
        self.uri, self.text, self.version = uri, text, 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )

    def change(self, text: str) -> None:
        """Replace the whole text of the open document, if it differs (didChange)."""
        if text == self.text:
            return
        self.text = text
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def close(self) -> None:
        """Close the open document (didClose)."""
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri)
            )
        )

    async def ask(self, file: str, kind: str, cursor: Cursor, deadline: float) -> Sent:
        """Bring the document to the cursor's text and request an inline completion there.

        At `deadline` (time.monotonic) it is cancelled, as an editor would ($/cancelRequest).
        """
        self.change(cursor.text)
        self.count += 1
        rid = f"{self.prefix}-{self.count}"
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=self.uri),
            position=cursor.lsp(),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
        started = time.perf_counter()
        future = self.client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=rid
        )
        done, _ = await asyncio.wait({future}, timeout=max(0.0, deadline - time.monotonic()))
        client_ms = (time.perf_counter() - started) * 1000
        if not done:
            self.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=rid))
            # Wait for the server's RequestCancelled answer, so that no answer arrives late.
            await asyncio.wait({future}, timeout=10)
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: asyncio must not warn about it
            return Sent(rid, file, kind, cursor, client_ms, "", timed_out=True)
        result = future.result()
        items = result.items if isinstance(result, types.InlineCompletionList) else result or []
        answer = str(items[0].insert_text) if items else ""
        return Sent(rid, file, kind, cursor, client_ms, answer)


async def drive(
    editor: Editor, files: list[tuple[Path, str]], args: argparse.Namespace, deadline: float
) -> list[Sent]:
    """Per file, like an editor session: see PLAN."""
    sent: list[Sent] = []
    for path, label in files:
        if len(sent) >= args.requests or time.monotonic() > deadline:
            break
        text = path.read_text(encoding="utf-8")
        rng = random.Random(f"{args.seed}:{label}")
        editor.open(path.as_uri(), text)
        body: Sent | None = None
        near: Sent | None = None
        for kind in PLAN:
            if len(sent) >= args.requests or time.monotonic() > deadline:
                break
            cursor: Cursor | None = None
            if kind == "body":
                cursor = function_body(text, rng) or end_of_line(text, rng)
            elif kind == "typed" and body is not None:
                cursor = type_ahead(body.cursor, body.answer)
                if cursor is None:  # nothing to type: ask again instead (a cache hit)
                    kind, cursor = "cache", body.cursor
            elif kind == "near" and body is not None:
                # The header line in the original text is the line above the body cursor.
                cursor = line_below(text, body.cursor.line - 1) or end_of_line(text, rng)
            elif kind == "skip":
                cursor = inside_word(editor.text, rng)
            elif kind == "cache" and near is not None:
                cursor = near.cursor
            if cursor is None:
                continue
            result = await editor.ask(label, kind, cursor, deadline)
            sent.append(result)
            body = result if kind == "body" else body
            near = result if kind == "near" else near
            log(
                f"  [{len(sent):3d}/{args.requests}] {label}:{cursor.line + 1} {kind:5s} "
                f"{result.client_ms:7.0f} ms  "
                + (
                    "cancelled: over the time budget"
                    if result.timed_out
                    else repr(result.answer[:40])
                )
            )
        editor.close()
    return sent


def read_server_log(path: Path, sent: list[Sent]) -> None:
    """Attach each request's log line fields (matched by request id)."""
    by_id = {s.rid: s for s in sent}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = re.search(r" completion id=(\S+) (.*)$", line)
        if match is None or match.group(1) not in by_id:
            continue
        rest = match.group(2)
        fields = dict(_FIELDS.findall(rest))
        if "source" not in fields:  # "skipped: <reason>" (before the engine), "cancelled ..."
            first = rest.split()[0] if rest.strip() else "?"
            fields = {"source": "skipped-early" if first == "skipped:" else first, "reason": rest}
        by_id[match.group(1)].server = fields


async def stop_server(client: LanguageClient) -> None:
    """Shut the language server down politely, then by force; never hang."""
    try:
        await asyncio.wait_for(client.shutdown_async(None), timeout=10)
        client.exit(None)
    except (TimeoutError, ConnectionError, RuntimeError, JsonRpcException) as exc:
        log(f"bench: shutdown failed ({exc!r}); terminating the server")
    process = client._server  # pygls keeps the child; make sure it ends
    if process is not None and process.returncode is None:
        try:
            await asyncio.wait_for(process.wait(), timeout=5)
        except TimeoutError:
            process.kill()
    await asyncio.wait_for(client.stop(), timeout=10)  # type: ignore[no-untyped-call]


# ---------------------------------------------------------------------------------------------
# Numbers


def number(fields: dict[str, str], key: str) -> float | None:
    value = fields.get(key)
    try:
        return float(value) if value not in (None, "-") else None
    except ValueError:
        return None


def collect(sent: list[Sent]) -> dict[str, Any]:
    matched = [s for s in sent if s.server]
    sources = Counter(s.server.get("source", "?") for s in matched)
    model = [s for s in matched if s.server.get("source") == "model"]

    def values(requests: list[Sent], key: str) -> list[float]:
        return [v for s in requests if (v := number(s.server, key)) is not None]

    def overhead(requests: list[Sent]) -> list[float]:
        return [
            (number(s.server, "total_ms") or 0.0) - (number(s.server, "model_ms") or 0.0)
            for s in requests
        ]

    pipeline = {
        source: summary(overhead([s for s in matched if s.server.get("source") == source]))
        for source in ("cache", "typed-ahead", "skipped")
    }
    rpc = [
        s.client_ms - total for s in matched if (total := number(s.server, "total_ms")) is not None
    ]
    ttft = values(model, "first_token_ms")
    warm = values([s for s in model if s.kind == "near"], "first_token_ms")
    over = overhead(model)
    over_p50, ttft_p50, warm_p50 = p50(over), p50(ttft), p50(warm)
    return {
        "requests": len(sent),
        "matched_log_lines": len(matched),
        "files": len({s.file for s in sent}),
        "sources": dict(sources),
        "model": {
            "overhead_ms": summary(over),
            "prepare_ms": summary(values(model, "prepare_ms")),
            "post_ms": summary(values(model, "post_ms")),
            "first_token_ms": summary(ttft),
            "first_token_ms_cold": summary(
                values([s for s in model if s.kind == "body"], "first_token_ms")
            ),
            "first_token_ms_shared_prefix": summary(warm),
            "model_ms": summary(values(model, "model_ms")),
            "tokens_in": summary(values(model, "tokens_in")),
            "client_ms": summary([s.client_ms for s in model]),
            "overhead_over_ttft_p50": over_p50 / ttft_p50 if over_p50 and ttft_p50 else None,
            "overhead_over_shared_prefix_ttft_p50": (
                over_p50 / warm_p50 if over_p50 and warm_p50 else None
            ),
        },
        "pipeline_only_ms": pipeline,
        "client_minus_server_ms": summary(rpc),
        "target": {
            "overhead_p50_ms": TARGET_OVERHEAD_P50_MS,
            "met": None if over_p50 is None else over_p50 <= TARGET_OVERHEAD_P50_MS,
        },
    }


def fmt(value: float | int | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(numbers: dict[str, Any], load: str) -> str:
    out = io.StringIO()
    m = numbers["model"]
    src = numbers["sources"]
    w = out.write
    w(
        f"\n{numbers['requests']} requests on {numbers['files']} files; sources: "
        + ", ".join(f"{k} {v}" for k, v in sorted(src.items()))
        + f";\nload averages (1, 5, 15 min): {load}\n\n"
    )
    w(f"{'milliseconds':50s} {'p50':>8s} {'p95':>8s} {'max':>8s} {'n':>4s}\n")

    def row(name: str, s: dict[str, Any]) -> None:
        w(f"{name:50s} {fmt(s['p50']):>8s} {fmt(s['p95']):>8s} {fmt(s['max']):>8s} {s['n']:4d}\n")

    w("requests that went to the model\n")
    row("  server overhead (total_ms - model_ms)", m["overhead_ms"])
    row("    of which prepare_ms (decide + prompt)", m["prepare_ms"])
    row("    of which post_ms (clean-up)", m["post_ms"])
    row("  model time to first token", m["first_token_ms"])
    row("    first request on a file (cold prompt)", m["first_token_ms_cold"])
    row("    a few lines below (prompt head shared)", m["first_token_ms_shared_prefix"])
    row("  model_ms (first byte sent .. stream closed)", m["model_ms"])
    row("  client wall time", m["client_ms"])
    row("  prompt tokens (estimated)", m["tokens_in"])
    w("requests that never reach the model (pure pipeline: total_ms)\n")
    for source, s in numbers["pipeline_only_ms"].items():
        row(f"  {source}", s)
    w("all requests\n")
    row("  client wall - server total_ms (JSON-RPC, stdio)", numbers["client_minus_server_ms"])
    ratio = m["overhead_over_ttft_p50"]
    w(f"\noverhead / time to first token at p50: {fmt(ratio, 3)}")
    w(f" ({fmt(m['overhead_ms']['p50'])} ms vs {fmt(m['first_token_ms']['p50'])} ms)\n")
    warm = m["overhead_over_shared_prefix_ttft_p50"]
    w(f"overhead / time to first token with the prompt head shared, at p50: {fmt(warm, 3)}")
    w(f" (vs {fmt(m['first_token_ms_shared_prefix']['p50'])} ms)\n")
    target = numbers["target"]
    verdict = {True: "MET", False: "NOT MET", None: "NO DATA"}[target["met"]]
    w(
        f"target: server overhead p50 <= {target['overhead_p50_ms']:.0f} ms: {verdict} "
        f"(p50 {fmt(m['overhead_ms']['p50'])} ms)\n"
    )
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# In-process profile of the pipeline stages on the same cursors (no model, no LSP)


class InstantBackend:
    """A backend that answers at once with a canned text, to time the pipeline without a model."""

    capabilities = BackendCapabilities(name="instant", native_fim=False)
    url = "http://instant.invalid/v1"

    def __init__(self) -> None:
        self.answer = ""

    async def stream_completion(self, request: Any) -> AsyncGenerator[str, None]:
        """The canned answer in one piece."""
        yield self.answer

    async def stream_chat(
        self, model: str, messages: Sequence[Any], *, max_tokens: int, temperature: float
    ) -> AsyncGenerator[str, None]:
        """Nothing: chat is not timed here."""
        yield ""

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """Nothing: embeddings are not timed here."""
        return [[0.0] for _ in texts]

    async def list_models(self) -> list[str]:
        """The test model."""
        return [MODEL_ALIAS]

    async def aclose(self) -> None:
        """Nothing to release."""
        return None


def stage_ms(fn: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) * 1000 / repeat


def stages_of(
    engine: CompletionEngine,
    template: FimTemplate,
    request: CompletionRequest,
    prepared: Any,
    answer: str,
    repeat: int = 3,
) -> dict[str, float]:
    """Each stage of `_prepare` and `_clean` timed alone on one cursor (mean of `repeat`)."""
    text, offset, budget = request.text, request.offset, engine.settings.context_tokens
    window = cursor_window(text, offset, budget)
    prompt = prepared.request.prompt
    prefix, suffix = prepared.window_prefix, prepared.window_suffix
    return {
        "parse whole file (tree-sitter)": stage_ms(lambda: parse("python", text), repeat),
        "analyse_cursor (incl. that parse)": stage_ms(
            lambda: analyse_cursor(text, offset, "python"), repeat
        ),
        "cursor_window": stage_ms(lambda: cursor_window(text, offset, budget), repeat),
        "render_fim": stage_ms(
            lambda: render_fim(
                template, window.prefix, window.suffix, language="python", path=request.path
            ),
            repeat,
        ),
        "_prepare (the four above)": stage_ms(
            lambda: engine.prepare_sync(request, template), repeat
        ),
        "estimate_tokens(prompt)": stage_ms(lambda: estimate_tokens(prompt), repeat),
        "cache key": stage_ms(lambda: engine._cache_key(prepared.request), repeat),
        "postprocess": stage_ms(
            lambda: postprocess(answer, prepared.shape, prepared.stops), repeat
        ),
        "longest_parsable": stage_ms(
            lambda: longest_parsable("python", prefix, answer, suffix), repeat
        ),
        "_clean (postprocess + longest_parsable)": stage_ms(
            lambda: engine._clean(answer, prepared), repeat
        ),
    }


async def profile(cases: list[Sent], top: int) -> dict[str, Any]:
    """Time each stage of the engine on the cursors that went to the model, and cProfile them."""
    config = parse_settings(settings("http://instant.invalid/v1")).completion
    backend = InstantBackend()
    engine = CompletionEngine(backend, config)
    template = engine.template()
    assert template is not None
    parse("python", "x = 1\n")  # load the grammar outside the timings

    stages: dict[str, list[float]] = {}
    work: list[tuple[CompletionRequest, Any, str]] = []
    for case in cases:
        request = CompletionRequest(
            text=case.cursor.text,
            offset=case.cursor.offset,
            language="python",
            path=case.file,
            document_key=case.rid,
            request_id=case.rid,
        )
        prepared = engine.prepare_sync(request, template)
        if isinstance(prepared, str):
            continue
        work.append((request, prepared, case.answer))
        for name, ms in stages_of(engine, template, request, prepared, case.answer).items():
            stages.setdefault(name, []).append(ms)

    async def in_loop() -> None:
        for request, _prepared, answer in work:
            backend.answer = answer
            engine._cache.clear()
            engine._shown.clear()
            result = await engine.complete(request)
            stages.setdefault("engine.complete, instant backend", []).append(
                result.timings.total_ms
            )
            started = time.perf_counter()
            await asyncio.to_thread(lambda: None)
            stages.setdefault("asyncio.to_thread round trip", []).append(
                (time.perf_counter() - started) * 1000
            )

    await in_loop()

    profiler = cProfile.Profile()
    profiler.enable()
    for request, prepared, answer in work:
        for _ in range(3):
            engine.prepare_sync(request, template)
            engine._clean(answer, prepared)
    profiler.disable()
    report = io.StringIO()
    pstats.Stats(profiler, stream=report).sort_stats("tottime").print_stats(top)
    sizes = [float(len(request.text)) for request, _, _ in work]
    return {
        "cases": len(work),
        "document_chars": summary(sizes),
        "stages_ms": {name: summary(values) for name, values in stages.items()},
        "cprofile_by_tottime": report.getvalue(),
    }


def profile_table(found: dict[str, Any]) -> str:
    out = io.StringIO()
    w = out.write
    chars = found["document_chars"]
    w(
        f"\nin-process stage timings on the {found['cases']} model cursors (documents "
        f"p50 {fmt(chars['p50'], 0)} / max {fmt(chars['max'], 0)} characters; "
        "clean-up fed the final suggestion)\n"
    )
    w(f"{'milliseconds':48s} {'p50':>8s} {'p95':>8s} {'max':>8s}\n")
    for name, s in found["stages_ms"].items():
        w(f"  {name:46s} {fmt(s['p50'], 2):>8s} {fmt(s['p95'], 2):>8s} {fmt(s['max'], 2):>8s}\n")
    w("\ncProfile of _prepare + _clean on those cursors (x3), by own time:\n")
    lines = found["cprofile_by_tottime"].strip().split("\n")
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    w("\n".join(lines[start:]) + "\n")
    return out.getvalue()


# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Part 2: retrieval on a large workspace index


TARGET_RETRIEVAL_OVERHEAD_P50_MS = 20.0
TARGET_RETRIEVAL_OVERHEAD_P95_MS = 50.0


def workspace_files(root: Path, count: int, seed: int) -> list[tuple[Path, str]]:
    """Up to `count` Python files of the bench workspace, each a different original (seeded)."""
    rng = random.Random(seed)
    found = sorted(
        path for path in root.glob("copy*/**/*.py") if MIN_BYTES <= path.stat().st_size <= MAX_BYTES
    )
    rng.shuffle(found)
    picked: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for path in found:
        rel = path.relative_to(root).as_posix()
        inner = rel.split("/", 1)[1]
        if inner in seen:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if "\r" in text or "\x00" in text or _GENERATED.search(text[:2000]):
            continue
        seen.add(inner)
        picked.append((path, rel))
        if len(picked) >= count:
            break
    return picked


def retrieval_settings(url: str, store_path: Path) -> dict[str, Any]:
    """The bench settings with the workspace index (and so cross-file context) on."""
    chosen = settings(url)
    chosen["index"] = {
        "enabled": True,
        "path": str(store_path),
        "embeddingProvider": "sentence-transformers",
        "embeddingModel": EMBEDDING_MODEL,
    }
    return chosen


def _get(result: Any, key: str) -> Any:
    return result.get(key) if isinstance(result, dict) else getattr(result, key, None)


async def index_status(client: LanguageClient) -> Any:
    return await client.protocol.send_request_async("assist/status", None)


def first_python_file(root: Path) -> tuple[Path, str]:
    path = sorted(root.glob("copy000/**/*.py"))[0]
    return path, path.read_text(encoding="utf-8", errors="replace")


async def wait_until_ready(client: LanguageClient, editor: Editor, root: Path) -> None:
    """Wait for the server's first index pass, then for its embedder to load.

    The index is complete, so the pass finds nothing to do and the embedding model is never
    loaded; the vector tier only runs once it is (the completion path never loads a model). An
    edit that adds a function makes the server re-index and embed that file, as any first edit
    in a session does: the bench waits for that, so that all tiers run while it measures.
    """
    started = time.monotonic()
    while time.monotonic() - started < 900:
        status = await index_status(client)
        if _get(status, "state") in ("ready", "error"):
            break
        await asyncio.sleep(0.5)
    log(
        f"bench: index {_get(status, 'state')} after {time.monotonic() - started:.0f} s: "
        f"{_get(status, 'chunks')} chunks, {_get(status, 'embedded')} embedded"
    )
    path, text = first_python_file(root)
    editor.open(path.as_uri(), text)
    editor.change(text + "\n\ndef _bench_warm_up(value):\n    return value * 2\n")
    dipped, began = False, time.monotonic()
    while time.monotonic() - began < 120:
        await asyncio.sleep(0.25)
        status = await index_status(client)
        chunks, embedded = _get(status, "chunks") or 0, _get(status, "embedded") or 0
        dipped = dipped or embedded < chunks
        if dipped and embedded >= chunks:
            break
    editor.close()
    log(
        f"bench: embedder {'loaded' if dipped else 'NOT seen loading'} after "
        f"{time.monotonic() - began:.0f} s (re-index + embed of one edited file)"
    )


def tier_summary(found: list[Retrieval]) -> dict[str, Any]:
    tiers = sorted({tier for r in found for tier in r.tier_ms})
    return {tier: summary([r.tier_ms.get(tier, 0.0) for r in found]) for tier in tiers}


async def retrieval_in_process(
    workspace: BenchWorkspace, args: argparse.Namespace
) -> dict[str, Any]:
    """The engine's whole path with an instant model on many cursors: overhead incl. retrieval.

    Per cursor, first `engine.complete` on a retrieval-cache miss (the retrieval timeout is raised
    so the full cost shows), then the same query again with the retrieval cache cleared, timed
    per tier (`Retrieval.tier_ms`), then `engine.complete` once more on a retrieval-cache hit.
    """
    started = time.perf_counter()
    index = WorkspaceIndex(workspace.root, index_settings(workspace.store_path))
    index.embedder()  # loaded, as in a server that has embedded one edit (see wait_until_ready)
    index.refresh_vectors()
    open_seconds = time.perf_counter() - started
    retriever = ContextRetriever.over(index)
    options = settings("http://instant.invalid/v1")
    options["completion"]["retrievalTimeoutMs"] = 10_000
    backend = InstantBackend()
    backend.answer = "return None"
    engine = CompletionEngine(backend, parse_settings(options).completion, retriever)
    parse("python", "x = 1\n")
    files = workspace_files(workspace.root, args.retrieval_files, args.seed + 1)
    miss_overhead: list[float] = []
    miss_retrieval: list[float] = []
    hit_overhead: list[float] = []
    again: list[Retrieval] = []
    sources: Counter[str] = Counter()
    for n, (path, label) in enumerate(files):
        text = path.read_text(encoding="utf-8")
        rng = random.Random(f"{args.seed}:{label}")
        cursors = [function_body(text, rng), end_of_line(text, rng), end_of_line(text, rng)]
        for cursor in cursors:
            if cursor is None:
                continue
            request = CompletionRequest(
                text=cursor.text,
                offset=cursor.offset,
                language="python",
                path=str(path),
                document_key=label,
                request_id=f"r{n}",
            )
            engine._cache.clear()
            engine._shown.clear()
            result = await engine.complete(request)
            if result.source != "model":
                continue  # skipped before retrieval
            t = result.timings
            miss_overhead.append(t.total_ms - t.model_ms)
            miss_retrieval.append(t.retrieval_ms)
            sources.update(s for s in result.snippet_sources.split(",") if s != "-")
            analysed = engine._analyse(request)
            assert not isinstance(analysed, str)
            retriever._cache.clear()
            retriever._lookups.clear()  # every lookup again: the cost of a cold cursor
            again.append(engine.snippets(request, analysed))
            engine._cache.clear()
            engine._shown.clear()
            hit = await engine.complete(request)
            hit_overhead.append(hit.timings.total_ms - hit.timings.model_ms)
    return {
        "cursors": len(miss_overhead),
        "files": len(files),
        "open_seconds": round(open_seconds, 1),
        "overhead_miss_ms": summary(miss_overhead),
        "retrieval_miss_ms": summary(miss_retrieval),
        "overhead_hit_ms": summary(hit_overhead),
        "retrieve_again_ms": summary([sum(r.tier_ms.values()) for r in again]),
        "tier_ms": tier_summary(again),
        "vector_ran": sum(1 for r in again if r.tier_ms.get("vector", 0.0) > 0.5),
        "snippet_sources": dict(sources),
    }


async def retrieval_part(
    args: argparse.Namespace, llama: LlamaServer, workspace: BenchWorkspace, out: Any
) -> dict[str, Any]:
    """Server overhead incl. retrieval (real server, real model) and the in-process profile."""
    started = time.monotonic()
    load_at_start = loadavg()
    logs = fetch_model.cache_dir() / "logs"
    numbers: dict[str, Any] = {"workspace": workspace.manifest, "load_at_start": load_at_start}
    with tempfile.TemporaryDirectory(prefix="assist-bench-") as scratch:
        store = working_copy(workspace, Path(scratch))
        files = workspace_files(workspace.root, args.files, args.seed)
        server_log = logs / "bench-assist-server-retrieval.log"
        saved = args.requests
        args.requests = args.retrieval_requests
        try:
            sent = await serve_and_drive(
                llama,
                workspace.root,
                retrieval_settings(llama.url, store),
                files,
                args,
                server_log,
                time.monotonic() + args.budget_seconds + 900,
                prepare=lambda client, editor: wait_until_ready(client, editor, workspace.root),
            )
        finally:
            args.requests = saved
    server = collect(sent)
    model = [s for s in sent if s.server.get("source") == "model"]
    retrieval_ms = [v for s in model if (v := number(s.server, "retrieval_ms")) is not None]
    timeout = parse_settings().completion.retrieval_timeout_ms
    tiers: Counter[str] = Counter()
    for s in model:
        tiers.update(t for t in s.server.get("snippets", "-").split(",") if t != "-")
    numbers["server"] = {
        "requests": server["requests"],
        "sources": server["sources"],
        "overhead_ms": server["model"]["overhead_ms"],
        "retrieval_ms": summary(retrieval_ms),
        "retrieval_timeouts": sum(1 for v in retrieval_ms if v >= timeout),
        "retrieval_timeout_ms": timeout,
        "first_token_ms": server["model"]["first_token_ms"],
        "pipeline_only_ms": server["pipeline_only_ms"],
        "snippet_tiers": dict(tiers),
        "with_snippets": sum(1 for s in model if s.server.get("snippets", "-") != "-"),
        "log": str(server_log),
    }
    numbers["load_after_server"] = loadavg()
    log(f"bench: retrieval in-process on {args.retrieval_files} files; load {loadavg()}")
    numbers["in_process"] = await retrieval_in_process(workspace, args)
    numbers["load_at_end"] = loadavg()
    over = numbers["server"]["overhead_ms"]
    numbers["target"] = {
        "p50_ms": TARGET_RETRIEVAL_OVERHEAD_P50_MS,
        "p95_ms": TARGET_RETRIEVAL_OVERHEAD_P95_MS,
        "met_p50": None if over["p50"] is None else over["p50"] <= TARGET_RETRIEVAL_OVERHEAD_P50_MS,
        "met_p95": None if over["p95"] is None else over["p95"] <= TARGET_RETRIEVAL_OVERHEAD_P95_MS,
    }
    numbers["seconds"] = round(time.monotonic() - started, 1)
    print(retrieval_table(numbers), file=out, flush=True)
    return numbers


def retrieval_table(n: dict[str, Any]) -> str:
    out = io.StringIO()
    w = out.write
    ws = n["workspace"]
    w(
        f"\nretrieval on a {ws['chunks']}-chunk workspace index ({ws['files']} files in "
        f"{ws['copies']} copies of 7 sdists; symbol rows: {ws['definitions']} definitions, "
        f"{ws['imports']} imports, {ws['references']} references; {ws['embedded']} real "
        f"all-MiniLM-L6-v2 vectors)\nload averages: {n['load_at_start']} at the start, "
        f"{n['load_after_server']} after the server run, {n['load_at_end']} at the end\n\n"
    )
    w(f"{'milliseconds':58s} {'p50':>8s} {'p95':>8s} {'max':>8s} {'n':>4s}\n")

    def row(name: str, s: dict[str, Any]) -> None:
        w(f"{name:58s} {fmt(s['p50']):>8s} {fmt(s['p95']):>8s} {fmt(s['max']):>8s} {s['n']:4d}\n")

    sv = n["server"]
    w(f"assist-server over stdio, real model ({sv['requests']} requests; {sv['sources']})\n")
    row("  server overhead incl. retrieval (retrieval-cache misses)", sv["overhead_ms"])
    row("  retrieval_ms of those (waited, capped by the timeout)", sv["retrieval_ms"])
    row("  model time to first token", sv["first_token_ms"])
    for source, s in sv["pipeline_only_ms"].items():
        row(f"  pure pipeline: {source}", s)
    w(
        f"  retrieval timeouts ({sv['retrieval_timeout_ms']} ms): {sv['retrieval_timeouts']}; "
        f"prompts with snippets: {sv['with_snippets']}; snippets by tier: {sv['snippet_tiers']}\n"
    )
    ip = n["in_process"]
    w(
        f"engine in-process, instant model, timeout raised ({ip['cursors']} cursors in "
        f"{ip['files']} files; index opened in {ip['open_seconds']} s)\n"
    )
    row("  overhead incl. retrieval, retrieval-cache miss", ip["overhead_miss_ms"])
    row("  retrieval_ms on a miss", ip["retrieval_miss_ms"])
    row("  overhead on a retrieval-cache hit", ip["overhead_hit_ms"])
    row("  retrieve() again, cache cleared (sum of tiers)", ip["retrieve_again_ms"])
    for tier, s in ip["tier_ms"].items():
        row(f"    tier {tier}", s)
    w(f"  vector tier ran on {ip['vector_ran']} cursors; ")
    w(f"snippets by tier: {ip['snippet_sources']}\n")
    t = n["target"]
    w(
        f"target: overhead incl. retrieval p50 <= {t['p50_ms']:.0f} ms: {verdict(t['met_p50'])} "
        f"(p50 {fmt(sv['overhead_ms']['p50'])} ms); p95 <= {t['p95_ms']:.0f} ms: "
        f"{verdict(t['met_p95'])} (p95 {fmt(sv['overhead_ms']['p95'])} ms)\n"
    )
    return out.getvalue()


def verdict(met: bool | None) -> str:
    return {True: "MET", False: "NOT MET", None: "NO DATA"}[met]


# ---------------------------------------------------------------------------------------------
# Part 3: typing against the real llama.cpp server


TARGET_KEYSTROKE_RATIO = 2.0
TYPING_MAX_TOKENS = 8  # the first token is what is timed; a short answer keeps the run short
_PROMPT_EVAL = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")


@dataclass(frozen=True)
class Variant:
    """How a keystroke prompt is laid out.

    FIM order, most suffix lines (None: as cut), and whether the cursor line's typed text follows
    the middle marker (the engine's layout).
    """

    name: str
    order: str
    suffix_lines: int | None
    line_in_middle: bool = False


VARIANTS = (
    Variant("PSM, cursor line in middle (engine)", "psm", None, line_in_middle=True),
    Variant("PSM, suffix as cut (<= 12 lines)", "psm", None),
    Variant("PSM, suffix cut to 1 line", "psm", 1),
    Variant("PSM, no suffix", "psm", 0),
    Variant("SPM, suffix as cut", "spm", None),
)


@dataclass
class Typed:
    """One typing measurement: a prompt sent to llama.cpp and its first token."""

    variant: str
    kind: str  # "first", "repeat" or "keystroke"
    ttft_ms: float
    prompt_tokens: int
    new_tokens: int  # tokens after the prefix shared with the previous prompt
    suffix_tokens: int
    eval_ms: float | None = None  # llama.cpp's own prompt-eval time and token count
    eval_tokens: int | None = None


def typing_cursor(text: str, rng: random.Random, keystrokes: int) -> tuple[str, str, int] | None:
    """A line being written: the text without the rest of a code line, and what is typed next.

    Returns (text, characters to type, offset of the cursor); the cursor is a few characters
    into the line's code, the rest of the line is removed (the user has not written it yet) and
    the following lines form the suffix.
    """
    lines = text.split("\n")
    picks = [
        i
        for i, line in enumerate(lines[:-3])
        if i >= 8
        and len(line.strip()) >= keystrokes + 8
        and not line.lstrip().startswith(("#", '"', "'"))
    ]
    if not picks:
        return None
    i = rng.choice(picks)
    line = lines[i]
    column = len(line) - len(line.lstrip()) + 4
    typed = line[column : column + keystrokes]
    edited = [*lines[:i], line[:column], *lines[i + 1 :]]
    return "\n".join(edited), typed, offset_of(edited, i, column)


def cut_suffix(suffix: str, lines: int | None) -> str:
    """The first `lines` lines after the cursor's line (the rest of that line is kept)."""
    if lines is None:
        return suffix
    parts = suffix.split("\n")
    return "\n".join(parts[: lines + 1]) if lines else parts[0]


class LlamaLog:
    """The llama.cpp server's log, read from where the last request left it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.at = path.stat().st_size if path.exists() else 0

    def mark(self) -> None:
        """Read from the current end on."""
        self.at = self.path.stat().st_size

    def prompt_eval(self) -> tuple[float, int] | None:
        """The last prompt-eval timing (ms, tokens) written since the mark."""
        with self.path.open("rb") as fh:
            fh.seek(self.at)
            found = _PROMPT_EVAL.findall(fh.read().decode("utf-8", errors="replace"))
        return (float(found[-1][0]), int(found[-1][1])) if found else None


async def first_token(backend: Any, request: GenerateRequest) -> float:
    """Milliseconds to the first streamed piece; the answer is read to its end."""
    started = time.perf_counter()
    ttft: float | None = None
    stream = backend.stream_completion(request)
    async with contextlib.aclosing(stream):
        async for _piece in stream:
            if ttft is None:
                ttft = (time.perf_counter() - started) * 1000
    return ttft if ttft is not None else (time.perf_counter() - started) * 1000


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


async def typing_part(
    args: argparse.Namespace,
    llama: LlamaServer,
    workspace: BenchWorkspace,
    llama_log: Path,
    out: Any,
) -> dict[str, Any]:
    """Time to first token of the next keystroke next to that of the identical repeated prompt.

    Prompts are built in-process exactly as the engine builds them (cursor_window, the retriever
    on the large workspace, render_fim) and sent straight to the llama.cpp server through the
    project's OpenAI-compatible backend: the engine's completion cache and typed-ahead are thus
    bypassed by construction, and every keystroke reaches the model. Snippets are retrieved
    per keystroke like the server does (the query ignores the word being typed).
    """
    import llama_cpp

    started = time.monotonic()
    load_at_start = loadavg()
    vocab = llama_cpp.Llama(model_path=str(model_path()), vocab_only=True, verbose=False)

    def tokens(text: str) -> list[int]:
        return list(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    index = WorkspaceIndex(workspace.root, index_settings(workspace.store_path))
    index.embedder()
    index.refresh_vectors()
    retriever = ContextRetriever.over(index)
    options = settings(llama.url)
    options["completion"]["retrievalTimeoutMs"] = 10_000
    parsed = parse_settings(options)
    backend = create_backend(parsed.backend)
    engine = CompletionEngine(backend, parsed.completion, retriever)
    template_of_engine = engine.template()
    assert template_of_engine is not None
    files = workspace_files(workspace.root, args.typing_cursors * 3, args.seed + 2)
    reader = LlamaLog(llama_log)
    measured: list[Typed] = []
    snippet_changes = 0
    cursors = 0
    previous: list[int] = []
    try:
        for path, label in files:
            if cursors >= args.typing_cursors:
                break
            text = path.read_text(encoding="utf-8")
            picked = typing_cursor(text, random.Random(f"{args.seed}:{label}"), args.keystrokes)
            if picked is None:
                continue
            base, typed, offset = picked
            cursors += 1
            # The prompt parts per keystroke, as the engine would build them.
            steps = []
            last_snippets: Any = None
            for k in range(len(typed) + 1):
                doc = base[:offset] + typed[:k] + base[offset:]
                at = offset + k
                window = cursor_window(doc, at, parsed.completion.context_tokens)
                line = doc.count("\n", 0, at) + 1
                lines = (window.prefix_start_line + 1, line + window.suffix.count("\n"))
                found = retriever.retrieve(str(path), doc, at, lines, engine.snippet_budget(window))
                if last_snippets is not None and found.snippets != last_snippets:
                    snippet_changes += 1
                last_snippets = found.snippets
                steps.append((window, found.snippets))
            repo, rel = index.root.name, label
            log(f"  typing at {label}: {typed!r} ({len(steps[0][1])} snippets)")
            for variant in VARIANTS:
                template = dataclasses.replace(
                    template_of_engine, order=variant.order, line_in_middle=variant.line_in_middle
                )
                plan = [("first", 0), ("repeat", 0)]
                plan += [("keystroke", k) for k in range(1, len(steps))]
                plan += [("repeat", len(steps) - 1)]
                for kind, k in plan:
                    window, snippets = steps[k]
                    suffix = cut_suffix(window.suffix, variant.suffix_lines)
                    prompt = render_fim(
                        template,
                        window.prefix,
                        suffix,
                        language="python",
                        path=rel,
                        repo=repo,
                        snippets=snippets,
                    )
                    ids = tokens(prompt)
                    new = max(1, len(ids) - common_prefix(previous, ids[:-1]))
                    previous = ids
                    request = GenerateRequest(
                        model=MODEL_ALIAS,
                        prompt=prompt,
                        max_tokens=TYPING_MAX_TOKENS,
                        temperature=0.0,
                        stop=template.stop,
                    )
                    reader.mark()
                    ttft = await first_token(backend, request)
                    await asyncio.sleep(0.05)  # let the server write its timing line
                    evaluated = reader.prompt_eval()
                    measured.append(
                        Typed(
                            variant.name,
                            kind,
                            ttft,
                            len(ids),
                            new,
                            len(tokens(suffix)),
                            evaluated[0] if evaluated else None,
                            evaluated[1] if evaluated else None,
                        )
                    )
    finally:
        await backend.aclose()
    numbers = typing_numbers(measured)
    numbers.update(
        cursors=cursors,
        keystrokes=args.keystrokes,
        snippet_changes=snippet_changes,
        load_at_start=load_at_start,
        load_at_end=loadavg(),
        seconds=round(time.monotonic() - started, 1),
    )
    print(typing_table(numbers), file=out, flush=True)
    return numbers


def typing_numbers(measured: list[Typed]) -> dict[str, Any]:
    """Per variant: p50 TTFT of repeats and keystrokes, their ratio, tokens and eval speed."""
    per: dict[str, Any] = {}
    for variant in VARIANTS:
        rows = [m for m in measured if m.variant == variant.name]
        repeat = [m.ttft_ms for m in rows if m.kind == "repeat"]
        keys = [m for m in rows if m.kind == "keystroke"]
        key_ttft = [m.ttft_ms for m in keys]
        rp50, kp50 = p50(repeat), p50(key_ttft)
        per[variant.name] = {
            "repeat_ms": summary(repeat),
            "keystroke_ms": summary(key_ttft),
            "first_ms": summary([m.ttft_ms for m in rows if m.kind == "first"]),
            "ratio_p50": kp50 / rp50 if kp50 and rp50 else None,
            "suffix_tokens": summary([float(m.suffix_tokens) for m in keys]),
            "new_tokens": summary([float(m.new_tokens) for m in keys]),
            "prompt_tokens": summary([float(m.prompt_tokens) for m in keys]),
        }
    # llama.cpp's own prompt-eval speed, and a line fitted to TTFT = fixed + per_token * new.
    evals = [m for m in measured if m.eval_ms and m.eval_tokens]
    big = [m for m in evals if (m.eval_tokens or 0) >= 64]
    speed = p50([m.eval_tokens / (m.eval_ms / 1000) for m in big]) if big else None  # type: ignore[operator]
    xs = [float(m.new_tokens) for m in measured if m.kind != "first"]
    ys = [m.ttft_ms for m in measured if m.kind != "first"]
    fixed = per_token = None
    if len(xs) >= 3 and len(set(xs)) > 1:
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        per_token = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
        fixed = my - per_token * mx
    return {
        "variants": per,
        "prompt_eval_tokens_per_s": speed,
        "prompt_eval_samples": len(big),
        "fit_fixed_ms": fixed,
        "fit_ms_per_token": per_token,
        # With TTFT = fixed + b*new, the keystroke (new = suffix + ~3) stays within 2x of a
        # repeat (new = 1) while suffix tokens <= (fixed + b) / b - 3.
        "max_suffix_tokens_for_target": (
            (fixed + per_token) / per_token - 3 if fixed and per_token and per_token > 0 else None
        ),
        "requests": len(measured),
    }


def typing_table(n: dict[str, Any]) -> str:
    out = io.StringIO()
    w = out.write
    w(
        f"\ntyping against llama.cpp: {n['cursors']} cursors x {n['keystrokes']} keystrokes of "
        f"real text per layout, {n['requests']} requests ({n['seconds']} s); load "
        f"{n['load_at_start']} at the start, {n['load_at_end']} at the end\n"
        f"snippet lists that changed between keystrokes: {n['snippet_changes']}\n\n"
    )
    w(
        f"{'prompt layout':34s} {'suffix tok':>10s} {'new tok':>8s} {'repeat':>8s} "
        f"{'keystroke':>9s} {'kst p95':>8s} {'ratio':>6s} {'target':>8s}\n"
    )
    for name, v in n["variants"].items():
        ratio = v["ratio_p50"]
        met = None if ratio is None else ratio <= TARGET_KEYSTROKE_RATIO
        w(
            f"{name:34s} {fmt(v['suffix_tokens']['p50'], 0):>10s} "
            f"{fmt(v['new_tokens']['p50'], 0):>8s} {fmt(v['repeat_ms']['p50'], 0):>8s} "
            f"{fmt(v['keystroke_ms']['p50'], 0):>9s} {fmt(v['keystroke_ms']['p95'], 0):>8s} "
            f"{fmt(ratio, 2):>6s} {verdict(met):>8s}\n"
        )
    w(
        "(suffix/new tokens: p50 over keystrokes, real tokenizer; repeat/keystroke: p50 time to "
        "first token in ms; ratio = keystroke p50 / repeat p50; target <= "
        f"{TARGET_KEYSTROKE_RATIO:.0f}x)\n"
    )
    w(
        f"llama.cpp prompt eval (its own timing, batches >= 64 tokens): "
        f"{fmt(n['prompt_eval_tokens_per_s'], 0)} tokens/s p50 over {n['prompt_eval_samples']}; "
        f"fit TTFT = {fmt(n['fit_fixed_ms'], 0)} ms + {fmt(n['fit_ms_per_token'], 2)} ms x new "
        f"tokens: the 2x target holds up to ~{fmt(n['max_suffix_tokens_for_target'], 0)} "
        "suffix tokens\n"
    )
    return out.getvalue()


async def serve_and_drive(
    llama: LlamaServer,
    root: Path,
    init: dict[str, Any],
    files: list[tuple[Path, str]],
    args: argparse.Namespace,
    server_log: Path,
    deadline: float,
    prepare: Callable[[LanguageClient, Editor], Any] | None = None,
) -> list[Sent]:
    """Start `assist-server --stdio`, warm it up, drive PLAN over `files`, stop it."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(server_log)  # this run's lines only
    client = LanguageClient("assist-bench", "0.1")
    await client.start_io(*server_command(), "--stdio", "-v", "--log-file", str(server_log))
    try:
        await client.initialize_async(
            types.InitializeParams(
                process_id=os.getpid(),
                root_uri=root.as_uri(),
                capabilities=inline_client_capabilities(),
                initialization_options=init,
            )
        )
        client.initialized(types.InitializedParams())
        editor = Editor(client, f"b{os.getpid()}-{server_log.stem}")
        if prepare is not None:
            await prepare(client, editor)
        # Warm-up (excluded): loads the grammar and opens the HTTP connection once.
        warm_up = Cursor("def add(a, b):\n    ", 1, 4)
        editor.open((server_log.parent / "warm-up.py").as_uri(), warm_up.text)
        warm = await editor.ask("warm-up", "warm-up", warm_up, deadline)
        editor.close()
        log(f"bench: warm-up {warm.client_ms:.0f} ms (excluded)")
        sent = await drive(editor, files, args, deadline)
        if time.monotonic() > deadline:
            log(f"bench: stopped at the {args.budget_seconds:.0f} s budget")
    finally:
        await stop_server(client)
    read_server_log(server_log, sent)
    return sent


async def overhead_part(
    args: argparse.Namespace, llama: LlamaServer, out: Any
) -> dict[str, Any] | None:
    """The original measurement: site-packages files, no index, no retrieval."""
    started = time.monotonic()
    files = corpus(args.files, args.seed)
    if not files:
        log("bench: no candidate files found in the venv's site-packages")
        return None
    load_at_start = loadavg()
    log(f"bench: overhead: {len(files)} files picked (seed {args.seed}); load {load_at_start}")
    logs = fetch_model.cache_dir() / "logs"
    server_log = logs / "bench-assist-server.log"
    sent = await serve_and_drive(
        llama,
        files[0][0].parent,
        settings(llama.url),
        files,
        args,
        server_log,
        started + args.budget_seconds,
    )
    numbers = collect(sent)
    numbers["load_at_start"] = load_at_start
    numbers["load"] = loadavg()
    numbers["seconds"] = round(time.monotonic() - started, 1)
    numbers["server_log"] = str(server_log)
    load = f"{load_at_start} at the start, {numbers['load']} at the end"
    print(table(numbers, load), file=out, flush=True)
    if numbers["matched_log_lines"] < len(sent):
        print(
            f"warning: {len(sent) - numbers['matched_log_lines']} requests had no log line",
            file=out,
        )
    if args.profile or numbers["target"]["met"] is False:
        cases = [s for s in sent if s.server.get("source") == "model"]
        if cases:
            found = await profile(cases, args.top)
            print(profile_table(found), file=out, flush=True)
            numbers["profile"] = {k: v for k, v in found.items() if k != "cprofile_by_tottime"}
    print(f"bench: overhead part {numbers['seconds']} s; server log {server_log}", file=out)
    if not numbers["sources"].get("model"):
        log("bench: no request reached the model")
    return numbers


def summary_table(results: dict[str, Any]) -> str:
    """One table of every target measured in this run."""
    out = io.StringIO()
    w = out.write
    w(
        f"\nsummary ({results['seconds']} s; load {results['load_at_start']} at the start, "
        f"{results['load_at_end']} at the end)\n"
    )
    w(f"{'target':62s} {'measured':>18s}  verdict\n")
    overhead = results.get("overhead")
    if overhead:
        value = overhead["model"]["overhead_ms"]["p50"]
        w(
            f"{'server overhead p50 <= 15 ms (no index)':62s} {fmt(value) + ' ms':>18s}  "
            f"{verdict(overhead['target']['met'])}\n"
        )
    retrieval = results.get("retrieval")
    if retrieval:
        ws = retrieval["workspace"]["chunks"]
        over = retrieval["server"]["overhead_ms"]
        t = retrieval["target"]
        w(
            f"{f'overhead incl. retrieval p50 <= 20 ms ({ws} chunks)':62s} "
            f"{fmt(over['p50']) + ' ms':>18s}  {verdict(t['met_p50'])}\n"
        )
        w(
            f"{f'overhead incl. retrieval p95 <= 50 ms ({ws} chunks)':62s} "
            f"{fmt(over['p95']) + ' ms':>18s}  {verdict(t['met_p95'])}\n"
        )
        ip = retrieval["in_process"]["retrieval_miss_ms"]
        w(
            f"{'  (retrieval_ms on misses, in-process, p50 / p95)':62s} "
            f"{fmt(ip['p50']) + ' / ' + fmt(ip['p95']) + ' ms':>18s}\n"
        )
    typing = results.get("typing")
    if typing:
        for name, v in typing["variants"].items():
            ratio = v["ratio_p50"]
            met = None if ratio is None else ratio <= TARGET_KEYSTROKE_RATIO
            label = f"next-keystroke TTFT <= 2x repeat: {name}"
            shown = (
                f"{fmt(v['keystroke_ms']['p50'], 0)}/{fmt(v['repeat_ms']['p50'], 0)} ms "
                f"{fmt(ratio, 1)}x"
            )
            w(f"{label:62s} {shown:>18s}  {verdict(met)}\n")
    return out.getvalue()


async def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    # SIGTERM takes the same way out as Ctrl-C: cancel, so that every `finally` stops its server.
    main_task = asyncio.current_task()
    if main_task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    parts = [p for p in ("overhead", "retrieval", "typing") if getattr(args, p)]
    if not parts:
        parts = ["overhead", "retrieval", "typing"]
    out = sys.stderr if args.json else sys.stdout
    logs = fetch_model.cache_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"parts": parts, "load_at_start": loadavg()}
    workspace = None
    if "retrieval" in parts or "typing" in parts:
        workspace = large_workspace(args.rows)
    llama_log = logs / "bench-llama.log"
    with LlamaServer(llama_log) as llama:
        log(f"bench: model server at {llama.url} ({time.monotonic() - started:.0f} s)")
        if "overhead" in parts:
            results["overhead"] = await overhead_part(args, llama, out)
        if workspace is not None and "retrieval" in parts:
            results["retrieval"] = await retrieval_part(args, llama, workspace, out)
        if workspace is not None and "typing" in parts:
            results["typing"] = await typing_part(args, llama, workspace, llama_log, out)
    results["load_at_end"] = loadavg()
    results["seconds"] = round(time.monotonic() - started, 1)
    print(summary_table(results), file=out, flush=True)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    overhead = results.get("overhead")
    if overhead is not None and not overhead["sources"].get("model"):
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=60, help="requests to send (default 60)")
    parser.add_argument(
        "--files", type=int, default=30, help="files to sample (default 30; 5 requests each)"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed for files and cursors")
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=240.0,
        help="after this many seconds send no new request and cancel a running one (default 240)",
    )
    parser.add_argument(
        "--overhead", action="store_true", help="part 1: overhead without the index"
    )
    parser.add_argument(
        "--retrieval", action="store_true", help="part 2: overhead incl. retrieval at --rows"
    )
    parser.add_argument(
        "--typing", action="store_true", help="part 3: next-keystroke vs repeated-prompt TTFT"
    )
    parser.add_argument(
        "--rows", type=int, default=100_000, help="chunks in the retrieval workspace (100000)"
    )
    parser.add_argument(
        "--retrieval-requests",
        type=int,
        default=50,
        help="requests of the server run on the large workspace (default 50)",
    )
    parser.add_argument(
        "--retrieval-files",
        type=int,
        default=60,
        help="files of the in-process retrieval run, 3 cursors each (default 60)",
    )
    parser.add_argument(
        "--typing-cursors", type=int, default=4, help="cursors of the typing part (default 4)"
    )
    parser.add_argument(
        "--keystrokes", type=int, default=10, help="characters typed per cursor (default 10)"
    )
    parser.add_argument("--profile", action="store_true", help="profile even if the target is met")
    parser.add_argument("--top", type=int, default=15, help="functions in the cProfile listing")
    parser.add_argument(
        "--json", action="store_true", help="also print the numbers as JSON (table to stderr)"
    )
    args = parser.parse_args()
    try:
        return asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("bench: interrupted; everything started was stopped")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
