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
