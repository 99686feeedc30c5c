"""OpenAI-compatible servers (vLLM, llama.cpp server, LM Studio): /v1/completions and chat.

FIM goes through /v1/completions with a prompt we render ourselves: these servers' `suffix`
parameter does not do fill-in-the-middle (measured on llama.cpp, see shared/findings.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

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

START_HINT = "start your OpenAI-compatible server (vLLM, llama.cpp, LM Studio) or fix backend.url."


def api_base(url: str) -> str:
    """The URL the /completions paths hang off: `/v1` is added when the URL has no path."""
    url = url.rstrip("/")
    return url + "/v1" if urlsplit(url).path in ("", "/") else url


class OpenAIBackend:
    """Talks to any server that implements the OpenAI completions API."""

    capabilities = BackendCapabilities(name="openai", native_fim=False)

    def __init__(
        self, settings: BackendSettings, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.url = api_base(settings.url)
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers=auth_headers(settings),
            timeout=timeout(settings),
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _not_found(self, model: str) -> BackendError:
        return ModelNotFound(
            f"Model '{model}' is not served by {self.url}: set completion.model / chat.model to a "
            "model the server lists (assist-server doctor shows them).",
            url=self.url,
            model=model,
        )

    async def _stream(
        self, path: str, body: dict[str, Any], model: str
    ) -> AsyncGenerator[Any, None]:
        """POST with stream=true and yield each decoded server-sent event."""
        try:
            async with self._client.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    detail = (await response.aread()).decode("utf-8", "replace")
                    raise status_error(
                        response.status_code,
                        detail,
                        url=self.url,
                        model=model,
                        not_found=lambda: self._not_found(model),
                    )
                async for line in response.aiter_lines():
                    line = line.strip()
                    if not line or line.startswith(":"):
                        continue
                    if not line.startswith("data:"):
                        raise MalformedResponse(
                            f"The model server at {self.url} sent {line[:80]!r} instead of a "
                            "completion stream: is backend.kind right?",
                            url=self.url,
                            model=model,
                        )
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        event = json.loads(data)
                    except json.JSONDecodeError:
                        raise MalformedResponse(
                            f"The model server at {self.url} sent malformed JSON in its stream: "
                            f"{data[:80]!r}",
                            url=self.url,
                            model=model,
                        ) from None
                    if isinstance(event, dict) and "error" in event:
                        error = event["error"]
                        message = error.get("message", error) if isinstance(error, dict) else error
                        raise status_error(
                            500,
                            str(message),
                            url=self.url,
                            model=model,
                            not_found=lambda: self._not_found(model),
                        )
                    yield event
        except httpx.HTTPError as exc:
            mapped = translate_transport_error(
                exc, url=self.url, model=model, start_hint=START_HINT
            )
            if mapped is None:
                raise MalformedResponse(
                    f"Unexpected answer from {self.url}: {exc}", url=self.url, model=model
                ) from exc
            raise mapped from exc

    def _choice(self, event: Any, field: str, model: str) -> str:
        try:
            choice = event["choices"][0] if event["choices"] else {}
            value = (
                choice.get(field) if field == "text" else (choice.get("delta") or {}).get("content")
            )
        except (KeyError, TypeError, AttributeError, IndexError):
            raise MalformedResponse(
                f"The model server at {self.url} sent an event without choices: "
                f"{json.dumps(event)[:120]}",
                url=self.url,
                model=model,
            ) from None
        if value is not None and not isinstance(value, str):
            raise MalformedResponse(
                f"The model server at {self.url} sent non-text output", url=self.url, model=model
            )
        return value or ""

    async def stream_completion(self, request: GenerateRequest) -> AsyncGenerator[str, None]:
        """Stream a raw completion of `request.prompt` (a fully rendered FIM prompt)."""
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        # aclosing: closing this generator must close the HTTP response at once, not on GC.
        async with contextlib.aclosing(self._stream("/completions", body, request.model)) as events:
            async for event in events:
                if piece := self._choice(event, "text", request.model):
                    yield piece

    async def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> AsyncGenerator[str, None]:
        """Stream a chat answer from /chat/completions."""
        body = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        async with contextlib.aclosing(self._stream("/chat/completions", body, model)) as events:
            async for event in events:
                if piece := self._choice(event, "delta", model):
                    yield piece

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """Vectors from /embeddings, in the order of `texts`."""
        try:
            response = await self._client.post(
                "/embeddings", json={"model": model, "input": list(texts)}
            )
        except httpx.HTTPError as exc:
            mapped = translate_transport_error(
                exc, url=self.url, model=model, start_hint=START_HINT
            )
            raise (mapped or MalformedResponse(str(exc), url=self.url, model=model)) from exc
        if response.status_code >= 400:
            raise status_error(
                response.status_code,
                response.text,
                url=self.url,
                model=model,
                not_found=lambda: self._not_found(model),
            )
        try:
            data = sorted(response.json()["data"], key=lambda item: item.get("index", 0))
            vectors = [_pooled(item["embedding"]) for item in data]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise MalformedResponse(
                f"{self.url}/embeddings did not answer with OpenAI embeddings: does the server "
                f"serve '{model}' as an embedding model?",
                url=self.url,
                model=model,
            ) from None
        if len(vectors) != len(texts):
            raise MalformedResponse(
                f"{self.url}/embeddings answered {len(vectors)} vectors for {len(texts)} texts",
                url=self.url,
                model=model,
            )
        return vectors

    async def list_models(self) -> list[str]:
        """Model ids from /models."""
        try:
            response = await self._client.get("/models")
        except httpx.HTTPError as exc:
            mapped = translate_transport_error(exc, url=self.url, model="", start_hint=START_HINT)
            raise (mapped or MalformedResponse(str(exc), url=self.url)) from exc
        if response.status_code >= 400:
            raise status_error(
                response.status_code,
                response.text,
                url=self.url,
                model="",
                not_found=lambda: MalformedResponse(
                    f"{self.url}/models does not exist: is backend.url the "
                    "server's OpenAI API base (usually ending in /v1)?",
                    url=self.url,
                ),
            )
        try:
            return [str(item["id"]) for item in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            raise MalformedResponse(
                f"{self.url}/models did not answer with an OpenAI model list: is backend.kind "
                "right?",
                url=self.url,
            ) from None


def _pooled(embedding: Any) -> list[float]:
    """One vector: as sent, or the mean of per-token vectors.

    llama.cpp answers with one vector per token when the model has no pooling of its own (a
    chat or code model served with --embedding); their mean is the usual sentence vector.
    """
    if embedding and isinstance(embedding[0], list):
        tokens = np.asarray(embedding, dtype=np.float64)  # ValueError if ragged
        if tokens.ndim != 2 or tokens.shape[1] == 0:
            raise ValueError("per-token vectors of different lengths")
        return [float(x) for x in tokens.mean(axis=0)]
    return [float(x) for x in embedding]
