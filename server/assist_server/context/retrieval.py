"""Cross-file context for a completion: which code from elsewhere in the workspace to show.

Five tiers, all in-process and answered by the workspace index: definitions of the names near the
cursor, usages of those names in other files (for a small model, code that calls an API teaches
more than the API's definition), lexical search with the code before the cursor as query, vector
search (a fallback when the others find too little), and regions the user recently edited
elsewhere. Their ranks are fused (weighted reciprocal
rank fusion), overlapping pieces and pieces of the current window are dropped, each snippet is cut
to its most relevant lines, and what remains must share enough identifiers with the cursor's code
to earn its place, within a token budget.

The full-text and vector queries ignore the word being typed (the name lookups try it, and a
partial word names nothing), so the chosen snippets stay the same while the user types inside a
line; they are listed in a deterministic order (path, then line) so that consecutive
prompts share their head and the model server reuses its cached prefix.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assist_server.context.budget import estimate_tokens
from assist_server.types import Snippet

if TYPE_CHECKING:
    from assist_server.index.indexer import WorkspaceIndex

log = logging.getLogger(__name__)

# Tier names as they appear in logs, `assist-server context` and `assist.showContext`.
DEFINITION, USAGE, LEXICAL, VECTOR, RECENT = "definition", "usage", "lexical", "vector", "recent"
# How much one rank in each tier is worth in the fusion (usages first: see the module docstring).
TIER_WEIGHTS = {USAGE: 1.0, DEFINITION: 0.8, RECENT: 0.8, LEXICAL: 0.7, VECTOR: 0.6}
RRF_K = 10  # small: the first few hits of a tier matter, the tail hardly

QUERY_LINES = 20  # complete lines before the cursor that make the query
NAME_LINES = 4  # lines before the cursor whose names count as "at the cursor"
MAX_NAMES = 6  # names before the cursor looked up in the symbol table (plus the word at it)
REFERENCE_ROWS = 100  # reference rows fetched per name at the cursor
USAGE_FILES_PER_NAME = 8  # files whose use of a name is read and scored
SNIPPET_LINES = 12  # most lines of one snippet
USAGE_RADIUS = 3  # lines around a use of a name
LEXICAL_TERMS = 8  # words of the full-text query
VECTOR_QUERY_LINES = 6  # lines before the cursor that make the vector query
VECTOR_WHEN_FEWER = 2  # vector search runs when the other tiers chose fewer snippets
MIN_SHARED = 2  # informative identifiers a lexical/vector/recent snippet shares with the query
MAX_SNIPPETS = 6
CACHE_SIZE = 64
LOOKUP_CACHE_SIZE = 2048
CACHE_SECONDS = 30.0  # an answer is reused this long; edits elsewhere show up after that

# Tiers run side by side (LanceDB and numpy release the GIL while they work); one pool serves
# every retriever of the process.
_POOL = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="assist-context")

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Words that say nothing about which API is in use, across the indexed languages.
COMMON_WORDS = frozenset(
    """
    abstract and as assert async await bool boolean break byte case catch char class const
    continue def default del delete do double elif else enum export extends false final finally
    float for from func function global go if impl implements import in include instanceof int
    interface is lambda let long loop match mod namespace new nil none not null object of or
    package pass private protected pub public raise return self static str string struct super
    switch this throw throws true try type typeof use using var void while with yield
    args kwargs len list dict set tuple print range end then local elseif unless until begin
    """.split()
)


def identifiers(text: str) -> list[str]:
    """Identifiers of `text` that can name an API (no keywords, no one-letter names)."""
    return [w for w in _IDENT.findall(text) if len(w) > 2 and w.lower() not in COMMON_WORDS]


@dataclass(frozen=True)
class CursorQuery:
    """What retrieval asks about the cursor: names right at it and the code before it."""

    path: str  # relative to the workspace root, forward slashes
    names: tuple[str, ...]  # nearest first
    word: str  # the word at the cursor (first of `names` when it can be a name)
    words: frozenset[str]  # informative identifiers of the query lines
    text: str  # the query lines, for lexical and vector search
    window: tuple[int, int]  # lines of the current file already in the prompt, 1-based

    @property
    def names_before(self) -> tuple[str, ...]:
        """The names without the word at the cursor (stable while that word is typed)."""
        return tuple(n for n in self.names if n != self.word)


def cursor_query(
    rel_path: str, text: str, offset: int, window_start_line: int, window_end_line: int
) -> CursorQuery:
    """The query for a cursor, leaving out the word being typed so that it stays stable."""
    before = text[:offset]
    lines = before.split("\n")
    current = lines[-1]
    partial = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", current)
    word = partial.group() if partial else ""
    current = current[: partial.start()] if partial else current
    query_lines = [*lines[-QUERY_LINES - 1 : -1], current]
    # The word at the cursor comes first: once it is a complete name (`price_of|`), it is the API
    # the next characters use. While it is partial it names nothing and finds nothing.
    lead = [word] if len(word) > 1 and word.lower() not in COMMON_WORDS else []
    others: list[str] = []  # the names before the word: stable while it is typed
    for line in reversed([*lines[-NAME_LINES - 1 : -1], current]):
        for name in reversed(identifiers(line)):
            if name not in others and name not in lead:
                others.append(name)
    query_text = "\n".join(query_lines)
    return CursorQuery(
        path=rel_path,
        names=tuple(lead + others[:MAX_NAMES]),
        word=word,
        words=frozenset(identifiers(query_text)),
        text=query_text,
        window=(window_start_line, window_end_line),
    )


@dataclass
class Candidate:
    """A piece of code one tier proposes, before fusion."""

    path: str
    start_line: int  # 1-based, inclusive
    end_line: int
    source: str
    score: float = 0.0


@dataclass
class Retrieval:
    """The snippets chosen for one cursor, in prompt order, and how they were found."""

    snippets: list[Snippet] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)  # per snippet, estimated
    tier_ms: dict[str, float] = field(default_factory=dict)
    cached: bool = False
    failed: bool = False  # a lookup failed: the answer is partial and not cached

    @property
    def sources(self) -> str:
        """Tier of each snippet, for the log line ("-" when there is none)."""
        return ",".join(s.source for s in self.snippets) or "-"


class SnippetSource(Protocol):
    """What the completion engine asks for cross-file context (ContextRetriever, baselines)."""

    def index_for(self, path: Path) -> WorkspaceIndex | None:
        """The index of the workspace holding `path`, if any (names the repository)."""
        ...

    def retrieve(
        self,
        path: str | None,
        text: str,
        offset: int,
        window: tuple[int, int],
        budget_tokens: int,
    ) -> Retrieval:
        """Snippets for the cursor at `offset` of `text`."""
        ...


class LruCache:
    """A bounded, thread-safe LRU map; entries expire after `seconds` when it is given."""

    def __init__(self, size: int, seconds: float | None = None) -> None:
        self.size = size
        self.seconds = seconds
        self._items: OrderedDict[tuple[object, ...], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> Any | None:
        """The value stored under `key` if it is there (and fresh), else None."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if self.seconds is not None and time.monotonic() - found[0] >= self.seconds:
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: tuple[object, ...], value: Any) -> None:
        """Store `value`, dropping the least recently used entries beyond the size."""
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (benchmarks measure misses this way)."""
        with self._lock:
            self._items.clear()


class RecentEdits:
    """Lines the user recently edited, per file: the "recent" tier."""

    def __init__(self, limit: int = 16) -> None:
        self.limit = limit
        self._lines: OrderedDict[str, int] = OrderedDict()  # path -> last edited line, 1-based
        self._lock = threading.Lock()

    def edited(self, path: str, line: int) -> None:
        """Record an edit at a 1-based line of the file at `path` (absolute)."""
        with self._lock:
            self._lines[path] = line
            self._lines.move_to_end(path)
            while len(self._lines) > self.limit:
                self._lines.popitem(last=False)

    def forget(self, path: str) -> None:
        """Drop a file (closed or deleted)."""
        with self._lock:
            self._lines.pop(path, None)

    def recent(self) -> list[tuple[str, int]]:
        """(path, line) pairs, most recent first."""
        with self._lock:
            return list(reversed(self._lines.items()))


class FileLines:
    """Lines of workspace files, read once per modification time (open buffers win)."""

    def __init__(self, buffers: Callable[[str], str | None] | None = None, size: int = 256):
        self.buffers = buffers  # absolute path -> text of the open document, if open
        self._cache = LruCache(size)  # keyed by path and modification time: never stale

    def lines(self, path: Path) -> list[str]:
        """The file's lines (without line ends); empty when it cannot be read."""
        if self.buffers is not None:
            text = self.buffers(str(path))
            if text is not None:
                return text.split("\n")
        try:
            key = (str(path), path.stat().st_mtime_ns)
        except OSError:
            return []
        found: list[str] | None = self._cache.get(key)
        if found is None:
            try:
                found = path.read_bytes().decode("utf-8", errors="replace").split("\n")
            except OSError:
                return []
            self._cache.put(key, found)
        return found


