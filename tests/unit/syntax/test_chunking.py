from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from assist_server.syntax.chunking import (
    CHUNK_KINDS,
    MAX_QUERY_DEPTH,
    MAX_REFERENCES,
    SKELETON,
    WINDOW,
    _query,
    chunk_file,
)
from assist_server.syntax.languages import EXTENSIONS, LANGUAGES, grammar, language_id
from assist_server.types import FileSymbols

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "languages"

# fixture file -> language id as an editor sends it
FILES = {
    "inventory.py": "python",
    "scheduler.py": "python",
    "cart.js": "javascript",
    "store.ts": "typescript",
    "TodoList.tsx": "typescriptreact",
    "server.go": "go",
    "queue.rs": "rust",
    "Library.java": "java",
    "ring_buffer.c": "c",
    "matrix.cpp": "cpp",
    "Account.cs": "csharp",
    "ledger.rb": "ruby",
    "Router.php": "php",
    "deploy.sh": "shellscript",
    "stack.lua": "lua",
}

# Every chunk but the windows, in order: (kind, symbol, start line, end line).
EXPECTED_CHUNKS = {
    "inventory.py": [
        ("class", "Item", 13, 20),
        ("class", "Warehouse", 23, 43),
        ("function", "load_warehouse", 46, 52),
        ("function", "restock_report", 55, 62),
    ],
    "scheduler.py": [
        ("skeleton", "Scheduler", 11, 95),
        ("method", "Scheduler.__init__", 19, 24),
        ("method", "Scheduler.every", 26, 31),
        ("method", "Scheduler.cancel", 33, 35),
        ("method", "Scheduler._push", 37, 39),
        ("method", "Scheduler.due", 41, 49),
        ("method", "Scheduler.run_pending", 51, 63),
        ("method", "Scheduler.next_delay", 65, 71),
        ("method", "Scheduler.run_forever", 73, 78),
        ("method", "Scheduler.stop", 80, 81),
        ("method", "Scheduler.__len__", 83, 84),
        ("method", "Scheduler.__contains__", 86, 87),
        ("method", "Scheduler.describe", 89, 95),
        ("function", "main", 98, 102),
    ],
    "cart.js": [
        ("class", "Cart", 11, 38),
        ("function", "receipt", 40, 45),
        ("function", "loadCart", 47, 55),
        ("function", "isEmpty", 57, 59),
    ],
    "store.ts": [
        ("interface", "StoreOptions", 8, 12),
        ("enum", "ChangeKind", 14, 17),
        ("interface", "Entry", 19, 22),
        ("class", "Store", 24, 63),
        ("function", "storeOf", 65, 72),
        ("function", "keysOf", 74, 75),
    ],
    "TodoList.tsx": [
        ("interface", "TodoListProps", 8, 11),
        ("function", "visibleTodos", 13, 19),
        ("function", "TodoRow", 21, 29),
        ("class", "TodoStats", 31, 37),
        ("function", "TodoList", 39, 56),
    ],
    "server.go": [
        ("struct", "Counter", 16, 20),
        ("interface", "Store", 22, 25),
        ("function", "NewCounter", 27, 30),
        ("method", "Counter.Inc", 32, 38),
        ("method", "Counter.Snapshot", 40, 49),
        ("function", "Handler", 51, 68),
    ],
    "queue.rs": [
        ("struct", "Job", 10, 16),
        ("enum", "QueueError", 18, 23),
        ("trait", "Runner", 25, 28),
        ("struct", "JobQueue", 30, 33),
        ("impl", "JobQueue", 35, 58),
        ("impl", "QueueError", 60, 67),
        ("function", "drain", 69, 78),
    ],
    "Library.java": [
        ("class", "Library", 9, 64),
        ("interface", "Notifier", 66, 68),
    ],
    "ring_buffer.c": [
        ("struct", "ring", 8, 15),
        ("enum", "ring_status", 17, 17),
        ("struct", "ring_stats", 19, 22),
        ("function", "ring_new", 26, 40),
        ("function", "ring_free", 42, 48),
        ("function", "ring_push", 50, 61),
        ("function", "ring_pop", 63, 74),
    ],
    "matrix.cpp": [
        ("class", "Matrix", 11, 42),
        ("struct", "Shape", 44, 47),
        ("method", "Matrix.trace", 49, 56),
        ("function", "nearly_equal", 58, 61),
        ("function", "clamp", 63, 66),
    ],
    "Account.cs": [
        ("enum", "TransactionKind", 8, 13),
        ("interface", "IAuditLog", 15, 18),
        ("class", "Account", 20, 70),
        ("struct", "Money", 72, 76),
    ],
    "ledger.rb": [
        ("module", "Formatting", 6, 11),
        ("class", "Ledger", 13, 43),
        ("function", "load_ledger", 45, 49),
    ],
    "Router.php": [
        ("interface", "Handler", 13, 16),
        ("class", "Router", 18, 48),
        ("function", "make_router", 50, 54),
    ],
    "deploy.sh": [
        ("function", "log", 11, 14),
        ("function", "build", 16, 23),
        ("function", "upload", 25, 29),
        ("function", "main", 31, 37),
    ],
    "stack.lua": [
        ("function", "Stack.new", 10, 17),
        ("method", "Stack.push", 19, 26),
        ("method", "Stack.pop", 28, 30),
        ("method", "Stack.peek", 32, 34),
        ("function", "describe", 36, 39),
        ("method", "Stack.size", 41, 43),
    ],
}

