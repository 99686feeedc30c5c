"""A small real HTTP server for backend contract tests: scripted answers, recorded requests.

It listens on 127.0.0.1 only, on a free port, in a thread. Each test scripts the answer for a
(method, path) with a `Reply` function; the server records every request it received (headers and
decoded JSON body), how many streamed chunks it managed to send, and whether a client went away
while it was still streaming (a write raised BrokenPipe/ConnectionReset).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Errors a write raises once the client has closed its end of the connection.
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # the decoded JSON body, or None


class Exchange:
    """The request being answered, with helpers that speak HTTP/1.1 on the real socket."""

    def __init__(self, handler: _Handler, server: ContractServer) -> None:
        self._handler = handler
        self.server = server

    def send(self, status: int, body: bytes, content_type: str) -> None:
        """A whole response with a Content-Length."""
        handler = self._handler
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()

    def json(self, status: int, value: Any) -> None:
        """A JSON response, as Ollama and OpenAI-compatible servers send for one object."""
        self.send(status, json.dumps(value).encode(), "application/json; charset=utf-8")

    def stream(
        self,
        chunks: Iterable[bytes],
        *,
        content_type: str,
        status: int = 200,
        delay: float = 0.0,
    ) -> None:
        """Stream `chunks` with chunked transfer encoding, `delay` seconds apart.

        A write that fails because the client went away is recorded in `server.client_gone`
        instead of raising.
        """
        handler = self._handler
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            handler.wfile.flush()
            for chunk in chunks:
                if delay and self.server.stopping.wait(delay):
                    return
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                handler.wfile.flush()
                self.server.chunks_sent += 1
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except CLIENT_GONE:
            handler.close_connection = True
            self.server.client_gone.set()

    def pause(self, seconds: float) -> None:
        """Wait before answering (cut short when the server stops)."""
        self.server.stopping.wait(seconds)


Reply = Callable[[Exchange], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def _answer(self) -> None:
        contract = self.server.contract
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = self.path.split("?", 1)[0]
        contract.received.append(
            Received(
                method=self.command,
                path=path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
            )
        )
        reply = contract.routes.get((self.command, path))
        exchange = Exchange(self, contract)
        try:
            if reply is None:
                exchange.send(404, b"404 page not found", "text/plain")
            else:
                reply(exchange)
        except CLIENT_GONE:
            self.close_connection = True
            contract.client_gone.set()

    do_GET = _answer
    do_POST = _answer


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    contract: ContractServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Record a failing reply (a bug in the test); a client hanging up is expected."""
        error = sys.exc_info()[1]
        if not isinstance(error, CLIENT_GONE):
            self.contract.errors.append(repr(error))
            super().handle_error(request, client_address)


class ContractServer:
    """A real HTTP server on 127.0.0.1 that answers as scripted per (method, path)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Reply] = {}
        self.received: list[Received] = []
        self.errors: list[str] = []  # exceptions raised by replies, other than a client gone
        self.chunks_sent = 0
        self.client_gone = threading.Event()
        self.stopping = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.contract = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:40123."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, method: str, path: str, reply: Reply) -> None:
        """Answer `method path` with `reply`."""
        self.routes[(method, path)] = reply

    def bodies(self, path: str) -> list[Any]:
        """The JSON bodies received on `path`, in order."""
        return [r.body for r in self.received if r.path == path]

    def start(self) -> None:
        """Start serving in a thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, wake paused replies and close the listening socket."""
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def ndjson(*parts: dict[str, Any]) -> list[bytes]:
    """Ollama's streaming format: one JSON object per line."""
    return [json.dumps(part).encode() + b"\n" for part in parts]


def sse(*events: dict[str, Any] | str) -> list[bytes]:
    """OpenAI's streaming format: `data: {json}` events separated by blank lines."""
    return [
        b"data: " + (e if isinstance(e, str) else json.dumps(e)).encode() + b"\n\n" for e in events
    ]


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens, so connecting is refused."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
