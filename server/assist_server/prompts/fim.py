"""Fill-in-the-middle templates as data, and the pure function that renders them.

Each family's markers and stop strings come from its model card / tokenizer config. A template
may also say how to lay out repository-level context (other files) before the FIM part.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assist_server.config import CustomFimTemplate
from assist_server.types import Snippet


@dataclass(frozen=True)
class FimTemplate:
    """Markers for one model family.

    `order` is "psm" (prefix, suffix, middle) or "spm" (suffix first, as Codestral wants).
    `line_in_middle` (PSM only) moves the cursor line's text before the cursor after the middle
    marker, so the prefix ends at a line start: see `render_fim`.
    `repo_header`/`file_header` lay out repository-level context where the family was trained on
    it; otherwise other files are shown as path comments in the prefix.
    """

    name: str
    prefix: str
    suffix: str
    middle: str
    stop: tuple[str, ...]
    order: str = "psm"
    repo_header: str | None = None  # e.g. "<|repo_name|>{repo}\n"
    file_header: str | None = None  # e.g. "<|file_sep|>{path}\n"
    line_in_middle: bool = True


_QWEN_STOP = (
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<|fim_pad|>",
    "<|file_sep|>",
    "<|repo_name|>",
    "<|im_end|>",
)

TEMPLATES: dict[str, FimTemplate] = {
    "qwen": FimTemplate(
        "qwen",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        _QWEN_STOP,
        repo_header="<|repo_name|>{repo}\n",
        file_header="<|file_sep|>{path}\n",
    ),
    "deepseek": FimTemplate(
        "deepseek",
        "<｜fim▁begin｜>",
        "<｜fim▁hole｜>",
        "<｜fim▁end｜>",
        ("<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "<|EOT|>"),
    ),
    "codellama": FimTemplate(
        "codellama", "<PRE> ", " <SUF>", " <MID>", ("<EOT>", "</s>", "<PRE>", "<SUF>", "<MID>")
    ),
    "starcoder": FimTemplate(
        "starcoder",
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        (
            "<|endoftext|>",
            "<fim_prefix>",
            "<fim_suffix>",
            "<fim_middle>",
            "<file_sep>",
            "<reponame>",
            "<filename>",
        ),
    ),
    "starcoder2": FimTemplate(
        "starcoder2",
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        (
            "<|endoftext|>",
            "<fim_prefix>",
            "<fim_suffix>",
            "<fim_middle>",
            "<file_sep>",
            "<repo_name>",
        ),
        repo_header="<repo_name>{repo}",
        file_header="<file_sep>{path}\n",
    ),
    "codestral": FimTemplate(
        "codestral",
        "[PREFIX]",
        "[SUFFIX]",
        "",
        ("</s>", "[PREFIX]", "[SUFFIX]", "[INST]"),
        order="spm",
    ),
    "codegemma": FimTemplate(
        "codegemma",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        (
            "<|file_separator|>",
            "<|fim_prefix|>",
            "<|fim_suffix|>",
            "<|fim_middle|>",
            "<eos>",
            "<end_of_turn>",
        ),
    ),
}

# First match wins: more specific names before general ones.
AUTO_RULES: tuple[tuple[str, str], ...] = (
    (r"codegemma", "codegemma"),
    (r"codestral", "codestral"),
    (r"starcoder2|starcoder-2", "starcoder2"),
    (r"starcoder|santacoder", "starcoder"),
    (r"deepseek", "deepseek"),
    (r"code-?llama", "codellama"),
    (r"qwen", "qwen"),
)


def template_for_model(model: str) -> FimTemplate | None:
    """The template "auto" picks for a model name, or None when the family is unknown."""
    name = model.lower()
    for pattern, family in AUTO_RULES:
        if re.search(pattern, name):
            return TEMPLATES[family]
    return None


def resolve_template(setting: str | CustomFimTemplate, model: str) -> FimTemplate | None:
    """The template for `completion.fimTemplate`; None only for "auto" with an unknown model."""
    if isinstance(setting, CustomFimTemplate):
        return FimTemplate("custom", setting.prefix, setting.suffix, setting.middle, setting.stop)
    if setting == "auto":
        return template_for_model(model)
    return TEMPLATES[setting]


def comment_prefix(language: str) -> str:
    """The line-comment marker used to label other files when a family has no repo format."""
    return COMMENT_MARKERS.get(language, "//")


COMMENT_MARKERS: dict[str, str] = {
    "python": "#",
    "ruby": "#",
    "shellscript": "#",
    "bash": "#",
    "perl": "#",
    "r": "#",
    "yaml": "#",
    "toml": "#",
    "dockerfile": "#",
    "makefile": "#",
    "elixir": "#",
    "lua": "--",
    "sql": "--",
    "haskell": "--",
}


def by_file(snippets: Sequence[Snippet]) -> list[tuple[str, str]]:
    """(path, code) per file: consecutive snippets of one file share one block.

    A file appears once in the repository-level training format; pieces are a blank line apart.
    """
    blocks: list[tuple[str, str]] = []
    for snippet in snippets:
        text = snippet.text.rstrip("\n")
        if blocks and blocks[-1][0] == snippet.path:
            blocks[-1] = (snippet.path, blocks[-1][1] + "\n\n" + text)
        else:
            blocks.append((snippet.path, text))
    return blocks


def snippet_comments(snippets: Sequence[Snippet], language: str, path: str | None) -> str:
    """Other files' code as blocks headed by a path comment, then the current file's path."""
    if not snippets:
        return ""
    marker = comment_prefix(language)
    out = ""
    for snippet_path, text in by_file(snippets):
        out += f"{marker} {snippet_path}\n{text.rstrip()}\n\n"
    if path:
        out += f"{marker} {path}\n"
    return out


def render_fim(
    template: FimTemplate,
    prefix: str,
    suffix: str,
    *,
    language: str = "",
    path: str | None = None,
    repo: str | None = None,
    snippets: Sequence[Snippet] = (),
) -> str:
    """Render the prompt: repository context (if any) first, then the FIM markers.

    Snippets come first and in the order given, and (PSM) the cursor line's typed text comes
    last, after the middle marker, so that consecutive keystrokes share the longest possible
    prompt prefix and the model server can reuse its KV cache.
    """
    head = ""  # repository-level blocks, placed before the FIM markers
    comments = ""  # other files as path comments, placed inside the prefix
    if snippets and template.file_header:
        head = (template.repo_header or "").format(repo=repo or "workspace")
        for snippet_path, text in by_file(snippets):
            head += template.file_header.format(path=snippet_path) + text + "\n"
        head += template.file_header.format(path=path or "untitled")
    else:
        comments = snippet_comments(snippets, language, path)
    if template.order == "spm":
        return (
            f"{head}{template.suffix}{suffix}{template.prefix}{comments}{prefix}{template.middle}"
        )
    before, typed = split_cursor_line(prefix) if template.line_in_middle else (prefix, "")
    return (
        f"{head}{template.prefix}{comments}{before}{template.suffix}{suffix}"
        f"{template.middle}{typed}"
    )


def split_cursor_line(prefix: str) -> tuple[str, str]:
    """The prefix up to the start of the cursor's line, and that line's text before the cursor.

    In PSM order everything after the first changed character is read again by the model
    server; with the cursor line's text in the middle, the next keystroke changes only the
    prompt's last tokens and the suffix stays cached. The model sees the middle's beginning, as
    it does for every token it writes after the first.
    """
    cut = prefix.rfind("\n") + 1
    if not prefix[cut:].strip():
        # Indentation alone stays in the prefix: after the middle marker the model indented
        # again (the real model's suggestion did not parse in tests/e2e).
        return prefix, ""
    return prefix[:cut], prefix[cut:]