# (symbol, first line of its chunk): the comment, docstring or decorator above it is attached.
LEADING = {
    "inventory.py": [
        ("Item", "@dataclass"),
        ("Warehouse", "# The warehouse owns every item and knows how to move stock around."),
    ],
    "scheduler.py": [
        ("Scheduler.describe", "    # Debug helper: the schedule as text, soonest first."),
    ],
    "cart.js": [("Cart", "/**"), ("receipt", "// Render a cart as lines of text for receipts.")],
    "store.ts": [("StoreOptions", "/** Options accepted by every store. */")],
    "TodoList.tsx": [("TodoRow", "// One row of the list.")],
    "server.go": [("Counter.Inc", "// Inc adds one to the named count and returns the new value.")],
    "queue.rs": [("Job", "/// One unit of work.")],
    "Library.java": [("Library", "/**")],
    "ring_buffer.c": [("ring_push", "// Push one byte; fails when the ring is full.")],
    "matrix.cpp": [("Matrix", "/// A row-major matrix."), ("clamp", "template <typename T>")],
    "Account.cs": [("Account", "    /// <summary>")],
    "ledger.rb": [("Ledger", "# A ledger of dated entries with running balances.")],
    "Router.php": [("make_router", "/** Create a router with the default middleware. */")],
    "deploy.sh": [("upload", "# Copy the build to the server; needs ssh access.")],
    "stack.lua": [("Stack.new", "--- Create a new, empty stack.")],
}

