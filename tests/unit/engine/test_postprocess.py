from __future__ import annotations

from dataclasses import replace

import pytest

from assist_server.engine.postprocess import (
    Shape,
    block_lines,
    cut_at_stop,
    drop_repetition,
    finish,
    postprocess,
    settled,
    strip_fences_and_prose,
    trim_suffix_overlap,
)
from assist_server.prompts.fim import TEMPLATES

QWEN_STOPS = TEMPLATES["qwen"].stop

# The cursor sits on the blank, indented line of a function body:
#
#     def total(items):
#         |
#
#     def average(items):
#         return total(items) / len(items)
SUFFIX = "\n\ndef average(items):\n    return total(items) / len(items)\n"
BODY = Shape(
    multiline=True,
    indent="    ",
    line_after="",
    last_line_before="def total(items):",
    suffix=SUFFIX,
)
# The cursor is at the end of a top-level line: a new top-level block follows.
TOP = Shape(multiline=True, indent="", line_after="", last_line_before="import math", suffix="")
# `x = compute(|)` — only the rest of the line.
LINE = Shape(
    multiline=False,
    indent="",
    line_after=")",
    last_line_before="x = compute(",
    suffix=")\nprint(x)\n",
)


# cut_at_stop


def test_cut_at_the_earliest_of_several_stops() -> None:
    raw = "return a + b\n<|file_sep|>other.py\nimport os<|endoftext|>"
    assert cut_at_stop(raw, QWEN_STOPS) == "return a + b\n"


def test_cut_at_stop_without_stops_or_match_keeps_everything() -> None:
    assert cut_at_stop("return 1", ()) == "return 1"
    assert cut_at_stop("return 1", ("", "<|im_end|>")) == "return 1"
    assert cut_at_stop("<|im_end|>", QWEN_STOPS) == ""


# strip_fences_and_prose


def test_chatty_lead_in_and_fences_are_dropped() -> None:
    raw = "Sure! Here is the code:\n\n```python\n    return sum(items)\n```\nThis sums the items."
    assert strip_fences_and_prose(raw) == "    return sum(items)"


def test_fence_without_lead_in_and_without_closing_fence() -> None:
    assert strip_fences_and_prose("```js\nreturn 1;\nreturn 2;") == "return 1;\nreturn 2;"


def test_code_followed_by_a_fence_is_cut_at_the_fence() -> None:
    raw = "    return sum(items)\n```\n\nExplanation: ..."
    assert strip_fences_and_prose(raw) == "    return sum(items)"


def test_plain_code_is_untouched() -> None:
    raw = "    # Here is the total.\n    return sum(items)\n"
    assert strip_fences_and_prose(raw) == raw
    assert strip_fences_and_prose("here_is = 1") == "here_is = 1"


# block_lines


def test_block_ends_at_the_dedent_after_the_function() -> None:
    raw = (
        "result = 0\n"
        "    for item in items:\n"
        "        result += item.price\n"
        "    return result\n"
        "\n"
        "def average(items):\n"
        "    return total(items) / len(items)\n"
    )
    assert block_lines(raw, BODY) == (
        "result = 0\n    for item in items:\n        result += item.price\n    return result\n"
    )


def test_top_level_block_stops_at_a_new_definition_after_a_blank_line() -> None:
    raw = "\ndef area(r):\n    return math.pi * r ** 2\n\ndef circumference(r):\n    return 2 * r\n"
    assert block_lines(raw, TOP) == "\ndef area(r):\n    return math.pi * r ** 2\n"


def test_top_level_block_continues_with_else_and_elif() -> None:
    raw = "if x > 0:\n    y = 1\n\nelif x < 0:\n    y = -1\nelse:\n    y = 0\n\nprint(y)\n"
    assert block_lines(raw, TOP) == (
        "if x > 0:\n    y = 1\n\nelif x < 0:\n    y = -1\nelse:\n    y = 0\n"
    )


def test_top_level_block_continues_with_closing_brace_and_catch() -> None:
    raw = "try {\n  run();\n\n} catch (e) {\n  log(e);\n}\n\nfunction next() {}\n"
    assert block_lines(raw, TOP) == "try {\n  run();\n\n} catch (e) {\n  log(e);\n}\n"


