"""The language server object: holds the services, applies settings, runs background tasks."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cattrs
from lsprotocol import types
from pygls.exceptions import (
    FeatureRequestError,
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import from_fs_path, to_fs_path

from assist_server import __version__
from assist_server.backends import Backend, create_backend
from assist_server.config import Settings, parse_settings
from assist_server.context.budget import PromptSpeed
from assist_server.context.retrieval import ContextRetriever, FileLines, RecentEdits
from assist_server.engine.chat import ChatEngine, Conversation, Selection
from assist_server.engine.completion import CompletionEngine
from assist_server.lsp.errors import ErrorReporter
from assist_server.lsp.positions import offset_at

if TYPE_CHECKING:
    from pygls.workspace import TextDocument

    from assist_server.index.indexer import WorkspaceIndex
    from assist_server.lsp.features.indexing import Indexing

log = logging.getLogger(__name__)


class AssistProtocol(LanguageServerProtocol):
    """pygls' protocol, but preferring UTF-8 positions whenever the client offers them.

    pygls picks the client's first listed encoding; we take UTF-8 if it is listed anywhere
    (cheaper to map for us), and UTF-16, the mandatory default, otherwise.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cancellable: dict[Any, asyncio.Task[Any]] = {}

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        """Reorder the client's encodings before pygls negotiates."""
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            offered = list(general.position_encodings)
            if types.PositionEncodingKind.Utf8 in offered:
                general.position_encodings = [types.PositionEncodingKind.Utf8]
            elif types.PositionEncodingKind.Utf16 in offered:
                general.position_encodings = [types.PositionEncodingKind.Utf16]
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        return result

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Answer a request whose params do not fit its method, instead of dropping it.

        pygls raises while decoding such a request, so the client would wait forever for its
        answer; we send the Invalid Params error for that id and skip the message. A request
        may leave out `params` (JSON-RPC allows it; `assist/status` takes none), but pygls's
        message type for methods it has no LSP type for requires the field: it is filled in.
        """
        if "id" in data and "method" in data and "params" not in data:
            data = {**data, "params": None}
        try:
            return super().structure_message(data)
        except (JsonRpcInvalidParams, JsonRpcInternalError) as exc:
            if not ("id" in data and "method" in data):
                raise
            cause = exc.__cause__
            detail = (
                "; ".join(cattrs.transform_error(cause))
                if isinstance(cause, cattrs.ClassValidationError)
                else str(cause or exc)
            )
            log.warning("malformed %s request %s: %s", data["method"], data["id"], detail)
            error = JsonRpcInvalidParams(f"Invalid params for {data['method']}: {detail}")
            self._send_response(data["id"], error=error.to_response_error())
            return _ANSWERED

    def handle_message(self, message: Any) -> None:
        """Skip requests already answered while decoding."""
        if message is not _ANSWERED:
            super().handle_message(message)

    def track_cancel(self, task: asyncio.Task[Any]) -> Callable[[], None]:
        """Cancel `task` when the client cancels the request being handled now.

        pygls runs a command handler as an inner task that `$/cancelRequest` does not reach (it
        only answers the outer request), so long commands register their work here. Returns
        the function that forgets the task once it is done.
        """
        msg_id = self.msg_id
        if msg_id is None:
            return lambda: None
        self._cancellable[msg_id] = task

        def forget() -> None:
            self._cancellable.pop(msg_id, None)

        return forget

    def cancel_in_flight(self) -> None:
        """Cancel every request still running (at shutdown).

        pygls does the same after our shutdown handler, but iterates its dict of requests while
        cancelling: a command's future removes itself synchronously and the loop breaks.
        """
        current = self.msg_id
        me = asyncio.current_task()  # the shutdown handler itself runs as one of them
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and future is not me and not future.done():  # type: ignore[comparison-overlap]
                future.cancel()
        for task in list(self._cancellable.values()):
            task.cancel()

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        super()._handle_cancel_notification(msg_id)
        task = self._cancellable.pop(msg_id, None)
        if task is not None and not task.done():
            log.info("request %s cancelled by the client", msg_id)
            task.cancel()


_ANSWERED = object()  # marks a request answered with an error while it was decoded


class AssistServer(LanguageServer):
    """The assist language server: settings, the model backend and the completion engine."""

    def __init__(self) -> None:
        super().__init__("assist-server", __version__, protocol_cls=AssistProtocol)
        self.settings: Settings = parse_settings()
        self.init_options: dict[str, Any] = {}
        self.backend: Backend = create_backend(self.settings.backend)
        self.recent = RecentEdits()
        self.retriever = ContextRetriever(
            self.index_for, recent=self.recent, files=FileLines(self._buffer_text)
        )
        self.speed = PromptSpeed()  # measured prompt speed outlives engine rebuilds
        self.engine = self._engine()
        self.locale: str | None = None  # from initialize: the default language of answers
        self.chat = self._chat()
        self.conversation = Conversation()
        self.errors = ErrorReporter(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Features that decide at initialize whether to register (capabilities tell the truth).
        self.on_initialize: list[Callable[[types.InitializeParams], None]] = []
        # Features that start work once the client is ready and settings are pulled.
        self.on_initialized: list[Callable[[], None]] = []
        # Features that follow settings changes: called with (old, new) after each change.
        self.on_settings: list[Callable[[Settings, Settings], None]] = []
        self.indexing: Indexing | None = None

    def _engine(self) -> CompletionEngine:
        return CompletionEngine(self.backend, self.settings.completion, self.retriever, self.speed)

    def _chat(self) -> ChatEngine:
        return ChatEngine(self.backend, self.settings.chat, self.retriever, self.locale)

    def index_for(self, path: Path) -> WorkspaceIndex | None:
        """The index of the workspace folder holding `path`, once indexing has opened it."""
        return self.indexing.index_for(path) if self.indexing is not None else None

    def document_path(self, uri: str) -> tuple[str | None, str]:
        """The file behind `uri`, and how prompts name it (relative to its workspace folder)."""
        path = to_fs_path(uri)
        if not path:
            return None, uri
        index = self.index_for(Path(path))
        rel = index.relative(Path(path)) if index is not None else None
        return path, rel or Path(path).name

    def selection(
        self, document: TextDocument, rng: types.Range | None, diagnostics: tuple[str, ...] = ()
    ) -> Selection:
        """What an action or a chat turn is about: `rng` of an open document (none: its start)."""
        text = document.source
        start = end = 0
        if rng is not None:
            start = offset_at(text, rng.start, self.position_encoding)
            end = offset_at(text, rng.end, self.position_encoding)
        path, rel = self.document_path(document.uri)
        return Selection(text, start, end, document.language_id or "", path, rel, diagnostics)

    def _buffer_text(self, path: str) -> str | None:
        """The editor's text of the file at `path` if it is open (it may be ahead of the disk)."""
        document = self.workspace.text_documents.get(from_fs_path(path) or "")
        return document.source if document is not None else None

    @property
    def position_encoding(self) -> str:
        """The negotiated position encoding."""
        return str(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)

    def run_background(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a task, keep a reference until it ends, and log its failure."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and (exc := t.exception()) is not None:
                log.error("background task %s failed", name, exc_info=exc)

        task.add_done_callback(done)
        return task

    def apply_settings(self, *sources: dict[str, Any] | None) -> None:
        """Read settings (later sources win), report problems, rebuild what changed."""
        settings = parse_settings(self.init_options, *sources)
        for problem in settings.problems:
            self.errors.message(problem)
        if settings.unknown_keys:
            log.info(
                "ignoring settings this server does not know: %s", ", ".join(settings.unknown_keys)
            )
        old = self.settings
        self.settings = settings
        if settings.backend != old.backend:
            previous = self.backend
            self.backend = create_backend(settings.backend)
            self.run_background(previous.aclose(), "close-backend")
        if settings.backend != old.backend or settings.completion != old.completion:
            self.engine = self._engine()
        self.chat = self._chat()  # cheap; also picks up the locale set at initialize
        log.info("settings in effect: %s", settings.as_dict())
        for hook in self.on_settings:
            hook(old, settings)

    async def register_capability(self, method: str, options: Any, supported: bool) -> None:
        """Ask the client to register `method` dynamically, where it says it can."""
        if not supported:
            return
        registration = types.Registration(
            id=str(uuid.uuid4()), method=method, register_options=options
        )
        try:
            await self.client_register_capability_async(
                types.RegistrationParams(registrations=[registration])
            )
        except JsonRpcException as exc:  # a client that claims support but refuses
            log.warning("client/registerCapability for %s failed: %s", method, exc)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Say clearly, once per kind of problem, that a message from the editor was ignored."""
        log.error("could not handle a message from the editor: %s", error, exc_info=error)
        if source is FeatureRequestError:
            return  # the client already got this error in the response to its request
        self.errors.message(
            f"a message from the editor could not be read and was ignored ({error}); "
            "the server goes on. Details are in the server log.",
            types.MessageType.Warning,
        )

    async def aclose(self) -> None:
        """Stop background work and close connections."""
        if self.indexing is not None:
            self.indexing.stop()
        for task in list(self._tasks):
            task.cancel()
        await self.backend.aclose()