# (name, kind, start line, end line) that must be among the definitions.
EXPECTED_DEFINITIONS = {
    "inventory.py": [
        ("LOW_STOCK", "constant", 10, 10),
        ("Item", "class", 13, 20),
        ("Warehouse", "class", 23, 43),
        ("Warehouse.add", "method", 30, 36),
        ("Warehouse.total", "method", 38, 40),
        ("load_warehouse", "function", 46, 52),
    ],
    "scheduler.py": [("Scheduler", "class", 11, 95), ("Scheduler.due", "method", 41, 49)],
    "cart.js": [
        ("TAX_RATE", "constant", 9, 9),
        ("Cart", "class", 11, 38),
        ("Cart.add", "method", 20, 29),
        ("loadCart", "function", 47, 55),
    ],
    "store.ts": [
        ("Listener", "type", 6, 6),
        ("StoreOptions", "interface", 8, 12),
        ("ChangeKind", "enum", 14, 17),
        ("Store.get", "method", 36, 47),
    ],
    "TodoList.tsx": [("Filter", "type", 6, 6), ("TodoStats.remaining", "method", 34, 36)],
    "server.go": [
        ("DefaultPort", "constant", 13, 14),
        ("Counter", "struct", 16, 20),
        ("Store", "interface", 22, 25),
        ("Counter.Snapshot", "method", 40, 49),
    ],
    "queue.rs": [
        ("MAX_JOBS", "constant", 7, 8),
        ("Runner", "trait", 25, 28),
        ("Runner.run", "method", 27, 27),
        ("JobQueue.push", "method", 41, 52),
        ("QueueError.fmt", "method", 61, 66),
    ],
    "Library.java": [
        ("Library.Book", "class", 16, 17),
        ("Library.Loan", "class", 19, 30),
        ("Library.Loan.Loan", "method", 25, 29),
        ("Library.lend", "method", 36, 49),
        ("Notifier.overdue", "method", 67, 67),
    ],
    "ring_buffer.c": [
        ("RING_MIN_CAPACITY", "constant", 6, 6),
        ("ring_stats", "struct", 19, 22),
        ("ring_pop", "function", 63, 74),
    ],
    "matrix.cpp": [
        ("kEpsilon", "constant", 9, 9),
        ("Matrix.operator*", "method", 18, 34),
        ("Matrix.at", "method", 16, 16),
    ],
    "Account.cs": [
        ("Account.Account", "method", 28, 32),
        ("Account.Withdraw", "method", 49, 56),
        ("IAuditLog.Record", "method", 17, 17),
    ],
    "ledger.rb": [
        ("Formatting.cents", "method", 8, 10),
        ("Ledger.Entry", "constant", 17, 17),
        ("Ledger.record", "method", 25, 30),
    ],
    "Router.php": [("Handler.handle", "method", 15, 15), ("Router.dispatch", "method", 37, 47)],
    "deploy.sh": [("TARGET", "constant", 8, 8), ("build", "function", 16, 23)],
    "stack.lua": [("Stack.push", "method", 19, 26), ("describe", "function", 36, 39)],
}

