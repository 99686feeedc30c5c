#!/usr/bin/env python3
"""Measure what cross-file context does for completions, on cases that need another file.

Cases come from real code nobody here wrote: the sdists of well-known PyPI packages (the same
pinned set as scripts/bench_index.py, cached under ~/.cache/assist-server/bench-corpus). In a
module of a package, the cursor goes right after a use of a name imported from another module of
the same package; the expected text is the rest of that line. A case is kept only when that text
holds an identifier found in the other module and nowhere in the current file, so it cannot be
guessed from the file alone. The answer is removed from the file on disk before the file is
(re-)indexed, so the index never shows it.

Each case is completed three ways by the real Qwen2.5-Coder-0.5B on a real llama.cpp server,
through the server's own engine (same prompt format, post-processing and settings):

- in-file only: no cross-file context;
- naive lexical: the three 20-line windows of other files whose identifiers overlap most
  (Jaccard) with the last 20 lines before the cursor;
- full pipeline: `ContextRetriever` over the workspace index (definitions, usages, lexical,
  vector, recent edits), at the full `completion.snippetTokens` budget (the latency-adaptive
  shrinking of that budget is measured by scripts/bench_completion.py, not here).

The first line of each suggestion is scored: exact match, edit similarity (1 - Levenshtein
distance / longer length) and first-identifier match. Prints the table (and --json).

    scripts/eval_completion.py [--cases 60] [--seed 7] [--no-embed] [--json]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import dataclasses
import json
import os
import random
import re
import shutil
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist_server.backends import create_backend
from assist_server.config import CompletionSettings, parse_settings
from assist_server.context.retrieval import ContextRetriever, Retrieval
from assist_server.engine.completion import CompletionEngine
from assist_server.index.indexer import WorkspaceIndex
from assist_server.prompts.fim import FimTemplate
from assist_server.types import CompletionRequest, Snippet

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fetch_model  # noqa: E402
from bench_index import PACKAGES, fetch_sdists  # noqa: E402
from bench_stats import loadavg, p50  # noqa: E402
from llama_stack import MODEL_ALIAS, LlamaServer  # noqa: E402

CONFIGS = ("in-file only", "naive lexical", "full pipeline")
# Not run by default: the ceiling of context for this model, not a way to get context.
ORACLE = "oracle"
NAIVE_WINDOW = 20
NAIVE_TOP = 3
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def log(message: str) -> None:
    print(f"eval: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Case:
    """A cursor right after a use of an imported name; `expected` is the rest of its line."""

    root: Path  # the workspace (an unpacked sdist)
    path: Path  # the file
    offset: int  # cursor in the original text
    expected: str
    other: Path  # the module the name comes from
    needs: tuple[str, ...] = ()  # identifiers of `expected` found in `other` and not in the file

    @property
    def label(self) -> str:
        """Where the case is, for logs and the JSON output."""
        return f"{self.path.relative_to(self.root.parent)}@{self.offset}"


def package_dirs(root: Path) -> list[Path]:
    """Top-level import packages of an unpacked sdist (not its tests, docs or examples)."""
    found = []
    for init in sorted(root.rglob("__init__.py")):
        folder = init.parent
        parts = set(folder.relative_to(root).parts)
        if parts & {"tests", "test", "docs", "examples", "build"}:
            continue
        if not (folder.parent / "__init__.py").exists():
            found.append(folder)
    return found


def resolve(package: Path, module_file: Path, node: ast.ImportFrom) -> Path | None:
    """The file of the module an import-from names, if it is inside `package`."""
    if node.level:
        base = module_file.parent
        for _ in range(node.level - 1):
            base = base.parent
    elif node.module and node.module.split(".")[0] == package.name:
        base = package.parent
    else:
        return None
    parts = node.module.split(".") if node.module else []
    target = base.joinpath(*parts)
    for candidate in (target.with_suffix(".py"), target / "__init__.py"):
        if candidate.is_file() and package in candidate.parents:
            return candidate
    return None


def cases_in(root: Path, package: Path, module_file: Path) -> list[Case]:
    text = module_file.read_text(encoding="utf-8", errors="replace")
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    imported: dict[str, Path] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            other = resolve(package, module_file, node)
            if other is None or other == module_file:
                continue
            for alias in node.names:
                if alias.name != "*":
                    imported[alias.asname or alias.name] = other
    if not imported:
        return []
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    others: dict[Path, set[str]] = {}
    found: dict[int, Case] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name) or node.id not in imported:
            continue
        if node.end_lineno != node.lineno or node.end_col_offset is None:
            continue
        line = lines[node.lineno - 1]
        # ast columns are UTF-8 byte offsets
        column = len(line.encode("utf-8")[: node.end_col_offset].decode("utf-8", "replace"))
        expected = line[column:].rstrip()
        if not expected.strip() or node.lineno in found:
            continue
        other = imported[node.id]
        if other not in others:
            others[other] = set(_IDENT.findall(other.read_text(encoding="utf-8", errors="replace")))
        offset = starts[node.lineno - 1] + column
        without = text[:offset] + text[starts[node.lineno - 1] + len(line) :]
        in_file = set(_IDENT.findall(without))
        needs_other = [
            w for w in _IDENT.findall(expected) if w in others[other] and w not in in_file
        ]
        if needs_other:
            found[node.lineno] = Case(
                root, module_file, offset, expected, other, tuple(needs_other)
            )
    return list(found.values())


def collect_cases(workspaces: Sequence[Path], count: int, seed: int) -> list[Case]:
    """Up to `count` cases, spread evenly over the packages, picked at random with `seed`."""
    rng = random.Random(seed)
    per_package: list[list[Case]] = []
    for root in workspaces:
        cases: list[Case] = []
        for package in package_dirs(root):
            for module_file in sorted(package.rglob("*.py")):
                cases.extend(cases_in(root, package, module_file))
        rng.shuffle(cases)
        per_package.append(cases)
        log(f"{root.name}: {len(cases)} cases that need another module")
    chosen: list[Case] = []
    while len(chosen) < count and any(per_package):
        for cases in per_package:
            if cases and len(chosen) < count:
                chosen.append(cases.pop())
    return chosen


# ---------------------------------------------------------------------------------------------
# The naive baseline


class FixedContext:
    """Context chosen by the eval, not the engine, in the full pipeline's prompt format."""

    def __init__(self, index: WorkspaceIndex) -> None:
        self.index = index

    def index_for(self, path: Path) -> WorkspaceIndex | None:
        """The same index as the full pipeline: same repository name and paths in the prompt."""
        return self.index if self.index.relative(path) is not None else None


