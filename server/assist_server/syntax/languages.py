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
    """How to load a grammar and what its syntax looks like to the completion pipeline.

    The fields after `indent_blocks` serve the chunker (`syntax/chunking.py`): `queries` names
    the query file `queries/<queries>.scm` (definitions, imports, references); without one the
    language is cut into plain line windows.
    """

    module: str
    function: str = "language"
    comment_types: tuple[str, ...] = ("comment",)
    string_types: tuple[str, ...] = ("string", "string_content", "template_string")
    block_openers: tuple[str, ...] = ("{", "(", "[")
    indent_blocks: bool = False  # blocks are delimited by indentation (Python)
    queries: str = ""
    elision: str = "// ..."  # stands for an elided body in a class skeleton
    leading_types: tuple[str, ...] = ()  # besides comments, what sticks to the next definition
    wrapper_types: tuple[str, ...] = ()  # parents that belong to the definition they wrap
    import_path_separator: str = ""  # an unnamed import is named after its path's last part
    not_references: tuple[str, ...] = ()  # identifiers that name no API (`self`)


_C_LIKE_STRINGS = (
    "string_literal",
    "char_literal",
    "raw_string_literal",
    "string_content",
    "string_fragment",
    "template_string",
    "string",
)

_JS_WRAPPERS = ("export_statement",)
_TS_WRAPPERS = ("export_statement", "ambient_declaration")
_C_WRAPPERS = ("type_definition",)
_CPP_WRAPPERS = ("type_definition", "template_declaration")
_JAVA_COMMENTS = ("line_comment", "block_comment")

LANGUAGES: dict[str, LanguageInfo] = {
    "python": LanguageInfo(
        "tree_sitter_python",
        string_types=("string", "string_content"),
        block_openers=(":", "(", "[", "{"),
        indent_blocks=True,
        queries="python",
        elision="...",
        wrapper_types=("decorated_definition",),
        not_references=("self", "cls"),
    ),
    "javascript": LanguageInfo(
        "tree_sitter_javascript",
        string_types=_C_LIKE_STRINGS,
        queries="javascript",
        leading_types=("decorator",),
        wrapper_types=_JS_WRAPPERS,
    ),
    "javascriptreact": LanguageInfo(
        "tree_sitter_javascript",
        string_types=_C_LIKE_STRINGS,
        queries="javascript",
        leading_types=("decorator",),
        wrapper_types=_JS_WRAPPERS,
    ),
    "typescript": LanguageInfo(
        "tree_sitter_typescript",
        "language_typescript",
        string_types=_C_LIKE_STRINGS,
        queries="typescript",
        leading_types=("decorator",),
        wrapper_types=_TS_WRAPPERS,
    ),
    "typescriptreact": LanguageInfo(
        "tree_sitter_typescript",
        "language_tsx",
        string_types=_C_LIKE_STRINGS,
        queries="typescript",
        leading_types=("decorator",),
        wrapper_types=_TS_WRAPPERS,
    ),
    "go": LanguageInfo(
        "tree_sitter_go",
        string_types=("interpreted_string_literal", "raw_string_literal"),
        queries="go",
        wrapper_types=("type_declaration", "const_declaration", "var_declaration"),
        import_path_separator="/",
    ),
    "rust": LanguageInfo(
        "tree_sitter_rust",
        comment_types=_JAVA_COMMENTS,
        string_types=_C_LIKE_STRINGS,
        queries="rust",
        leading_types=("attribute_item",),
    ),
    "java": LanguageInfo(
        "tree_sitter_java",
        comment_types=_JAVA_COMMENTS,
        string_types=_C_LIKE_STRINGS,
        queries="java",
    ),
    "c": LanguageInfo(
        "tree_sitter_c", string_types=_C_LIKE_STRINGS, queries="c", wrapper_types=_C_WRAPPERS
    ),
    "cpp": LanguageInfo(
        "tree_sitter_cpp", string_types=_C_LIKE_STRINGS, queries="cpp", wrapper_types=_CPP_WRAPPERS
    ),
    "csharp": LanguageInfo(
        "tree_sitter_c_sharp",
        string_types=(
            "string_literal",
            "string_literal_content",
            "verbatim_string_literal",
            "raw_string_literal",
            "interpolated_string_expression",
            "character_literal",
        ),
        queries="csharp",
    ),
    "ruby": LanguageInfo(
        "tree_sitter_ruby",
        string_types=("string", "string_content", "heredoc_body", "simple_symbol"),
        block_openers=("{", "(", "[", "|", " do"),
        queries="ruby",
        elision="# ...",
    ),
    "php": LanguageInfo(
        "tree_sitter_php",
        "language_php",
        string_types=("string", "encapsed_string", "string_content", "heredoc_body"),
        queries="php",
        not_references=("this", "self", "parent", "static"),
    ),
    "shellscript": LanguageInfo(
        "tree_sitter_bash",
        string_types=("string", "raw_string", "ansi_c_string", "heredoc_body"),
        block_openers=("{", "(", " then", " do"),
        queries="bash",
        elision="# ...",
    ),
    "lua": LanguageInfo(
        "tree_sitter_lua",
        string_types=("string", "string_content"),
        block_openers=("{", "(", " then", " do"),
        queries="lua",
        elision="-- ...",
        not_references=("self",),
    ),
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
    ".cs": "csharp",
    ".rb": "ruby",
    ".rake": "ruby",
    ".gemspec": "ruby",
    ".php": "php",
    ".sh": "shellscript",
    ".bash": "shellscript",
    ".lua": "lua",
}

_ALIASES = {
    "py": "python",
    "js": "javascript",
    "ts": "typescript",
    "tsx": "typescriptreact",
    "jsx": "javascriptreact",
    "c++": "cpp",
    "golang": "go",
    "c#": "csharp",
    "cs": "csharp",
    "rb": "ruby",
    "sh": "shellscript",
    "bash": "shellscript",
    "shell": "shellscript",
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


def comment_text(language: str, source: str, limit: int = 4000) -> str:
    """The text of the file's comments and docstrings (up to `limit` characters), in order.

    Tells what human language the file's authors write in; empty without a grammar.
    """
    info = LANGUAGES.get(language)
    tree = parse(language, source) if info is not None else None
    if info is None or tree is None:
        return ""
    pieces: list[str] = []
    size = 0
    stack = [tree.root_node]
    while stack and size < limit:
        node = stack.pop()
        docstring = (
            node.type == "string"
            and node.parent is not None
            and node.parent.type == "expression_statement"
        )
        if node.type in info.comment_types or docstring:
            text = (node.text or b"").decode("utf-8", "replace")
            pieces.append(text)
            size += len(text)
            continue
        stack.extend(reversed(node.children))
    return "\n".join(pieces)[:limit]
