"""Chat code actions and the `assist/chat` conversation, pure of LSP types.

An action runs on a selection: workspace context from the index, one streamed chat request, then
the answer becomes an edit of the selection, a test file, or a markdown document. An answer that
has no usable code, or whose edit would break the file's syntax, becomes a refusal that says why:
nothing half-applied ever reaches the source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assist_server.backends import Backend
from assist_server.config import ChatSettings, CustomAction
from assist_server.context.retrieval import SnippetSource
from assist_server.engine.edits import (
    TextChange,
    apply,
    breaks_syntax,
    code_from_answer,
    indent_of,
    reindent,
    smallest_change,
    whole_lines,
)
from assist_server.engine.testfiles import module_name, test_path
from assist_server.prompts.chat import (
    ACTIONS_BY_ID,
    KIND_CUSTOM,
    ActionSpec,
    action_messages,
    answer_language,
    chat_messages,
    comment_language,
)
from assist_server.syntax.languages import comment_text, language_id
from assist_server.types import ChatMessage, Snippet

log = logging.getLogger(__name__)

OnText = Callable[[str], None]  # receives each new piece of the answer as it streams


@dataclass(frozen=True)
class Selection:
    """The code an action or chat is about: a range of a document, as offsets into its text."""

    text: str  # the whole document
    start: int
    end: int
    language: str
    path: str | None = None  # absolute, when the document is a file
    rel_path: str = ""  # as shown to the model (workspace-relative when known)
    diagnostics: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        """The selected text."""
        return self.text[self.start : self.end]

    @property
    def lines(self) -> tuple[int, int]:
        """First and last selected line, 1-based."""
        first = self.text.count("\n", 0, self.start) + 1
        return first, first + self.text.count("\n", self.start, max(self.start, self.end - 1))


@dataclass
class ActionOutcome:
    """What an action produced; `kind` says which fields are set."""

    kind: str  # "edit" | "document" | "tests" | "refused"
    answer: str
    message: str = ""  # for the user: why nothing was applied, or a summary
    change: TextChange | None = None  # "edit": in the document
    test_path: str = ""  # "tests": workspace-relative
    test_code: str = ""
    snippets: list[Snippet] = field(default_factory=list)
    model_ms: float = 0.0


def find_action(action_id: str, title: str, custom: Sequence[CustomAction]) -> ActionSpec | None:
    """The built-in action `action_id`, or the user's action with that title."""
    if action_id != "custom":
        return ACTIONS_BY_ID.get(action_id)
    for item in custom:
        if item.title == title:
            return ActionSpec("custom", item.title, KIND_CUSTOM, item.result, item.prompt)
    return None


class Conversation:
    """The `assist/chat` history of one client, bounded to the last `limit` messages."""

    def __init__(self) -> None:
        self._messages: deque[ChatMessage] = deque()

    def messages(self, limit: int) -> list[ChatMessage]:
        """The history, oldest first, at most `limit` messages (starting with a user turn)."""
        kept = list(self._messages)[-limit:] if limit > 0 else []
        while kept and kept[0].role != "user":
            kept.pop(0)
        return kept

    def add(self, messages: Sequence[ChatMessage], limit: int) -> None:
        """Append a finished turn and drop what falls out of the bound."""
        self._messages.extend(messages)
        while len(self._messages) > max(limit, 0):
            self._messages.popleft()

    def clear(self) -> None:
        """Start a new conversation."""
        self._messages.clear()


