"""One small hierarchy of backend failures, each with a message a user can act on.

`key` identifies "the same problem" so that the editor is told once, not on every keystroke.
"""

from __future__ import annotations


class BackendError(Exception):
    """A failure talking to the model server; `str(err)` is the user-facing message."""

    kind = "error"

    def __init__(self, message: str, *, url: str = "", model: str = "") -> None:
        super().__init__(message)
        self.url = url
        self.model = model

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes two errors "the same" for de-duplicating notifications."""
        return (self.kind, self.url, self.model)


class BackendUnavailable(BackendError):
    """The server cannot be reached at all (refused, DNS, unreachable)."""

    kind = "unavailable"


class ModelNotFound(BackendError):
    """The server answers but does not have the requested model."""

    kind = "model-not-found"


class BackendTimeout(BackendError):
    """The server took longer than `backend.timeoutMs`."""

    kind = "timeout"


class BackendAuthError(BackendError):
    """The server refused our credentials (HTTP 401/403)."""

    kind = "auth"


class BackendServerError(BackendError):
    """The server failed (HTTP 5xx or another unexpected status)."""

    kind = "server-error"


class MalformedResponse(BackendError):
    """The server answered with something that is not the expected API."""

    kind = "malformed"


class BackendConfigError(BackendError):
    """The settings cannot work with this backend (e.g. no FIM template for the model)."""

    kind = "config"