# Every import, in order: (name, module, line).
EXPECTED_IMPORTS = {
    "inventory.py": [
        ("annotations", "__future__", 3),
        ("json", "json", 5),
        ("os.path", "os.path", 6),
        ("dd", "collections", 7),
        ("dataclass", "dataclasses", 8),
        ("field", "dataclasses", 8),
    ],
    "scheduler.py": [
        ("heapq", "heapq", 3),
        ("logging", "logging", 4),
        ("time", "time", 5),
        ("Callable", "collections.abc", 6),
    ],
    "cart.js": [
        ("price", "./money.js", 2),
        ("round", "./money.js", 2),
        ("Big", "big.js", 3),
        ("log", "./log.js", 4),
        ("readFile", "node:fs/promises", 6),
        ("config", "./config.json", 7),
    ],
    "store.ts": [
        ("EventEmitter", "events", 2),
        ("Clock", "./clock", 3),
        ("defaultClock", "./clock", 4),
        ("sys", "./clock", 4),
    ],
    "TodoList.tsx": [
        ("React", "react", 2),
        ("useMemo", "react", 2),
        ("useState", "react", 2),
        ("Todo", "./model", 3),
        ("toggle", "./model", 3),
        ("styles", "./TodoList.module.css", 4),
    ],
    "server.go": [
        ("json", "encoding/json", 5),
        ("fmt", "fmt", 6),
        ("http", "net/http", 7),
        ("sync", "sync", 8),
        ("log", "github.com/sirupsen/logrus", 10),
    ],
    "queue.rs": [
        ("BinaryHeap", "std::collections", 3),
        ("HashMap", "std::collections", 3),
        ("fmt", "std", 4),
        ("Ser", "serde", 5),
    ],
    "Library.java": [
        ("LocalDate", "java.time", 3),
        ("ArrayList", "java.util", 4),
        ("List", "java.util", 5),
        ("Optional", "java.util", 6),
        ("requireNonNull", "java.util.Objects", 7),
    ],
    "ring_buffer.c": [
        ("stdlib.h", "stdlib.h", 2),
        ("string.h", "string.h", 3),
        ("ring_buffer.h", "ring_buffer.h", 4),
    ],
    "matrix.cpp": [
        ("cmath", "cmath", 2),
        ("stdexcept", "stdexcept", 3),
        ("vector", "vector", 4),
        ("matrix.hpp", "matrix.hpp", 5),
    ],
    "Account.cs": [
        ("System", "System", 1),
        ("System.Collections.Generic", "System.Collections.Generic", 2),
        ("System.Linq", "System.Linq", 3),
        ("Json", "System.Text.Json.JsonSerializer", 4),
    ],
    "ledger.rb": [("json", "json", 3), ("support/money", "support/money", 4)],
    "Router.php": [
        ("Auth", "App\\Http\\Middleware", 7),
        ("Response", "Psr\\Http\\Message", 8),
        ("ServerRequestInterface", "Psr\\Http\\Message", 9),
        ("/helpers.php", "/helpers.php", 11),
    ],
    "deploy.sh": [
        ("./lib/common.sh", "./lib/common.sh", 5),
        ('$(dirname "$0")/lib/colors.sh', '$(dirname "$0")/lib/colors.sh', 6),
    ],
    "stack.lua": [("inspect", "inspect", 2), ("util", "lib.util", 3)],
}

# (name, line) used there, and (name, line) that must not count as a use (where it is bound).
EXPECTED_REFERENCES = {
    "inventory.py": (
        [("exists", 48), ("Warehouse", 49), ("load", 51), ("append", 60), ("LOW_STOCK", 42)],
        [("load_warehouse", 46), ("path", 46), ("self", 32), ("json", 5), ("limit", 42)],
    ),
    "scheduler.py": ([("heappush", 39), ("_push", 31)], [("every", 26)]),
    "cart.js": (
        [("find", 22), ("debug", 28), ("price", 42), ("readFile", 49), ("Cart", 50)],
        [("receipt", 41), ("product", 21), ("price", 2), ("readFile", 6)],
    ),
    "store.ts": ([("EventEmitter", 27), ("now", 42), ("emit", 53)], [("storeOf", 66)]),
    "TodoList.tsx": ([("useState", 40), ("visibleTodos", 41), ("toggle", 47)], []),
    "server.go": (
        [("Lock", 34), ("NewServeMux", 53), ("WithError", 64), ("Counter", 29)],
        [("server", 2), ("name", 33), ("NewCounter", 28)],
    ),
    "queue.rs": ([("BinaryHeap", 38), ("Duplicate", 47), ("is_err", 73)], [("drain", 70)]),
    "Library.java": (
        [("requireNonNull", 33), ("plusWeeks", 46), ("isbn", 53)],
        [("org", 1), ("lend", 41), ("isbn", 41)],
    ),
    "ring_buffer.c": ([("malloc", 29), ("RING_FULL", 54), ("memset", 72)], [("ring_push", 51)]),
    "matrix.cpp": ([("fabs", 60), ("invalid_argument", 21), ("at", 30)], [("nearly_equal", 59)]),
    "Account.cs": (
        [("Record", 46), ("TryWithdraw", 52), ("Serialize", 69)],
        [("Bank", 6), ("amount", 39)],
    ),
    "ledger.rb": (
        [("sort_by!", 28), ("cents", 41), ("parse", 47), ("Entry", 27)],
        [("record", 26), ("json", 3)],
    ),
    "Router.php": (
        [("strtoupper", 33), ("getUri", 40), ("not_found", 43), ("check", 45)],
        [("App", 5), ("this", 33), ("dispatch", 37)],
    ),
    "deploy.sh": ([("rsync", 28), ("log", 27), ("BUILD_DIR", 28), ("upload", 34)], []),
    "stack.lua": (
        [("setmetatable", 13), ("insert", 24), ("DEFAULT_LIMIT", 15)],
        [("self", 14), ("item", 20)],
    ),
}


