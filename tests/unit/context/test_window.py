from __future__ import annotations

import pytest

from assist_server.context.budget import estimate_tokens
from assist_server.context.window import LINE_GRID, MAX_SUFFIX_LINES, cursor_window


def _document(lines: int) -> str:
    return "\n".join(
        f"    value_{i} = compute(value_{i - 1}, factor={i % 7})  # step {i}" for i in range(lines)
    )


def _end_of_line(text: str, line: int) -> int:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    end = text.find("\n", starts[line])
    return len(text) if end < 0 else end


@pytest.mark.parametrize("budget", [64, 256, 1024, 4096])
@pytest.mark.parametrize("line", [0, 5, 150, 399])
def test_prefix_and_suffix_fit_the_budget(budget: int, line: int) -> None:
    text = _document(400)
    offset = _end_of_line(text, line)
    window = cursor_window(text, offset, budget)
    assert window.prefix_tokens + window.suffix_tokens <= budget
    assert window.prefix_tokens == estimate_tokens(window.prefix)
    assert text[:offset].endswith(window.prefix)
    assert text[offset:].startswith(window.suffix)
    assert window.suffix.count("\n") < MAX_SUFFIX_LINES


def test_prefix_starts_on_the_line_grid() -> None:
    text = _document(400)
    offset = _end_of_line(text, 300)
    window = cursor_window(text, offset, 1024)
    assert 0 < window.prefix_start_line < 300
    assert window.prefix_start_line % LINE_GRID == 0
    lines = text.split("\n")
    assert window.prefix == "\n".join(lines[window.prefix_start_line : 300]) + "\n" + lines[300]


def test_prefix_start_stays_put_while_typing_on_the_cursor_line() -> None:
    text = _document(400)
    offset = _end_of_line(text, 300)
    typed = " + helper(value_299, value_298)"
    starts = set()
    for n in range(len(typed) + 1):
        window = cursor_window(text[:offset] + typed[:n] + text[offset:], offset + n, 1024)
        assert window.prefix_start_line % LINE_GRID == 0
        assert window.prefix.endswith(typed[:n])
        starts.add(window.prefix_start_line)
    # The greedy start moves by a line or two as the line grows; the grid absorbs that.
    assert len(starts) == 1


def test_prefix_start_stays_put_while_adding_lines() -> None:
    text = _document(400)
    starts = [
        cursor_window(text, _end_of_line(text, line), 1024).prefix_start_line
        for line in range(290, 300)
    ]
    # Ten new lines move the start at most once, by exactly one grid step.
    assert len(set(starts)) <= 2
    assert max(starts) - min(starts) in (0, LINE_GRID)


def test_small_file_goes_in_whole() -> None:
    text = "import os\n\n\ndef main():\n    print(os.getcwd())\n\n\nmain()\n"
    offset = text.index("print(") + len("print(")
    window = cursor_window(text, offset, 1024)
    assert window.prefix == text[:offset]
    assert window.suffix == text[offset:]
    assert window.prefix_start_line == 0


def test_suffix_is_capped_in_lines() -> None:
    text = "\n".join(f"x{i} = {i}" for i in range(100))
    window = cursor_window(text, 0, 100_000)
    assert window.prefix == ""
    assert window.suffix == "\n".join(text.split("\n")[:MAX_SUFFIX_LINES])


def test_cursor_at_start_of_document() -> None:
    text = _document(50)
    window = cursor_window(text, 0, 256)
    assert window.prefix == ""
    assert window.prefix_start_line == 0
    assert window.prefix_tokens == 0
    assert text.startswith(window.suffix) and window.suffix
    assert window.suffix_tokens <= 256


def test_cursor_at_end_of_document() -> None:
    text = _document(400) + "\n"
    window = cursor_window(text, len(text), 256)
    assert window.suffix == ""
    assert text.endswith(window.prefix)
    assert window.prefix_start_line % LINE_GRID == 0
    assert window.prefix_tokens + window.suffix_tokens <= 256


def test_single_huge_line_keeps_the_end_next_to_the_cursor() -> None:
    line = "data = [" + ", ".join(str(i) for i in range(20_000))
    window = cursor_window(line + "]\n", len(line), 512)
    assert window.prefix_start_line == 0
    assert line.endswith(window.prefix)
    assert window.prefix.endswith("19999")
    assert window.prefix_tokens + window.suffix_tokens <= 512
    assert window.prefix_tokens > 512 // 2  # most of the budget is still used


@pytest.mark.parametrize(
    "text", ["(" * 5000, "日本語" * 3000, "é" * 9000], ids=["punct", "cjk", "latin"]
)
def test_dense_huge_line_still_fits_the_budget(text: str) -> None:
    window = cursor_window(text, len(text), 128)
    assert text.endswith(window.prefix) and window.prefix
    assert window.prefix_tokens + window.suffix_tokens <= 128


def test_huge_first_suffix_line_is_cut_to_the_suffix_budget() -> None:
    text = "x = 1\n" + "y = '" + "漢字" * 5000 + "'\n"
    offset = len("x = 1\n")
    window = cursor_window(text, offset, 256)
    assert text[offset:].startswith(window.suffix) and window.suffix
    assert window.suffix_tokens == estimate_tokens(window.suffix)
    assert window.suffix_tokens <= int(256 * 0.15)
    assert window.prefix == "x = 1\n"
