"""Model backends: one protocol, one module per provider; the only importers of httpx/ollama."""

from __future__ import annotations

import httpx

from assist_server.backends.base import Backend, BackendCapabilities
from assist_server.backends.errors import (
    BackendAuthError,
    BackendConfigError,
    BackendError,
    BackendServerError,
    BackendTimeout,
    BackendUnavailable,
    MalformedResponse,
    ModelNotFound,
)
from assist_server.backends.ollama import OllamaBackend
from assist_server.backends.openai import OpenAIBackend
from assist_server.config import BackendSettings

__all__ = [
    "Backend",
    "BackendAuthError",
    "BackendCapabilities",
    "BackendConfigError",
    "BackendError",
    "BackendServerError",
    "BackendTimeout",
    "BackendUnavailable",
    "MalformedResponse",
    "ModelNotFound",
    "create_backend",
]

_KINDS: dict[str, type[OllamaBackend] | type[OpenAIBackend]] = {
    "ollama": OllamaBackend,
    "openai": OpenAIBackend,
}


def create_backend(
    settings: BackendSettings, transport: httpx.AsyncBaseTransport | None = None
) -> Backend:
    """The backend for `backend.kind` (a transport may be given, for contract tests)."""
    return _KINDS[settings.kind](settings, transport=transport)
