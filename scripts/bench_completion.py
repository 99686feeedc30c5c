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
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import re
import signal
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient

from assist_server.backends.base import BackendCapabilities
from assist_server.config import parse_settings
from assist_server.context.budget import estimate_tokens
from assist_server.context.window import cursor_window
from assist_server.engine.completion import CompletionEngine
from assist_server.engine.postprocess import postprocess
from assist_server.prompts.fim import FimTemplate, render_fim
from assist_server.syntax.cursor import analyse_cursor, longest_parsable
from assist_server.syntax.languages import parse
from assist_server.types import CompletionRequest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fetch_model  # noqa: E402
from bench_stats import p50, summary  # noqa: E402
from llama_stack import MODEL_ALIAS, LlamaServer, inline_client_capabilities, server_command  # noqa: E402,I001

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


def loadavg() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


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


async def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    # SIGTERM takes the same way out as Ctrl-C: cancel, so that every `finally` stops its server.
    main_task = asyncio.current_task()
    if main_task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    files = corpus(args.files, args.seed)
    if not files:
        log("bench: no candidate files found in the venv's site-packages")
        return 2
    load_at_start = loadavg()
    log(f"bench: {len(files)} files picked (seed {args.seed}); load {load_at_start}")
    logs = fetch_model.cache_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    server_log = logs / "bench-assist-server.log"
    server_log.unlink(missing_ok=True)
    sent: list[Sent] = []
    with LlamaServer(logs / "bench-llama.log") as llama:
        log(f"bench: model server at {llama.url} ({time.monotonic() - started:.0f} s)")
        client = LanguageClient("assist-bench", "0.1")
        await client.start_io(*server_command(), "--stdio", "-v", "--log-file", str(server_log))
        try:
            await client.initialize_async(
                types.InitializeParams(
                    process_id=os.getpid(),
                    root_uri=files[0][0].parent.as_uri(),
                    capabilities=inline_client_capabilities(),
                    initialization_options=settings(llama.url),
                )
            )
            client.initialized(types.InitializedParams())
            editor = Editor(client, f"b{os.getpid()}")
            deadline = started + args.budget_seconds
            # Warm-up (excluded): loads the grammar and opens the HTTP connection once.
            warm_up = Cursor("def add(a, b):\n    ", 1, 4)
            editor.open((logs / "warm-up.py").as_uri(), warm_up.text)
            warm = await editor.ask("warm-up", "warm-up", warm_up, deadline)
            editor.close()
            log(f"bench: warm-up {warm.client_ms:.0f} ms (excluded)")
            sent = await drive(editor, files, args, deadline)
            if time.monotonic() > deadline:
                log(f"bench: stopped at the {args.budget_seconds:.0f} s budget")
        finally:
            await stop_server(client)
    read_server_log(server_log, sent)
    numbers = collect(sent)
    numbers["load_at_start"] = load_at_start
    numbers["load"] = loadavg()
    numbers["seconds"] = round(time.monotonic() - started, 1)
    numbers["server_log"] = str(server_log)
    out = sys.stderr if args.json else sys.stdout
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
    print(f"bench: {numbers['seconds']} s; server log {server_log}", file=out)
    if args.json:
        print(json.dumps(numbers, indent=2))
    if not numbers["sources"].get("model"):
        log("bench: no request reached the model")
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