def test_top_level_statements_without_a_block_are_kept() -> None:
    raw = "import os\n\nimport sys\n"
    assert block_lines(raw, TOP) == raw


def test_block_is_capped_at_max_lines_not_counting_blank_lines() -> None:
    raw = "\n".join(f"    x{i} = {i}\n" for i in range(30))
    kept = block_lines(raw, replace(BODY, max_lines=5))
    assert [line for line in kept.split("\n") if line.strip()] == [
        f"    x{i} = {i}" for i in range(5)
    ]


def test_tabs_count_as_indentation() -> None:
    shape = replace(BODY, indent="\t")
    raw = "x := 1\n\tif x > 0 {\n\t\tx++\n\t}\nfunc other() {\n"
    assert block_lines(raw, shape) == "x := 1\n\tif x > 0 {\n\t\tx++\n\t}"


def test_single_line_shape_keeps_the_first_line_only() -> None:
    assert block_lines("price * qty)\nprint(x)\n", LINE) == "price * qty)"


# drop_repetition


def test_a_line_repeated_in_a_loop_is_cut() -> None:
    raw = "    total += 1\n    total += 1\n    total += 1\n"
    assert drop_repetition(raw, BODY) == "    total += 1"


def test_a_copy_of_the_line_before_the_cursor_is_cut() -> None:
    shape = replace(BODY, last_line_before="    items.sort()")
    raw = "    seen = set()\n    items.sort()\n    return items"
    assert drop_repetition(raw, shape) == "    seen = set()"


def test_short_repeated_lines_are_fine() -> None:
    raw = "    }\n    }\n  }"
    assert drop_repetition(raw, BODY) == raw


def test_first_line_is_not_compared_with_the_line_before() -> None:
    # In the first line the model continues the cursor line; equality there is no loop.
    shape = replace(BODY, last_line_before="    x = 1")
    assert drop_repetition("    x = 1\n    y = 2", shape) == "    x = 1\n    y = 2"


# trim_suffix_overlap


def test_single_line_drops_the_closers_already_right_of_the_cursor() -> None:
    assert trim_suffix_overlap("price * qty)", LINE) == "price * qty"
    assert trim_suffix_overlap("price * qty)  ", LINE) == "price * qty"
    shape = replace(LINE, line_after=");")
    assert trim_suffix_overlap("price * qty);", shape) == "price * qty"
    assert trim_suffix_overlap("price * qty", LINE) == "price * qty"


def test_multi_line_stops_where_the_suffix_starts_again() -> None:
    raw = (
        "    return sum(item.price for item in items)\n"
        "\n"
        "def average(items):\n"
        "    return total(items) / len(items)"
    )
    assert trim_suffix_overlap(raw, BODY) == "    return sum(item.price for item in items)\n"


def test_multi_line_ignores_one_character_suffix_lines() -> None:
    shape = replace(BODY, suffix="\n}\n")
    raw = "  if (x) {\n    y();\n  }\n}"
    assert trim_suffix_overlap(raw, shape) == raw


def test_multi_line_without_suffix_is_untouched() -> None:
    assert trim_suffix_overlap("a\nb", replace(BODY, suffix="\n\n")) == "a\nb"


# finish


def test_finish_trims_trailing_space_and_blank_lines() -> None:
    assert finish("    return x  \n\n\n") == "    return x"
    assert finish("\n    return x\t\n    ") == "\n    return x"


@pytest.mark.parametrize("raw", ["", "\n", "   \n\t\n"])
def test_finish_whitespace_only_is_no_suggestion(raw: str) -> None:
    assert finish(raw) == ""


# The whole pipeline on realistic raw outputs


def test_qwen_running_past_the_function_into_a_copy_of_the_suffix() -> None:
    raw = (
        "result = 0\n"
        "    for item in items:\n"
        "        result += item.price * item.quantity\n"
        "    return result\n"
        "\n"
        "def average(items):\n"
        "    return total(items) / len(items)\n"
        "<|file_sep|>inventory/report.py\n"
    )
    assert postprocess(raw, BODY, QWEN_STOPS) == (
        "result = 0\n"
        "    for item in items:\n"
        "        result += item.price * item.quantity\n"
        "    return result"
    )


