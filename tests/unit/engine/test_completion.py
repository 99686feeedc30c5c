from __future__ import annotations

from dataclasses import replace

import pytest

from assist_server.backends import Backend, BackendConfigError
from assist_server.config import CompletionSettings, CustomFimTemplate, parse_settings
from assist_server.engine.completion import CompletionEngine
from assist_server.types import CompletionRequest
from scripted_backend import ScriptedBackend

SETTINGS = parse_settings({"completion": {"model": "qwen2.5-coder:1.5b-base"}}).completion

# A function body with the cursor on its blank, indented line (marked |).
DOCUMENT = """\
def total(items):
    |

def average(items):
    return total(items) / len(items)
"""


def _engine(backend: ScriptedBackend, settings: CompletionSettings = SETTINGS) -> CompletionEngine:
    typed: Backend = backend  # the scripted backend satisfies the protocol
    return CompletionEngine(typed, settings)


def _request(marked: str, *, key: str = "file:///inventory/report.py") -> CompletionRequest:
    offset = marked.index("|")
    return CompletionRequest(
        marked[:offset] + marked[offset + 1 :],
        offset,
        "python",
        path="inventory/report.py",
        document_key=key,
    )


BODY_PIECES = [
    "result",
    " = 0\n",
    "    for item in items:\n",
    "        result += item.price\n",
    "    return result\n",
    "\n",
    "def average(items):\n",
    "    return total(items) / len(items)\n",
] + ["# padding\n"] * 50


async def test_model_suggestion_is_cleaned_and_reported() -> None:
    backend = ScriptedBackend(BODY_PIECES)
    result = await _engine(backend).complete(_request(DOCUMENT))
    assert result.source == "model"
    assert (
        result.text
        == "result = 0\n    for item in items:\n        result += item.price\n    return result"
    )
    assert result.multiline
    assert result.prompt_tokens > 0
    assert result.output_tokens == backend.closed_after
    assert result.timings.first_token_ms is not None
    (request,) = backend.requests
    assert request.model == "qwen2.5-coder:1.5b-base"
    assert request.suffix is None  # the template is rendered here, not by the backend
    # Indentation alone stays in the prefix (see split_cursor_line).
    assert request.prompt.startswith("<|fim_prefix|>def total(items):\n    <|fim_suffix|>")
    assert request.prompt.endswith("<|fim_middle|>")
    assert "<|endoftext|>" in request.stop


async def test_stream_is_closed_once_the_suggestion_is_settled() -> None:
    backend = ScriptedBackend(BODY_PIECES)
    await _engine(backend).complete(_request(DOCUMENT))
    assert backend.closed_after is not None  # the generator's finally ran
    assert backend.closed_after < len(BODY_PIECES)
    # It stopped at the first complete line outside the block, not later.
    assert backend.closed_after == BODY_PIECES.index("def average(items):\n") + 1


async def test_single_line_stream_closes_at_the_first_newline() -> None:
    backend = ScriptedBackend(["items", ", key=len", ")\n", "print(x)\n", "more\n", "more\n"])
    result = await _engine(backend).complete(_request("x = sorted(|)\n"))
    assert result.text == "items, key=len"
    assert not result.multiline
    assert backend.closed_after == 3
    assert backend.requests[0].max_tokens <= 64
    # The model server is asked to stop there as well; a block is not cut at its first line.
    assert backend.requests[0].stop[-1] == "\n"
    await _engine(backend).complete(_request(DOCUMENT))
    assert "\n" not in backend.requests[1].stop


@pytest.mark.parametrize(
    "marked",
    ["def total(items):\n    ret|urn 0\n", "x = compute(|value)\n", "x = compute(| + 1)\n"],
    ids=["mid-word", "word-right", "code-right"],
)
async def test_skipped_cursor_never_calls_the_backend(marked: str) -> None:
    backend = ScriptedBackend(BODY_PIECES)
    result = await _engine(backend).complete(_request(marked))
    assert result.text == ""
    assert result.source == "skipped"
    assert result.reason
    assert backend.requests == []


async def test_binary_document_never_calls_the_backend() -> None:
    backend = ScriptedBackend(BODY_PIECES)
    result = await _engine(backend).complete(_request("\x00\x01|\n"))
    assert result.source == "skipped"
    assert backend.requests == []


async def test_disabled_completion_never_calls_the_backend() -> None:
    backend = ScriptedBackend(BODY_PIECES)
    result = await _engine(backend, replace(SETTINGS, enabled=False)).complete(_request(DOCUMENT))
    assert (result.text, result.source) == ("", "skipped")
    assert backend.requests == []


