from __future__ import annotations

import time

import pytest

from assist_server.syntax.cursor import (
    MAX_PARSE_CHARS,
    analyse_cursor,
    longest_parsable,
    syntax_errors,
)
from assist_server.syntax.languages import grammar, language_id

CURSOR = "|"


def _at(marked: str, language: str) -> tuple[bool, bool, str]:
    """Analyse `marked` with the cursor where the `|` is."""
    offset = marked.index(CURSOR)
    ctx = analyse_cursor(marked[:offset] + marked[offset + 1 :], offset, language)
    return ctx.complete, ctx.multiline, ctx.reason


NO = (False, False)
LINE = (True, False)
BLOCK = (True, True)

# (language, document with | for the cursor, expected (complete, multiline), words in the reason)
CASES = [
    # python
    ("python", "def total(items):\n    ret|urn 0\n", NO, "word"),
    ("python", "x = compute(|value)\n", NO, "word"),
    ("python", "x = compute(| + 1)\n", NO, "code right"),
    ("python", "x = compute(|)\n", LINE, "closing"),
    ("python", "x = [1, 2, |]\n", LINE, "closing"),
    ("python", "def total(items):\n    |\n", BLOCK, "blank"),
    ("python", "def total(items):|\n", BLOCK, "opener"),
    ("python", "if items:\n    pass\nelse:|\n", BLOCK, "opener"),
    ("python", "x = 1  # explain |\n", LINE, "comment"),
    ("python", "name = 'hello |'\n", LINE, "string"),
    ("python", 'def f():\n    """Sum the\n    items |\n    """\n', LINE, "string"),
    ("python", "x = 1|\n", LINE, "rest of the line"),
    # javascript
    ("javascript", "const total = items.red|uce(add, 0);\n", NO, "word"),
    ("javascript", "const t = sum(|items);\n", NO, "word"),
    ("javascript", "const t = sum(|);\n", LINE, "closing"),
    ("javascript", "function total(items) {\n  |\n}\n", BLOCK, "blank"),
    ("javascript", "function total(items) {|\n}\n", BLOCK, "opener"),
    ("javascript", "// group the items |\n", LINE, "comment"),
    ("javascript", "const s = `total: |`;\n", LINE, "string"),
    ("javascript", "const s = 'abc |';\n", LINE, "string"),
    # typescript
    ("typescript", "const n: number = fo|o;\n", NO, "word"),
    ("typescript", "const n = f(|x);\n", NO, "word"),
    ("typescript", "const n = f(|);\n", LINE, "closing"),
    ("typescript", "function f(a: number): number {|\n}\n", BLOCK, "opener"),
    ("typescript", "class A {\n  |\n}\n", BLOCK, "blank"),
    ("typescript", "/** the total |\n */\n", LINE, "comment"),
    ("typescript", 'let s: string = "x |";\n', LINE, "string"),
    # go
    ("go", "func main() {\n\tfmt.Pri|ntln()\n}\n", NO, "word"),
    ("go", "x := f(|a)\n", NO, "word"),
    ("go", "x := f(|)\n", LINE, "closing"),
    ("go", "func main() {|\n}\n", BLOCK, "opener"),
    ("go", "func main() {\n\t|\n}\n", BLOCK, "blank"),
    ("go", "// Total adds |\n", LINE, "comment"),
    ("go", 's := "abc |"\n', LINE, "string"),
    ("go", "s := `raw |`\n", LINE, "string"),
    # rust
    ("rust", "fn main() { let x = ve|c![]; }\n", NO, "word"),
    ("rust", "let x = f(|y);\n", NO, "word"),
    ("rust", "let x = f(|);\n", LINE, "closing"),
    ("rust", "fn main() {|\n}\n", BLOCK, "opener"),
    ("rust", "fn main() {\n    |\n}\n", BLOCK, "blank"),
    ("rust", "// sum the |\n", LINE, "comment"),
    ("rust", 'let s = "abc |";\n', LINE, "string"),
    # java
    ("java", "class A { int to|tal; }\n", NO, "word"),
    ("java", "int x = f(|y);\n", NO, "word"),
    ("java", "int x = f(|);\n", LINE, "closing"),
    ("java", "class A {|\n}\n", BLOCK, "opener"),
    ("java", "class A {\n    |\n}\n", BLOCK, "blank"),
    ("java", "// sum the |\n", LINE, "comment"),
    ("java", 'String s = "abc |";\n', LINE, "string"),
    # c
    ("c", "int ma|in(void);\n", NO, "word"),
    ("c", "int x = f(|y);\n", NO, "word"),
    ("c", "int x = f(|);\n", LINE, "closing"),
    ("c", "int main(void) {|\n}\n", BLOCK, "opener"),
    ("c", "int main(void) {\n    |\n}\n", BLOCK, "blank"),
    ("c", "// sum the |\n", LINE, "comment"),
    ("c", 'char *s = "abc |";\n', LINE, "string"),
    # cpp
    ("cpp", "std::vec|tor<int> v;\n", NO, "word"),
    ("cpp", "auto x = f(|y);\n", NO, "word"),
    ("cpp", "auto x = f(|);\n", LINE, "closing"),
    ("cpp", "int main() {|\n}\n", BLOCK, "opener"),
    ("cpp", "int main() {\n    |\n}\n", BLOCK, "blank"),
    ("cpp", "// sum the |\n", LINE, "comment"),
    ("cpp", 'auto s = "abc |";\n', LINE, "string"),
]


