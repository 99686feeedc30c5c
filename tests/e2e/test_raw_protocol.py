"""Bytes on the wire: malformed JSON, bad params and unknown methods get clear errors and the
server keeps answering. Driven over a raw pipe, since a typed client cannot send garbage."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e]


class RawLsp:
    """Frames and reads LSP messages on a server's stdin/stdout."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assist_server", "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.notifications: list[dict[str, Any]] = []

    def send_bytes(self, body: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        length = 0
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("the server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        message: dict[str, Any] = json.loads(self.proc.stdout.read(length))
        return message

    def response_to(self, request_id: int) -> dict[str, Any]:
        """The response with this id; notifications on the way are kept in `notifications`."""
        for _ in range(50):
            message = self.read()
            if message.get("id") == request_id and "method" not in message:
                return message
            if "method" in message:
                self.notifications.append(message)
        raise AssertionError(f"no response to request {request_id}")

    def close(self) -> int:
        self.send({"id": 999, "method": "shutdown"})
        self.response_to(999)
        self.send({"method": "exit"})
        return self.proc.wait(timeout=10)


def test_garbage_on_the_wire_leaves_the_server_answering(tmp_path: Any) -> None:
    lsp = RawLsp()
    try:
        lsp.send(
            {
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}},
            }
        )
        assert "capabilities" in lsp.response_to(1)["result"]
        lsp.send({"method": "initialized", "params": {}})

        lsp.send_bytes(b"{this is not json")
        lsp.send(
            {
                "id": 2,
                "method": "textDocument/inlineCompletion",
                "params": {"textDocument": {"uri": "file:///x.py"}},
            }
        )  # no position
        error = lsp.response_to(2)["error"]
        assert error["code"] == -32602  # Invalid Params, answered rather than dropped
        assert "position" in error["message"]

        shown = [
            n["params"]["message"] for n in lsp.notifications if n["method"] == "window/showMessage"
        ]
        assert len(shown) == 1 and "could not be read and was ignored" in shown[0]

        lsp.send({"id": 3, "method": "assist/noSuchMethod", "params": {}})
        assert lsp.response_to(3)["error"]["code"] == -32601

        lsp.send(
            {
                "id": 4,
                "method": "textDocument/inlineCompletion",
                "params": {
                    "textDocument": {"uri": "file:///never-opened.py"},
                    "position": {"line": 0, "character": 0},
                    "context": {"triggerKind": 1},
                },
            }
        )
        assert lsp.response_to(4)["result"] == {"items": []}

        # No params at all: what Neovim sends for `client:request("assist/status", nil)`.
        lsp.send({"id": 5, "method": "assist/status"})
        assert lsp.response_to(5)["result"]["state"] == "disabled"
        assert lsp.close() == 0
    finally:
        if lsp.proc.poll() is None:
            lsp.proc.kill()
