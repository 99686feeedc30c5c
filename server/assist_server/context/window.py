"""The code around the cursor that goes into a FIM prompt, cut to a token budget.

The prefix starts on a line grid so that it stays the same while the user types: consecutive
requests then share the prompt's head and the model server reuses its cached KV state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assist_server.context.budget import estimate_tokens

SUFFIX_SHARE = (
    0.15  # the suffix is re-read on every keystroke (it follows the prefix): keep it small
)
MAX_SUFFIX_LINES = 12
LINE_GRID = 16  # the prefix start moves in steps of this many lines


@dataclass(frozen=True)
class Window:
    """Prefix and suffix text around the cursor, with where the prefix starts in the document."""

    prefix: str
    suffix: str
    prefix_start_line: int
    prefix_tokens: int
    suffix_tokens: int


def cursor_window(text: str, offset: int, budget_tokens: int) -> Window:
    """Cut `text` around `offset` so that prefix + suffix fit in `budget_tokens` (estimated)."""
    before, after = text[:offset], text[offset:]
    suffix_budget = max(8, int(budget_tokens * SUFFIX_SHARE))
    suffix, suffix_tokens = _take_lines(after.split("\n"), suffix_budget, MAX_SUFFIX_LINES)

    prefix_budget = max(8, budget_tokens - suffix_tokens)
    lines = before.split("\n")
    current = lines[-1]
    used = estimate_tokens(current)
    start = len(lines) - 1
    while start > 0:
        cost = estimate_tokens(lines[start - 1]) + 1
        if used + cost > prefix_budget:
            break
        used += cost
        start -= 1
    if start > 0:
        # Round the start up to the grid: it then only moves every LINE_GRID lines of growth.
        start = min(len(lines) - 1, -(-start // LINE_GRID) * LINE_GRID)
    prefix = "\n".join(lines[start:])
    if start == len(lines) - 1 and used > prefix_budget:
        # A single huge line: keep its end, which is what the model needs.
        prefix = _tail_within(current, prefix_budget)
    return Window(prefix, suffix, start, estimate_tokens(prefix), suffix_tokens)


def _take_lines(lines: list[str], budget: int, max_lines: int) -> tuple[str, int]:
    taken: list[str] = []
    used = 0
    for line in lines[:max_lines]:
        cost = estimate_tokens(line) + 1
        if taken and used + cost > budget:
            break
        taken.append(line)
        used += cost
    text = "\n".join(taken)
    if used > budget:
        text = _head_within(text, budget)
        used = estimate_tokens(text)
    return text, used


def _head_within(text: str, budget: int) -> str:
    """A start of `text` within `budget` (estimated tokens), near that long."""
    return _fit(text, budget, lambda n: text[:n])


def _tail_within(line: str, budget: int) -> str:
    """An end of `line` within `budget` (estimated tokens), near that long."""
    return _fit(line, budget, lambda n: line[len(line) - n :])


def _fit(text: str, budget: int, cut: Callable[[int], str]) -> str:
    # About 3 characters a token for code; dense text (CJK, punctuation runs) costs more, so
    # shrink until the estimate fits: a plain character cut could overrun the budget 3 times.
    n = min(len(text), max(0, budget * 3))
    piece = cut(n)
    while n > 0 and (tokens := estimate_tokens(piece)) > budget:
        n = min(n - 1, n * budget // tokens)
        piece = cut(n)
    return piece
