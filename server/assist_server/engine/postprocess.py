"""Turn raw model output into a suggestion worth showing: pure functions, one rule each.

Small models run on: past the end of the block, into a copy of the code after the cursor, into
loops of the same line, or into markdown. Each rule below cuts one of those.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_FENCE = re.compile(r"^\s*```[\w+-]*\s*$")
_PROSE = re.compile(
    r"^(sure|certainly|here(?:'s| is| are)|this (?:code|function)|the following|below is)"
    r"\b.*[:.!]$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Shape:
    """What the suggestion should look like at this cursor."""

    multiline: bool
    indent: str  # indentation of the block being continued
    line_after: str  # text right of the cursor on its line (closing characters only)
    last_line_before: str  # the last non-blank line before the cursor
    suffix: str  # the code after the cursor, for overlap trimming
    max_lines: int = 12


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """Cut at the first stop string the server did not already stop on."""
    cut = len(text)
    for stop in stops:
        if stop and (i := text.find(stop)) >= 0:
            cut = min(cut, i)
    return text[:cut]


def strip_fences_and_prose(text: str) -> str:
    """Drop markdown fences and chatty lead-in lines an instruct model may add."""
    lines = text.split("\n")
    while lines and lines[0].strip() and _PROSE.match(lines[0].strip()):
        lines.pop(0)
        while lines and not lines[0].strip():
            lines.pop(0)
    if lines and _FENCE.match(lines[0]):
        lines.pop(0)
        for i, line in enumerate(lines):
            if _FENCE.match(line):
                lines = lines[:i]
                break
    else:
        for i, line in enumerate(lines):
            if i > 0 and _FENCE.match(line):
                lines = lines[:i]
                break
    return "\n".join(lines)


def _indent_width(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))


def block_lines(text: str, shape: Shape) -> str:
    """Keep the lines that belong to the block at the cursor, at most `shape.max_lines`."""
    lines = text.split("\n")
    if not shape.multiline:
        return lines[0]
    base = _indent_width(shape.indent)
    kept: list[str] = [lines[0]]
    went_deeper = _indent_width(shape.indent + lines[0]) > base
    for line in lines[1:]:
        if line.strip():
            width = _indent_width(line)
            if width < base:
                break  # dedent below the block: the block ended
            if went_deeper and width <= base and not kept[-1].strip():
                if (base == 0 and not _continues(line)) or _DEFINITION.match(line):
                    break  # a new statement (top level) or definition after a finished one
            went_deeper = went_deeper or width > base
        kept.append(line)
        if sum(1 for k in kept if k.strip()) >= shape.max_lines:
            break
    return "\n".join(kept)


# Lines that open a new definition in the languages we know (a table, not branches).
_DEFINITION = re.compile(
    r"\s*(@|(async\s+)?def\s|class\s|(export\s+)?(async\s+)?function\b|fn\s|pub\s|func\s|"
    r"(public|private|protected|static|override)\s)"
)


def _continues(line: str) -> bool:
    """Lines that continue a compound statement at the same indentation."""
    return bool(re.match(r"\s*(else|elif|except|finally|catch|\}|\)|\])", line))


def drop_repetition(text: str, shape: Shape) -> str:
    """Cut where the model starts looping.

    That is a line equal to the one before it, or a copy of the last line before the cursor.
    """
    lines = text.split("\n")
    previous = shape.last_line_before.strip()
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:
            continue
        if len(s) > 3 and (i > 0 and s == lines[i - 1].strip() or (i > 0 and s == previous)):
            return "\n".join(lines[:i])
    return text


def trim_suffix_overlap(text: str, shape: Shape) -> str:
    """Remove what repeats the code right after the cursor."""
    closers = shape.line_after.strip()
    if not shape.multiline and closers:
        stripped = text.rstrip()
        if stripped.endswith(closers):
            return stripped[: len(stripped) - len(closers)]
        return text
    suffix_lines = [line.strip() for line in shape.suffix.split("\n") if line.strip()]
    if not suffix_lines:
        return text
    lines = text.split("\n")
    first = suffix_lines[0]
    for i, line in enumerate(lines):
        if i > 0 and line.strip() == first and len(first) > 1:
            return "\n".join(lines[:i])
    return text


def settled(raw: str, shape: Shape, stops: Sequence[str] = ()) -> bool:
    """True once more output cannot change the suggestion: the stream can be closed early."""
    text = cut_at_stop(raw, stops)
    if len(text) < len(raw):
        return True
    if "\n" not in text:
        return False
    if not shape.multiline:
        return True
    complete = strip_fences_and_prose(text[: text.rfind("\n")])
    # The same rules as `postprocess`: once one of them cuts a finished line, the rest is moot
    # (a copy of the code after the cursor, a loop, the end of the block).
    kept = trim_suffix_overlap(drop_repetition(block_lines(complete, shape), shape), shape)
    return kept.count("\n") < complete.count("\n")


def finish(text: str) -> str:
    """No trailing blank lines or spaces; whitespace-only means no suggestion."""
    text = "\n".join(line.rstrip() for line in text.split("\n")).rstrip("\n")
    return text if text.strip() else ""


def postprocess(raw: str, shape: Shape, stops: Sequence[str] = ()) -> str:
    """All rules in order."""
    text = cut_at_stop(raw, stops)
    text = strip_fences_and_prose(text)
    text = block_lines(text, shape)
    text = drop_repetition(text, shape)
    text = trim_suffix_overlap(text, shape)
    return finish(text)
