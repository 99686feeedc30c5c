"""The inline completion pipeline: decide, build the prompt, stream from the model, clean up.

Pure of LSP types. Blocking work (tree-sitter, prompt assembly) runs in a worker thread so the
event loop stays free; cancelling the calling task closes the model stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assist_server.backends import Backend, BackendConfigError
from assist_server.config import FIM_FAMILIES, CompletionSettings
from assist_server.context.budget import PromptSpeed, estimate_tokens
from assist_server.context.retrieval import Retrieval, SnippetSource
from assist_server.context.window import Window, cursor_window
from assist_server.engine.postprocess import Shape, postprocess, settled
from assist_server.prompts.fim import (
    FimTemplate,
    render_fim,
    resolve_template,
    snippet_comments,
)
from assist_server.syntax.cursor import analyse_cursor, longest_parsable
from assist_server.syntax.languages import language_id
from assist_server.types import CompletionRequest, CompletionResult, GenerateRequest, Timings

log = logging.getLogger(__name__)

CACHE_SIZE = 256


@dataclass(frozen=True)
class _Cursor:
    """What the cursor analysis found: the completion's shape and the window around it."""

    shape: Shape
    language: str
    window: Window
    window_lines: tuple[int, int]  # 1-based lines of the document inside the window


@dataclass(frozen=True)
class _Prepared:
    """Everything computed before the model call."""

    request: GenerateRequest
    shape: Shape
    language: str
    window_prefix: str
    window_suffix: str
    stops: tuple[str, ...]
    retrieval: Retrieval


@dataclass(frozen=True)
class _Shown:
    """The last suggestion per document, to serve typed-ahead characters without the model."""

    before: str
    after: str
    text: str


