"""Chat prompts as data: the built-in code actions, the system prompt, and answer languages.

Rendering is pure: the engine passes what the user selected and what the index found, and gets
the messages to send. User-defined actions (`chat.actions`) use the same placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assist_server.types import ChatMessage, Snippet


@dataclass(frozen=True)
class ActionSpec:
    """One code action: what it is called, how its answer is used, and what it asks."""

    id: str
    title: str
    kind: str  # LSP CodeActionKind (hierarchical; clients group and filter by it)
    result: str  # "edit" (replace the selection) | "document" (markdown) | "tests" (test file)
    prompt: str  # may use {selection}, {file}, {language}, {diagnostics}, {comment_language}
    per_diagnostic: bool = False  # offered once per diagnostic in the range


# Kinds sit under the standard families so that every client files them sensibly.
KIND_EXPLAIN = "refactor.assist.explain"
KIND_REWRITE = "refactor.rewrite.assist"
KIND_FIX = "quickfix.assist"
KIND_TESTS = "refactor.assist.tests"
KIND_CUSTOM = "refactor.assist.custom"

_CODE_ONLY = (
    "Answer with the complete new code of the selection in one fenced ```{language} block, and "
    "nothing after it."
)

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "explain",
        "Explain",
        KIND_EXPLAIN,
        "document",
        "Explain what this {language} code from {file} does, how, and anything surprising in "
        "it. Be concise; use markdown.\n\n```{language}\n{selection}\n```",
    ),
    ActionSpec(
        "docstring",
        "Add docstring",
        KIND_REWRITE,
        "edit",
        "Add a docstring (or a doc comment, as is usual in {language}) to each function, method "
        "or class in this code from {file}, and a short comment where a line is not obvious. "
        "Write them in {comment_language}. Do not change the code itself. "
        + _CODE_ONLY
        + "\n\n```{language}\n{selection}\n```",
    ),
    ActionSpec(
        "fix",
        "Fix: {diagnostics}",
        KIND_FIX,
        "edit",
        "This {language} code from {file} has a problem reported by the editor:\n"
        "{diagnostics}\n\nFix it with the smallest change; keep everything else as it is. "
        + _CODE_ONLY
        + "\n\n```{language}\n{selection}\n```",
        per_diagnostic=True,
    ),
    ActionSpec(
        "refactor",
        "Refactor / simplify",
        KIND_REWRITE,
        "edit",
        "Simplify this {language} code from {file} without changing what it does: clearer "
        "names where they are local, less nesting, no dead code. Keep its public names and "
        "signatures. " + _CODE_ONLY + "\n\n```{language}\n{selection}\n```",
    ),
    ActionSpec(
        "tests",
        "Generate unit tests",
        KIND_TESTS,
        "tests",
        "Write unit tests for this {language} code from {file}, using the test framework usual "
        "for {language} (pytest for Python). They go into a separate test file: include the "
        "imports they need (the module is {module}). Answer with the test file's code in one "
        "fenced ```{language} block.\n\n```{language}\n{selection}\n```",
    ),
)

ACTIONS_BY_ID: dict[str, ActionSpec] = {action.id: action for action in ACTIONS}

SYSTEM = (
    "You are a careful coding assistant inside the user's editor. Answer in {answer_language}. "
    "When you give code, put it in fenced code blocks with the language name."
)

# Locale prefixes to the language the model is asked to answer in.
LANGUAGE_NAMES: Mapping[str, str] = {
    "zh-tw": "Traditional Chinese",
    "zh-hk": "Traditional Chinese",
    "zh-hant": "Traditional Chinese",
    "zh": "Simplified Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "ru": "Russian",
    "pl": "Polish",
    "nl": "Dutch",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "cs": "Czech",
    "vi": "Vietnamese",
    "id": "Indonesian",
    "ar": "Arabic",
    "he": "Hebrew",
    "hi": "Hindi",
}

# "Answer in X" in X itself: a small model follows the request far better in its own language.
NATIVE_REQUEST: Mapping[str, str] = {
    "Simplified Chinese": "请用简体中文回答，不要只重复代码。",
    "Traditional Chinese": "請用繁體中文回答，不要只重複程式碼。",
    "Japanese": "日本語で答えてください。",
    "Korean": "한국어로 답해 주세요.",
    "German": "Bitte antworte auf Deutsch.",
    "French": "Réponds en français.",
    "Spanish": "Responde en español.",
    "Portuguese": "Responda em português.",
    "Italian": "Rispondi in italiano.",
    "Russian": "Пожалуйста, отвечай по-русски.",
}


def language_request(language: str) -> str:
    """The closing line that asks for answers in `language`."""
    native = NATIVE_REQUEST.get(language, "")
    return f"Write your answer in {language}. {native}".rstrip()


# Scripts that tell the language of a file's comments (the rest is taken as English).
_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Japanese", re.compile(r"[\u3040-\u30ff]")),
    ("Korean", re.compile(r"[\uac00-\ud7af]")),
    ("Simplified Chinese", re.compile(r"[\u4e00-\u9fff]")),
    ("Russian", re.compile(r"[\u0400-\u04ff]")),
    ("Arabic", re.compile(r"[\u0600-\u06ff]")),
    ("Hebrew", re.compile(r"[\u0590-\u05ff]")),
)


def answer_language(setting: str, locale: str | None) -> str:
    """The language answers are written in: the setting, else the editor's locale, else English."""
    chosen = setting.strip() or (locale or "").strip()
    if not chosen:
        return "English"
    key = chosen.lower().replace("_", "-")
    for prefix in (key, "-".join(key.split("-")[:2]), key.split("-")[0]):
        if prefix in LANGUAGE_NAMES:
            return LANGUAGE_NAMES[prefix]
    return chosen  # a language name the user wrote ("Chinese", "Deutsch")


def comment_language(comments: str) -> str:
    """The language a file's comments are written in, judged by their script."""
    letters = sum(1 for c in comments if c.isalpha())
    if letters == 0:
        return "English"
    for name, script in _SCRIPTS:
        if len(script.findall(comments)) * 5 >= letters:  # a fifth of the letters or more
            return name
    return "English"


_PLACEHOLDER = re.compile(r"\{(selection|file|language|diagnostics|comment_language|module)\}")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace the known placeholders; other braces (code in a user's prompt) stay as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def context_block(snippets: Sequence[Snippet]) -> str:
    """Workspace code the index found, as fenced blocks with their paths."""
    parts = [
        f"{s.path} (lines {s.start_line}-{s.end_line}):\n```\n{s.text.rstrip()}\n```"
        for s in snippets
    ]
    return "Related code from the workspace:\n\n" + "\n\n".join(parts) if parts else ""


def action_messages(
    template: str, values: Mapping[str, str], snippets: Sequence[Snippet], language: str
) -> list[ChatMessage]:
    """System and user messages for one code action."""
    context = context_block(snippets)
    user = fill(template, values) + "\n\n" + language_request(language)
    return [
        ChatMessage("system", SYSTEM.format(answer_language=language)),
        ChatMessage("user", f"{context}\n\n{user}" if context else user),
    ]


def chat_messages(
    history: Sequence[ChatMessage],
    snippets: Sequence[Snippet],
    selection: str,
    file: str,
    language: str,
) -> list[ChatMessage]:
    """The conversation for `assist/chat`: system prompt (with the context), then the history."""
    system = SYSTEM.format(answer_language=language)
    if selection:
        system += f"\n\nThe user has selected this code in {file}:\n```\n{selection}\n```"
    if context := context_block(snippets):
        system += "\n\n" + context
    system += "\n\n" + language_request(language)
    return [ChatMessage("system", system), *history]
