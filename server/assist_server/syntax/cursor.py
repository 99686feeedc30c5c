"""What kind of completion fits the cursor: none, one line, or a block.

Plain-text rules decide the obvious cases (mid-word, code right of the cursor); tree-sitter says
whether the cursor sits in a comment or a string, where only the rest of the line makes sense.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

from assist_server.syntax.languages import LANGUAGES, LanguageInfo, parse

MAX_PARSE_CHARS = 200_000  # beyond this, parse only the lines around the cursor
AROUND_LINES = 200
CLOSERS = set(")]}>\"'`;:,. \t")
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class CursorContext:
    """The decision for one cursor, and facts the post-processing needs."""

    complete: bool
    multiline: bool
    reason: str
    line_before: str
    line_after: str
    indent: str  # indentation of the block the completion continues


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _node_kind_at(language: str, text: str, offset: int) -> str:
    """Name the syntax just left of the cursor: "comment", "string" or ""."""
    info = LANGUAGES.get(language)
    if info is None or offset == 0:
        return ""
    base = 0
    source = text
    if len(text) > MAX_PARSE_CHARS:
        # Parse a window of lines around the cursor: enough for comments and strings.
        start = text.rfind("\n", 0, offset)
        for _ in range(AROUND_LINES):
            if start <= 0:
                start = 0
                break
            start = text.rfind("\n", 0, start)
        end = offset
        for _ in range(AROUND_LINES):
            nxt = text.find("\n", end + 1)
            if nxt < 0:
                end = len(text)
                break
            end = nxt
        base, source = start, text[start:end]
    tree = parse(language, source)
    if tree is None:
        return ""
    cursor_byte = len(source[: offset - base].encode("utf-8", "surrogatepass"))
    node = tree.root_node.descendant_for_byte_range(cursor_byte - 1, cursor_byte - 1)
    return _classify(node, info, cursor_byte)


def _classify(node: tree_sitter.Node | None, info: LanguageInfo, cursor_byte: int) -> str:
    while node is not None:
        if node.type in info.comment_types and node.start_byte < cursor_byte <= node.end_byte:
            return "comment"
        if node.type in info.string_types and node.start_byte < cursor_byte < node.end_byte:
            return "string"
        node = node.parent
    return ""


def analyse_cursor(text: str, offset: int, language: str) -> CursorContext:
    """Decide whether and how to complete at `offset` of `text`."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_before = text[line_start:offset]
    line_after = text[offset : line_end if line_end >= 0 else len(text)]
    indent = _indent_of(line_before)

    def decision(complete: bool, multiline: bool, reason: str) -> CursorContext:
        return CursorContext(complete, multiline, reason, line_before, line_after, indent)

    if "\x00" in text:
        return decision(False, False, "binary document")
    if line_after[:1] and _WORD.match(line_after[0]):
        return decision(False, False, "cursor is inside a word")
    if any(ch not in CLOSERS for ch in line_after.rstrip("\r")):
        return decision(False, False, "code right of the cursor")

    kind = _node_kind_at(language, text, offset)
    if kind:
        return decision(True, False, f"in a {kind}: rest of line only")
    if line_after.strip():
        return decision(True, False, "closing characters right of the cursor: one line")
    stripped = line_before.strip()
    if not stripped:
        return decision(True, True, "blank line: a block")
    info = LANGUAGES.get(language)
    openers = info.block_openers if info else ("{", "(", "[", ":")
    if stripped.endswith(openers):
        return decision(True, True, "after a block opener: a block")
    return decision(True, False, "rest of the line")


def syntax_errors(language: str, source: str) -> int | None:
    """Count ERROR and MISSING nodes, or None when the language has no grammar."""
    tree = parse(language, source)
    if tree is None:
        return None
    if not tree.root_node.has_error:
        return 0
    count = 0
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
            continue
        stack.extend(child for child in node.children if child.has_error)
    return count


def longest_parsable(language: str, before: str, candidate: str, after: str) -> str:
    """The longest line-wise prefix of `candidate` whose insertion adds no syntax errors.

    Parses only the text given (the prompt window), so the cost does not grow with the file.
    Without a grammar the candidate is returned as is.
    """
    baseline = syntax_errors(language, before + after)
    if baseline is None or not candidate:
        return candidate
    lines = candidate.split("\n")
    for keep in range(len(lines), max(0, len(lines) - 4), -1):
        text = "\n".join(lines[:keep]).rstrip()
        if not text.strip():
            break
        errors = syntax_errors(language, before + text + after)
        if errors is not None and errors <= baseline:
            return text
    return ""
