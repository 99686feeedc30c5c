"""Which tree-sitter grammar serves which editor language, as a table.

Grammars come from the official per-language wheels; a missing wheel makes that language fall
back to plain-text heuristics rather than failing.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass
from pathlib import PurePath

import tree_sitter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LanguageInfo:
    """How to load a grammar and what its syntax looks like to the completion pipeline."""

    module: str
    function: str = "language"
    comment_types: tuple[str, ...] = ("comment",)
    string_types: tuple[str, ...] = ("string", "string_content", "template_string")
    block_openers: tuple[str, ...] = ("{", "(", "[")
    indent_blocks: bool = False  # blocks are delimited by indentation (Python)


_C_LIKE_STRINGS = (
    "string_literal",
    "char_literal",
    "raw_string_literal",
    "string_content",
    "string_fragment",
    "template_string",
    "string",
)

LANGUAGES: dict[str, LanguageInfo] = {
    "python": LanguageInfo(
        "tree_sitter_python",
        string_types=("string", "string_content"),
        block_openers=(":", "(", "[", "{"),
        indent_blocks=True,
    ),
    "javascript": LanguageInfo("tree_sitter_javascript", string_types=_C_LIKE_STRINGS),
    "javascriptreact": LanguageInfo("tree_sitter_javascript", string_types=_C_LIKE_STRINGS),
    "typescript": LanguageInfo(
        "tree_sitter_typescript", "language_typescript", string_types=_C_LIKE_STRINGS
    ),
    "typescriptreact": LanguageInfo(
        "tree_sitter_typescript", "language_tsx", string_types=_C_LIKE_STRINGS
    ),
    "go": LanguageInfo(
        "tree_sitter_go", string_types=("interpreted_string_literal", "raw_string_literal")
    ),
    "rust": LanguageInfo(
        "tree_sitter_rust",
        comment_types=("line_comment", "block_comment"),
        string_types=_C_LIKE_STRINGS,
    ),
    "java": LanguageInfo(
        "tree_sitter_java",
        comment_types=("line_comment", "block_comment"),
        string_types=_C_LIKE_STRINGS,
    ),
    "c": LanguageInfo("tree_sitter_c", string_types=_C_LIKE_STRINGS),
    "cpp": LanguageInfo("tree_sitter_cpp", string_types=_C_LIKE_STRINGS),
}

EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascriptreact",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "typescriptreact",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
}

_ALIASES = {
    "py": "python",
    "js": "javascript",
    "ts": "typescript",
    "tsx": "typescriptreact",
    "jsx": "javascriptreact",
    "c++": "cpp",
    "golang": "go",
}

_cache: dict[str, tree_sitter.Language | None] = {}
_lock = threading.Lock()


def language_id(language: str | None, path: str | None = None) -> str:
    """Normalise the editor's languageId, falling back to the file extension."""
    lang = (language or "").lower()
    lang = _ALIASES.get(lang, lang)
    if lang in LANGUAGES or not path:
        return lang
    return EXTENSIONS.get(PurePath(path).suffix.lower(), lang)


def grammar(language: str) -> tree_sitter.Language | None:
    """The loaded grammar for a language id, or None if we have none."""
    info = LANGUAGES.get(language)
    if info is None:
        return None
    with _lock:
        if language not in _cache:
            try:
                module = importlib.import_module(info.module)
                _cache[language] = tree_sitter.Language(getattr(module, info.function)())
            except (ImportError, AttributeError, ValueError) as exc:
                log.warning(
                    "no tree-sitter grammar for %s (%s): plain-text rules apply", language, exc
                )
                _cache[language] = None
        return _cache[language]


def parse(language: str, source: str) -> tree_sitter.Tree | None:
    """Parse source text; a new Parser per call because parsers are not thread-safe."""
    lang = grammar(language)
    if lang is None:
        return None
    return tree_sitter.Parser(lang).parse(source.encode("utf-8", "surrogatepass"))
