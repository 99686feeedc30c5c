r"""LSP positions to string offsets, in the encoding negotiated with the client.

LSP ends lines only at \\n, \\r\\n or \\r (not at the other characters `str.splitlines` knows), and
counts characters in UTF-16 code units unless the client and server agreed on UTF-8 or UTF-32.
"""

from __future__ import annotations

import re

from lsprotocol import types

_EOL = re.compile(r"\r\n|\r|\n")


def _units(char: str, encoding: str) -> int:
    point = ord(char)
    if encoding == types.PositionEncodingKind.Utf8:
        return 1 if point < 0x80 else 2 if point < 0x800 else 3 if point < 0x10000 else 4
    if encoding == types.PositionEncodingKind.Utf32:
        return 1
    return 2 if point >= 0x10000 else 1


def offset_at(text: str, position: types.Position, encoding: str) -> int:
    """The index into `text` of an LSP position; clamped to the line and the document."""
    start = 0
    for _ in range(position.line):
        match = _EOL.search(text, start)
        if match is None:
            return len(text)
        start = match.end()
    match = _EOL.search(text, start)
    end = match.start() if match else len(text)
    if encoding == types.PositionEncodingKind.Utf32:
        return min(start + position.character, end)
    units = 0
    index = start
    while index < end and units < position.character:
        units += _units(text[index], encoding)
        index += 1
    return index


def position_at(text: str, offset: int, encoding: str) -> types.Position:
    """The LSP position of an index into `text` (the inverse of `offset_at`)."""
    offset = max(0, min(offset, len(text)))
    line = 0
    start = 0
    for match in _EOL.finditer(text, 0, offset):
        if match.end() > offset:  # inside a \r\n: the position is at the line's end
            break
        line += 1
        start = match.end()
    if encoding == types.PositionEncodingKind.Utf32:
        return types.Position(line, offset - start)
    return types.Position(line, sum(_units(char, encoding) for char in text[start:offset]))
