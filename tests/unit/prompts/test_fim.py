from __future__ import annotations

import dataclasses

import pytest

from assist_server.config import FIM_FAMILIES, CustomFimTemplate
from assist_server.prompts.fim import (
    TEMPLATES,
    comment_prefix,
    render_fim,
    resolve_template,
    template_for_model,
)
from assist_server.types import Snippet

HEAD = "def area(r):\n"  # the prefix up to the cursor's line
TYPED = "    return "  # the cursor line's text before the cursor
PREFIX = HEAD + TYPED
SUFFIX = "\n\nprint(area(2))\n"


def test_every_config_family_has_a_template() -> None:
    assert set(TEMPLATES) == set(FIM_FAMILIES)


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        # PSM: the cursor line's typed text follows the middle marker.
        ("qwen", f"<|fim_prefix|>{HEAD}<|fim_suffix|>{SUFFIX}<|fim_middle|>{TYPED}"),
        ("deepseek", f"<｜fim▁begin｜>{HEAD}<｜fim▁hole｜>{SUFFIX}<｜fim▁end｜>{TYPED}"),
        ("codellama", f"<PRE> {HEAD} <SUF>{SUFFIX} <MID>{TYPED}"),
        ("starcoder", f"<fim_prefix>{HEAD}<fim_suffix>{SUFFIX}<fim_middle>{TYPED}"),
        ("starcoder2", f"<fim_prefix>{HEAD}<fim_suffix>{SUFFIX}<fim_middle>{TYPED}"),
        # Codestral is suffix-prefix-middle: the suffix comes first and there is no middle marker.
        ("codestral", f"[SUFFIX]{SUFFIX}[PREFIX]{PREFIX}"),
        ("codegemma", f"<|fim_prefix|>{HEAD}<|fim_suffix|>{SUFFIX}<|fim_middle|>{TYPED}"),
    ],
)
def test_family_renders_its_exact_markers(family: str, expected: str) -> None:
    assert render_fim(TEMPLATES[family], PREFIX, SUFFIX) == expected


@pytest.mark.parametrize("family", FIM_FAMILIES)
def test_prompt_ends_with_the_text_right_before_the_cursor(family: str) -> None:
    template = TEMPLATES[family]
    prompt = render_fim(template, PREFIX, SUFFIX)
    assert prompt.endswith(TYPED)
    if template.order == "spm":
        assert prompt.index(SUFFIX) < prompt.index(PREFIX)
    else:
        assert prompt.endswith(template.middle + TYPED)
        assert prompt.index(HEAD) < prompt.index(SUFFIX) < prompt.index(TYPED)


@pytest.mark.parametrize("family", FIM_FAMILIES)
def test_the_next_keystroke_changes_only_the_end_of_the_prompt(family: str) -> None:
    """What the model server has cached (everything before the new character) stays valid."""
    template = TEMPLATES[family]
    before = render_fim(template, PREFIX, SUFFIX)
    after = render_fim(template, PREFIX + "r", SUFFIX)
    assert after == before + "r"


@pytest.mark.parametrize(
    ("prefix", "head", "typed"),
    [
        ("def f():\n    x = ", "def f():\n", "    x = "),
        ("def f():\n", "def f():\n", ""),  # at a line start nothing moves
        ("def f():\n    ", "def f():\n    ", ""),  # nor does indentation alone
        ("import o", "", "import o"),  # the first line of the file
        ("", "", ""),
    ],
)
def test_the_cursor_line_moves_to_the_middle(prefix: str, head: str, typed: str) -> None:
    prompt = render_fim(TEMPLATES["qwen"], prefix, "\n")
    assert prompt == f"<|fim_prefix|>{head}<|fim_suffix|>\n<|fim_middle|>{typed}"


def test_the_classic_layout_keeps_the_whole_prefix_before_the_suffix() -> None:
    template = dataclasses.replace(TEMPLATES["qwen"], line_in_middle=False)
    prompt = render_fim(template, PREFIX, SUFFIX)
    assert prompt == f"<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"


@pytest.mark.parametrize("family", FIM_FAMILIES)
def test_stop_strings_include_the_fim_markers(family: str) -> None:
    template = TEMPLATES[family]
    stops = set(template.stop)
    for marker in (template.prefix, template.suffix, template.middle):
        if marker.strip():
            assert marker.strip() in stops