def _load(name: str, max_chunk_lines: int = 80) -> tuple[str, FileSymbols]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return text, chunk_file(name, text, FILES[name], max_chunk_lines=max_chunk_lines)


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def _assert_well_formed(text: str, symbols: FileSymbols, path: str, max_chunk_lines: int) -> None:
    """The properties every result has: exact text, hashes, bounds, every non-blank line covered."""
    lines = _lines(text)
    covered: set[int] = set()
    for chunk in symbols.chunks:
        assert chunk.path == path
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        assert chunk.content_hash == hashlib.sha256(chunk.text.encode()).hexdigest()
        assert len(chunk.text.split("\n")) <= max_chunk_lines
        if chunk.kind != SKELETON:
            assert chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
        if chunk.kind == WINDOW:
            assert chunk.symbol == ""
        covered.update(range(chunk.start_line, chunk.end_line + 1))
    uncovered = [n for n, line in enumerate(lines, 1) if line.strip() and n not in covered]
    assert uncovered == []


def test_fixtures_are_realistic_sizes() -> None:
    for name in FILES:
        assert 30 <= len(_lines((FIXTURES / name).read_text(encoding="utf-8"))) <= 120, name


@pytest.mark.parametrize("max_chunk_lines", [80, 20, 7, 1])
@pytest.mark.parametrize("name", sorted(FILES))
def test_every_line_is_covered_and_chunks_are_exact(name: str, max_chunk_lines: int) -> None:
    text, symbols = _load(name, max_chunk_lines)
    _assert_well_formed(text, symbols, name, max_chunk_lines)
    assert all(chunk.language == FILES[name] for chunk in symbols.chunks)


@pytest.mark.parametrize("name", sorted(FILES))
def test_definitions_become_chunks_with_their_lines(name: str) -> None:
    _, symbols = _load(name)
    found = [
        (c.kind, c.symbol, c.start_line, c.end_line) for c in symbols.chunks if c.kind != WINDOW
    ]
    assert found == EXPECTED_CHUNKS[name]
    assert {c.kind for c in symbols.chunks} <= CHUNK_KINDS | {SKELETON, WINDOW}


@pytest.mark.parametrize("name", sorted(LEADING))
def test_leading_comments_and_decorators_are_attached(name: str) -> None:
    _, symbols = _load(name)
    by_symbol = {c.symbol: c for c in symbols.chunks if c.kind != WINDOW}
    for symbol, first_line in LEADING[name]:
        assert by_symbol[symbol].text.split("\n")[0] == first_line


@pytest.mark.parametrize("name", sorted(EXPECTED_DEFINITIONS))
def test_definitions(name: str) -> None:
    _, symbols = _load(name)
    found = {(d.name, d.kind, d.start_line, d.end_line) for d in symbols.definitions}
    assert set(EXPECTED_DEFINITIONS[name]) <= found
    assert all(d.path == name for d in symbols.definitions)
    assert all(d.kind not in ("impl", SKELETON, WINDOW) for d in symbols.definitions)


@pytest.mark.parametrize("name", sorted(EXPECTED_IMPORTS))
def test_imports(name: str) -> None:
    _, symbols = _load(name)
    assert [(i.name, i.module, i.line) for i in symbols.imports] == EXPECTED_IMPORTS[name]
    assert all(i.path == name for i in symbols.imports)


