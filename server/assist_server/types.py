"""Frozen value types shared across the rooms of the server (no LSP types here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class CompletionRequest:
    """One request for a completion at a cursor, independent of the editor protocol.

    `text` is the whole document and `offset` the cursor as an index into it (Python characters).
    """

    text: str
    offset: int
    language: str
    path: str | None = None
    document_key: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class Snippet:
    """A piece of code from elsewhere in the workspace that goes into the prompt as context."""

    path: str
    text: str
    start_line: int
    end_line: int
    source: str
    score: float = 0.0


@dataclass(frozen=True)
class GenerateRequest:
    """A raw completion request as sent to a backend: the rendered prompt and sampling options."""

    model: str
    prompt: str
    max_tokens: int
    temperature: float
    stop: tuple[str, ...] = ()
    suffix: str | None = None
    context_tokens: int = 0


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat conversation."""

    role: str
    content: str


@dataclass
class Timings:
    """Stage timings of one completion in milliseconds, for the log line and the benchmark."""

    total_ms: float = 0.0
    prepare_ms: float = 0.0
    retrieval_ms: float = 0.0  # part of prepare_ms
    model_ms: float = 0.0
    first_token_ms: float | None = None
    postprocess_ms: float = 0.0

    @property
    def overhead_ms(self) -> float:
        """Time spent in the server itself: everything but waiting for the model."""
        return max(0.0, self.total_ms - self.model_ms)


@dataclass
class CompletionResult:
    """The outcome of one completion request: the text to insert (empty: no suggestion)."""

    text: str
    source: str = "model"  # "model" | "cache" | "typed-ahead" | "skipped" | "error"
    reason: str = ""
    prompt_tokens: int = 0
    output_tokens: int = 0
    multiline: bool = False
    timings: Timings = field(default_factory=Timings)
    snippet_sources: str = "-"  # tier of each cross-file snippet in the prompt


@dataclass(frozen=True)
class Chunk:
    """A piece of a file worth retrieving on its own.

    A function, a method, a class skeleton, or a window of lines; lines are 1-based, inclusive.
    """

    path: str  # relative to the workspace root, with forward slashes
    language: str
    symbol: str  # "" for line windows and skeleton-less pieces
    kind: str  # "function" | "method" | "class" | "skeleton" | "window" | ...
    start_line: int
    end_line: int
    text: str
    content_hash: str  # of `text`, hex


@dataclass(frozen=True)
class Definition:
    """Where a name is defined in a file (1-based lines)."""

    name: str
    kind: str
    path: str
    start_line: int
    end_line: int


class Reference(NamedTuple):
    """Where a name is used (1-based line), for finding usage examples of an API.

    A named tuple where the other records are frozen dataclasses: a file has thousands of
    references (141k on the bench corpus), and a tuple is built from columns in C
    (`Reference._make`) and read back as columns (`zip(*references)`) by the store.
    """

    name: str
    path: str
    line: int


@dataclass(frozen=True)
class Import:
    """A name a file imports, and the module it names (as written in the source)."""

    name: str
    module: str
    path: str
    line: int


@dataclass(frozen=True)
class FileSymbols:
    """What the chunker learned from one file."""

    chunks: tuple[Chunk, ...]
    definitions: tuple[Definition, ...]
    imports: tuple[Import, ...]
    references: tuple[Reference, ...]