def test_qwen_copying_the_suffix_at_the_same_indentation() -> None:
    shape = replace(BODY, suffix="\n    return result\n")
    raw = "result = 0\n    for item in items:\n        result += item\n    return result\n"
    assert postprocess(raw, shape, QWEN_STOPS) == (
        "result = 0\n    for item in items:\n        result += item"
    )


def test_single_line_completion_inside_a_call() -> None:
    raw = "value, factor=2)\nprint(x)\n<|endoftext|>"
    assert postprocess(raw, LINE, QWEN_STOPS) == "value, factor=2"


def test_instruct_model_chatter_around_a_block() -> None:
    raw = "Here's the implementation:\n```python\n    return sum(items)\n```\n"
    assert postprocess(raw, BODY, QWEN_STOPS) == "    return sum(items)"


def test_output_that_is_only_a_stop_token_is_no_suggestion() -> None:
    assert postprocess("<|endoftext|>", BODY, QWEN_STOPS) == ""
    assert postprocess("\n\n", BODY, QWEN_STOPS) == ""


def test_repetition_loop_in_a_block() -> None:
    raw = "    log(item)\n    log(item)\n    log(item)\n    log(item)\n"
    assert postprocess(raw, BODY) == "    log(item)"


# settled


def test_stop_string_settles_at_once() -> None:
    assert settled("return 1<|endoftext|>", BODY, QWEN_STOPS)
    assert settled("x<|file_sep|>", LINE, QWEN_STOPS)


def test_single_line_is_settled_at_the_first_newline() -> None:
    assert not settled("value, fac", LINE)
    assert settled("value, factor=2)\n", LINE)


def test_block_is_settled_once_a_complete_line_falls_outside_it() -> None:
    assert not settled("result = 0\n", BODY)
    assert not settled("result = 0\n    return result\n", BODY)
    assert not settled("result = 0\n    return result\n\ndef aver", BODY)  # line not complete
    assert settled("result = 0\n    return result\n\ndef average(items):\n", BODY)


def test_block_is_settled_at_max_lines_and_at_a_loop() -> None:
    shape = replace(BODY, max_lines=2)
    assert not settled("a = 1\n    b = 2\n", shape)
    assert settled("a = 1\n    b = 2\n    c = 3\n", shape)
    assert settled("    log(x)\n    log(x)\n    more", BODY)


@pytest.mark.parametrize(
    "raw",
    [
        "result = 0\n    return result\n\ndef average(items):\n    pass\n",
        "value, factor=2)\nprint(x)\n",
        "    x = 1\n    x = 1\n    x = 1\n",
    ],
)
def test_once_settled_more_output_does_not_change_the_suggestion(raw: str) -> None:
    for shape in (BODY, LINE):
        for cut in range(1, len(raw) + 1):
            if settled(raw[:cut], shape, QWEN_STOPS):
                assert postprocess(raw[:cut], shape, QWEN_STOPS) == postprocess(
                    raw, shape, QWEN_STOPS
                ), (shape.multiline, raw[:cut])
                break


def test_block_ends_at_a_new_method_after_a_finished_one() -> None:
    shape = Shape(
        multiline=True,
        indent="    ",
        line_after="",
        last_line_before="class Stack:",
        suffix="",
    )
    raw = (
        "def push(self, item):\n"
        "        self.items.append(item)\n"
        "\n"
        "    def pop(self):\n"
        "        return self.items.pop()\n"
    )
    assert block_lines(raw, shape) == "def push(self, item):\n        self.items.append(item)\n"


def test_settled_once_the_model_starts_copying_the_code_after_the_cursor() -> None:
    shape = Shape(
        multiline=True,
        indent="    ",
        line_after="",
        last_line_before="def total(items):",
        suffix="\n    print(total)\n",
    )
    assert not settled("total = sum(items)\n", shape)
    assert settled("total = sum(items)\n    print(total)\n", shape)
