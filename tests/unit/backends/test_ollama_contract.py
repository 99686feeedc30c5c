"""Contract test of OllamaBackend against Ollama's documented HTTP API.

The fake server below speaks the wire format as documented, not as our code expects it:
- https://github.com/ollama/ollama/blob/main/docs/api.md: POST /api/generate (NDJSON stream of
  {"response", "done": false} objects, a final {"done": true} object with statistics; request
  fields model, prompt, suffix, raw, options {num_predict, temperature, stop, num_ctx},
  keep_alive, stream), POST /api/chat ({"message": {"role", "content"}} objects) and
  GET /api/tags ({"models": [{"name", "model", ...}]}, see also https://docs.ollama.com/api/tags).
- https://docs.ollama.com/api/errors: errors are {"error": "..."} with a 4xx/5xx status; an error
  after streaming has started is an {"error": "..."} line with the status left at 200.

It is a real HTTP server on 127.0.0.1, so sockets, chunked streaming, timeouts and disconnects are
the real thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from contract_server import ContractServer, Exchange, Reply, closed_port_url, ndjson

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
from assist_server.types import ChatMessage, GenerateRequest

MODEL = "qwen2.5-coder:1.5b-base"
NDJSON = "application/x-ndjson"
CREATED_AT = "2023-08-04T08:52:19.385406455-07:00"
# The statistics the documentation shows on the final object of a stream.
FINAL_STATS = {
    "total_duration": 10706818083,
    "load_duration": 6338219291,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 130079000,
    "eval_count": 259,
    "eval_duration": 4232710000,
}

MakeBackend = Callable[..., Backend]


def generate_parts(*pieces: str) -> list[dict[str, Any]]:
    """A documented /api/generate stream: one object per piece, then the final one."""
    parts: list[dict[str, Any]] = [
        {"model": MODEL, "created_at": CREATED_AT, "response": piece, "done": False}
        for piece in pieces
    ]
    final = {"model": MODEL, "created_at": CREATED_AT, "response": "", "done": True}
    parts.append({**final, "done_reason": "stop", **FINAL_STATS})
    return parts


def chat_parts(*pieces: str) -> list[dict[str, Any]]:
    """A documented /api/chat stream: message objects, then the final one.

    The docs' final-object example shows no "message", but the server always sends one (empty):
    `ChatResponse.Message` in api/types.go has no `omitempty`. The real wire is what counts.
    """
    parts: list[dict[str, Any]] = [
        {
            "model": MODEL,
            "created_at": CREATED_AT,
            "message": {"role": "assistant", "content": piece, "images": None},
            "done": False,
        }
        for piece in pieces
    ]
    final = {"model": MODEL, "created_at": CREATED_AT, "done": True, "done_reason": "stop"}
    parts.append({**final, "message": {"role": "assistant", "content": ""}, **FINAL_STATS})
    return parts


def streaming(parts: list[dict[str, Any]], delay: float = 0.0) -> Reply:
    def reply(exchange: Exchange) -> None:
        exchange.stream(ndjson(*parts), content_type=NDJSON, delay=delay)

    return reply


def answer(status: int, value: Any) -> Reply:
    def reply(exchange: Exchange) -> None:
        exchange.json(status, value)

    return reply


def html(status: int) -> Reply:
    def reply(exchange: Exchange) -> None:
        page = b"<!DOCTYPE html>\n<html><body><h1>Welcome to nginx!</h1></body></html>\n"
        exchange.send(status, page, "text/html")

    return reply


def not_found(model: str) -> Reply:
    return answer(404, {"error": f'model "{model}" not found, try pulling it first'})


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


async def collect_chat(backend: Backend, model: str = MODEL) -> list[str]:
    messages = [ChatMessage("system", "You are terse."), ChatMessage("user", "Explain zip().")]
    stream = backend.stream_chat(model, messages, max_tokens=200, temperature=0.1)
    return [piece async for piece in stream]


async def test_generate_streams_pieces_in_order(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    pieces = ["    return", " a", " +", " b", "\n"]
    server.route("POST", "/api/generate", streaming(generate_parts(*pieces), delay=0.01))

    got = await collect(make_backend("ollama", server.url))

    # Every piece, in order, and nothing for the final (empty, statistics-only) object.
    assert got == pieces
    assert "".join(got) == "    return a + b\n"


async def test_our_prompt_is_sent_raw_when_there_is_no_suffix(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("POST", "/api/generate", streaming(generate_parts("x")))
    generate = request(suffix=None)

    await collect(make_backend("ollama", server.url), generate)

    [body] = server.bodies("/api/generate")
    assert body["model"] == MODEL
    assert body["prompt"] == generate.prompt
    assert body["raw"] is True
    assert body["stream"] is True
    assert "suffix" not in body


async def test_suffix_is_sent_for_the_models_own_template_and_not_raw(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("POST", "/api/generate", streaming(generate_parts("x")))
    generate = request(prompt="def compute_gcd(a, b):", suffix="    return result")

    await collect(make_backend("ollama", server.url), generate)

    [body] = server.bodies("/api/generate")
    assert body["prompt"] == "def compute_gcd(a, b):"
    assert body["suffix"] == "    return result"
    # raw would make Ollama skip the template that turns prompt + suffix into a FIM prompt.
    assert not body.get("raw", False)


async def test_options_and_keep_alive_are_sent_as_documented(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("POST", "/api/generate", streaming(generate_parts("x")))
    generate = request(
        max_tokens=96, temperature=0.3, stop=("\n\n", "<|endoftext|>"), context_tokens=2900
    )

    await collect(make_backend("ollama", server.url, keep_alive="30m"), generate)

    [body] = server.bodies("/api/generate")
    assert body["keep_alive"] == "30m"
    options = body["options"]
    assert options["num_predict"] == 96 and isinstance(options["num_predict"], int)
    assert options["temperature"] == pytest.approx(0.3)
    assert options["stop"] == ["\n\n", "<|endoftext|>"]
    # num_ctx holds prompt + answer (2900 + 96), rounded up to a multiple of 1024 so that it does
    # not change (and make Ollama reload the model) on every keystroke.
    assert options["num_ctx"] == 3072 and isinstance(options["num_ctx"], int)


async def test_options_left_out_when_not_asked_for_and_numeric_keep_alive(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("POST", "/api/generate", streaming(generate_parts("x")))

    await collect(make_backend("ollama", server.url, keep_alive="-1"), request())

    [body] = server.bodies("/api/generate")
    # The docs take keep_alive as a duration string or a number of seconds (negative: forever).
    assert body["keep_alive"] == -1
    assert "stop" not in body["options"]
    assert "num_ctx" not in body["options"]


async def test_missing_model_tells_the_user_to_pull_it(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("POST", "/api/generate", not_found("qwen-missing:7b"))
    server.route("POST", "/api/chat", not_found("chat-missing:7b"))
    backend = make_backend("ollama", server.url)

    with pytest.raises(ModelNotFound) as completion:
        await collect(backend, request(model="qwen-missing:7b"))
    with pytest.raises(ModelNotFound) as chat:
        await collect_chat(backend, model="chat-missing:7b")

    assert "ollama pull qwen-missing:7b" in str(completion.value)
    assert server.url in str(completion.value)
    assert completion.value.model == "qwen-missing:7b"
    assert "ollama pull chat-missing:7b" in str(chat.value)


@pytest.mark.parametrize("call", ["completion", "chat", "list"])
async def test_refused_connection_says_start_ollama(make_backend: MakeBackend, call: str) -> None:
    url = closed_port_url()
    backend = make_backend("ollama", url)

    with pytest.raises(BackendUnavailable) as info:
        if call == "completion":
            await collect(backend)
        elif call == "chat":
            await collect_chat(backend)
        else:
            await backend.list_models()

    assert url in str(info.value)
    assert "ollama serve" in str(info.value)


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/generate"), ("POST", "/api/chat"), ("GET", "/api/tags")]
)
async def test_a_web_page_instead_of_the_api_is_malformed(
    server: ContractServer, make_backend: MakeBackend, method: str, path: str
) -> None:
    server.route(method, path, html(200))
    backend = make_backend("ollama", server.url)

    with pytest.raises(MalformedResponse) as info:
        if path == "/api/generate":
            await collect(backend)
        elif path == "/api/chat":
            await collect_chat(backend)
        else:
            await backend.list_models()

    assert "backend.kind" in str(info.value)


async def test_no_api_tags_means_not_ollama_not_a_missing_model(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("GET", "/api/tags", html(404))

    with pytest.raises(MalformedResponse) as info:
        await make_backend("ollama", server.url).list_models()

    assert "ollama pull" not in str(info.value)
    assert f"{server.url}/api/tags" in str(info.value)


async def test_server_failure_is_a_server_error_with_its_words(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("POST", "/api/generate", answer(500, {"error": "llama runner has terminated"}))

    with pytest.raises(BackendServerError) as info:
        await collect(make_backend("ollama", server.url))

    assert "HTTP 500" in str(info.value)
    assert "llama runner has terminated" in str(info.value)


async def test_error_line_mid_stream_ends_the_stream_with_an_error(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    parts = generate_parts("Yes", ".")[:-1] + [
        {"error": "an error was encountered while running the model"}
    ]
    server.route("POST", "/api/generate", streaming(parts))
    got: list[str] = []

    with pytest.raises(BackendError) as info:
        async for piece in make_backend("ollama", server.url).stream_completion(request()):
            got.append(piece)

    assert got == ["Yes", "."]
    assert isinstance(info.value, BackendServerError)
    assert "an error was encountered while running the model" in str(info.value)


def slow(exchange: Exchange) -> None:
    """Answer only after 1.5 s, far beyond the 300 ms timeoutMs the timeout tests use."""
    exchange.pause(1.5)
    exchange.stream(ndjson(*generate_parts("late")), content_type=NDJSON)


async def test_slow_server_times_out_after_timeout_ms(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("POST", "/api/generate", slow)
    started = time.monotonic()

    with pytest.raises(BackendTimeout) as info:
        await collect(make_backend("ollama", server.url, timeout_ms=300))

    # It gave up after about timeoutMs, well before the server would have answered.
    assert time.monotonic() - started < 1.2
    assert "backend.timeoutMs" in str(info.value)


async def test_list_models_returns_the_names_from_api_tags(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    details = {"format": "gguf", "family": "llama", "parameter_size": "13B"}
    tags = {
        "models": [
            {
                "name": "codellama:13b",
                "model": "codellama:13b",
                "size": 7365960935,
                "details": details,
            },
            {
                "name": "llama3:latest",
                "model": "llama3:latest",
                "size": 3825819519,
                "details": details,
            },
        ]
    }
    server.route("GET", "/api/tags", answer(200, tags))

    names = await make_backend("ollama", server.url).list_models()

    assert names == ["codellama:13b", "llama3:latest"]
    assert [(r.method, r.path) for r in server.received] == [("GET", "/api/tags")]


async def test_stream_chat_sends_messages_and_streams_the_answer(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("POST", "/api/chat", streaming(chat_parts("zip()", " pairs", " items."), 0.01))

    got = await collect_chat(make_backend("ollama", server.url))

    assert got == ["zip()", " pairs", " items."]
    [body] = server.bodies("/api/chat")
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Explain zip()."},
    ]
    assert body["options"]["num_predict"] == 200
    assert body["options"]["temperature"] == pytest.approx(0.1)
    assert body["keep_alive"] == "30m"


TOKEN = "sk-contract-7f3a9c1e-do-not-log"

FAILURES: dict[str, Reply] = {
    "missing model": not_found(MODEL),
    "unauthorized": answer(401, {"error": "unauthorized"}),
    "server error": answer(500, {"error": "llama runner has terminated"}),
    "web page": html(200),
    "error mid-stream": streaming(generate_parts("a")[:1] + [{"error": "model crashed"}]),
}


async def test_bearer_token_from_api_key_env_is_sent(
    server: ContractServer, make_backend: MakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSIST_CONTRACT_TOKEN", TOKEN)
    server.route("POST", "/api/generate", streaming(generate_parts("x")))
    server.route("GET", "/api/tags", answer(200, {"models": []}))
    backend = make_backend("ollama", server.url, api_key_env="ASSIST_CONTRACT_TOKEN")

    await collect(backend)
    await backend.list_models()

    assert [r.headers.get("authorization") for r in server.received] == [f"Bearer {TOKEN}"] * 2


@pytest.mark.parametrize("failure", FAILURES)
async def test_bearer_token_never_appears_in_errors(
    server: ContractServer,
    make_backend: MakeBackend,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    monkeypatch.setenv("ASSIST_CONTRACT_TOKEN", TOKEN)
    server.route("POST", "/api/generate", FAILURES[failure])
    backend = make_backend("ollama", server.url, api_key_env="ASSIST_CONTRACT_TOKEN")

    with pytest.raises(BackendError) as info:
        await collect(backend)

    assert server.received[0].headers["authorization"] == f"Bearer {TOKEN}"
    if failure == "unauthorized":
        assert isinstance(info.value, BackendAuthError)
    for error in chain(info.value):
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error.args)


async def test_bearer_token_never_appears_in_refused_or_timeout_errors(
    server: ContractServer, make_backend: MakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSIST_CONTRACT_TOKEN", TOKEN)
    server.route("POST", "/api/generate", slow)
    refused = make_backend("ollama", closed_port_url(), api_key_env="ASSIST_CONTRACT_TOKEN")
    late = make_backend("ollama", server.url, api_key_env="ASSIST_CONTRACT_TOKEN", timeout_ms=300)

    with pytest.raises(BackendUnavailable) as unavailable:
        await collect(refused)
    with pytest.raises(BackendTimeout) as timed_out:
        await collect(late)

    for error in [*chain(unavailable.value), *chain(timed_out.value)]:
        assert TOKEN not in str(error)


def chain(error: BaseException) -> list[BaseException]:
    """The error and every error it was raised from."""
    errors: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in errors:
        errors.append(current)
        current = current.__cause__ or current.__context__
    return errors


@pytest.mark.parametrize("call", ["completion", "chat"])
async def test_closing_the_stream_early_disconnects_from_the_server(
    server: ContractServer, make_backend: MakeBackend, call: str
) -> None:
    # 100 pieces, 20 ms apart: the server is still streaming when we stop reading.
    pieces = [f"tok{i} " for i in range(100)]
    server.route("POST", "/api/generate", streaming(generate_parts(*pieces), delay=0.02))
    server.route("POST", "/api/chat", streaming(chat_parts(*pieces), delay=0.02))
    backend = make_backend("ollama", server.url)
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
    server.route("POST", "/api/generate", streaming(generate_parts(*pieces), delay=0.02))
    backend = make_backend("ollama", server.url)
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


async def test_embed_posts_input_list_and_returns_vectors_in_order(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    # docs/api.md "Generate Embeddings": POST /api/embed {model, input: [..]} -> {embeddings}
    reply = {"model": "nomic-embed-text", "embeddings": [[0.1, 0.2], [0.3, 0.4]]}
    server.route("POST", "/api/embed", answer(200, reply))

    vectors = await make_backend("ollama", server.url).embed("nomic-embed-text", ["a", "b"])

    assert vectors == [[0.1, 0.2], [0.3, 0.4]]
    [body] = server.bodies("/api/embed")
    assert body["model"] == "nomic-embed-text" and body["input"] == ["a", "b"]


async def test_embed_with_a_missing_model_says_ollama_pull(
    server: ContractServer, make_backend: MakeBackend
) -> None:
    server.route("POST", "/api/embed", answer(404, {"error": 'model "nomic" not found'}))
    with pytest.raises(ModelNotFound, match="ollama pull nomic"):
        await make_backend("ollama", server.url).embed("nomic", ["a"])