@pytest.mark.parametrize("name", sorted(EXPECTED_REFERENCES))
def test_references_are_uses_not_bindings(name: str) -> None:
    _, symbols = _load(name)
    found = {(r.name, r.line) for r in symbols.references}
    used, bound = EXPECTED_REFERENCES[name]
    assert set(used) <= found
    assert not set(bound) & found
    assert len(found) == len(symbols.references)  # one per (name, line)
    lines = [r.line for r in symbols.references]
    assert lines == sorted(lines)


def test_python_class_longer_than_a_chunk_becomes_skeleton_and_methods() -> None:
    text, symbols = _load("scheduler.py")
    skeleton = next(c for c in symbols.chunks if c.kind == SKELETON)
    assert skeleton.symbol == "Scheduler"
    assert (skeleton.start_line, skeleton.end_line) == (11, 95)
    assert skeleton.end_line - skeleton.start_line + 1 > 80
    body = skeleton.text
    # header, docstring, fields and every signature stay; bodies become `...`
    assert body.startswith('class Scheduler:\n    """Runs callbacks at fixed intervals')
    assert "    tick_seconds = 0.5" in body
    assert "    def every(self, name: str, interval: float, callback: Callable[[], None])" in body
    assert "    def run_forever(self, sleep: Callable[[float], None] = time.sleep) -> None:" in body
    assert "    # Debug helper: the schedule as text, soonest first.\n    def describe" in body
    assert "        ...\n" in body
    assert "heapq.heappush" not in body and "raise ValueError" not in body
    assert len(body.split("\n")) < 50
    methods = [c for c in symbols.chunks if c.kind == "method"]
    assert len(methods) == 12
    assert all(c.symbol.startswith("Scheduler.") for c in methods)
    push = next(c for c in methods if c.symbol == "Scheduler._push")
    assert "heapq.heappush(self.heap, (when, self.counter, name))" in push.text
    assert text.split("\n")[push.start_line - 1].strip().startswith("def _push")


@pytest.mark.parametrize(
    ("name", "max_lines", "signature", "kept", "elided"),
    [
        (
            "Library.java",
            40,
            "    public Optional<Loan> lend(String isbn, String member) {\n        // ...\n    }",
            ["    private final List<Book> books = new ArrayList<>();", "    @Override"],
            ["loans.add(loan)", "this.member = member"],
        ),
        (
            "Account.cs",
            30,
            "        public void Deposit(decimal amount)\n        {\n            // ...\n        }",
            ["        public string Id { get; }", '        [Obsolete("Use TryWithdraw")]'],
            ["_history.Add", "throw new"],
        ),
        (
            "ledger.rb",
            20,
            "  def record(date, description, amount)\n    # ...\n  end",
            ["  include Enumerable", "  attr_reader :entries"],
            ["sort_by!", "entries.sum"],
        ),
        (
            "queue.rs",
            20,
            "    pub fn pop(&mut self) -> Option<Job> {\n        // ...\n    }",
            ["impl JobQueue {", "    /// An empty queue."],
            ["self.heap.pop()", "QueueError::Full"],
        ),
        (
            "matrix.cpp",
            20,
            "    Matrix operator*(const Matrix& other) const {\n        // ...\n    }",
            ["    double trace() const;", "    std::vector<double> data_;"],
            ["shape mismatch"],
        ),
        (
            "Router.php",
            20,
            "    public function dispatch(ServerRequestInterface $request): Response\n    {\n"
            "        // ...\n    }",
            ["    private array $routes = [];", "    public function __construct(private Auth"],
            ["getMethod", "strtoupper"],
        ),
    ],
)
def test_skeletons_elide_bodies_in_each_language_style(
    name: str, max_lines: int, signature: str, kept: list[str], elided: list[str]
) -> None:
    text, symbols = _load(name, max_lines)
    _assert_well_formed(text, symbols, name, max_lines)
    skeleton = "\n".join(c.text for c in symbols.chunks if c.kind == SKELETON)
    assert signature in skeleton
    for line in kept:
        assert line in skeleton
    for fragment in elided:
        assert fragment not in skeleton


