"""The real stack that the demo, the benchmarks and the end-to-end tests run.

A llama.cpp server (llama-cpp-python) with the test model, and `assist-server` started the way
an editor starts it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from lsprotocol import types

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fetch_model  # noqa: E402  (a sibling script, importable once the folder is on the path)

MODEL_ALIAS = "qwen2.5-coder-0.5b"


def model_path() -> Path:
    """The verified test model: ASSIST_TEST_MODEL if set, else fetched into the cache."""
    if env := os.environ.get("ASSIST_TEST_MODEL"):
        return Path(env)
    target = fetch_model.cache_dir() / "models" / fetch_model.FILENAME
    if not fetch_model.verified(target):
        fetch_model.fetch(target)
    return target


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """`python -m llama_cpp.server` on a free loopback port; its log goes to `log_path`."""

    def __init__(
        self, log_path: Path, port: int | None = None, n_ctx: int = 4096, embedding: bool = False
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.n_ctx = n_ctx
        self.embedding = embedding  # serve /v1/embeddings (llama.cpp's --embedding)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The OpenAI API base, as `backend.url` wants it."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 180.0) -> LlamaServer:
        """Start the server and wait until it lists the model."""
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise RuntimeError(
                "llama-cpp-python is not installed: run scripts/test (or scripts/demo), "
                "which build and install it"
            ) from None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        threads = os.environ.get("ASSIST_LLAMA_THREADS", str(min(2, os.cpu_count() or 1)))
        # fmt: off
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()),
             "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
             "--n_ctx", str(self.n_ctx), "--n_threads", threads,
             *(["--embedding", "true"] if self.embedding else [])],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        # fmt: on
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"llama.cpp server did not start in {timeout:.0f} s; see {self.log_path}"
        )

    def stop(self) -> None:
        """Stop the server and everything it started."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=5)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def server_command() -> list[str]:
    """The installed console script next to this interpreter (what an editor would start)."""
    script = Path(sys.executable).with_name("assist-server")
    if script.exists():
        return [str(script)]
    found = shutil.which("assist-server")
    return [found] if found else [sys.executable, "-m", "assist_server"]


def inline_client_capabilities() -> types.ClientCapabilities:
    """An editor with LSP 3.18 inline completion, UTF-16 positions, settings pushed at start."""
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(
            position_encodings=[types.PositionEncodingKind.Utf16]
        ),
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities()
        ),
        workspace=types.WorkspaceClientCapabilities(configuration=False),
    )