def test_qwen_stops_on_the_recipe_tokens() -> None:
    stops = set(TEMPLATES["qwen"].stop)
    assert {"<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"} <= stops


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("qwen2.5-coder:1.5b-base", "qwen"),
        ("Qwen/Qwen2.5-Coder-7B", "qwen"),
        ("deepseek-coder-v2", "deepseek"),
        ("deepseek-coder:6.7b-base-q4_K_M", "deepseek"),
        ("codellama:7b-code", "codellama"),
        ("code-llama-13b", "codellama"),
        ("starcoder2:3b", "starcoder2"),
        ("bigcode/starcoder2-15b", "starcoder2"),
        ("bigcode/starcoder", "starcoder"),
        ("starcoderbase-1b", "starcoder"),
        ("codestral-latest", "codestral"),
        ("codestral:22b", "codestral"),
        ("codegemma:2b", "codegemma"),
    ],
)
def test_auto_picks_the_family_from_the_model_name(model: str, family: str) -> None:
    template = template_for_model(model)
    assert template is not None
    assert template.name == family
    assert resolve_template("auto", model) is template


@pytest.mark.parametrize("model", ["llama3:8b", "mistral", "phi3", "gpt-4o", ""])
def test_auto_with_an_unknown_model_is_none(model: str) -> None:
    assert template_for_model(model) is None
    assert resolve_template("auto", model) is None


def test_named_family_ignores_the_model_name() -> None:
    assert resolve_template("deepseek", "qwen2.5-coder:1.5b-base") is TEMPLATES["deepseek"]
    assert resolve_template("qwen", "llama3") is TEMPLATES["qwen"]


def test_custom_template_renders_its_markers_and_stops() -> None:
    template = resolve_template(CustomFimTemplate("<A>", "<B>", "<C>", ("<END>",)), "anything")
    assert template is not None
    assert template.stop == ("<END>",)
    assert render_fim(template, "y = 1\nx = ", "\n") == "<A>y = 1\n<B>\n<C>x = "


def test_custom_template_labels_snippets_with_path_comments() -> None:
    template = resolve_template(CustomFimTemplate("<A>", "<B>", "<C>"), "anything")
    assert template is not None
    snippet = Snippet("lib/util.py", "X = 1\n", 1, 1, "index")
    prompt = render_fim(template, "x = ", "", language="python", path="m.py", snippets=[snippet])
    assert prompt == "<A># lib/util.py\nX = 1\n\n# m.py\n<B><C>x = "


SNIPPETS = (
    Snippet("inventory/items.py", "class Item:\n    price: float\n", 1, 2, "index"),
    Snippet("inventory/util.py", "def fmt(x):\n    return f'{x:.2f}'\n\n", 4, 5, "recent"),
)


def test_qwen_puts_repository_context_before_the_fim_markers() -> None:
    prompt = render_fim(
        TEMPLATES["qwen"],
        PREFIX,
        SUFFIX,
        language="python",
        path="inventory/report.py",
        repo="shop",
        snippets=SNIPPETS,
    )
    assert prompt == (
        "<|repo_name|>shop\n"
        "<|file_sep|>inventory/items.py\nclass Item:\n    price: float\n"
        "<|file_sep|>inventory/util.py\ndef fmt(x):\n    return f'{x:.2f}'\n"
        "<|file_sep|>inventory/report.py\n"
        f"<|fim_prefix|>{HEAD}<|fim_suffix|>{SUFFIX}<|fim_middle|>{TYPED}"
    )


def test_qwen_repository_context_defaults_for_repo_and_path() -> None:
    prompt = render_fim(TEMPLATES["qwen"], "a", "b", snippets=SNIPPETS[:1])
    assert prompt.startswith("<|repo_name|>workspace\n<|file_sep|>inventory/items.py\n")
    assert prompt.endswith("<|file_sep|>untitled\n<|fim_prefix|><|fim_suffix|>b<|fim_middle|>a")


def test_qwen_without_snippets_has_no_repository_header() -> None:
    prompt = render_fim(TEMPLATES["qwen"], "a", "b", path="m.py", repo="shop")
    assert prompt == "<|fim_prefix|><|fim_suffix|>b<|fim_middle|>a"


