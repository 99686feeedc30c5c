"""Arguments of the `assist.showContext` command: both accepted shapes, clear errors otherwise."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from assist_server.lsp.features.context import _cursor


def test_both_argument_shapes() -> None:
    position = {"line": 3, "character": 7}
    expected = ("file:///a.py", types.Position(3, 7))
    assert _cursor(({"textDocument": {"uri": "file:///a.py"}, "position": position},)) == expected
    assert _cursor(("file:///a.py", position)) == expected


@pytest.mark.parametrize(
    "args",
    [
        (),
        ({"uri": "file:///a.py"},),
        ({"textDocument": {"uri": 3}, "position": {"line": 0, "character": 0}},),
        ("file:///a.py", {"line": -1, "character": 0}),
        ("file:///a.py", {"line": "x", "character": 0}),
        ("file:///a.py",),
    ],
)
def test_bad_arguments_are_invalid_params(args: tuple[object, ...]) -> None:
    with pytest.raises(JsonRpcInvalidParams, match="textDocument"):
        _cursor(args)
