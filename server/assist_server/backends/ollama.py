"""Ollama's native API through the official `ollama` client: /api/generate, /api/chat, /api/tags.

FIM is sent `raw` with our own template when we know the model family, or through Ollama's
`suffix` parameter (the model's own template) when the FIM template is "auto" and the family is
unknown to us. `options.num_ctx` is sized to the prompt so Ollama does not silently cut it to its
2048-token default.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import httpx
import ollama
import pydantic

from assist_server.backends.base import BackendCapabilities
from assist_server.backends.errors import BackendError, MalformedResponse, ModelNotFound
from assist_server.backends.http import (
    auth_headers,
    status_error,
    timeout,
    translate_transport_error,
)
from assist_server.config import BackendSettings
from assist_server.types import ChatMessage, GenerateRequest

log = logging.getLogger(__name__)

# What the client raises for a server that is down, refuses, or does not speak Ollama's API.
_FAILURES = (
    ollama.ResponseError,
    httpx.HTTPError,
    ConnectionError,
    json.JSONDecodeError,
    pydantic.ValidationError,
)

START_HINT = "start Ollama (`ollama serve`) or fix backend.url."


def _keep_alive(value: str) -> str | float:
    """Ollama takes a duration string ("30m") or a number of seconds (-1: forever)."""
    try:
        return float(value)
    except ValueError:
        return value


class OllamaBackend:
    """Talks to an Ollama server."""

    capabilities = BackendCapabilities(name="ollama", native_fim=True, embeddings=True)

    def __init__(
        self, settings: BackendSettings, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.url = settings.url.rstrip("/")
        self._keep_alive = _keep_alive(settings.keep_alive)
        extra: dict[str, Any] = {"transport": transport} if transport else {}
        self._client = ollama.AsyncClient(
            host=self.url, headers=auth_headers(settings), timeout=timeout(settings), **extra
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client._client.aclose()

    def _not_found(self, model: str) -> BackendError:
        if not model:  # a 404 on GET /api/tags: whatever answers, it is not Ollama
            return MalformedResponse(
                f"{self.url}/api/tags does not exist: is backend.url an Ollama server "
                '(or should backend.kind be "openai")?',
                url=self.url,
            )
        return ModelNotFound(
            f"Model '{model}' is not on the Ollama server at {self.url}: "
            f"run `ollama pull {model}`.",
            url=self.url,
            model=model,
        )

    def _translate(self, exc: Exception, model: str) -> BackendError:
        if isinstance(exc, ollama.ResponseError):
            status = exc.status_code if exc.status_code > 0 else 500
            return status_error(
                status,
                str(exc.error),
                url=self.url,
                model=model,
                not_found=lambda: self._not_found(model),
            )
        mapped = translate_transport_error(exc, url=self.url, model=model, start_hint=START_HINT)
        if mapped is not None:
            return mapped
        return MalformedResponse(
            f"The server at {self.url} did not answer like Ollama ({type(exc).__name__}: "
            f"{str(exc)[:120]}): is backend.kind right?",
            url=self.url,
            model=model,
        )

    async def _guard(
        self, stream: AsyncIterator[Any], model: str, field: str
    ) -> AsyncGenerator[str, None]:
        """Yield the text field of each streamed part, mapping every failure to BackendError."""
        try:
            async for part in stream:
                value = (
                    part.get(field)
                    if field == "response"
                    else (part.get("message") or {}).get("content")
                )
                if value:
                    yield str(value)
        except BackendError:
            raise
        except (
            *_FAILURES,
            TypeError,
            AttributeError,
        ) as exc:
            raise self._translate(exc, model) from exc
        finally:
            # Close the HTTP response now, not whenever the generator is garbage-collected.
            if isinstance(stream, AsyncGenerator):
                await stream.aclose()

    async def stream_completion(self, request: GenerateRequest) -> AsyncGenerator[str, None]:
        """Stream /api/generate: raw with our template, or prompt+suffix for the model's own."""
        options: dict[str, Any] = {
            "num_predict": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            options["stop"] = list(request.stop)
        if request.context_tokens:
            options["num_ctx"] = _num_ctx(request.context_tokens + request.max_tokens)
        # With a suffix Ollama applies the model's own FIM template; without, our prompt is raw.
        fim: dict[str, Any] = (
            {"suffix": request.suffix} if request.suffix is not None else {"raw": True}
        )
        try:
            stream = await self._client.generate(
                model=request.model,
                prompt=request.prompt,
                stream=True,
                options=options,
                keep_alive=self._keep_alive,
                **fim,
            )
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as exc:
            raise self._translate(exc, request.model) from exc
        async with contextlib.aclosing(self._guard(stream, request.model, "response")) as pieces:
            async for piece in pieces:
                yield piece

    async def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> AsyncGenerator[str, None]:
        """Stream /api/chat."""
        try:
            stream = await self._client.chat(
                model=model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=True,
                options={"num_predict": max_tokens, "temperature": temperature},
                keep_alive=self._keep_alive,
            )
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as exc:
            raise self._translate(exc, model) from exc
        async with contextlib.aclosing(self._guard(stream, model, "message")) as pieces:
            async for piece in pieces:
                yield piece

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """Vectors from /api/embed, in the order of `texts`."""
        try:
            response = await self._client.embed(
                model=model, input=list(texts), keep_alive=self._keep_alive
            )
        except (*_FAILURES, TypeError, AttributeError) as exc:
            raise self._translate(exc, model) from exc
        vectors = [[float(x) for x in vector] for vector in response.embeddings]
        if len(vectors) != len(texts):
            raise MalformedResponse(
                f"{self.url}/api/embed answered {len(vectors)} vectors for {len(texts)} texts",
                url=self.url,
                model=model,
            )
        return vectors

    async def list_models(self) -> list[str]:
        """Names from /api/tags."""
        try:
            listing = await self._client.list()
        except _FAILURES as exc:
            raise self._translate(exc, "") from exc
        return [str(m.model) for m in listing.models if m.model]


def _num_ctx(tokens: int) -> int:
    """Round the context size up to a multiple of 1024.

    A changed num_ctx makes Ollama reload the model, so it must not follow every prompt length.
    """
    return max(2048, -(-tokens // 1024) * 1024)
