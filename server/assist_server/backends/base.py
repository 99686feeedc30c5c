"""The one interface every model backend implements, and its declared capabilities."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol

from assist_server.types import ChatMessage, GenerateRequest


@dataclass(frozen=True)
class BackendCapabilities:
    """What a backend can do, as data: callers branch on these, not on the backend's class."""

    name: str
    native_fim: bool  # can take prompt + suffix and apply the model's own FIM template
    streaming: bool = True
    embeddings: bool = False


class Backend(Protocol):
    """A model server: raw completions for FIM, chat, and a model listing for `doctor`."""

    capabilities: BackendCapabilities
    url: str

    def stream_completion(self, request: GenerateRequest) -> AsyncGenerator[str, None]:
        """Yield pieces of generated text; cancelling the consumer closes the HTTP stream."""
        ...

    def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> AsyncGenerator[str, None]:
        """Yield pieces of the assistant's answer."""
        ...

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """One embedding vector per text."""
        ...

    async def list_models(self) -> list[str]:
        """Names of the models the server has."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