class ChatEngine:
    """Runs code actions and chat turns against `chat.model`."""

    def __init__(
        self,
        backend: Backend,
        settings: ChatSettings,
        retriever: SnippetSource,
        locale: str | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.retriever = retriever
        self.locale = locale

    @property
    def language(self) -> str:
        """The human language answers are written in."""
        return answer_language(self.settings.language, self.locale)

    def snippets(self, selection: Selection) -> list[Snippet]:
        """Workspace code related to the selection (its names' definitions, uses, text hits)."""
        if self.settings.context_tokens <= 0 or selection.path is None:
            return []
        try:
            found = self.retriever.retrieve(
                selection.path,
                selection.text,
                selection.end,
                selection.lines,
                self.settings.context_tokens,
            )
        except Exception:  # context is a bonus: the action goes on without it
            log.exception("context for a chat request failed")
            return []
        return list(found.snippets)

    async def stream(self, messages: Sequence[ChatMessage], on_text: OnText) -> str:
        """Stream one answer, passing each piece to `on_text`; returns the whole answer."""
        pieces: list[str] = []
        stream = self.backend.stream_chat(
            self.settings.model,
            messages,
            max_tokens=self.settings.max_tokens,
            temperature=self.settings.temperature,
        )
        async with contextlib.aclosing(stream) as chunks:
            async for piece in chunks:
                pieces.append(piece)
                on_text(piece)
        return "".join(pieces)

    async def run_action(
        self, action: ActionSpec, selection: Selection, on_text: OnText
    ) -> ActionOutcome:
        """Ask the model for the action and turn its answer into an outcome."""
        language = language_id(selection.language, selection.path)
        snippets = await asyncio.to_thread(self.snippets, selection)
        comments = await asyncio.to_thread(comment_text, language, selection.text)
        values = {
            "selection": selection.code,
            "file": selection.rel_path or "the current file",
            "language": language or "text",
            "diagnostics": "\n".join(selection.diagnostics) or "(none)",
            "comment_language": comment_language(comments),
            "module": module_name(selection.rel_path, language),
        }
        messages = action_messages(action.prompt, values, snippets, self.language)
        started = time.perf_counter()
        answer = await self.stream(messages, on_text)
        outcome = outcome_of(action, selection, language, answer)
        outcome.snippets = snippets
        outcome.model_ms = (time.perf_counter() - started) * 1000
        log.info(
            "action %s on %s lines %d-%d: %s (%d characters, %d snippets, model %.0f ms)%s",
            action.id,
            selection.rel_path or "-",
            *selection.lines,
            outcome.kind,
            len(answer),
            len(snippets),
            outcome.model_ms,
            f": {outcome.message}" if outcome.kind == "refused" else "",
        )
        return outcome

    def chat_request(
        self, history: Sequence[ChatMessage], selection: Selection | None
    ) -> list[ChatMessage]:
        """The messages of one `assist/chat` turn, with the selection and its context."""
        snippets = self.snippets(selection) if selection is not None else []
        return chat_messages(
            history,
            snippets,
            selection.code if selection is not None else "",
            (selection.rel_path or "the current file") if selection is not None else "",
            self.language,
        )


def outcome_of(
    action: ActionSpec, selection: Selection, language: str, answer: str
) -> ActionOutcome:
    """Turn the model's answer into what the action does, or a refusal saying why."""
    if action.result == "document":
        if not answer.strip():
            return ActionOutcome("refused", answer, "the model gave an empty answer")
        return ActionOutcome("document", answer)
    code = code_from_answer(answer, language)
    if code is None:
        return ActionOutcome(
            "refused", answer, "the model's answer has no code block to apply; nothing changed"
        )
    if action.result == "tests":
        target = test_path(selection.rel_path or "module", language)
        if breaks_syntax(language, "", code):
            return ActionOutcome(
                "refused", answer, f"the generated tests do not parse as {language}; not written"
            )
        return ActionOutcome("tests", answer, test_path=target, test_code=code.rstrip() + "\n")
    start, end = whole_lines(selection.text, selection.start, selection.end)
    replacement = reindent(code.strip("\n"), indent_of(selection.text[start:end]))
    change = smallest_change(selection.text, start, end, replacement)
    if change is None:
        return ActionOutcome("refused", answer, "the model's code is the same as the selection")
    if breaks_syntax(language, selection.text, apply(selection.text, change)):
        return ActionOutcome(
            "refused",
            answer,
            f"the model's code would not parse as {language} in the file; nothing changed",
        )
    return ActionOutcome("edit", answer, change=change)