class NaiveWindows(FixedContext):
    """Top-3 20-line windows of other files by identifier Jaccard with the last 20 lines."""

    def __init__(self, index: WorkspaceIndex) -> None:
        super().__init__(index)
        self.windows: list[tuple[str, int, list[str], set[str]]] = []
        for path in sorted(index.root.rglob("*.py")):
            rel = path.relative_to(index.root).as_posix()
            lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
            for start in range(0, len(lines), NAIVE_WINDOW // 2):
                chunk = lines[start : start + NAIVE_WINDOW]
                words = set(_IDENT.findall("\n".join(chunk)))
                if words:
                    self.windows.append((rel, start + 1, chunk, words))

    def retrieve(
        self,
        path: str | None,
        text: str,
        offset: int,
        window: tuple[int, int],
        budget_tokens: int,
    ) -> Retrieval:
        """The three best windows, whatever the budget (the baseline as published)."""
        rel = self.index.relative(Path(path)) if path else None
        query = set(_IDENT.findall("\n".join(text[:offset].split("\n")[-NAIVE_WINDOW:])))
        scored = []
        for other, start, chunk, words in self.windows:
            if other != rel:
                scored.append((len(words & query) / len(words | query), other, start, chunk))
        scored.sort(key=lambda s: (-s[0], s[1], s[2]))
        snippets = [
            Snippet(other, "\n".join(chunk) + "\n", start, start + len(chunk) - 1, "naive", score)
            for score, other, start, chunk in scored[:NAIVE_TOP]
        ]
        return Retrieval(snippets, [0] * len(snippets))


class OracleWindow(FixedContext):
    """The ceiling: the lines of the other module where the first needed name is defined.

    As many lines as the naive baseline's three windows, starting at the definition (else the
    first use) of the first identifier the answer needs from that module.
    """

    def __init__(self, index: WorkspaceIndex, case: Case) -> None:
        super().__init__(index)
        self.case = case

    def retrieve(
        self,
        path: str | None,
        text: str,
        offset: int,
        window: tuple[int, int],
        budget_tokens: int,
    ) -> Retrieval:
        """One snippet of NAIVE_WINDOW * NAIVE_TOP lines, whatever the budget."""
        lines = self.case.other.read_text(encoding="utf-8", errors="replace").split("\n")
        name = re.escape(self.case.needs[0]) if self.case.needs else "(?!)"
        defined = re.compile(rf"^\s*(?:async\s+def|def|class)\s+{name}\b|^\s*{name}\s*[:=]")
        used = re.compile(rf"\b{name}\b")
        start = next((i for i, line in enumerate(lines) if defined.search(line)), None)
        if start is None:
            start = next((i for i, line in enumerate(lines) if used.search(line)), 0)
        chunk = lines[start : start + NAIVE_WINDOW * NAIVE_TOP]
        rel = self.case.other.relative_to(self.index.root).as_posix()
        snippet = Snippet(
            rel, "\n".join(chunk) + "\n", start + 1, start + len(chunk), "oracle", 1.0
        )
        return Retrieval([snippet], [0])


# ---------------------------------------------------------------------------------------------
# Scoring


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def scores(suggestion: str, expected: str) -> dict[str, float]:
    first = suggestion.split("\n")[0].rstrip()
    want = expected.rstrip()
    longest = max(len(first), len(want), 1)
    ident_first = _IDENT.search(first)
    ident_want = _IDENT.search(want)
    return {
        "exact": float(first.strip() == want.strip()),
        "edit_similarity": 1.0 - levenshtein(first, want) / longest,
        "first_identifier": float(
            ident_want is not None
            and ident_first is not None
            and ident_first.group() == ident_want.group()
        ),
    }


@dataclass
class Tally:
    """Scores and prompt figures of one configuration."""

    rows: list[dict[str, float]] = field(default_factory=list)
    snippets: list[int] = field(default_factory=list)
    prompt_tokens: list[float] = field(default_factory=list)
    first_token_ms: list[float] = field(default_factory=list)
    sources: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    def mean(self, key: str) -> float:
        """Mean of one score over the cases."""
        return sum(r[key] for r in self.rows) / max(len(self.rows), 1)


# ---------------------------------------------------------------------------------------------
# The run


def completion_settings(url: str) -> tuple[CompletionSettings, Any]:
    settings = parse_settings(
        {
            "backend": {"kind": "openai", "url": url, "timeoutMs": 120000},
            "completion": {
                "model": MODEL_ALIAS,
                "fimTemplate": "qwen",
                "temperature": 0.0,
                # Quality is measured here, not latency: never complete without the context.
                "retrievalTimeoutMs": 10000,
            },
        }
    )
    return settings.completion, settings.backend


class WholePrefixFirst(CompletionEngine):
    """The engine with the classic PSM layout: the whole prefix before the suffix (--layout)."""

    def template(self) -> FimTemplate | None:
        """The engine's template with the cursor line kept in the prefix."""
        template = super().template()
        return None if template is None else dataclasses.replace(template, line_in_middle=False)


async def evaluate(
    cases: Sequence[Case],
    indexes: dict[Path, WorkspaceIndex],
    url: str,
    configs: Sequence[str] = CONFIGS,
    layout: str = "line",
) -> tuple[dict[str, Tally], list[dict[str, Any]]]:
    completion, backend_settings = completion_settings(url)
    backend = create_backend(backend_settings)
    tallies = {name: Tally() for name in configs}
    details: list[dict[str, Any]] = []
    naive = {root: NaiveWindows(index) for root, index in indexes.items()}
    engine_of = CompletionEngine if layout == "line" else WholePrefixFirst
    try:
        for number, case in enumerate(cases, 1):
            index = indexes[case.root]
            original = case.path.read_text(encoding="utf-8")
            line_end = original.find("\n", case.offset)
            line_end = len(original) if line_end < 0 else line_end
            edited = original[: case.offset] + original[line_end:]
            case.path.write_text(edited, encoding="utf-8")
            index.reindex_file(case.path)
            try:
                request = CompletionRequest(
                    edited, case.offset, "python", path=str(case.path), document_key=case.label
                )
                engines = {
                    "in-file only": engine_of(backend, completion),
                    "naive lexical": engine_of(backend, completion, naive[case.root]),
                    "full pipeline": engine_of(backend, completion, ContextRetriever.over(index)),
                    ORACLE: engine_of(backend, completion, OracleWindow(index, case)),
                }
                row: dict[str, Any] = {"case": case.label, "expected": case.expected}
                for name in configs:
                    engine = engines[name]
                    prepared = engine.prepare_sync(request, engine.template())
                    result = await engine.complete(request)
                    tally = tallies[name]
                    tally.rows.append(scores(result.text, case.expected))
                    if not isinstance(prepared, str):
                        tally.snippets.append(len(prepared.retrieval.snippets))
                        for snippet in prepared.retrieval.snippets:
                            tally.sources[snippet.source] += 1
                    tally.prompt_tokens.append(float(result.prompt_tokens))
                    if result.timings.first_token_ms is not None:
                        tally.first_token_ms.append(result.timings.first_token_ms)
                    row[name] = result.text.split("\n")[0]
                details.append(row)
            finally:
                case.path.write_text(original, encoding="utf-8")
                index.reindex_file(case.path)
            if number % 5 == 0 or number == len(cases):
                log(
                    f"{number}/{len(cases)} cases; exact so far: "
                    + ", ".join(f"{n} {t.mean('exact'):.2f}" for n, t in tallies.items())
                )
    finally:
        await backend.aclose()
    return tallies, details


def table(tallies: dict[str, Tally], cases: int, meta: dict[str, Any]) -> str:
    lines = [
        f"cross-file completion eval: {cases} cases from {', '.join(meta['packages'])}",
        f"model {MODEL_ALIAS} (Q4_K_M, llama.cpp, temperature 0); vectors: {meta['vectors']}; "
        f"load {meta['load']}; {meta['seconds']:.0f} s",
        "",
        "| context | exact match | edit similarity | first identifier | snippets/case "
        "| prompt tokens p50 | first token p50 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, tally in tallies.items():
        snippets = sum(tally.snippets) / max(len(tally.snippets), 1)
        lines.append(
            f"| {name} | {tally.mean('exact'):.3f} | {tally.mean('edit_similarity'):.3f} | "
            f"{tally.mean('first_identifier'):.3f} | {snippets:.1f} | "
            f"{p50(tally.prompt_tokens):.0f} | {p50(tally.first_token_ms):.0f} |"
        )
    if not set(CONFIGS) <= set(tallies):
        return "\n".join(lines)
    alone, naive, full = (tallies[name] for name in CONFIGS)
    beats = all(
        full.mean(k) > max(naive.mean(k), alone.mean(k)) for k in ("exact", "edit_similarity")
    )
    double = full.mean("exact") >= 2 * naive.mean("exact") and full.mean("exact") > 0
    sources = ", ".join(f"{k} {v}" for k, v in sorted(full.sources.items()))
    lines += [
        "",
        f"full pipeline snippet tiers over all cases: {sources or 'none'}",
        f"target: full pipeline beats both baselines on exact match and edit similarity: "
        f"{'met' if beats else 'NOT MET'}",
        f"target: full pipeline exact match >= 2x naive lexical "
        f"({full.mean('exact'):.3f} vs {naive.mean('exact'):.3f}): "
        f"{'met' if double else 'NOT MET'}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=60, help="how many cases (default 60)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-embed", action="store_true", help="no vector tier (faster)")
    parser.add_argument("--json", type=Path, help="also write the scores and answers here")
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help="comma-separated subset of: "
        + ", ".join((*CONFIGS, ORACLE))
        + f" (default: all but {ORACLE}, the ceiling: the needed module's lines)",
    )
    parser.add_argument(
        "--layout",
        choices=("line", "classic"),
        default="line",
        help="PSM prompt layout: the cursor line's text after the middle marker (line, the "
        "engine's) or the whole prefix before the suffix (classic)",
    )
    args = parser.parse_args()

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(configs) - {*CONFIGS, ORACLE}
    if unknown:
        parser.error(
            f"unknown --configs {', '.join(sorted(unknown))}; choose from {(*CONFIGS, ORACLE)}"
        )
    started = time.perf_counter()
    sdists = fetch_sdists(fetch_model.cache_dir() / "bench-corpus", PACKAGES)
    work = Path(tempfile.mkdtemp(prefix="assist-eval-"))
    try:
        for sdist in sdists:
            with tarfile.open(sdist) as archive:
                archive.extractall(work, filter="data")
        workspaces = sorted(p for p in work.iterdir() if p.is_dir())
        cases = collect_cases(workspaces, args.cases, args.seed)
        if not cases:
            raise SystemExit("eval: no cases found")
        provider = "none" if args.no_embed else "sentence-transformers"
        index_settings = parse_settings({"index": {"embeddingProvider": provider}}).index
        indexes: dict[Path, WorkspaceIndex] = {}
        for root in sorted({c.root for c in cases}):
            log(f"indexing {root.name}")
            index = WorkspaceIndex(root, index_settings, store_path=work / ".index" / root.name)
            index.index_all()
            if not args.no_embed:
                index.embed_pending()
            indexes[root] = index
        with LlamaServer(work / "llama.log") as llama:
            run = evaluate(cases, indexes, llama.url, configs, args.layout)
            tallies, details = asyncio.run(run)
        meta = {
            "packages": [p.name for p in workspaces],
            "vectors": "off" if args.no_embed else "all-MiniLM-L6-v2",
            "load": loadavg(),
            "seconds": time.perf_counter() - started,
        }
        print(table(tallies, len(cases), meta))
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "meta": meta,
                        "scores": {n: t.rows for n, t in tallies.items()},
                        "cases": details,
                    },
                    indent=2,
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
