"""From a model's answer to a safe edit: the fenced code, re-indented, as the smallest change.

Pure functions over strings and offsets; the LSP layer turns a `TextChange` into a WorkspaceEdit.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from assist_server.syntax.cursor import syntax_errors

_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([^\s`]*)[^\n]*$", re.MULTILINE)

# Fence tags that name each language id (besides the id itself).
_TAGS: dict[str, tuple[str, ...]] = {
    "python": ("py", "python3"),
    "javascript": ("js", "jsx", "javascriptreact"),
    "javascriptreact": ("js", "jsx", "javascript"),
    "typescript": ("ts", "tsx", "typescriptreact"),
    "typescriptreact": ("ts", "tsx", "typescript"),
    "cpp": ("c++", "cc", "cxx", "hpp"),
    "csharp": ("cs", "c#"),
    "go": ("golang",),
    "rust": ("rs",),
    "ruby": ("rb",),
    "shellscript": ("sh", "bash", "shell", "zsh"),
}


@dataclass(frozen=True)
class TextChange:
    """Replace `text[start:end]` with `new_text` (offsets into the document, in characters)."""

    start: int
    end: int
    new_text: str


def fenced_blocks(answer: str) -> list[tuple[str, str]]:
    """The (tag, code) of each fenced block; an unclosed last block runs to the end."""
    blocks: list[tuple[str, str]] = []
    fences = list(_FENCE.finditer(answer))
    i = 0
    while i < len(fences):
        opening = fences[i]
        marker, tag = opening.group(1), opening.group(2).lower()
        closing = next(
            (
                j
                for j in range(i + 1, len(fences))
                if fences[j].group(1).startswith(marker[0] * len(marker)) and not fences[j].group(2)
            ),
            None,
        )
        body_start = opening.end() + 1
        body_end = fences[closing].start() if closing is not None else len(answer)
        blocks.append((tag, answer[body_start:body_end].rstrip("\n")))
        if closing is None:
            break
        i = closing + 1
    return [(tag, code) for tag, code in blocks if code.strip()]


def code_from_answer(answer: str, language: str) -> str | None:
    """The code the answer gives for `language`: its matching (or only) fenced block."""
    blocks = fenced_blocks(answer)
    if not blocks:
        return None
    names = {language, *_TAGS.get(language, ())}
    matching = [code for tag, code in blocks if tag in names]
    if matching:
        return max(matching, key=len)
    untagged = [code for tag, code in blocks if not tag]
    if untagged:
        return max(untagged, key=len)
    return None  # only blocks of other languages (a shell command, a JSON example)


def whole_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to whole lines (a selection ending at a line start stops before it)."""
    if end > start and text[end - 1 : end] == "\n":
        end -= 1
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, len(text) if line_end < 0 else line_end


def indent_of(block: str) -> str:
    """The indentation of a block's least indented non-blank line."""
    indents = [line[: len(line) - len(line.lstrip())] for line in block.split("\n") if line.strip()]
    return min(indents, key=len) if indents else ""


def reindent(code: str, indent: str) -> str:
    """`code` dedented, then indented by `indent` (blank lines stay empty)."""
    body = textwrap.dedent(code.expandtabs(8) if "\t" in code and " " in indent else code)
    return "\n".join(indent + line if line.strip() else "" for line in body.split("\n"))


def smallest_change(text: str, start: int, end: int, replacement: str) -> TextChange | None:
    """The change of whole lines that turns text[start:end] into `replacement`; None if equal.

    Lines the old and new text share at their start and end are left out, so a docstring added
    to a function becomes one insertion and the editor's undo, markers and folds stay put.
    """
    old_lines = text[start:end].split("\n")
    new_lines = replacement.split("\n")
    if old_lines == new_lines:
        return None
    head = 0
    while head < min(len(old_lines), len(new_lines)) and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while (
        tail < min(len(old_lines), len(new_lines)) - head
        and old_lines[-1 - tail] == new_lines[-1 - tail]
    ):
        tail += 1
    old_mid = old_lines[head : len(old_lines) - tail]
    new_mid = new_lines[head : len(new_lines) - tail]
    offset = start + sum(len(line) + 1 for line in old_lines[:head])
    if not old_mid:  # a pure insertion before line `head`
        return TextChange(offset, offset, "".join(line + "\n" for line in new_mid))
    old_len = len("\n".join(old_mid))
    if not new_mid:  # a pure deletion of whole lines, with their line ends
        if head + len(old_mid) < len(old_lines):
            return TextChange(offset, offset + old_len + 1, "")
        return TextChange(max(start, offset - 1), offset + old_len, "")
    return TextChange(offset, offset + old_len, "\n".join(new_mid))


def apply(text: str, change: TextChange) -> str:
    """The document after the change."""
    return text[: change.start] + change.new_text + text[change.end :]


def breaks_syntax(language: str, before: str, after: str) -> bool:
    """Whether the edit adds syntax errors (False when the language has no grammar)."""
    old = syntax_errors(language, before)
    new = syntax_errors(language, after)
    return old is not None and new is not None and new > old