def test_long_function_is_split_into_windows_of_the_same_symbol() -> None:
    text, symbols = _load("scheduler.py", max_chunk_lines=5)
    _assert_well_formed(text, symbols, "scheduler.py", 5)
    parts = [c for c in symbols.chunks if c.symbol == "Scheduler.run_pending"]
    assert len(parts) >= 3
    assert {c.kind for c in parts} == {"method"}
    assert parts[0].start_line == 51 and parts[-1].end_line == 63
    assert all(a.end_line < b.start_line for a, b in zip(parts, parts[1:], strict=False))


def test_code_between_definitions_goes_into_windows() -> None:
    _, symbols = _load("inventory.py")
    windows = [(c.start_line, c.end_line) for c in symbols.chunks if c.kind == WINDOW]
    assert windows == [(1, 10), (65, 66)]  # docstring, imports, LOW_STOCK; the __main__ block


def test_long_stretches_outside_definitions_are_cut_into_windows() -> None:
    text = "".join(f"SETTING_{i} = {i}\n" for i in range(200))
    symbols = chunk_file("settings.py", text, "python", max_chunk_lines=80)
    _assert_well_formed(text, symbols, "settings.py", 80)
    assert [(c.start_line, c.end_line) for c in symbols.chunks] == [(1, 80), (81, 160), (161, 200)]
    assert len(symbols.definitions) == 200


@pytest.mark.parametrize(("name", "language"), [("notes.md", "markdown"), ("notes.txt", "")])
def test_text_files_get_line_windows(name: str, language: str) -> None:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    symbols = chunk_file(name, text, language, max_chunk_lines=4)
    _assert_well_formed(text, symbols, name, 4)
    assert {c.kind for c in symbols.chunks} == {WINDOW}
    spans = [(c.start_line, c.end_line) for c in symbols.chunks]
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))  # no overlap
    assert symbols.definitions == symbols.imports == symbols.references == ()


def test_unknown_language_falls_back_to_windows() -> None:
    text = "proc main {\n  puts hello\n}\n"
    symbols = chunk_file("tool.tcl", text, "tcl")
    assert [(c.kind, c.start_line, c.end_line) for c in symbols.chunks] == [(WINDOW, 1, 3)]


def test_language_comes_from_the_path_when_the_id_is_unknown() -> None:
    text = (FIXTURES / "queue.rs").read_text(encoding="utf-8")
    symbols = chunk_file("src/queue.rs", text, "plaintext")
    assert symbols.chunks[0].language == "rust"
    assert any(c.symbol == "drain" for c in symbols.chunks)
    assert all(c.path == "src/queue.rs" for c in symbols.chunks)


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        (
            "python",
            "import os\n\ndef ok(a):\n    return a\n\ndef broken(x:\n    return (x +\n\n"
            "class Later:\n    def m(self):\n        return 1\n",
            "ok",
        ),
        (
            "javascript",
            "function ok(a) {\n  return a;\n}\n\nfunction broken( {\n  if (x {\n}\n"
            "const after = () => 1;\n",
            "ok",
        ),
        ("go", "package p\n\nfunc Ok() int {\n\treturn 1\n}\n\nfunc Broken( {\n", "Ok"),
        ("ruby", "def ok\n  1\nend\n\nclass Broken\n  def m(\n", "ok"),
    ],
)
def test_broken_syntax_still_chunks(language: str, text: str, expected: str) -> None:
    symbols = chunk_file("broken", text, language, max_chunk_lines=80)
    _assert_well_formed(text, symbols, "broken", 80)
    assert expected in {c.symbol for c in symbols.chunks}


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t\n"])
def test_empty_files_give_nothing(text: str) -> None:
    assert chunk_file("empty.py", text, "python") == FileSymbols((), (), (), ())


