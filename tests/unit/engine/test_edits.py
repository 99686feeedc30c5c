"""From a model's answer to a safe edit: code blocks, indentation, smallest change, syntax."""

from __future__ import annotations

from assist_server.engine.chat import Conversation, Selection, outcome_of
from assist_server.engine.edits import (
    TextChange,
    apply,
    code_from_answer,
    reindent,
    smallest_change,
    whole_lines,
)
from assist_server.engine.testfiles import module_name
from assist_server.engine.testfiles import test_path as path_for_tests
from assist_server.prompts.chat import ACTIONS_BY_ID, answer_language, comment_language, fill
from assist_server.types import ChatMessage

DOC = "class A:\n    def f(self, x):\n        return x + 1\n\nprint(1)\n"


def test_code_block_of_the_language_wins() -> None:
    answer = "Run:\n```sh\npip install x\n```\nthen\n```py\ndef f():\n    pass\n```\n"
    assert code_from_answer(answer, "python") == "def f():\n    pass"
    assert code_from_answer("no code here", "python") is None
    assert code_from_answer("```sh\nls\n```", "python") is None
    assert code_from_answer("```python\ndef f():\n    return 1", "python") == (
        "def f():\n    return 1"
    )  # cut off by max tokens: runs to the end


def test_whole_lines_and_reindent() -> None:
    start = DOC.index("def f")
    line_end = DOC.index(":\n        r") + 1
    assert whole_lines(DOC, start, start + 3) == (DOC.index("    def"), line_end)
    expected = "    def f():\n        pass\n\n    x = 1"
    assert reindent("def f():\n    pass\n\nx = 1", "    ") == expected


def test_smallest_change_is_an_insertion_for_an_added_docstring() -> None:
    start, end = DOC.index("    def"), DOC.index("\n\nprint")
    new = '    def f(self, x):\n        """Add one."""\n        return x + 1'
    change = smallest_change(DOC, start, end, new)
    assert change == TextChange(29, 29, '        """Add one."""\n')
    assert apply(DOC, change).count('"""') == 2
    assert smallest_change(DOC, start, end, DOC[start:end]) is None


def test_outcomes_refuse_what_cannot_be_applied() -> None:
    start, end = DOC.index("    def"), DOC.index("\n\nprint") + 1
    selection = Selection(DOC, start, end, "python", rel_path="pkg/a.py")
    docstring = ACTIONS_BY_ID["docstring"]
    assert outcome_of(docstring, selection, "python", "I cannot.").kind == "refused"
    broken = "```python\ndef f(self, x:\n    return\n```"
    refused = outcome_of(docstring, selection, "python", broken)
    assert refused.kind == "refused" and "parse" in refused.message
    tests = outcome_of(
        ACTIONS_BY_ID["tests"], selection, "python", "```python\ndef test_f():\n    assert 1\n```"
    )
    assert tests.kind == "tests" and tests.test_path == "tests/test_a.py"


def test_test_files() -> None:
    assert path_for_tests("src/shop/cart.py", "python") == "tests/test_cart.py"
    assert module_name("src/shop/cart.py", "python") == "shop.cart"
    assert path_for_tests("web/cart.ts", "typescript") == "web/cart.test.ts"
    assert path_for_tests("pkg/cart.go", "go") == "pkg/cart_test.go"
    assert (
        path_for_tests("src/main/java/shop/Cart.java", "java") == "src/test/java/shop/CartTest.java"
    )


def test_answer_and_comment_languages() -> None:
    assert answer_language("", "zh-CN") == "Simplified Chinese"
    assert answer_language("", "zh-TW") == "Traditional Chinese"
    assert answer_language("de", "zh-CN") == "German"
    assert answer_language("", None) == "English"
    assert answer_language("Klingon", None) == "Klingon"
    assert comment_language('"""计算价格。"""\n# 注释') == "Simplified Chinese"
    assert comment_language("# price of one item") == "English"


def test_custom_prompt_keeps_unknown_braces() -> None:
    assert fill("{selection} in {lang} {x}", {"selection": "code"}) == "code in {lang} {x}"


def test_conversation_is_bounded_and_starts_with_the_user() -> None:
    conversation = Conversation()
    for i in range(5):
        conversation.add([ChatMessage("user", f"q{i}"), ChatMessage("assistant", f"a{i}")], 5)
    kept = conversation.messages(5)
    assert kept[0].role == "user" and len(kept) <= 5
    assert kept[-1].content == "a4"
    assert conversation.messages(0) == []