async def test_identical_request_is_served_from_the_cache() -> None:
    backend = ScriptedBackend(BODY_PIECES)
    engine = _engine(backend)
    first = await engine.complete(_request(DOCUMENT))
    # Another document with the same text: typed-ahead does not apply, the cache does.
    second = await engine.complete(_request(DOCUMENT, key="file:///copy.py"))
    assert second.source == "cache"
    assert second.text == first.text
    assert second.output_tokens == 0
    assert len(backend.requests) == 1


async def test_cache_forgets_the_least_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("assist_server.engine.completion.CACHE_SIZE", 2)
    backend = ScriptedBackend(["1\n"])
    engine = _engine(backend)
    a, b, c = (_request(f"{name} = |\n") for name in "abc")
    await engine.complete(a)
    await engine.complete(b)
    await engine.complete(a)  # a is now the most recently used
    await engine.complete(c)  # evicts b
    assert len(backend.requests) == 3
    assert (await engine.complete(replace(a, document_key="other"))).source == "cache"
    assert (await engine.complete(replace(b, document_key="other"))).source == "model"
    assert len(backend.requests) == 4


async def test_typed_ahead_serves_the_rest_of_the_last_suggestion() -> None:
    backend = ScriptedBackend(BODY_PIECES)
    engine = _engine(backend)
    shown = await engine.complete(_request(DOCUMENT))
    assert shown.text.startswith("result = 0")
    typed = DOCUMENT.replace("|", "resu|")
    result = await engine.complete(_request(typed))
    assert result.source == "typed-ahead"
    assert result.text == shown.text[len("resu") :]
    assert len(backend.requests) == 1


async def test_typed_ahead_does_not_apply_when_the_suffix_changed() -> None:
    backend = ScriptedBackend(BODY_PIECES)
    engine = _engine(backend)
    await engine.complete(_request(DOCUMENT))
    changed = DOCUMENT.replace("|", "resu|").replace("/ len(items)", "/ max(1, len(items))")
    result = await engine.complete(_request(changed))
    assert result.source == "model"
    assert len(backend.requests) == 2


async def test_typed_ahead_does_not_apply_when_the_typing_diverges() -> None:
    backend = ScriptedBackend(BODY_PIECES)
    engine = _engine(backend)
    await engine.complete(_request(DOCUMENT))
    result = await engine.complete(_request(DOCUMENT.replace("|", "ret|")))
    assert result.source != "typed-ahead"
    assert len(backend.requests) == 2


async def test_typed_ahead_is_per_document_and_forgotten_on_close() -> None:
    backend = ScriptedBackend(BODY_PIECES)
    engine = _engine(backend)
    await engine.complete(_request(DOCUMENT))
    engine.forget("file:///inventory/report.py")
    result = await engine.complete(_request(DOCUMENT.replace("|", "resu|")))
    assert result.source == "model"


async def test_auto_template_with_unknown_model_needs_a_template() -> None:
    backend = ScriptedBackend(BODY_PIECES)
    engine = _engine(backend, replace(SETTINGS, model="llama3:8b", fim_template="auto"))
    with pytest.raises(BackendConfigError, match="llama3:8b"):
        await engine.complete(_request(DOCUMENT))
    assert backend.requests == []


async def test_auto_template_with_unknown_model_uses_the_backends_native_fim() -> None:
    backend = ScriptedBackend(["return 0\n"], native_fim=True)
    engine = _engine(backend, replace(SETTINGS, model="llama3:8b", fim_template="auto"))
    await engine.complete(_request(DOCUMENT))
    (request,) = backend.requests
    assert request.prompt == "def total(items):\n    "
    assert request.suffix is not None
    assert request.suffix.startswith("\n\ndef average(items):")
    assert request.stop == ()


async def test_custom_template_shapes_the_prompt_and_stops() -> None:
    backend = ScriptedBackend(["return 0", "<END>", "junk\n"])
    template = CustomFimTemplate("<P>", "<S>", "<M>", ("<END>",))
    engine = _engine(backend, replace(SETTINGS, model="my-model", fim_template=template))
    result = await engine.complete(_request(DOCUMENT))
    (request,) = backend.requests
    assert request.prompt.startswith("<P>def total(items):\n    <S>\n\ndef average")
    assert request.prompt.endswith("<M>")
    assert request.stop == ("<END>",)
    assert result.text == "return 0"
    assert backend.closed_after == 2


def test_prompt_speed_counts_only_what_the_server_had_not_cached() -> None:
    from assist_server.context.budget import estimate_tokens
    from assist_server.types import Timings

    engine = _engine(ScriptedBackend())
    head = "def f(x):\n    return x\n" * 40
    engine._measure(head, Timings(first_token_ms=1000.0))
    first = engine.speed.tokens_per_second
    assert first is not None and abs(first - estimate_tokens(head)) < 1
    engine._measure(head + "y = 1\n", Timings(first_token_ms=50.0))  # shares the head: ignored
    assert engine.speed.tokens_per_second == first
