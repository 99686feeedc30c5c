"""Cut one source file into chunks worth retrieving, and list what it defines, imports and uses.

A function, method or class becomes a chunk of its own, together with the comments, docstring
and decorators above it. A class-like definition longer than `max_chunk_lines` becomes a
skeleton (its header, fields and method signatures, bodies elided) plus one chunk per method.
Code outside any definition goes into windows of consecutive lines, and so does every file
without a grammar. Which nodes are definitions, imports and uses in each language is written
in the query files under `queries/` (named by `LanguageInfo.queries`), not in this module.

Chunk kinds (`Chunk.kind`):

- "function", "method": a function; a function inside a class-like definition is a method and
  its symbol is "Owner.name" (also Go receivers, C++ `Owner::name`, Lua `Owner:name`).
- "class", "struct", "interface", "enum", "trait", "impl", "module": a class-like definition
  that fits in one chunk (a Ruby module is class-like; namespaces are not captured at all).
- "skeleton": a long class-like definition with the bodies of its methods elided. Its text is
  therefore not the exact text of its lines; every other chunk's text is.
- "window": lines outside any chunked definition, with symbol "".

A definition longer than `max_chunk_lines` is cut into several chunks of the same kind and
symbol. Definition kinds (`Definition.kind`) are the chunk kinds above except "impl" and
"skeleton" and "window", plus "type" and "constant", whose lines are covered by windows.
Definitions carry the symbol of their chunk and its lines, leading comments included.

Captures of the query files: `@definition.<kind>` on a definition node with `@name` on its
name, `@scope` on an owner named outside it (Go receiver) and `@body` where the body is not
the node's `body` field; `@import` on an import with `@import.module` and the names it binds,
`@import.name` / `@import.alias` (none: the module is the name, or its last path part with
`LanguageInfo.import_path_separator`); `@reference` on a name used, unless the same node is
`@local` (a parameter, a binding) or lies in an `@import` or `@ignore` node.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import cast

import tree_sitter

from assist_server.syntax.languages import LANGUAGES, LanguageInfo, grammar, language_id, parse
from assist_server.types import Chunk, Definition, FileSymbols, Import, Reference

log = logging.getLogger(__name__)

# No version number to bump by hand: the index fingerprints this module and the query files
# (index/indexer.py CHUNKER_VERSION), so any change to them rebuilds stored indexes.
MAX_REFERENCES = 5000  # per file, the first ones by line
# Queries stall on trees nested very deep (measured: an expression of 60k terms 0.5 s, of 80k
# terms over 100 s); files nesting deeper than this get line windows only.
MAX_QUERY_DEPTH = 30_000
DEPTH_PROBES = 32  # root-to-leaf paths looked at to find such a nesting
CONTAINER_KINDS = frozenset({"class", "struct", "interface", "enum", "trait", "impl", "module"})
FUNCTION_KINDS = frozenset({"function", "method"})
CHUNK_KINDS = CONTAINER_KINDS | FUNCTION_KINDS  # other definition kinds live in windows
NAMELESS_KINDS = frozenset({"impl"})  # an impl block adds to a type defined elsewhere
WINDOW = "window"
SKELETON = "skeleton"

_EMPTY = FileSymbols((), (), (), ())
_DEFINITION = "definition."
_REFERENCE_CAPTURE = b"@reference"


def chunk_file(path: str, text: str, language: str, *, max_chunk_lines: int = 80) -> FileSymbols:
    """Chunk `text` (the file at workspace-relative `path`) and list its symbols.

    An unknown language, or one without a grammar, gets line windows only; text with NUL
    bytes is taken for binary and yields nothing. Never raises on odd input.
    """
    if "\x00" in text or not text.strip():
        return _EMPTY
    lang = language_id(language, path)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    file = _File(path, lang, lines, max(1, max_chunk_lines))
    queries = _query(lang)
    if queries is not None:
        tree = parse(lang, text)
        if tree is not None and _too_deep(tree.root_node):
            log.info("%s nests deeper than %d levels: line windows only", path, MAX_QUERY_DEPTH)
        elif tree is not None:
            try:
                return _SymbolReader(file, LANGUAGES[lang], queries, tree, text).read()
            except (ValueError, RuntimeError) as exc:  # a query or grammar surprise: degrade
                log.warning("chunking %s as %s failed (%s): line windows instead", path, lang, exc)
    return FileSymbols(tuple(file.pieces("", WINDOW, 0, len(lines) - 1)), (), (), ())


@dataclass(frozen=True)
class _Queries:
    """A language's query file compiled twice: its structure, and the names it uses.

    The `@reference` patterns match every identifier, nine in ten matches; `captures()` of
    those patterns alone costs half of what `matches()` does (no dict and list per match).
    """

    structure: tree_sitter.Query  # definitions, imports, @local and @ignore
    references: tree_sitter.Query | None  # the patterns capturing @reference


@functools.cache
def _query(language: str) -> _Queries | None:
    """The compiled query file of a language (see LanguageInfo.queries), if it has one."""
    info = LANGUAGES.get(language)
    if info is None or not info.queries:
        return None
    lang = grammar(language)
    if lang is None:
        return None
    source = resources.files("assist_server.syntax") / "queries" / f"{info.queries}.scm"
    try:
        text = source.read_text("utf-8")
        structure, references = tree_sitter.Query(lang, text), tree_sitter.Query(lang, text)
    except (OSError, tree_sitter.QueryError) as exc:
        log.warning("no chunking query for %s (%s): line windows apply", language, exc)
        return None
    raw = text.encode("utf-8")
    uses = 0
    for pattern in range(structure.pattern_count):
        start, end = (
            structure.start_byte_for_pattern(pattern),
            structure.end_byte_for_pattern(pattern),
        )
        if _REFERENCE_CAPTURE in raw[start:end]:
            structure.disable_pattern(pattern)
            uses += 1
        else:
            references.disable_pattern(pattern)
    return _Queries(structure, references if uses else None)


def _too_deep(root: tree_sitter.Node) -> bool:
    """Whether the tree nests deeper than MAX_QUERY_DEPTH along a few evenly spread paths.

    A nesting that deep is a long chain (`a+b+c...`) covering most of the file, so most
    paths run through it; each level takes at least one byte, so small files are never deep.
    """
    size = root.end_byte
    if size <= MAX_QUERY_DEPTH:
        return False
    cursor = root.walk()
    for probe in range(DEPTH_PROBES):
        cursor.reset(root)
        byte = size * probe // DEPTH_PROBES
        depth = 0  # counted here: the cursor's own `depth` costs O(depth) per call
        while cursor.goto_first_child_for_byte(byte) is not None:
            depth += 1
            if depth > MAX_QUERY_DEPTH:
                return True
    return False


def _end_row(node: tree_sitter.Node) -> int:
    """The last row holding text of `node` (a node ending at column 0 ends on the row before)."""
    row, column = node.end_point
    return row - 1 if column == 0 and row > node.start_point[0] else row


class _File:
    """The lines of one file and how to turn row ranges into chunks."""

    def __init__(self, path: str, language: str, lines: list[str], max_lines: int) -> None:
        self.path = path
        self.language = language
        self.lines = lines
        self.blank = [not line.strip() for line in lines]
        self.max_lines = max_lines

    def chunk(
        self, symbol: str, kind: str, first: int, last: int, text: str | None = None
    ) -> Chunk:
        """A chunk of rows `first`..`last` (0-based, inclusive), by default their exact text."""
        if text is None:
            text = "\n".join(self.lines[first : last + 1])
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return Chunk(self.path, self.language, symbol, kind, first + 1, last + 1, text, digest)

    def pieces(self, symbol: str, kind: str, first: int, last: int) -> list[Chunk]:
        """Rows `first`..`last` as chunks of at most max_lines (see `_spans`)."""
        last = min(last, len(self.lines) - 1)
        return [
            self.chunk(symbol, kind, start, end)
            for start, end in _spans(self.blank, first, last, self.max_lines)
        ]


def _spans(blank: Sequence[bool], first: int, last: int, size: int) -> list[tuple[int, int]]:
    """Cut `first`..`last` into spans of at most `size` items, at a blank item where possible.

    Blank items at the edges of a span are left out; an all-blank range gives nothing.
    """
    out: list[tuple[int, int]] = []
    start = first
    while start <= last:
        while start <= last and blank[start]:
            start += 1
        if start > last:
            break
        end = min(last, start + size - 1)
        if end < last:
            for row in range(end + 1, start + size // 2, -1):
                if blank[row]:
                    end = row - 1
                    break
        stop = end
        while blank[stop]:
            stop -= 1
        out.append((start, stop))
        start = end + 1
    return out


@dataclass
class _Definition:
    """A definition as the query found it, before it becomes chunks and a Definition."""

    kind: str
    name: str
    scope: str
    node: tree_sitter.Node  # widened to the wrappers that belong to it (decorators, export)
    inner: tree_sitter.Node  # as captured
    body: tree_sitter.Node | None
    name_start: int
    start_row: int
    end_row: int
    symbol: str = ""
    dropped: bool = False  # nested in a function: part of that function, not listed
    members: list[_Definition] = field(default_factory=list)


class _SymbolReader:
    """One query pass over one parsed file, then its chunks, definitions, imports, references."""

    def __init__(
        self,
        file: _File,
        info: LanguageInfo,
        queries: _Queries,
        tree: tree_sitter.Tree,
        text: str,
    ) -> None:
        self.file = file
        self.info = info
        self.queries = queries
        self.root = tree.root_node
        self.text = text
        self.source = text.encode("utf-8", "surrogatepass")
        self.attached = frozenset(info.comment_types) | frozenset(info.leading_types)
        self.wrappers = frozenset(info.wrapper_types)
        self.raw_imports: list[tuple[str, str, int, int]] = []  # name, module, row, module byte
        self.skipped_ranges: list[tuple[int, int]] = []  # imports and @ignore: no references

    def read(self) -> FileSymbols:
        """Everything the file tells: chunks, definitions, imports, references."""
        found: list[_Definition] = []
        bound: set[int] = set()
        # matches(), not captures(): captures() must return captures in order, which costs
        # quadratic time on deep trees (a minified expression 100k terms long) when patterns
        # span several nodes. The reference patterns match one node each: captures() is safe.
        for _, match in tree_sitter.QueryCursor(self.queries.structure).matches(self.root):
            if "local" in match:
                bound.update(node.start_byte for node in match["local"])
            elif "import" in match:
                self._add_import(match)
            elif "ignore" in match:
                self.skipped_ranges.extend((n.start_byte, n.end_byte) for n in match["ignore"])
            else:
                definition = self._definition(match)
                if definition is not None:
                    found.append(definition)
        top, kept = self._nest(found)
        chunks: list[Chunk] = []
        for definition in top:
            self._emit(definition, chunks)
        chunks.extend(self._windows(chunks))
        chunks.sort(key=lambda c: (c.start_line, -c.end_line))
        path = self.file.path
        definitions = tuple(
            Definition(d.symbol, d.kind, path, d.start_row + 1, d.end_row + 1)
            for d in kept
            if d.kind not in NAMELESS_KINDS
        )
        bound.update(d.name_start for d in found)
        used: list[tree_sitter.Node] = []
        if self.queries.references is not None:
            captured = tree_sitter.QueryCursor(self.queries.references).captures(self.root)
            used = captured.get("reference", [])
        references = self._references(used, bound)
        return FileSymbols(tuple(chunks), definitions, self._imports(), references)

    # -- definitions -------------------------------------------------------------------------

    def _text(self, node: tree_sitter.Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def _definition(self, match: dict[str, list[tree_sitter.Node]]) -> _Definition | None:
        kind = next((key[len(_DEFINITION) :] for key in match if key.startswith(_DEFINITION)), "")
        names = match.get("name")
        if not kind or not names:
            return None
        inner = match[_DEFINITION + kind][0]
        node = self._widen(inner)
        scopes = match.get("scope")
        bodies = match.get("body")
        return _Definition(
            kind=kind,
            name=self._text(names[0]),
            scope=self._text(scopes[0]) if scopes else "",
            node=node,
            inner=inner,
            body=bodies[0] if bodies else inner.child_by_field_name("body"),
            name_start=names[0].start_byte,
            start_row=self._leading_row(node),
            end_row=_end_row(node),
        )

    def _widen(self, node: tree_sitter.Node) -> tree_sitter.Node:
        """Grow to the wrappers that belong to this definition alone (decorators, `export`)."""
        parent = node.parent
        while parent is not None and parent.type in self.wrappers:
            if any(
                child.type == node.type and child.id != node.id for child in parent.named_children
            ):
                break
            node, parent = parent, parent.parent
        return node

    def _leading_row(self, node: tree_sitter.Node) -> int:
        """The first row of the comments and attributes right above `node` (no blank between)."""
        start: int = node.start_point[0]
        sibling = node.prev_named_sibling
        while sibling is not None and sibling.type in self.attached:
            if _end_row(sibling) < start - 1:
                break
            before = sibling.prev_sibling
            if before is not None and _end_row(before) >= sibling.start_point[0]:
                break  # a comment trailing the code before it
            start = sibling.start_point[0]
            sibling = sibling.prev_named_sibling
        return start

    def _nest(self, found: list[_Definition]) -> tuple[list[_Definition], list[_Definition]]:
        """Give each definition its owner; return the top-level chunked ones and all listed ones.

        Definitions inside functions are dropped; inside class-like definitions they are
        members ("method" for functions). Kinds that are not chunked own nothing.
        """
        found.sort(key=lambda d: (d.node.start_byte, -d.node.end_byte, d.kind not in CHUNK_KINDS))
        top: list[_Definition] = []
        kept: list[_Definition] = []
        stack: list[_Definition] = []
        seen: set[tuple[int, int, str]] = set()
        for d in found:
            key = (d.node.start_byte, d.node.end_byte, d.name)
            if key in seen:
                continue
            seen.add(key)
            while stack and stack[-1].node.end_byte <= d.node.start_byte:
                stack.pop()
            owner = stack[-1] if stack else None
            if owner is not None and (owner.dropped or owner.kind in FUNCTION_KINDS):
                d.dropped = True
            elif owner is not None:
                if d.kind in FUNCTION_KINDS:
                    d.kind = "method"
                d.symbol = f"{owner.symbol}.{d.name}"
                owner.members.append(d)
                kept.append(d)
            else:
                d.symbol = f"{d.scope}.{d.name}" if d.scope else d.name
                kept.append(d)
                if d.kind in CHUNK_KINDS:
                    top.append(d)
            if d.kind in CHUNK_KINDS:
                stack.append(d)
        return top, kept

    # -- chunks ------------------------------------------------------------------------------

    def _emit(self, d: _Definition, out: list[Chunk]) -> None:
        members = [m for m in d.members if m.kind in CHUNK_KINDS]
        too_long = d.end_row - d.start_row + 1 > self.file.max_lines
        if d.kind in CONTAINER_KINDS and too_long and members:
            out.extend(self._skeleton(d))
            for member in members:
                self._emit(member, out)
        else:
            out.extend(self.file.pieces(d.symbol, d.kind, d.start_row, d.end_row))

    def _skeleton(self, d: _Definition) -> list[Chunk]:
        """The definition with the bodies of its (and its nested classes') methods elided."""
        elided: dict[int, tuple[int, str]] = {}
        pending = list(d.members)
        while pending:
            member = pending.pop()
            if member.kind in FUNCTION_KINDS:
                span = self._elision(member)
                if span is not None:
                    elided[span[0]] = (span[1], span[2])
            else:
                pending.extend(member.members)
        entries: list[tuple[int, int, str]] = []  # first row, last row, text standing for them
        row = d.start_row
        while row <= d.end_row:
            if row in elided:
                last, marker = elided[row]
                entries.append((row, last, marker))
                row = last + 1
            else:
                entries.append((row, row, self.file.lines[row]))
                row += 1
        blank = [not text.strip() for _, _, text in entries]
        return [
            self.file.chunk(
                d.symbol,
                SKELETON,
                entries[start][0],
                entries[end][1],
                "\n".join(text for _, _, text in entries[start : end + 1]),
            )
            for start, end in _spans(blank, 0, len(entries) - 1, self.file.max_lines)
        ]

    def _elision(self, d: _Definition) -> tuple[int, int, str] | None:
        """The rows of a function's body to elide in a skeleton, and the line standing for them.

        Kept: the signature up to the body's opening line, an opening brace alone on its line
        and the closing line (`}`, `end`).
        """
        body = d.body
        if body is None:
            return None
        holder = body.parent or d.inner
        signature_end: int = d.inner.start_point[0]
        for child in holder.children:
            if child.id == body.id:
                break
            if not child.is_extra:
                signature_end = max(signature_end, _end_row(child))
        body_start: int = body.start_point[0]
        head_end = signature_end
        if body_start > signature_end and body.child_count:
            first = body.children[0]
            alone = body.child_count == 1 or body.children[1].start_point[0] > body_start
            if not first.is_named and alone:
                head_end = body_start  # an opening brace on a line of its own
        tail_start = _end_row(body) + 1
        if body.child_count:
            last = body.children[-1]
            row = last.start_point[0]
            if (
                not last.is_named
                and row > head_end
                and self.file.lines[row].lstrip().startswith(self._text(last))
            ):
                tail_start = row
        first_row, last_row = head_end + 1, min(tail_start - 1, d.end_row)
        rows = range(first_row, last_row + 1)
        shown = next((r for r in rows if not self.file.blank[r]), None)
        if shown is None:
            return None
        line = self.file.lines[shown]
        indent = line[: len(line) - len(line.lstrip())]
        return first_row, last_row, indent + self.info.elision

    def _windows(self, chunks: list[Chunk]) -> list[Chunk]:
        """Windows over the non-blank lines no chunk covers, split at covered lines."""
        count = len(self.file.lines)
        covered = bytearray(count)
        for chunk in chunks:
            covered[chunk.start_line - 1 : chunk.end_line] = b"\x01" * (
                chunk.end_line - chunk.start_line + 1
            )
        out: list[Chunk] = []
        blank = self.file.blank
        row = 0
        while row < count:
            if covered[row] or blank[row]:
                row += 1
                continue
            first = last = row
            while row < count and not covered[row]:
                if not blank[row]:
                    last = row
                row += 1
            out.extend(self.file.pieces("", WINDOW, first, last))
        return out

    # -- imports and references --------------------------------------------------------------

    def _add_import(self, captures: dict[str, list[tree_sitter.Node]]) -> None:
        for statement in captures["import"]:
            self.skipped_ranges.append((statement.start_byte, statement.end_byte))
        modules = captures.get("import.module")
        if not modules:
            return
        module_node = modules[0]
        module = self._text(module_node).strip("\"'`<>")
        named = captures.get("import.alias") or captures.get("import.name")
        if named:
            name, row = self._text(named[0]), named[0].start_point[0]
        else:
            separator = self.info.import_path_separator
            name = module.rsplit(separator, 1)[-1] if separator else module
            row = module_node.start_point[0]
        self.raw_imports.append((name, module, row, module_node.start_byte))

    def _imports(self) -> tuple[Import, ...]:
        """One Import per name; an import without names only when none was found for it."""
        named = {(module, at) for name, module, _, at in self.raw_imports if name != module}
        out: dict[tuple[str, str, int], Import] = {}
        for name, module, row, at in sorted(self.raw_imports, key=lambda i: (i[2], i[3])):
            if name == module and (module, at) in named:
                continue
            out.setdefault((name, module, row), Import(name, module, self.file.path, row + 1))
        return tuple(out.values())

    def _references(self, used: list[tree_sitter.Node], bound: set[int]) -> tuple[Reference, ...]:
        """Names used in the file, one per (name, line), without those it binds or imports."""
        starts, ends = self._skipped_spans()
        # In an ASCII file byte offsets are string offsets: names sliced from the text need
        # no decoding.
        source: str | bytes = self.text if self.text.isascii() else self.source
        stoplist: set[str] | set[bytes] = set(self.info.not_references)
        if isinstance(source, bytes):
            stoplist = {name.encode() for name in self.info.not_references}
        found: set[tuple[int, str | bytes]] = set()
        add = found.add
        for node in used:  # the hottest loop of indexing: one call per node attribute
            start, end = node.byte_range
            if start in bound:
                continue
            if starts:
                i = bisect.bisect_right(starts, start) - 1
                if i >= 0 and start < ends[i]:
                    continue
            name = source[start:end]
            if name not in stoplist:
                add((node.start_point.row, name))
        ordered = sorted(found)[:MAX_REFERENCES]
        if isinstance(source, str):
            names = cast("list[str]", [name for _, name in ordered])
        else:
            raw = cast("list[bytes]", [name for _, name in ordered])
            decoded = {name: name.decode("utf-8", "replace") for name in set(raw)}
            names = [decoded[name] for name in raw]
        lines = [row + 1 for row, _ in ordered]
        return tuple(map(Reference._make, zip(names, itertools.repeat(self.file.path), lines)))

    def _skipped_spans(self) -> tuple[list[int], list[int]]:
        starts: list[int] = []
        ends: list[int] = []
        for start, end in sorted(self.skipped_ranges):
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        return starts, ends