class CompletionEngine:
    """Turns a `CompletionRequest` into a suggestion using one backend and the settings."""

    def __init__(
        self,
        backend: Backend,
        settings: CompletionSettings,
        retriever: SnippetSource | None = None,
        speed: PromptSpeed | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.retriever = retriever
        self.speed = speed or PromptSpeed()
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._shown: dict[str, _Shown] = {}
        self._last_prompt = ""

    def forget(self, document_key: str) -> None:
        """Drop what is remembered for a closed document."""
        self._shown.pop(document_key, None)

    def template(self) -> FimTemplate | None:
        """The FIM template in effect; None means "let the backend apply the model's own"."""
        template = resolve_template(self.settings.fim_template, self.settings.model)
        if template is None and not self.backend.capabilities.native_fim:
            raise BackendConfigError(
                f"Cannot tell the fill-in-the-middle format of model '{self.settings.model}': set "
                "completion.fimTemplate to one of "
                + ", ".join(FIM_FAMILIES)
                + " or a custom {prefix, suffix, middle, stop} object.",
                url=self.backend.url,
                model=self.settings.model,
            )
        return template

    async def complete(self, request: CompletionRequest) -> CompletionResult:
        """Produce the suggestion for one request (empty text: no suggestion)."""
        started = time.perf_counter()
        timings = Timings()
        if not self.settings.enabled:
            return CompletionResult("", source="skipped", reason="completion.enabled is false")
        typed = self._typed_ahead(request)
        if typed is not None:
            timings.total_ms = (time.perf_counter() - started) * 1000
            return CompletionResult(typed, source="typed-ahead", timings=timings)

        template = self.template()
        cursor = await asyncio.to_thread(self._analyse, request)
        if isinstance(cursor, str):
            timings.prepare_ms = (time.perf_counter() - started) * 1000
            timings.total_ms = timings.prepare_ms
            return CompletionResult("", source="skipped", reason=cursor, timings=timings)
        retrieval = await self._retrieve(request, cursor, timings)
        prepared = self._prepare(request, template, cursor, retrieval)
        timings.prepare_ms = (time.perf_counter() - started) * 1000

        key = self._cache_key(prepared.request)
        prompt_tokens = estimate_tokens(prepared.request.prompt)
        if key in self._cache:
            self._cache.move_to_end(key)
            text = self._cache[key]
            source, output_tokens = "cache", 0
        else:
            raw, output_tokens = await self._generate(prepared, timings)
            self._measure(prepared.request.prompt, timings)
            post_start = time.perf_counter()
            text = await asyncio.to_thread(self._clean, raw, prepared)
            timings.postprocess_ms = (time.perf_counter() - post_start) * 1000
            self._remember(key, text)
            source = "model"
        self._shown[request.document_key] = _Shown(
            request.text[: request.offset], request.text[request.offset :], text
        )
        timings.total_ms = (time.perf_counter() - started) * 1000
        return CompletionResult(
            text,
            source=source,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            multiline=prepared.shape.multiline,
            timings=timings,
            snippet_sources=prepared.retrieval.sources,
        )

    def _typed_ahead(self, request: CompletionRequest) -> str | None:
        """If the user typed the start of the last suggestion, the rest of it."""
        shown = self._shown.get(request.document_key)
        if shown is None or not shown.text:
            return None
        before = request.text[: request.offset]
        if request.text[request.offset :] != shown.after or not before.startswith(shown.before):
            return None
        typed = before[len(shown.before) :]
        if typed and shown.text.startswith(typed) and len(typed) < len(shown.text):
            return shown.text[len(typed) :]
        return None

    def _analyse(self, request: CompletionRequest) -> _Cursor | str:
        """Whether and how to complete here, and the window around the cursor (or why not)."""
        language = language_id(request.language, request.path)
        cursor = analyse_cursor(request.text, request.offset, language)
        if not cursor.complete:
            return cursor.reason
        window = cursor_window(request.text, request.offset, self.settings.context_tokens)
        before_lines = window.prefix.rstrip().split("\n")
        shape = Shape(
            multiline=cursor.multiline,
            indent=cursor.indent,
            line_after=cursor.line_after,
            last_line_before=before_lines[-1] if len(before_lines) > 1 else "",
            suffix=window.suffix,
            max_lines=self.settings.max_lines,
        )
        cursor_line = request.text.count("\n", 0, request.offset) + 1
        lines = (window.prefix_start_line + 1, cursor_line + window.suffix.count("\n"))
        return _Cursor(shape, language, window, lines)

    def prepare_sync(
        self, request: CompletionRequest, template: FimTemplate | None
    ) -> _Prepared | str:
        """The whole preparation in the calling thread, waiting for retrieval however long.

        For `assist-server context`, `assist.showContext` and the benchmarks: what the prompt for
        this cursor is, or why there is none.
        """
        cursor = self._analyse(request)
        if isinstance(cursor, str):
            return cursor
        return self._prepare(request, template, cursor, self.snippets(request, cursor))

    def context_report(self, request: CompletionRequest) -> dict[str, Any]:
        """What a completion at this cursor would put in the prompt, for people to read.

        `{"snippets": [{"path", "start_line", "end_line", "source", "score", "tokens"}],
        "prompt_tokens": N}`; paths are relative to the workspace root, lines 1-based inclusive.
        When nothing would be asked, "skipped" says why.
        """
        prepared = self.prepare_sync(request, self.template())
        if isinstance(prepared, str):
            return {"snippets": [], "prompt_tokens": 0, "skipped": prepared}
        retrieval = prepared.retrieval
        return {
            "snippets": [
                {
                    "path": snippet.path,
                    "start_line": snippet.start_line,
                    "end_line": snippet.end_line,
                    "source": snippet.source,
                    "score": round(snippet.score, 4),
                    "tokens": tokens,
                }
                for snippet, tokens in zip(retrieval.snippets, retrieval.tokens, strict=True)
            ],
            "prompt_tokens": estimate_tokens(prepared.request.prompt),
        }

    def snippets(self, request: CompletionRequest, cursor: _Cursor) -> Retrieval:
        """Cross-file snippets for an analysed cursor, however long they take (blocking)."""
        if self.retriever is None:
            return Retrieval()
        return self.retriever.retrieve(
            request.path,
            request.text,
            request.offset,
            cursor.window_lines,
            self.snippet_budget(cursor.window),
        )

    def snippet_budget(self, window: Window) -> int:
        """Tokens of cross-file context for this prompt (adapts to the measured prompt speed)."""
        return self.speed.snippet_budget(
            self.settings.snippet_tokens,
            self.settings.target_latency_ms,
            window.prefix_tokens + window.suffix_tokens,
        )

    async def _retrieve(
        self, request: CompletionRequest, cursor: _Cursor, timings: Timings
    ) -> Retrieval:
        """Cross-file snippets, or none if they take longer than the retrieval timeout.

        A late answer is not wasted: the retriever caches it for the next keystroke.
        """
        if self.retriever is None:
            return Retrieval()
        started = time.perf_counter()
        work = asyncio.ensure_future(asyncio.to_thread(self.snippets, request, cursor))
        try:
            return await asyncio.wait_for(
                asyncio.shield(work), self.settings.retrieval_timeout_ms / 1000
            )
        except TimeoutError:
            log.info("cross-file context took longer than completion.retrievalTimeoutMs")
            return Retrieval()
        finally:
            timings.retrieval_ms = (time.perf_counter() - started) * 1000

    def _prepare(
        self,
        request: CompletionRequest,
        template: FimTemplate | None,
        cursor: _Cursor,
        retrieval: Retrieval,
    ) -> _Prepared:
        shape, window = cursor.shape, cursor.window
        repo, path = self._names(request)
        stops: tuple[str, ...] = ()
        if template is None:  # the backend applies the model's own FIM template
            head = snippet_comments(retrieval.snippets, cursor.language, path)
            prompt, suffix = head + window.prefix, window.suffix
        else:
            prompt = render_fim(
                template,
                window.prefix,
                window.suffix,
                language=cursor.language,
                path=path,
                repo=repo,
                snippets=retrieval.snippets,
            )
            suffix, stops = None, template.stop
        if not shape.multiline:
            # The model server stops at the end of the line too: llama.cpp's server went on to
            # max_tokens after we closed the stream, and its CPU went to the next request.
            stops = (*stops, "\n")
        generate = GenerateRequest(
            model=self.settings.model,
            prompt=prompt,
            suffix=suffix,
            max_tokens=self.settings.max_tokens
            if shape.multiline
            else min(self.settings.max_tokens, 64),
            temperature=self.settings.temperature,
            stop=stops,
            context_tokens=self.settings.context_tokens,
        )
        return _Prepared(
            generate, shape, cursor.language, window.prefix, window.suffix, stops, retrieval
        )

    def _names(self, request: CompletionRequest) -> tuple[str | None, str | None]:
        """Repository name and the file's path as the prompt shows them (relative if indexed)."""
        if self.retriever is None or not request.path:
            return None, request.path
        index = self.retriever.index_for(Path(request.path))
        rel = index.relative(Path(request.path)) if index is not None else None
        if index is None or rel is None:
            return None, request.path
        return index.root.name, rel

    def _measure(self, prompt: str, timings: Timings) -> None:
        """Feed the prompt speed: new tokens (after the prefix shared with the last prompt)."""
        if timings.first_token_ms is not None:
            shared = len(os.path.commonprefix([self._last_prompt, prompt]))
            self.speed.observe(estimate_tokens(prompt[shared:]), timings.first_token_ms)
        self._last_prompt = prompt

    async def _generate(self, prepared: _Prepared, timings: Timings) -> tuple[str, int]:
        """Stream from the backend until the suggestion is settled, then close the stream."""
        started = time.perf_counter()
        pieces: list[str] = []
        raw = ""
        try:
            stream = self.backend.stream_completion(prepared.request)
            async with contextlib.aclosing(stream):
                async for piece in stream:
                    if timings.first_token_ms is None:
                        timings.first_token_ms = (time.perf_counter() - started) * 1000
                    pieces.append(piece)
                    raw += piece
                    if settled(raw, prepared.shape, prepared.stops):
                        break
        finally:
            timings.model_ms = (time.perf_counter() - started) * 1000
        return raw, len(pieces)

    def _clean(self, raw: str, prepared: _Prepared) -> str:
        text = postprocess(raw, prepared.shape, prepared.stops)
        return longest_parsable(
            prepared.language, prepared.window_prefix, text, prepared.window_suffix
        )

    def _cache_key(self, request: GenerateRequest) -> str:
        digest = hashlib.blake2b(digest_size=16)
        for part in (
            request.model,
            str(request.max_tokens),
            str(request.temperature),
            request.prompt,
            request.suffix or "",
            str(self.settings.max_lines),
        ):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\x00")
        return digest.hexdigest()

    def _remember(self, key: str, text: str) -> None:
        self._cache[key] = text
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