class ContextRetriever:
    """Finds the snippets for a cursor in the index of the workspace that holds the file."""

    def __init__(
        self,
        index_for: Callable[[Path], WorkspaceIndex | None],
        *,
        recent: RecentEdits | None = None,
        files: FileLines | None = None,
    ) -> None:
        self.index_for = index_for
        self.recent = recent or RecentEdits()
        self.files = files or FileLines()
        # Whole answers, and what each lookup found: a keystroke inside a word changes only the
        # word at the cursor, so it costs one name lookup, not every tier again.
        self._cache = LruCache(CACHE_SIZE, CACHE_SECONDS)
        self._lookups = LruCache(LOOKUP_CACHE_SIZE, CACHE_SECONDS)

    @classmethod
    def over(cls, index: WorkspaceIndex, recent: RecentEdits | None = None) -> ContextRetriever:
        """A retriever over one workspace's index (the CLI, scripts and tests)."""
        return cls(lambda path: index if index.relative(path) is not None else None, recent=recent)

    def retrieve(
        self,
        path: str | None,
        text: str,
        offset: int,
        window: tuple[int, int],
        budget_tokens: int,
    ) -> Retrieval:
        """Snippets for the cursor at `offset` of `text` (the file at absolute `path`)."""
        if not path or budget_tokens <= 0:
            return Retrieval()
        index = self.index_for(Path(path))
        if index is None:
            return Retrieval()
        rel = index.relative(Path(path))
        if rel is None:
            return Retrieval()
        query = cursor_query(rel, text, offset, *window)
        key = (
            str(index.root),
            query.path,
            query.names,
            query.text,
            query.window,
            budget_tokens,
            tuple(self.recent.recent()[:4]),
        )
        hit: Retrieval | None = self._cache.get(key)
        if hit is not None:
            return replace(hit, tier_ms={}, cached=True)
        found = self._retrieve(index, query, budget_tokens)
        if not found.failed:
            self._cache.put(key, found)
        return found

    # --- the tiers ----------------------------------------------------------------------

    def _retrieve(self, index: WorkspaceIndex, query: CursorQuery, budget: int) -> Retrieval:
        """Ask the name and full-text lookups at once, then fuse and choose.

        Vector search is the fallback: it costs the most per cursor (embedding the query) and,
        on the 100k-chunk bench, supplied about 1 % of the chosen snippets when the other tiers
        had found theirs. It runs when they leave fewer than VECTOR_WHEN_FEWER snippets.
        """
        result = Retrieval()
        root = str(index.root)
        known = {n: self._lookups.get(("names", root, n)) for n in query.names}
        missing = [n for n, rows in known.items() if rows is None]
        lexical_key = (LEXICAL, root, query.path, query.text, query.names_before)
        lexical = self._lookups.get(lexical_key)
        asked: dict[str, concurrent.futures.Future[Any]] = {}
        if missing:
            asked["symbols"] = _POOL.submit(
                self._timed,
                "symbols",
                lambda: index.store.symbols(
                    missing, ("definition", "reference"), len(missing) * REFERENCE_ROWS
                ),
            )
        if lexical is None:
            asked[LEXICAL] = _POOL.submit(self._timed, LEXICAL, lambda: self._lexical(index, query))
        answers: dict[str, Any] = {}
        for name, future in asked.items():
            answers[name], result.tier_ms[name] = future.result()
            result.failed |= answers[name] is None
        # A lookup that failed (None) counts as empty now but is not cached: the next
        # keystroke asks again.
        if lexical is None:
            lexical = answers[LEXICAL] or []
            if answers[LEXICAL] is not None:
                self._lookups.put(lexical_key, lexical)
        for name in missing:  # per name, so that the next keystroke finds them
            known[name] = [r for r in answers["symbols"] or [] if r["name"] == name]
            if answers["symbols"] is not None:
                self._lookups.put(("names", root, name), known[name])
        symbol_rows = [row for rows in known.values() for row in rows or []]

        started = time.perf_counter()
        definitions, local = self._definitions(
            [r for r in symbol_rows if r["role"] == "definition"], query
        )
        tiers: dict[str, list[Candidate]] = {LEXICAL: lexical, DEFINITION: definitions}
        tiers[USAGE] = self._usages(
            index, [r for r in symbol_rows if r["role"] == "reference"], query, local
        )
        tiers[RECENT] = self._recent(index, query)
        result.tier_ms["usage"] = (time.perf_counter() - started) * 1000
        chosen = self._fuse_and_choose(index, query, tiers, budget, result)
        if len(chosen) < VECTOR_WHEN_FEWER and index.embedder_loaded:
            vector_key = (VECTOR, root, query.path, query.text)
            vector = self._lookups.get(vector_key)
            if vector is None:
                vector, result.tier_ms[VECTOR] = self._timed(
                    VECTOR, lambda: self._vector(index, query)
                )
                result.failed |= vector is None
                if vector is not None:
                    self._lookups.put(vector_key, vector)
            if vector:
                tiers[VECTOR] = vector
                chosen = self._fuse_and_choose(index, query, tiers, budget, result)
        chosen.sort(key=lambda pair: (pair[0].path, pair[0].start_line))  # stable prompt order
        result.snippets = [snippet for snippet, _ in chosen]
        result.tokens = [tokens for _, tokens in chosen]
        return result

    def _fuse_and_choose(
        self,
        index: WorkspaceIndex,
        query: CursorQuery,
        tiers: dict[str, list[Candidate]],
        budget: int,
        result: Retrieval,
    ) -> list[tuple[Snippet, int]]:
        started = time.perf_counter()
        chosen = self._choose(index, query, fuse_candidates(tiers), budget)
        result.tier_ms["fuse"] = (
            result.tier_ms.get("fuse", 0.0) + (time.perf_counter() - started) * 1000
        )
        return chosen

    @staticmethod
    def _timed(name: str, find: Callable[[], Any]) -> tuple[Any, float]:
        """What `find` answers (None if it fails) and how long it took, in ms."""
        started = time.perf_counter()
        try:
            found = find()
        except Exception:  # one failing tier (a damaged table, say) must not sink the rest
            log.exception("context lookup %s failed", name)
            found = None
        return found, (time.perf_counter() - started) * 1000

    def _definitions(
        self, rows: list[dict[str, Any]], query: CursorQuery
    ) -> tuple[list[Candidate], set[str]]:
        """The definition tier, and the names defined in the current file (not cross-file)."""
        local = {row["name"] for row in rows if row["path"] == query.path}
        rank = {name: i for i, name in enumerate(query.names)}
        defs: list[Candidate] = []
        for row in sorted(rows, key=lambda r: (rank.get(r["name"], 99), r["path"], r["line"])):
            if row["name"] in local:
                continue  # defined in this file: the model sees it or it is not cross-file
            start = int(row["line"])
            end = min(int(row["end_line"]), start + SNIPPET_LINES - 1)
            defs.append(Candidate(row["path"], start, end, DEFINITION))
        return defs, local

    def _usages(
        self,
        index: WorkspaceIndex,
        rows: list[dict[str, Any]],
        query: CursorQuery,
        local: set[str],
    ) -> list[Candidate]:
        """Uses of the names at the cursor in other files, the most similar to the cursor first.

        Only the first few files per name are read and scored, which bounds the cost for names
        used all over a large workspace.
        """
        wanted = [n for n in query.names if n not in local]
        per_name: dict[str, list[Candidate]] = {name: [] for name in wanted}
        files: dict[str, set[str]] = {name: set() for name in wanted}
        for row in rows:
            name, path = row["name"], row["path"]
            if name not in per_name or path == query.path:
                continue
            if path in files[name] or len(files[name]) >= USAGE_FILES_PER_NAME:
                continue
            files[name].add(path)
            line = int(row["line"])
            candidate = Candidate(path, max(1, line - USAGE_RADIUS), line + USAGE_RADIUS, USAGE)
            candidate.score = self._overlap(index, candidate, query.words)
            per_name[name].append(candidate)
        usages: list[Candidate] = []
        for rank_of_name, scored in enumerate(per_name.values()):
            scored.sort(key=lambda c: (-c.score, c.path, c.start_line))
            # the nearest name is the API in use: show how several files call it
            usages.extend(scored[: 3 if rank_of_name == 0 else 1])
        usages.sort(key=lambda c: -c.score)
        return usages

    def _lexical(self, index: WorkspaceIndex, query: CursorQuery) -> list[Candidate]:
        if not query.words:
            return []
        # The names nearest the cursor first, then the longest words (rarer, so worth more):
        # BM25 over dozens of terms costs several times as much and finds no better code.
        # Not the word at the cursor: while it is being typed it would change the hits.
        longest = sorted(query.words, key=lambda w: (-len(w), w))
        terms = list(dict.fromkeys([*query.names_before, *longest]))
        hits = index.store.search_text(" ".join(terms[:LEXICAL_TERMS]), 10)
        return [Candidate(h.path, h.start_line, h.end_line, LEXICAL, h.score) for h in hits]

    def _vector(self, index: WorkspaceIndex, query: CursorQuery) -> list[Candidate]:
        if not index.embedder_loaded or not query.words:
            return []  # never load a model in the completion path
        from assist_server.index.store import chunk_location  # lancedb loads with the index

        # The last lines only: the model reads at most 256 word pieces, and a 20-line query took
        # 13 ms to embed against 3-4 ms for a short one (int8, 2 cores).
        text = "\n".join(query.text.split("\n")[-VECTOR_QUERY_LINES:])
        found = []
        for row_id, score in index.nearest(text, 8):  # no store round trip: ids say where
            path, start, end = chunk_location(row_id)
            found.append(Candidate(path, start, end, VECTOR, score))
        return found

    def _recent(self, index: WorkspaceIndex, query: CursorQuery) -> list[Candidate]:
        found: list[Candidate] = []
        for path, line in self.recent.recent():
            rel = index.relative(Path(path))
            if rel is None or rel == query.path:
                continue
            half = SNIPPET_LINES // 2
            found.append(Candidate(rel, max(1, line - half), line + half, RECENT))
        return found

    # --- choosing -----------------------------------------------------------------------

    def _overlap(self, index: WorkspaceIndex, candidate: Candidate, words: frozenset[str]) -> float:
        lines = self.files.lines(index.root / candidate.path)
        found = set(identifiers("\n".join(lines[candidate.start_line - 1 : candidate.end_line])))
        if not found or not words:
            return 0.0
        return len(found & words) / len(found | words)

    def _choose(
        self,
        index: WorkspaceIndex,
        query: CursorQuery,
        fused: Sequence[Candidate],
        budget: int,
    ) -> list[tuple[Snippet, int]]:
        """Trim, drop overlaps and what has not earned its place, fit the budget."""
        chosen: list[tuple[Snippet, int]] = []
        taken: dict[str, list[tuple[int, int]]] = {query.path: [query.window]}
        used = 0
        for candidate in fused:
            if len(chosen) >= MAX_SNIPPETS:
                break
            lines = self.files.lines(index.root / candidate.path)
            if not lines:
                continue
            start, end = best_lines(lines, candidate, query.words)
            while start < end and not lines[start - 1].strip():
                start += 1
            while end > start and not lines[end - 1].strip():
                end -= 1
            if any(start <= e and s <= end for s, e in taken.get(candidate.path, [])):
                continue
            body = "\n".join(lines[start - 1 : end])
            if not body.strip():
                continue
            shared = query.words & set(identifiers(body))
            names = set(query.names) & set(_IDENT.findall(body))
            if candidate.source in (LEXICAL, VECTOR, RECENT) and len(shared) < MIN_SHARED:
                continue  # irrelevant context hurts a small model: it must share the cursor's words
            if candidate.source in (USAGE, DEFINITION) and not names:
                continue
            tokens = estimate_tokens(body) + 4  # + the file header
            if used + tokens > budget:
                continue
            used += tokens
            taken.setdefault(candidate.path, []).append((start, end))
            snippet = Snippet(
                candidate.path, body + "\n", start, end, candidate.source, candidate.score
            )
            chosen.append((snippet, tokens))
        return chosen


