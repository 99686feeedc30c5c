"""Chat code actions: listed cheaply, run through `assist.runAction`, applied without pollution.

Listing (textDocument/codeAction) never calls the model: it offers Explain, Add docstring, one
Fix per diagnostic in range, Refactor, Generate unit tests and the user's `chat.actions`, each
as a command. Running one streams the model's answer through `$/progress` (cancellable) and
then: an edit goes to the client as `workspace/applyEdit` (the smallest change, version-checked,
annotated for confirmation where the client supports it); tests go to the language's usual test
file (created if needed); an explanation opens as a markdown document under the cache folder
(`window/showDocument`), or `window/showMessage` when short. An unusable answer changes nothing
and the user is told why.

`assist.runAction` takes one object: `{"action": "explain" | "docstring" | "fix" | "refactor" |
"tests" | "custom", "title": <the custom action's title>, "textDocument": {"uri"}, "range",
"diagnostics": [message, ...]}` and answers `{"action", "outcome", "applied", "message", "uri"}`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import from_fs_path, to_fs_path

from assist_server.backends import BackendError
from assist_server.engine.chat import ActionOutcome, Selection, find_action
from assist_server.lsp.positions import offset_at, position_at
from assist_server.lsp.progress import Progress
from assist_server.lsp.server import AssistServer
from assist_server.lsp.suggest import MAX_DOCUMENT_CHARS
from assist_server.prompts.chat import (
    ACTIONS,
    KIND_CUSTOM,
    KIND_EXPLAIN,
    KIND_FIX,
    KIND_REWRITE,
    KIND_TESTS,
    ActionSpec,
)
from assist_server.syntax.chunking import chunk_file
from assist_server.syntax.languages import language_id

log = logging.getLogger(__name__)

RUN_ACTION = "assist.runAction"
TITLE_PREFIX = "Assist: "
SHORT_ANSWER = 200  # characters: shorter explanations come as a message, not a document
STREAM_REPORT_S = 0.2
ANNOTATION = "assist"


def explanations_dir() -> Path:
    """Where explanations are written as markdown files."""
    return Path(platformdirs.user_cache_dir("assist-server")) / "explanations"


@dataclass(frozen=True)
class ActionCall:
    """The arguments of one `assist.runAction`."""

    action: str
    title: str
    uri: str
    range: types.Range
    diagnostics: tuple[str, ...]


def _call(args: tuple[Any, ...]) -> ActionCall:
    try:
        arg = args[0]
        if not isinstance(arg, dict):
            raise TypeError("expected one object")
        start, end = arg["range"]["start"], arg["range"]["end"]
        diagnostics = arg.get("diagnostics") or []
        if not isinstance(diagnostics, list) or not all(isinstance(d, str) for d in diagnostics):
            raise TypeError("diagnostics must be a list of messages")
        call = ActionCall(
            action=str(arg["action"]),
            title=str(arg.get("title", "")),
            uri=str(arg["textDocument"]["uri"]),
            range=types.Range(
                types.Position(int(start["line"]), int(start["character"])),
                types.Position(int(end["line"]), int(end["character"])),
            ),
            diagnostics=tuple(diagnostics),
        )
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise JsonRpcInvalidParams(
            f"{RUN_ACTION} takes {{action, textDocument: {{uri}}, range, diagnostics?, title?}}: "
            f"{exc}"
        ) from None
    return call


def _kind_wanted(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == o or kind.startswith(o + ".") for o in only)


class CodeActions:
    """Lists and runs the chat code actions of one server."""

    def __init__(self, server: AssistServer) -> None:
        self.server = server
        self._definitions: dict[tuple[str, int], list[tuple[int, int]]] = {}

    # --- listing ------------------------------------------------------------------------

    def enclosing_definition(
        self, uri: str, version: int, text: str, language: str, line: int
    ) -> tuple[int, int] | None:
        """Lines (1-based) of the innermost function or class holding `line`, if any."""
        key = (uri, version)
        spans = self._definitions.get(key)
        if spans is None:
            symbols = chunk_file(uri, text, language)
            spans = [(d.start_line, d.end_line) for d in symbols.definitions]
            self._definitions = {key: spans}  # one document at a time: the one being edited
        inside = [(s, e) for s, e in spans if s <= line <= e]
        return min(inside, key=lambda span: span[1] - span[0]) if inside else None

    def offered(self, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        """The actions for a range; no model call."""
        server = self.server
        uri = params.text_document.uri
        document = server.workspace.text_documents.get(uri)
        if document is None or len(document.source) > MAX_DOCUMENT_CHARS:
            return None
        text = document.source
        encoding = server.position_encoding
        start = offset_at(text, params.range.start, encoding)
        end = offset_at(text, params.range.end, encoding)
        rng = params.range
        if text[start:end].strip() == "":
            language = language_id(document.language_id, to_fs_path(uri))
            span = self.enclosing_definition(
                uri, document.version or 0, text, language, params.range.start.line + 1
            )
            if span is None:
                return None
            lines = text.split("\n")
            rng = types.Range(
                types.Position(span[0] - 1, 0),
                types.Position(
                    span[1] - 1, len(lines[span[1] - 1]) if span[1] <= len(lines) else 0
                ),
            )
        only = list(params.context.only) if params.context.only else None
        actions: list[types.CodeAction] = []

        def offer(
            spec_id: str, title: str, kind: str, diagnostics: list[types.Diagnostic] | None = None
        ) -> None:
            if not _kind_wanted(kind, only):
                return
            argument = {
                "action": spec_id,
                "title": title,
                "textDocument": {"uri": uri},
                "range": {
                    "start": {"line": rng.start.line, "character": rng.start.character},
                    "end": {"line": rng.end.line, "character": rng.end.character},
                },
                "diagnostics": [d.message for d in diagnostics or []],
            }
            label = TITLE_PREFIX + title
            actions.append(
                types.CodeAction(
                    title=label,
                    kind=kind,
                    diagnostics=diagnostics,
                    command=types.Command(title=label, command=RUN_ACTION, arguments=[argument]),
                )
            )

        for spec in ACTIONS:
            if spec.per_diagnostic:
                for diagnostic in params.context.diagnostics:
                    message = diagnostic.message.strip().split("\n")[0]
                    offer(
                        spec.id,
                        spec.title.format(diagnostics=_short(message)),
                        spec.kind,
                        [diagnostic],
                    )
            else:
                offer(spec.id, spec.title, spec.kind)
        for custom in server.settings.chat.actions:
            offer("custom", custom.title, KIND_CUSTOM)
        return actions or None

    # --- running ------------------------------------------------------------------------

    async def run(self, call: ActionCall) -> dict[str, Any]:
        """Run one action to its end: the model's answer applied, shown, or refused."""
        server = self.server
        spec = find_action(call.action, call.title, server.settings.chat.actions)
        if spec is None:
            raise JsonRpcInvalidParams(f"no action {call.action!r} {call.title!r}".strip())
        document = server.workspace.text_documents.get(call.uri)
        if document is None:
            return self._told(spec, "refused", "the document is not open in the editor")
        # The version of this text: pygls updates the document in place as the user types on
        # while the model writes, and the edit must say which text its positions are for.
        text, version = document.source, document.version
        if len(text) > MAX_DOCUMENT_CHARS:
            return self._told(spec, "refused", "the document is too large")
        selection = server.selection(document, call.range, call.diagnostics)
        if not selection.code.strip():
            return self._told(spec, "refused", "select the code first")
        title = spec.title.format(diagnostics=", ".join(call.diagnostics) or "problem")
        streamed: list[str] = []

        async def answer() -> ActionOutcome:
            return await server.chat.run_action(spec, selection, streamed.append)

        work = asyncio.get_running_loop().create_task(answer())
        forget = server.protocol.track_cancel(work)  # type: ignore[attr-defined]
        progress = await Progress.open(
            server,
            f"assist: {title}",
            cancellable=True,
            percentage=None,
            on_cancel=work.cancel,
        )
        reporter = asyncio.get_running_loop().create_task(_report_tail(progress, streamed))
        try:
            outcome = await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            progress.close("cancelled")
            if current is not None and current.cancelling():
                raise
            log.info("action %s cancelled by the user", spec.id)
            return {"action": spec.id, "outcome": "cancelled", "applied": False, "message": ""}
        except BackendError as exc:
            progress.close("failed")
            server.errors.report(exc)
            return {"action": spec.id, "outcome": "error", "applied": False, "message": str(exc)}
        finally:
            forget()
            reporter.cancel()
        progress.close(outcome.kind)
        server.errors.recovered()
        return await self.deliver(spec, title, call, version, selection, outcome)

    def _told(self, spec: ActionSpec, outcome: str, message: str) -> dict[str, Any]:
        """Tell the user why nothing happened, and answer the command likewise."""
        self.server.errors.message(f"{spec.title}: {message}", types.MessageType.Warning)
        return {"action": spec.id, "outcome": outcome, "applied": False, "message": message}

    async def deliver(
        self,
        spec: ActionSpec,
        title: str,
        call: ActionCall,
        version: int | None,
        selection: Selection,
        outcome: ActionOutcome,
    ) -> dict[str, Any]:
        """Apply, write or show what the action produced."""
        if outcome.kind == "refused":
            return self._told(spec, "refused", outcome.message)
        if outcome.kind == "document":
            uri = await self.show_answer(title, selection, outcome.answer)
            return {
                "action": spec.id,
                "outcome": "document",
                "applied": False,
                "message": "",
                "uri": uri,
            }
        if outcome.kind == "tests":
            return await self.write_tests(spec, call, selection, outcome)
        assert outcome.change is not None
        now = self.server.workspace.text_documents.get(call.uri)
        if now is None or now.version != version:
            # Not every editor checks an edit's version (Neovim skips it for a buffer unchanged
            # since it was opened; others take plain `changes`): positions computed on the old
            # text must not land in the new one.
            return self._told(
                spec,
                "refused",
                "the document changed while the model wrote: nothing was applied; run the "
                "action again",
            )
        encoding = self.server.position_encoding
        rng = types.Range(
            position_at(selection.text, outcome.change.start, encoding),
            position_at(selection.text, outcome.change.end, encoding),
        )
        edit = self.workspace_edit(
            call.uri, version, [(rng, outcome.change.new_text)], f"assist: {title}"
        )
        return await self.apply(spec, title, edit, call.uri)

    def workspace_edit(
        self,
        uri: str,
        version: int | None,
        edits: list[tuple[types.Range, str]],
        label: str,
        create: bool = False,
    ) -> types.WorkspaceEdit:
        """The WorkspaceEdit for the client: versioned and annotated where it can take them."""
        capabilities = self.server.client_capabilities.workspace
        workspace_edit = capabilities.workspace_edit if capabilities else None
        annotate = bool(
            self.server.settings.chat.confirm_edits
            and workspace_edit
            and workspace_edit.change_annotation_support is not None
        )
        if not (workspace_edit and workspace_edit.document_changes):
            return types.WorkspaceEdit(
                changes={uri: [types.TextEdit(range=r, new_text=t) for r, t in edits]}
            )
        text_edits: list[types.TextEdit | types.AnnotatedTextEdit | types.SnippetTextEdit] = [
            types.AnnotatedTextEdit(range=r, new_text=t, annotation_id=ANNOTATION)
            if annotate
            else types.TextEdit(range=r, new_text=t)
            for r, t in edits
        ]
        changes: list[Any] = []
        if create:
            changes.append(
                types.CreateFile(
                    uri=uri, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=True)
                )
            )
        changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=uri, version=version
                ),
                edits=text_edits,
            )
        )
        return types.WorkspaceEdit(
            document_changes=changes,
            change_annotations=(
                {
                    ANNOTATION: types.ChangeAnnotation(
                        label=label, needs_confirmation=True, description="from the model"
                    )
                }
                if annotate
                else None
            ),
        )

    async def apply(
        self, spec: ActionSpec, title: str, edit: types.WorkspaceEdit, uri: str
    ) -> dict[str, Any]:
        """Send the edit; report what the editor did with it."""
        capabilities = self.server.client_capabilities.workspace
        if not (capabilities and capabilities.apply_edit):
            return self._told(
                spec, "refused", "the editor cannot apply edits (workspace/applyEdit)"
            )
        result = await self.server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=f"assist: {title}")
        )
        if not result.applied:
            reason = result.failure_reason or "declined or the document changed meanwhile"
            return self._told(spec, "not-applied", f"the editor did not apply the edit ({reason})")
        return {"action": spec.id, "outcome": "edit", "applied": True, "message": "", "uri": uri}

    async def write_tests(
        self, spec: ActionSpec, call: ActionCall, selection: Selection, outcome: ActionOutcome
    ) -> dict[str, Any]:
        """Put the tests into the conventional test file, creating it when needed."""
        server = self.server
        path = selection.path
        index = server.index_for(Path(path)) if path else None
        root = index.root if index is not None else Path(path).parent if path else None
        if root is None:
            return self._told(spec, "refused", "the document is not a file: no place for tests")
        target = root / outcome.test_path
        uri = from_fs_path(str(target)) or target.as_uri()
        open_doc = server.workspace.text_documents.get(uri)
        exists = open_doc is not None or target.exists()
        capabilities = server.client_capabilities.workspace
        workspace_edit = capabilities.workspace_edit if capabilities else None
        can_create = bool(
            workspace_edit
            and workspace_edit.resource_operations
            and types.ResourceOperationKind.Create in workspace_edit.resource_operations
        )
        label = f"assist: tests for {selection.rel_path}"
        if exists:
            current = open_doc.source if open_doc is not None else _read(target)
            lines = current.split("\n")
            end = types.Position(len(lines) - 1, len(lines[-1]))
            edit = self.workspace_edit(
                uri,
                open_doc.version if open_doc is not None else None,
                [(types.Range(end, end), _separator(current) + outcome.test_code)],
                label,
            )
            applied = await self.apply(spec, label, edit, uri)
        elif can_create:
            start = types.Position(0, 0)
            edit = self.workspace_edit(
                uri, None, [(types.Range(start, start), outcome.test_code)], label, create=True
            )
            applied = await self.apply(spec, label, edit, uri)
        else:  # a client without file creation: a new file loses nothing, write it ourselves
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(outcome.test_code, encoding="utf-8")
            applied = {"action": spec.id, "outcome": "tests", "applied": True, "message": ""}
        if applied.get("applied"):
            applied.update(outcome="tests", uri=uri, message=outcome.test_path)
            await self.show(uri, f"tests written to {outcome.test_path}")
        return applied

    async def show_answer(self, title: str, selection: Selection, answer: str) -> str | None:
        """Open the answer as a markdown document, or show it as a message when it is short."""
        text = answer.strip()
        if len(text) <= SHORT_ANSWER and "\n" not in text:
            self.server.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Info, message=f"assist: {text}")
            )
            return None
        folder = explanations_dir()
        first, last = selection.lines
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(selection.rel_path or "answer").name)
        target = folder / f"{name}-{first}-{last}-{time.strftime('%Y%m%d-%H%M%S')}.md"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            header = f"# {title}: {selection.rel_path} lines {first}-{last}\n\n"
            target.write_text(header + text + "\n", encoding="utf-8")
        except OSError as exc:
            log.warning("could not write %s: %s", target, exc)
            self.server.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Info, message=f"assist: {text}")
            )
            return None
        uri = target.as_uri()
        await self.show(uri, text)
        return uri

    async def show(self, uri: str, fallback: str) -> None:
        """Open `uri` in the editor; clients that cannot get `fallback` as a message."""
        window = self.server.client_capabilities.window
        if window and window.show_document and window.show_document.support:
            result = await self.server.window_show_document_async(
                types.ShowDocumentParams(uri=uri, take_focus=True)
            )
            if result.success:
                return
        self.server.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Info, message=f"assist: {fallback}\n\n({uri})"
            )
        )


