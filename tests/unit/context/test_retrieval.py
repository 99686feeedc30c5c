"""Cross-file context over a real index of a small real workspace (tests/fixtures/retrieval)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from assist_server.config import parse_settings
from assist_server.context.retrieval import (
    LEXICAL,
    RECENT,
    USAGE,
    VECTOR,
    Candidate,
    ContextRetriever,
    FileLines,
    RecentEdits,
    Retrieval,
    best_lines,
    cursor_query,
    fuse_candidates,
    identifiers,
)
from assist_server.engine.completion import CompletionEngine
from assist_server.index.indexer import WorkspaceIndex
from assist_server.types import CompletionRequest
from scripted_backend import ScriptedBackend

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "retrieval" / "shop"
CURSOR_LINE = "            unit = price_of(product)"  # in shop/cart.py


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, WorkspaceIndex]:
    root = tmp_path_factory.mktemp("ws") / "shop"
    shutil.copytree(FIXTURE, root)
    settings = parse_settings({"index": {"embeddingProvider": "none"}}).index
    index = WorkspaceIndex(root, settings, store_path=root.parent / "index")
    index.index_all()
    index.store.compact()
    return root, index


def typed(root: Path, extra: str) -> tuple[str, int]:
    """cart.py as if the user had typed `extra` after `price_of(product)`."""
    text = (root / "shop" / "cart.py").read_text()
    at = text.index(CURSOR_LINE) + len(CURSOR_LINE)
    return text[:at] + extra + text[at:], at + len(extra)


def retriever_for(index: WorkspaceIndex, recent: RecentEdits | None = None) -> ContextRetriever:
    return ContextRetriever.over(index, recent)


def test_usage_of_the_api_at_the_cursor_comes_from_another_file(
    workspace: tuple[Path, WorkspaceIndex],
) -> None:
    root, index = workspace
    text, offset = typed(root, ".conv")
    line = text.count("\n", 0, offset) + 1
    found = retriever_for(index).retrieve(
        str(root / "shop" / "cart.py"), text, offset, (1, line + 2), 1024
    )
    by_source = {(s.path, s.source) for s in found.snippets}
    assert ("shop/invoice.py", USAGE) in by_source
    usage = next(s for s in found.snippets if s.source == USAGE and s.path == "shop/invoice.py")
    assert "price_of(product).converted_to(currency)" in usage.text
    assert all(s.path != "shop/cart.py" for s in found.snippets)  # the window covers the file
    assert [(s.path, s.start_line) for s in found.snippets] == sorted(
        (s.path, s.start_line) for s in found.snippets
    )
    assert found.sources == ",".join(s.source for s in found.snippets)
    # what a snippet says matches the file's lines it claims
    lines = (root / usage.path).read_text().split("\n")
    assert usage.text.rstrip("\n") == "\n".join(lines[usage.start_line - 1 : usage.end_line])


def test_snippets_stay_the_same_while_a_word_is_typed(
    workspace: tuple[Path, WorkspaceIndex],
) -> None:
    root, index = workspace
    retriever = retriever_for(index)
    answers = []
    for extra in (".c", ".co", ".conv", ".converted"):
        text, offset = typed(root, extra)
        line = text.count("\n", 0, offset) + 1
        answers.append(
            retriever.retrieve(str(root / "shop" / "cart.py"), text, offset, (1, line + 2), 1024)
        )

    def shown(found: Retrieval) -> list[tuple[str, str]]:
        return [(s.path, s.text) for s in found.snippets]  # what the prompt holds

    assert answers[0].snippets
    assert all(shown(a) == shown(answers[0]) for a in answers)
    again = retriever.retrieve(str(root / "shop" / "cart.py"), text, offset, (1, line + 2), 1024)
    assert again.cached and shown(again) == shown(answers[-1])


def test_budget_and_nothing_outside_the_index(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    retriever = retriever_for(index)
    text, offset = typed(root, ".")
    path = str(root / "shop" / "cart.py")
    small = retriever.retrieve(path, text, offset, (1, 5), 40)
    assert sum(small.tokens) <= 40
    assert len(small.snippets) < len(retriever.retrieve(path, text, offset, (1, 5), 4096).snippets)
    assert retriever.retrieve(path, text, offset, (1, 5), 0).snippets == []
    assert retriever.retrieve("/elsewhere/x.py", text, offset, (1, 5), 1024).snippets == []
    assert retriever.retrieve(None, text, offset, (1, 5), 1024).snippets == []


def test_recent_edits_elsewhere_are_offered(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    recent = RecentEdits()
    recent.edited(str(root / "shop" / "money.py"), 20)
    text, offset = typed(root, ".")
    line = text.count("\n", 0, offset) + 1
    found = retriever_for(index, recent).retrieve(
        str(root / "shop" / "cart.py"), text, offset, (1, line + 2), 4096
    )
    money = [s for s in found.snippets if s.path == "shop/money.py"]
    assert money and any(s.start_line <= 20 <= s.end_line for s in money)


def test_weak_hits_do_not_earn_a_place(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    found = retriever_for(index).retrieve(
        str(root / "shop" / "cart.py"), "zzz qqq\n", 8, (1, 1), 4096
    )
    assert found.snippets == []
    text, offset = typed(root, ".")
    query = cursor_query("shop/cart.py", text, offset, 1, 30)
    result = retriever_for(index).retrieve(str(root / "shop/cart.py"), text, offset, (1, 30), 4096)
    for snippet in result.snippets:
        if snippet.source in (LEXICAL, VECTOR, RECENT):
            assert len(query.words & set(identifiers(snippet.text))) >= 2


def test_cursor_query_leaves_out_the_word_being_typed() -> None:
    text = "import os\nvalue = compute_total(items)\nresult = value.conv"
    query = cursor_query("a.py", text, len(text), 1, 3)
    assert query.names[:3] == ("conv", "value", "result")  # the word at the cursor first
    assert query.text.endswith("result = value.")
    assert "compute_total" in query.words and "import" not in query.words


def test_fusion_adds_ranks_and_prefers_usages() -> None:
    usage = Candidate("a.py", 1, 5, USAGE)
    lexical_same = Candidate("a.py", 1, 5, LEXICAL)
    lexical_other = Candidate("b.py", 1, 5, LEXICAL)
    fused = fuse_candidates({LEXICAL: [lexical_other, lexical_same], USAGE: [usage]})
    assert [(c.path, c.source) for c in fused] == [("a.py", USAGE), ("b.py", LEXICAL)]


def test_best_lines_picks_the_densest_window() -> None:
    lines = ["noise"] * 30 + ["alpha beta gamma"] * 3 + ["noise"] * 30
    start, end = best_lines(lines, Candidate("x", 1, 63, LEXICAL), frozenset({"alpha", "beta"}))
    assert start <= 31 and end >= 33 and end - start + 1 <= 12


def test_file_lines_prefer_the_open_buffer(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("on disk\n")
    files = FileLines(lambda p: "in the editor" if p == str(path) else None)
    assert files.lines(path) == ["in the editor"]
    assert FileLines().lines(path) == ["on disk", ""]
    assert FileLines().lines(tmp_path / "missing.py") == []


def test_prompt_has_repository_blocks_before_the_fim_part(
    workspace: tuple[Path, WorkspaceIndex],
) -> None:
    root, index = workspace
    settings = parse_settings({"completion": {"model": "qwen2.5-coder:0.5b"}}).completion
    engine = CompletionEngine(
        None,  # type: ignore[arg-type]  # prepare_sync never calls the backend
        settings,
        retriever_for(index),
    )
    text, offset = typed(root, ".")
    request = CompletionRequest(text, offset, "python", path=str(root / "shop" / "cart.py"))
    prepared = engine.prepare_sync(request, engine_template(engine))
    assert not isinstance(prepared, str)
    prompt = prepared.request.prompt
    assert prompt.startswith("<|repo_name|>shop\n<|file_sep|>")
    assert "<|file_sep|>shop/invoice.py\n" in prompt
    assert prompt.index("<|file_sep|>shop/cart.py\n") < prompt.index("<|fim_prefix|>")
    assert prepared.retrieval.snippets


def engine_template(engine: CompletionEngine):  # type: ignore[no-untyped-def]
    from assist_server.prompts.fim import resolve_template

    return resolve_template(engine.settings.fim_template, engine.settings.model)


async def test_slow_retrieval_does_not_hold_the_completion_back() -> None:
    class Slow:
        def index_for(self, path: Path) -> None:
            return None

        def retrieve(self, *args: object) -> None:
            import time

            time.sleep(0.5)

    settings = parse_settings(
        {"completion": {"model": "qwen2.5-coder:0.5b", "retrievalTimeoutMs": 20}}
    ).completion
    engine = CompletionEngine(ScriptedBackend(["0\n"]), settings, Slow())  # type: ignore[arg-type]
    text = "def f():\n    return "
    started = asyncio.get_running_loop().time()
    result = await engine.complete(CompletionRequest(text, len(text), "python", path="/x/a.py"))
    assert asyncio.get_running_loop().time() - started < 0.4
    assert result.text == "0" and result.snippet_sources == "-"


@pytest.mark.slow
def test_vector_tier_with_the_real_embedding_model(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURE, root)
    index = WorkspaceIndex(root, parse_settings({}).index, store_path=tmp_path / "index")
    index.index_all()
    assert index.embed_pending() > 0 and index.embedder_loaded
    text, offset = typed(root, ".")
    retriever = retriever_for(index)
    found = retriever._vector(index, cursor_query("shop/cart.py", text, offset, 1, 30))
    assert found and all(c.source == VECTOR for c in found)
    for candidate in found:  # each names real lines of a real file
        lines = (root / candidate.path).read_text().split("\n")
        assert 1 <= candidate.start_line <= candidate.end_line <= len(lines)


def test_a_failed_lookup_is_not_remembered(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    retriever = retriever_for(index)
    text, offset = typed(root, ".")
    path = str(root / "shop" / "cart.py")
    real = index.store.symbols
    calls = 0

    def failing_once(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("table damaged")  # what a broken LanceDB read raises
        return real(*args, **kwargs)  # type: ignore[arg-type]

    index.store.symbols = failing_once  # type: ignore[method-assign]
    try:
        first = retriever.retrieve(path, text, offset, (1, 5), 1024)
        assert first.failed and all(s.source not in (USAGE, "definition") for s in first.snippets)
        again = retriever.retrieve(path, text, offset, (1, 5), 1024)
    finally:
        index.store.symbols = real  # type: ignore[method-assign]
    assert not again.cached and not again.failed
    assert any(s.source == USAGE for s in again.snippets)