def test_nul_bytes_mean_binary_and_give_nothing() -> None:
    text = "def f():\n    return 1\n\x00\x01\x02"
    assert chunk_file("blob.py", text, "python") == FileSymbols((), (), (), ())


def test_windows_line_endings_keep_exact_text() -> None:
    text = (FIXTURES / "inventory.py").read_text(encoding="utf-8").replace("\n", "\r\n")
    symbols = chunk_file("inventory.py", text, "python")
    _assert_well_formed(text, symbols, "inventory.py", 80)
    add = next(d for d in symbols.definitions if d.name == "Warehouse.add")
    assert (add.start_line, add.end_line) == (30, 36)


def test_non_ascii_text_keeps_lines_and_names() -> None:
    text = '# Grüße\n\ndef grüße(name: str) -> str:\n    return f"Grüße, {name} 👋"\n\n'
    text += 'x = grüße("Zoë")\n'
    symbols = chunk_file("greet.py", text, "python")
    _assert_well_formed(text, symbols, "greet.py", 80)
    assert [(d.name, d.start_line) for d in symbols.definitions] == [("grüße", 3)]
    assert ("grüße", 6) in {(r.name, r.line) for r in symbols.references}


def test_references_are_bounded() -> None:
    text = "".join(f"total = total + value_{i}\n" for i in range(MAX_REFERENCES * 2))
    symbols = chunk_file("many.py", text, "python")
    assert len(symbols.references) == MAX_REFERENCES
    assert symbols.references[0].line == 1


def test_reference_predicates_still_apply() -> None:
    # Reference patterns run as a query of their own; their predicates come with them.
    symbols = chunk_file("run.sh", 'echo "$1" "$BUILD_DIR"\nrsync -a "$2" out\n', "shellscript")
    assert {(r.name, r.line) for r in symbols.references} == {
        ("echo", 1),
        ("BUILD_DIR", 1),
        ("rsync", 2),
    }


def test_references_of_a_long_expression_are_all_found() -> None:
    # Deep, but under MAX_QUERY_DEPTH: the references come from captures() of one-node
    # patterns, which stays linear where multi-node patterns would not.
    terms = 20_000
    text = "total = " + " + ".join(f"v{i}" for i in range(terms)) + "\n"
    symbols = chunk_file("sum.py", text, "python")
    assert len(symbols.references) == MAX_REFERENCES
    assert ("v0", 1) in {(r.name, r.line) for r in symbols.references}


def test_nesting_too_deep_for_queries_gives_windows() -> None:
    terms = MAX_QUERY_DEPTH + 5000
    text = "var total = " + " + ".join(f"f{i}()" for i in range(terms)) + ";\n"
    symbols = chunk_file("bundle.min.js", text, "javascript")
    assert [(c.kind, c.start_line, c.end_line) for c in symbols.chunks] == [(WINDOW, 1, 1)]
    assert symbols.references == ()


@pytest.mark.parametrize(
    ("editor_id", "path", "expected"),
    [
        ("csharp", None, "csharp"),
        ("ruby", None, "ruby"),
        ("php", None, "php"),
        ("shellscript", None, "shellscript"),
        ("lua", None, "lua"),
        ("", "Account.cs", "csharp"),
        ("", "ledger.rb", "ruby"),
        ("", "Router.php", "php"),
        ("", "deploy.sh", "shellscript"),
        ("", "stack.lua", "lua"),
        ("bash", None, "shellscript"),
        ("tsx", None, "typescriptreact"),
    ],
)
def test_new_languages_are_known(editor_id: str, path: str | None, expected: str) -> None:
    assert language_id(editor_id, path) == expected


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_language_has_a_grammar_and_a_compiling_query(language: str) -> None:
    assert grammar(language) is not None
    assert LANGUAGES[language].queries
    queries = _query(language)
    assert queries is not None and queries.references is not None


def test_every_extension_names_a_known_language() -> None:
    assert set(EXTENSIONS.values()) <= set(LANGUAGES)