@pytest.mark.parametrize(
    ("language", "marked", "expected", "reason"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_analyse_cursor(
    language: str, marked: str, expected: tuple[bool, bool], reason: str
) -> None:
    assert grammar(language) is not None, f"grammar wheel for {language} missing"
    complete, multiline, why = _at(marked, language)
    assert (complete, multiline) == expected, why
    assert reason in why


def test_context_carries_the_line_and_the_block_indent() -> None:
    text = "def f(items):\n    for item in items:\n        total()\n"
    offset = text.index("total(") + len("total(")
    ctx = analyse_cursor(text, offset, "python")
    assert ctx.line_before == "        total("
    assert ctx.line_after == ")"
    assert ctx.indent == "        "


def test_crlf_line_ending_is_not_code_right_of_the_cursor() -> None:
    assert _at("def f():\r\n    |\r\n    pass\r\n", "python") == (True, True, "blank line: a block")
    assert _at("x = f(|)\r\n", "python")[:2] == LINE


def test_cursor_at_start_and_end_of_an_empty_document() -> None:
    assert _at("|", "python")[:2] == BLOCK
    assert _at("x = 1\n|", "python")[:2] == BLOCK


def test_unknown_language_uses_plain_text_rules() -> None:
    assert _at("proc main {|\n}\n", "tcl")[:2] == BLOCK
    assert _at("set x [foo|bar]\n", "tcl")[:2] == NO
    # Without a grammar nothing is known about comments: the rest of the line.
    assert _at("# note |\n", "tcl")[:2] == LINE


def test_binary_document_is_never_completed() -> None:
    assert _at("PK\x03\x04\x00\x00|\n", "python") == (False, False, "binary document")
    assert _at("x = 1\n|\n\x00", "python")[:2] == NO


def test_document_beyond_the_parse_limit_still_works() -> None:
    body = "".join(f"def f{i}(x):\n    return x + {i}  # note {i}\n\n" for i in range(8000))
    assert len(body) > MAX_PARSE_CHARS
    started = time.perf_counter()
    assert _at(body + "s = 'abc |'\n" + body, "python")[:2] == LINE
    assert "string" in _at(body + "s = 'abc |'\n" + body, "python")[2]
    assert "comment" in _at(body + "# todo |\n" + body, "python")[2]
    assert _at(body + "def g():\n    |\n" + body, "python")[:2] == BLOCK
    assert _at(body + "x = g(|)\n" + body, "python")[:2] == LINE
    assert _at(body + "x = 1|", "python")[:2] == LINE
    assert _at("|" + body, "python")[:2] == NO
    assert time.perf_counter() - started < 2.0


def test_non_ascii_before_the_cursor_maps_to_the_right_byte() -> None:
    # Byte offsets differ from character offsets here; a string is still recognised as one.
    assert "string" in _at('s = "価格" + "合計 |"\n', "python")[2]
    assert "string" not in _at('s = "価格"|\n', "python")[2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("py", "python"), ("JS", "javascript"), ("c++", "cpp"), ("golang", "go"), ("rust", "rust")],
)
def test_language_id_aliases(raw: str, expected: str) -> None:
    assert language_id(raw) == expected


def test_language_id_falls_back_to_the_file_extension() -> None:
    assert language_id("plaintext", "src/app.tsx") == "typescriptreact"
    assert language_id(None, "lib/list.hpp") == "cpp"
    assert language_id("", "notes.txt") == ""


def test_syntax_errors_counts_and_knows_no_grammar() -> None:
    assert syntax_errors("python", "def f(x):\n    return x\n") == 0
    assert syntax_errors("python", "def f(x:\n    return x\n")
    assert syntax_errors("javascript", "function f( {") != 0
    assert syntax_errors("cobol", "anything") is None


def test_longest_parsable_keeps_a_good_candidate_whole() -> None:
    before = "def total(items):\n    result = 0\n    "
    candidate = "for item in items:\n        result += item.price"
    after = "\n    return result\n"
    assert longest_parsable("python", before, candidate, after) == candidate


def test_longest_parsable_drops_trailing_lines_that_add_errors() -> None:
    before = "def total(items):\n    result = 0\n    "
    candidate = "for item in items:\n        result += item.price\n    return result)\n  x = ("
    after = "\n    return result\n"
    assert longest_parsable("python", before, candidate, after) == (
        "for item in items:\n        result += item.price"
    )


def test_longest_parsable_drops_a_duplicate_closing_brace() -> None:
    before = "function total(items) {"
    candidate = "\n  return items.length;\n}"
    after = "\n}\n"
    assert longest_parsable("javascript", before, candidate, after) == ("\n  return items.length;")


def test_longest_parsable_tolerates_errors_already_in_the_window() -> None:
    # The window may start mid-construct; only errors the candidate adds count.
    before = "    ) -> int:\n    x = "
    assert longest_parsable("python", before, "compute(1)", "\n") == "compute(1)"


def test_longest_parsable_returns_nothing_when_no_line_parses() -> None:
    assert longest_parsable("python", "x = 1\n", "))))\n((((", "\n") == ""
    assert longest_parsable("go", "func main() {\n\t", "}}}", "\n}\n") == ""


def test_longest_parsable_passes_through_without_a_grammar() -> None:
    assert longest_parsable("cobol", "a", "))) b", "c") == "))) b"
    assert longest_parsable("python", "x = 1\n", "", "") == ""
