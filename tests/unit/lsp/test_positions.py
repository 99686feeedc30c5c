from __future__ import annotations

import pytest
from lsprotocol.types import Position, PositionEncodingKind

from assist_server.lsp.positions import offset_at

UTF8 = PositionEncodingKind.Utf8
UTF16 = PositionEncodingKind.Utf16
UTF32 = PositionEncodingKind.Utf32


def at(text: str, line: int, character: int, encoding: str = UTF16) -> int:
    return offset_at(text, Position(line=line, character=character), encoding)


def test_ascii_is_the_same_in_every_encoding() -> None:
    text = "def f():\n    return 1\n"
    for encoding in (UTF8, UTF16, UTF32):
        assert at(text, 0, 0, encoding) == 0
        assert at(text, 0, 3, encoding) == 3
        assert at(text, 1, 4, encoding) == text.index("return")


def test_utf16_counts_astral_characters_as_two_units() -> None:
    text = 'x = "😀😀" + y\nz'
    # x = " is 5 units, each emoji 2 units, then the closing quote.
    assert at(text, 0, 5) == 5
    assert at(text, 0, 7) == 6
    assert at(text, 0, 9) == 7
    assert text[at(text, 0, 9)] == '"'
    assert at(text, 1, 1) == len(text)


def test_utf16_bmp_characters_are_one_unit() -> None:
    text = "café = '日本'"
    assert at(text, 0, 4) == 4
    assert text[at(text, 0, 8) :] == "日本'"
    assert text[at(text, 0, 9) :] == "本'"


def test_utf16_position_inside_a_surrogate_pair_does_not_split_the_character() -> None:
    text = "a😀b"
    assert at(text, 0, 2) in (1, 2)
    assert at(text, 0, 3) == 2


def test_utf16_combining_and_zero_width_joiner_sequences() -> None:
    family = "👨\u200d👩\u200d👧"  # 2 + 1 + 2 + 1 + 2 = 8 UTF-16 units, 5 code points
    text = family + "x"
    assert at(text, 0, 8) == 5
    assert text[at(text, 0, 8)] == "x"


def test_utf8_counts_bytes() -> None:
    text = "é日😀x"  # 2 + 3 + 4 bytes before x
    assert at(text, 0, 2, UTF8) == 1
    assert at(text, 0, 5, UTF8) == 2
    assert at(text, 0, 9, UTF8) == 3
    assert text[at(text, 0, 9, UTF8)] == "x"


def test_utf8_position_inside_a_character_does_not_split_it() -> None:
    assert at("é日x", 0, 1, UTF8) in (0, 1)
    assert at("é日x", 0, 3, UTF8) in (1, 2)


def test_utf32_counts_code_points() -> None:
    text = "é日😀x\ny"
    assert at(text, 0, 3, UTF32) == 3
    assert text[at(text, 0, 3, UTF32)] == "x"


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_line_endings(eol: str) -> None:
    text = eol.join(["first", "sécond", "😀third"])
    second = text.index("sécond")
    third = text.index("😀third")
    for encoding in (UTF8, UTF16, UTF32):
        assert at(text, 1, 0, encoding) == second
        assert at(text, 2, 0, encoding) == third
    assert at(text, 2, 2, UTF16) == third + 1
    assert at(text, 2, 4, UTF8) == third + 1


def test_mixed_line_endings() -> None:
    text = "a\r\nb\rc\nd"
    assert [text[at(text, line, 0)] for line in range(4)] == ["a", "b", "c", "d"]


def test_only_lsp_line_endings_split_lines() -> None:
    # U+2028 and form feed end lines for str.splitlines, not for LSP.
    text = "a\u2028b\x0cc\nd"
    assert at(text, 0, 5) == 5
    assert at(text, 1, 0) == text.index("d")


@pytest.mark.parametrize("encoding", [UTF8, UTF16, UTF32])
def test_character_past_end_of_line_clamps_to_the_line_end(encoding: str) -> None:
    text = "ab\r\ncd\n"
    assert at(text, 0, 99, encoding) == 2  # before the \r\n, never inside it
    assert at(text, 1, 99, encoding) == text.index("d") + 1


@pytest.mark.parametrize("encoding", [UTF8, UTF16, UTF32])
def test_line_past_end_of_document_clamps_to_the_end(encoding: str) -> None:
    text = "ab\ncd"
    assert at(text, 5, 0, encoding) == len(text)
    assert at(text, 2, 3, encoding) == len(text)


def test_position_on_the_empty_last_line() -> None:
    text = "ab\n"
    assert at(text, 1, 0) == 3
    assert at(text, 1, 7) == 3
    assert at("", 0, 0) == 0
    assert at("", 3, 3) == 0
