"""Fixtures for the backend contract tests: a real local HTTP server and a hermetic environment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from contract_server import ContractServer

from assist_server.backends import Backend, create_backend
from assist_server.config import BackendSettings


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or Ollama variables from the developer's shell leak into the clients under test."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "OLLAMA_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def server() -> Iterator[ContractServer]:
    """A real HTTP server on 127.0.0.1 (free port), stopped after the test."""
    contract = ContractServer()
    contract.start()
    try:
        yield contract
    finally:
        contract.stop()
    assert not contract.errors, f"a scripted reply failed: {contract.errors}"


@pytest.fixture
async def make_backend() -> AsyncIterator[Callable[..., Backend]]:
    """Build backends from settings (and a transport, if given); each is closed after the test."""
    created: list[Backend] = []

    def make(
        kind: str, url: str, transport: httpx.AsyncBaseTransport | None = None, **changes: Any
    ) -> Backend:
        settings = BackendSettings(
            kind=kind, url=url, api_key_env="", timeout_ms=5000, keep_alive="30m"
        )
        backend = create_backend(replace(settings, **changes), transport=transport)
        created.append(backend)
        return backend

    yield make
    for backend in created:
        await backend.aclose()