def fuse_candidates(tiers: dict[str, list[Candidate]]) -> list[Candidate]:
    """Weighted reciprocal rank fusion; the same lines from two tiers add up."""
    scores: dict[tuple[str, int, int], float] = {}
    first: dict[tuple[str, int, int], Candidate] = {}
    # Heaviest tier first, so that lines two tiers found are labelled with the stronger reason.
    for tier, candidates in sorted(tiers.items(), key=lambda t: -TIER_WEIGHTS.get(t[0], 0.5)):
        weight = TIER_WEIGHTS.get(tier, 0.5)
        for rank, candidate in enumerate(candidates):
            key = (candidate.path, candidate.start_line, candidate.end_line)
            scores[key] = scores.get(key, 0.0) + weight / (RRF_K + rank + 1)
            first.setdefault(key, candidate)
    order = sorted(scores, key=lambda k: (-scores[k], k))
    fused = []
    for key in order:
        candidate = first[key]
        fused.append(
            Candidate(
                candidate.path,
                candidate.start_line,
                candidate.end_line,
                candidate.source,
                scores[key],
            )
        )
    return fused


def best_lines(
    lines: Sequence[str], candidate: Candidate, words: frozenset[str]
) -> tuple[int, int]:
    """The window of at most SNIPPET_LINES lines of the candidate sharing most query words."""
    start = max(1, candidate.start_line)
    end = min(len(lines), max(start, candidate.end_line))
    if end - start + 1 <= SNIPPET_LINES or candidate.source == DEFINITION:
        return start, min(end, start + SNIPPET_LINES - 1)
    hits = [len(words & set(identifiers(lines[i - 1]))) for i in range(start, end + 1)]
    best, best_at = -1, start
    running = sum(hits[:SNIPPET_LINES])
    for offset in range(0, len(hits) - SNIPPET_LINES + 1):
        if offset:
            running += hits[offset + SNIPPET_LINES - 1] - hits[offset - 1]
        if running > best:
            best, best_at = running, start + offset
    return best_at, best_at + SNIPPET_LINES - 1