def _short(text: str, most: int = 60) -> str:
    """`text` cut to `most` characters, an ellipsis marking the cut."""
    return text if len(text) <= most else text[: most - 3] + "..."


def _separator(current: str) -> str:
    """What goes between a file's text and appended tests: one blank line."""
    if not current.strip():
        return ""
    return ("" if current.endswith("\n") else "\n") + ("" if current.endswith("\n\n") else "\n")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


async def _report_tail(progress: Progress, streamed: list[str]) -> None:
    """Show the line the model is writing, a few times a second."""
    seen = 0
    while True:
        await asyncio.sleep(STREAM_REPORT_S)
        if len(streamed) == seen:
            continue
        seen = len(streamed)
        lines = [line for line in "".join(streamed).split("\n") if line.strip()]
        tail = lines[-1].strip() if lines else ""
        progress.report(_short(tail))


KINDS = [KIND_EXPLAIN, KIND_REWRITE, KIND_FIX, KIND_TESTS, KIND_CUSTOM]


def register(server: AssistServer) -> None:
    """Wire code actions and their command."""
    actions = CodeActions(server)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=KINDS, resolve_provider=False),
    )
    def code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        try:
            return actions.offered(params)
        except Exception:  # listing must never break the editor's light bulb
            log.exception("listing code actions failed")
            return None

    @server.command(RUN_ACTION)
    async def run_action(*args: Any) -> dict[str, Any]:
        return await actions.run(_call(args))
