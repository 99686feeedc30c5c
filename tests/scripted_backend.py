"""A backend that streams given pieces and records what it was asked (engine tests)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Sequence

from assist_server.backends import BackendCapabilities
from assist_server.types import ChatMessage, GenerateRequest


class ScriptedBackend:
    """A backend that streams given pieces and records what it was asked."""

    url = "http://scripted.test"

    def __init__(self, pieces: Iterable[str] = (), *, native_fim: bool = False) -> None:
        self.capabilities = BackendCapabilities("scripted", native_fim=native_fim)
        self.pieces = list(pieces)
        self.requests: list[GenerateRequest] = []
        self.yielded = 0
        self.closed_after: int | None = None

    async def stream_completion(self, request: GenerateRequest) -> AsyncGenerator[str, None]:
        self.requests.append(request)
        try:
            for piece in self.pieces:
                self.yielded += 1
                yield piece
        finally:
            self.closed_after = self.yielded

    async def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> AsyncGenerator[str, None]:
        raise AssertionError("not used by completions")
        yield ""  # pragma: no cover

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError("not used by completions")

    async def list_models(self) -> list[str]:
        return []

    async def aclose(self) -> None:
        pass