@pytest.mark.parametrize(
    ("family", "language", "marker"),
    [
        ("deepseek", "python", "#"),
        ("codellama", "javascript", "//"),
        ("starcoder", "go", "//"),
        ("codegemma", "lua", "--"),
    ],
)
def test_other_families_label_snippets_with_path_comments_inside_the_prefix(
    family: str, language: str, marker: str
) -> None:
    template = TEMPLATES[family]
    prompt = render_fim(
        template, PREFIX, SUFFIX, language=language, path="inventory/report.py", snippets=SNIPPETS
    )
    comments = (
        f"{marker} inventory/items.py\nclass Item:\n    price: float\n\n"
        f"{marker} inventory/util.py\ndef fmt(x):\n    return f'{{x:.2f}}'\n\n"
        f"{marker} inventory/report.py\n"
    )
    assert prompt == render_fim(template, comments + PREFIX, SUFFIX)
    assert prompt.startswith(template.prefix + comments)


def test_codestral_keeps_snippets_in_the_prefix_after_the_suffix() -> None:
    prompt = render_fim(
        TEMPLATES["codestral"], PREFIX, SUFFIX, language="python", path="r.py", snippets=SNIPPETS
    )
    assert prompt.startswith(f"[SUFFIX]{SUFFIX}[PREFIX]# inventory/items.py\n")
    assert prompt.endswith(f"# r.py\n{PREFIX}")


def test_starcoder2_uses_its_own_repository_format() -> None:
    prompt = render_fim(TEMPLATES["starcoder2"], "a", "b", path="m.py", snippets=SNIPPETS[:1])
    assert prompt == (
        "<repo_name>workspace<file_sep>inventory/items.py\nclass Item:\n    price: float\n"
        "<file_sep>m.py\n<fim_prefix><fim_suffix>b<fim_middle>a"
    )


@pytest.mark.parametrize("family", ["qwen", "deepseek"])
def test_snippets_keep_their_given_order(family: str) -> None:
    a = Snippet("a.py", "A = 1", 1, 1, "index", score=0.1)
    b = Snippet("b.py", "B = 2", 1, 1, "index", score=0.9)
    forward = render_fim(TEMPLATES[family], "", "", language="python", snippets=[a, b])
    backward = render_fim(TEMPLATES[family], "", "", language="python", snippets=[b, a])
    assert forward.index("a.py") < forward.index("b.py")
    assert backward.index("b.py") < backward.index("a.py")


def test_same_snippets_give_a_prompt_that_only_grows_at_the_end_while_typing() -> None:
    # Consecutive keystrokes share the whole prompt before the new characters, snippets and
    # suffix included: the server reuses its KV cache.
    one = render_fim(TEMPLATES["qwen"], PREFIX + "3", SUFFIX, path="r.py", snippets=SNIPPETS)
    two = render_fim(TEMPLATES["qwen"], PREFIX + "3.14", SUFFIX, path="r.py", snippets=SNIPPETS)
    assert two == one + ".14"


@pytest.mark.parametrize(
    ("language", "marker"),
    [("python", "#"), ("shellscript", "#"), ("sql", "--"), ("rust", "//"), ("unknown", "//")],
)
def test_comment_prefix(language: str, marker: str) -> None:
    assert comment_prefix(language) == marker


def test_snippets_of_one_file_share_one_block() -> None:
    from assist_server.prompts.fim import TEMPLATES, render_fim
    from assist_server.types import Snippet

    snippets = [
        Snippet("a.py", "def one():\n    pass\n", 1, 2, "usage"),
        Snippet("a.py", "def two():\n    pass\n", 10, 11, "lexical"),
        Snippet("b.py", "x = one()\n", 3, 3, "usage"),
    ]
    prompt = render_fim(TEMPLATES["qwen"], "p", "s", path="c.py", repo="r", snippets=snippets)
    assert prompt.count("<|file_sep|>a.py\n") == 1
    assert "<|file_sep|>a.py\ndef one():\n    pass\n\ndef two():\n    pass\n<|file_sep|>b.py\n" in (
        prompt
    )
    comments = render_fim(TEMPLATES["codellama"], "p", "s", language="python", path="c.py",
                          snippets=snippets)  # fmt: skip
    assert comments.count("# a.py\n") == 1
