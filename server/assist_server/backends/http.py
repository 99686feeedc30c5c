"""HTTP plumbing shared by the backends: client set-up and mapping failures to `BackendError`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import httpx

from assist_server.backends.errors import (
    BackendAuthError,
    BackendError,
    BackendServerError,
    BackendTimeout,
    BackendUnavailable,
)
from assist_server.config import BackendSettings

log = logging.getLogger(__name__)


def auth_headers(settings: BackendSettings) -> dict[str, str]:
    """A bearer token from the environment variable named by `backend.apiKeyEnv`, if any."""
    if not settings.api_key_env:
        return {}
    token = os.environ.get(settings.api_key_env, "")
    if not token:
        log.warning("backend.apiKeyEnv names %s, which is not set or empty", settings.api_key_env)
        return {}
    return {"Authorization": f"Bearer {token}"}


def timeout(settings: BackendSettings) -> httpx.Timeout:
    """Connect fast (a down server should say so at once); read within backend.timeoutMs."""
    total = settings.timeout_ms / 1000
    return httpx.Timeout(total, connect=min(total, 5.0))


def translate_transport_error(
    exc: Exception, *, url: str, model: str, start_hint: str
) -> BackendError | None:
    """Map an httpx transport exception to a user-facing error, or None if it is not one."""
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return BackendTimeout(
            f"The model server at {url} did not answer in time: raise backend.timeoutMs "
            "or use a smaller model.",
            url=url,
            model=model,
        )
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, ConnectionError)):
        return BackendUnavailable(
            f"Cannot reach the model server at {url}: {start_hint}", url=url, model=model
        )
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return BackendUnavailable(
            f"The model server at {url} closed the connection ({type(exc).__name__}): "
            f"is it still running? {start_hint}",
            url=url,
            model=model,
        )
    return None


def status_error(
    status: int, detail: str, *, url: str, model: str, not_found: Callable[[], BackendError]
) -> BackendError:
    """Map an HTTP error status (with the server's own words) to a user-facing error."""
    detail = " ".join(detail.split())[:300]
    if status in (401, 403):
        return BackendAuthError(
            f"The model server at {url} refused the request (HTTP {status}): set "
            "backend.apiKeyEnv to the name of an environment variable that holds the key.",
            url=url,
            model=model,
        )
    if status == 404 or "not found" in detail.lower() and "model" in detail.lower():
        return not_found()
    return BackendServerError(
        f"The model server at {url} failed (HTTP {status}): {detail}", url=url, model=model
    )
