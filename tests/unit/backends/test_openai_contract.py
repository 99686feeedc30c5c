"""Contract test of OpenAIBackend against the documented OpenAI completions API.

The replies follow the OpenAI API reference, which llama.cpp server, vLLM and LM Studio implement:
- POST /v1/completions with "stream": true answers server-sent events, `data: {json}` followed by
  a blank line, each a text_completion object with `choices[].text`; the stream ends with
  `data: [DONE]` (https://platform.openai.com/docs/api-reference/completions/create).
- POST /v1/chat/completions streams chat.completion.chunk objects whose `choices[].delta` holds
  the role first, then pieces of `content`, then an empty delta with a finish_reason
  (https://platform.openai.com/docs/api-reference/chat-streaming).
- GET /v1/models answers {"object": "list", "data": [{"id", "object": "model", ...}]}
  (https://platform.openai.com/docs/api-reference/models/list).
- Errors are {"error": {"message", "type", "param", "code"}} with 401 for a bad key, 404 for an
  unknown model, 5xx for server failures (https://platform.openai.com/docs/guides/error-codes);
  servers send the same object as an event when a stream fails after it started.

Streaming, timeouts and disconnects run against a real HTTP server on 127.0.0.1; status and
parsing cases that gain nothing from a socket use httpx.MockTransport.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from contract_server import ContractServer, Exchange, Reply, closed_port_url, sse

from assist_server.backends import (
    Backend,
    BackendAuthError,
    BackendError,
    BackendServerError,
    BackendTimeout,
    BackendUnavailable,
    MalformedResponse,
    ModelNotFound,
)
from assist_server.backends.openai import api_base
from assist_server.types import ChatMessage, GenerateRequest

MODEL = "qwen2.5-coder-1.5b"
EVENT_STREAM = "text/event-stream"
MOCK_URL = "http://model-server:8080"

MakeBackend = Callable[..., Backend]
Handler = Callable[[httpx.Request], httpx.Response]


def completion_event(text: str, finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "cmpl-7f3a",
        "object": "text_completion",
        "created": 1700000000,
        "model": MODEL,
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}],
    }


def chat_event(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-7f3a",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def completion_stream(*pieces: str) -> list[dict[str, Any] | str]:
    events: list[dict[str, Any] | str] = [completion_event(piece) for piece in pieces]
    return [*events, completion_event("", "length"), "[DONE]"]


def chat_stream(*pieces: str) -> list[dict[str, Any] | str]:
    events: list[dict[str, Any] | str] = [chat_event({"role": "assistant", "content": ""})]
    events += [chat_event({"content": piece}) for piece in pieces]
    return [*events, chat_event({}, "stop"), "[DONE]"]


def streaming(events: list[dict[str, Any] | str], delay: float = 0.0) -> Reply:
    def reply(exchange: Exchange) -> None:
        exchange.stream(sse(*events), content_type=EVENT_STREAM, delay=delay)

    return reply


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def request(**changes: Any) -> GenerateRequest:
    fields: dict[str, Any] = {
        "model": MODEL,
        "prompt": "<|fim_prefix|>def add(a, b):\n<|fim_suffix|>\n<|fim_middle|>",
        "max_tokens": 64,
        "temperature": 0.2,
    }
    return GenerateRequest(**{**fields, **changes})


async def collect(backend: Backend, generate: GenerateRequest | None = None) -> list[str]:
    return [piece async for piece in backend.stream_completion(generate or request())]


async def collect_chat(backend: Backend) -> list[str]:
    messages = [ChatMessage("system", "You are terse."), ChatMessage("user", "Explain zip().")]
    stream = backend.stream_chat(MODEL, messages, max_tokens=200, temperature=0.1)
    return [piece async for piece in stream]


def mocked(make_backend: MakeBackend, handler: Handler, **changes: Any) -> Backend:
    return make_backend("openai", MOCK_URL, transport=httpx.MockTransport(handler), **changes)


def answering(status: int, body: bytes, content_type: str = "application/json") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": content_type})

    return handler


# --- streaming over a real socket ---------------------------------------------------------------


async def test_completion_streams_sse_pieces_in_order(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    pieces = ["    return", " a", " +", " b", "\n"]
    server.route("POST", "/v1/completions", streaming(completion_stream(*pieces), delay=0.01))
    generate = request(stop=("\n\n", "<|endoftext|>"))

    got = await collect(make_backend("openai", server.url), generate)

    assert got == pieces
    assert "".join(got) == "    return a + b\n"
    [body] = server.bodies("/v1/completions")
    assert body == {
        "model": MODEL,
        "prompt": generate.prompt,
        "max_tokens": 64,
        "temperature": 0.2,
        "stream": True,
        "stop": ["\n\n", "<|endoftext|>"],
    }


async def test_done_ends_the_stream_without_waiting_for_the_server_to_hang_up(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    def done_then_linger(exchange: Exchange) -> None:
        def chunks() -> Iterator[bytes]:
            yield from sse(completion_event("x"), "[DONE]")
            exchange.pause(1.5)  # the response stays open for a while after [DONE]
            yield b": keep-alive\n\n"

        exchange.stream(chunks(), content_type=EVENT_STREAM)

    server.route("POST", "/v1/completions", done_then_linger)
    started = time.monotonic()

    got = await collect(make_backend("openai", server.url))

    assert got == ["x"]
    assert time.monotonic() - started < 1.0


async def test_chat_streams_delta_content(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("POST", "/v1/chat/completions", streaming(chat_stream("zip()", " pairs"), 0.01))

    got = await collect_chat(make_backend("openai", server.url))

    # The role-only first delta and the empty finishing delta yield nothing.
    assert got == ["zip()", " pairs"]
    [body] = server.bodies("/v1/chat/completions")
    assert body == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Explain zip()."},
        ],
        "max_tokens": 200,
        "temperature": 0.1,
        "stream": True,
    }


async def test_error_event_mid_stream_ends_the_stream_with_an_error(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    events = [completion_event("Yes"), error_body("CUDA out of memory", "server_error")]
    server.route("POST", "/v1/completions", streaming(events))
    got: list[str] = []

    with pytest.raises(BackendError) as info:
        async for piece in make_backend("openai", server.url).stream_completion(request()):
            got.append(piece)

    assert got == ["Yes"]
    assert isinstance(info.value, BackendServerError)
    assert "CUDA out of memory" in str(info.value)


async def test_slow_server_times_out_after_timeout_ms(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    def slow(exchange: Exchange) -> None:
        exchange.pause(1.5)
        exchange.stream(sse(*completion_stream("late")), content_type=EVENT_STREAM)

    server.route("POST", "/v1/completions", slow)
    started = time.monotonic()

    with pytest.raises(BackendTimeout) as info:
        await collect(make_backend("openai", server.url, timeout_ms=300))

    assert time.monotonic() - started < 1.2
    assert "backend.timeoutMs" in str(info.value)


@pytest.mark.parametrize("call", ["completion", "chat", "list"])
async def test_refused_connection_is_unavailable(make_backend: MakeBackend, call: str) -> None:
    url = closed_port_url()
    backend = make_backend("openai", url)

    with pytest.raises(BackendUnavailable) as info:
        if call == "completion":
            await collect(backend)
        elif call == "chat":
            await collect_chat(backend)
        else:
            await backend.list_models()

    assert f"{url}/v1" in str(info.value)
    assert "backend.url" in str(info.value)


TOKEN = "sk-contract-7f3a9c1e-do-not-log"


async def test_bearer_token_from_api_key_env_is_sent(
    server: ContractServer, make_backend: MakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSIST_CONTRACT_TOKEN", TOKEN)
    server.route("POST", "/v1/completions", streaming(completion_stream("x")))
    server.route("GET", "/v1/models", lambda exchange: exchange.json(200, {"data": []}))
    backend = make_backend("openai", server.url, api_key_env="ASSIST_CONTRACT_TOKEN")

    await collect(backend)
    await backend.list_models()

    assert [r.headers.get("authorization") for r in server.received] == [f"Bearer {TOKEN}"] * 2


@pytest.mark.parametrize("call", ["completion", "chat"])
async def test_closing_the_stream_early_disconnects_from_the_server(
    server: ContractServer, make_backend: MakeBackend, call: str
) -> None:
    # 100 pieces, 20 ms apart: the server is still streaming when we stop reading.
    pieces = [f"tok{i} " for i in range(100)]
    server.route("POST", "/v1/completions", streaming(completion_stream(*pieces), delay=0.02))
    server.route("POST", "/v1/chat/completions", streaming(chat_stream(*pieces), delay=0.02))
    backend = make_backend("openai", server.url)
    messages = [ChatMessage("user", "go on")]
    stream = (
        backend.stream_completion(request())
        if call == "completion"
        else backend.stream_chat(MODEL, messages, max_tokens=200, temperature=0.1)
    )

    got: list[str] = []
    async with contextlib.aclosing(stream):
        async for piece in stream:
            got.append(piece)
            if len(got) == 2:
                break

    # Wait WITHOUT running the event loop: the connection must be closed by the time aclose()
    # returns, not later by a garbage-collection finalizer task.
    assert server.client_gone.wait(timeout=1.5), "the server never saw the client go away"
    assert got == pieces[:2]
    assert server.chunks_sent < len(pieces)


async def test_cancelling_the_consumer_task_disconnects_from_the_server(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    pieces = [f"tok{i} " for i in range(100)]
    server.route("POST", "/v1/completions", streaming(completion_stream(*pieces), delay=0.02))
    backend = make_backend("openai", server.url)
    first = asyncio.Event()

    async def consume() -> None:
        stream = backend.stream_completion(request())
        async with contextlib.aclosing(stream):
            async for _ in stream:
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), timeout=2)
    task.cancel()  # what an LSP $/cancelRequest does to the handler
    with pytest.raises(asyncio.CancelledError):
        await task

    assert server.client_gone.wait(timeout=1.5), "the server never saw the client go away"
    assert server.chunks_sent < len(pieces)


# --- statuses, parsing and URLs (no socket needed) ----------------------------------------------


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1"),
        ("https://gpu.example.com/openai/v1", "https://gpu.example.com/openai/v1"),
        ("http://localhost:1234/api", "http://localhost:1234/api"),
    ],
)
def test_api_base_appends_v1_only_when_the_url_has_no_path(url: str, base: str) -> None:
    assert api_base(url) == base


@pytest.mark.parametrize(
    ("url", "path"),
    [
        (MOCK_URL, "/v1/completions"),
        (f"{MOCK_URL}/v1", "/v1/completions"),
        (f"{MOCK_URL}/openai/v1/", "/openai/v1/completions"),
    ],
)
async def test_requests_go_to_the_api_base(make_backend: MakeBackend, url: str, path: str) -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, content=b"".join(sse(*completion_stream("x"))))

    backend = make_backend("openai", url, transport=httpx.MockTransport(handler))

    assert await collect(backend) == ["x"]
    assert paths == [path]


async def test_stop_is_left_out_when_there_is_none(make_backend: MakeBackend) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, content=b"".join(sse(*completion_stream("x"))))

    await collect(mocked(make_backend, handler), request(stop=()))

    assert "stop" not in bodies[0]


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, error_body("Incorrect API key provided.", "invalid_request_error"), BackendAuthError),
        (403, error_body("Forbidden.", "invalid_request_error"), BackendAuthError),
        (
            404,
            error_body(f"The model `{MODEL}` does not exist.", "invalid_request_error"),
            ModelNotFound,
        ),
        (500, error_body("The server had an error.", "server_error"), BackendServerError),
        (503, error_body("The engine is overloaded.", "server_error"), BackendServerError),
    ],
)
@pytest.mark.parametrize("call", ["completion", "chat"])
async def test_error_statuses_map_to_backend_errors(
    make_backend: MakeBackend,
    status: int,
    body: dict[str, Any],
    error: type[BackendError],
    call: str,
) -> None:
    backend = mocked(make_backend, answering(status, json.dumps(body).encode()))

    with pytest.raises(BackendError) as info:
        await (collect(backend) if call == "completion" else collect_chat(backend))

    assert type(info.value) is error
    assert f"{MOCK_URL}/v1" in str(info.value)
    if error is BackendAuthError:
        assert "backend.apiKeyEnv" in str(info.value)
    elif error is ModelNotFound:
        assert info.value.model == MODEL
        assert MODEL in str(info.value)
    else:
        assert f"HTTP {status}" in str(info.value)
        assert body["error"]["message"] in str(info.value)


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(b"data: {not json\n\n", id="broken json"),
        pytest.param(b"<!DOCTYPE html>\n<html><body>Welcome</body></html>\n", id="web page"),
        pytest.param(b'{"choices": [{"text": "not an event"}]}\n', id="json without data:"),
        pytest.param(b'data: {"object": "text_completion"}\n\n', id="no choices"),
        pytest.param(b'data: {"choices": [{"text": 42}]}\n\n', id="non-text output"),
        pytest.param(b"data: [1, 2, 3]\n\n", id="not an object"),
    ],
)
async def test_malformed_streams_are_malformed_responses(
    make_backend: MakeBackend, stream: bytes
) -> None:
    backend = mocked(make_backend, answering(200, stream, EVENT_STREAM))

    with pytest.raises(MalformedResponse) as info:
        await collect(backend)

    assert info.value.url == f"{MOCK_URL}/v1"


async def test_comments_and_blank_lines_in_the_stream_are_skipped(
    make_backend: MakeBackend,
) -> None:
    stream = b": ping\n\n" + b"".join(sse(*completion_stream("a", "b")))
    backend = mocked(make_backend, answering(200, stream, EVENT_STREAM))

    assert await collect(backend) == ["a", "b"]


async def test_list_models_returns_the_ids(make_backend: MakeBackend) -> None:
    listing = {
        "object": "list",
        "data": [
            {
                "id": "qwen2.5-coder-1.5b",
                "object": "model",
                "created": 1700000000,
                "owned_by": "me",
            },
            {"id": "nomic-embed", "object": "model", "created": 1700000000, "owned_by": "me"},
        ],
    }
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json=listing)

    assert await mocked(make_backend, handler).list_models() == [
        "qwen2.5-coder-1.5b",
        "nomic-embed",
    ]
    assert seen == ["GET /v1/models"]


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (404, b"404 page not found", MalformedResponse, "/v1"),
        (200, b"<html><body>Welcome</body></html>", MalformedResponse, "backend.kind"),
        (200, b'{"models": []}', MalformedResponse, "backend.kind"),
        (
            401,
            json.dumps(error_body("No key.", "invalid_request_error")).encode(),
            BackendAuthError,
            "backend.apiKeyEnv",
        ),
        (500, b"upstream failed", BackendServerError, "upstream failed"),
    ],
)
async def test_list_models_errors(
    make_backend: MakeBackend, status: int, body: bytes, error: type[BackendError], words: str
) -> None:
    backend = mocked(make_backend, answering(status, body))

    with pytest.raises(BackendError) as info:
        await backend.list_models()

    assert type(info.value) is error
    assert words in str(info.value)


FAILURES: dict[str, Handler] = {
    "unauthorized": answering(401, json.dumps(error_body("Bad key.", "auth")).encode()),
    "missing model": answering(404, json.dumps(error_body("No model.", "not_found")).encode()),
    "server error": answering(500, json.dumps(error_body("Boom.", "server_error")).encode()),
    "web page": answering(200, b"<html>hi</html>", "text/html"),
    "error event": answering(200, b"".join(sse(error_body("Crashed.", "server_error")))),
}


@pytest.mark.parametrize("failure", FAILURES)
async def test_bearer_token_never_appears_in_errors(
    make_backend: MakeBackend, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    monkeypatch.setenv("ASSIST_CONTRACT_TOKEN", TOKEN)
    headers: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers.get("authorization", ""))
        return FAILURES[failure](request)

    backend = mocked(make_backend, handler, api_key_env="ASSIST_CONTRACT_TOKEN")

    with pytest.raises(BackendError) as info:
        await collect(backend)

    assert headers == [f"Bearer {TOKEN}"]
    error: BaseException | None = info.value
    while error is not None:
        assert TOKEN not in str(error)
        error = error.__cause__ or error.__context__


async def test_embed_sorts_by_index_and_checks_the_count(make_backend: MakeBackend) -> None:
    seen: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        data = [
            {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
            {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
        ]
        return httpx.Response(200, json={"object": "list", "data": data})

    backend = mocked(make_backend, handler)
    assert await backend.embed("nomic-embed", ["a", "b"]) == [[1.0, 0.0], [0.0, 1.0]]
    assert seen == [{"model": "nomic-embed", "input": ["a", "b"]}]
    with pytest.raises(MalformedResponse, match="2 vectors for 3 texts"):
        await backend.embed("nomic-embed", ["a", "b", "c"])


def _embeddings(data: list[dict[str, Any]]) -> Callable[[Exchange], None]:
    def reply(exchange: Exchange) -> None:
        exchange.json(200, {"object": "list", "data": data, "model": "m"})

    return reply


async def test_embeddings_come_back_in_input_order(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    # OpenAI API reference, "Create embeddings": {data: [{index, embedding, object}]}
    data = [
        {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
        {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
    ]
    server.route("POST", "/v1/embeddings", _embeddings(data))
    vectors = await make_backend("openai", server.url).embed("m", ["a", "b"])
    assert vectors == [[0.1, 0.2], [0.3, 0.4]]
    [body] = server.bodies("/v1/embeddings")
    assert body == {"model": "m", "input": ["a", "b"]}


async def test_per_token_embeddings_are_mean_pooled(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    # llama.cpp serving a model without pooling answers one vector per token
    data = [{"object": "embedding", "index": 0, "embedding": [[1.0, 2.0], [3.0, 4.0]]}]
    server.route("POST", "/v1/embeddings", _embeddings(data))
    assert await make_backend("openai", server.url).embed("m", ["a"]) == [[2.0, 3.0]]


async def test_ragged_embeddings_are_malformed(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    data = [{"object": "embedding", "index": 0, "embedding": [[1.0, 2.0], [3.0]]}]
    server.route("POST", "/v1/embeddings", _embeddings(data))
    with pytest.raises(MalformedResponse, match="embedding model"):
        await make_backend("openai", server.url).embed("m", ["a"])
