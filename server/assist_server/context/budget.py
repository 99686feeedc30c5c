"""Token estimates without a tokenizer.

We cannot load every model's tokenizer, so prompt budgets use a calibrated estimate: code is split
into identifier runs, digits, whitespace and punctuation runs; an identifier costs one token per
8 letters, a digit one token, an indented newline one token, a punctuation run one token per 2
characters, and every non-ASCII character one token. Measured against Qwen2.5-Coder's real
tokenizer on real Python, JavaScript and C files: totals 0.94x-1.10x of the real count, single
files 0.7x-1.45x; tests/unit/context/test_budget.py checks it against the real tokenizer.
"""

from __future__ import annotations

import re

_PIECES = re.compile(
    r"[A-Za-z_]+|\d|\n[ \t]*|[ \t]+|[^\sA-Za-z\d_\x80-\U0010ffff]+|[\x80-\U0010ffff]"
)


def estimate_tokens(text: str) -> int:
    """Estimated token count of `text` for a BPE code model."""
    count = 0
    for piece in _PIECES.findall(text):
        first = piece[0]
        if first.isascii() and (first.isalpha() or first == "_"):
            count += -(-len(piece) // 8)
        elif first == " " or first == "\t":
            count += len(piece) > 1
        elif first == "\n" or first.isdigit() or not first.isascii():
            count += 1
        else:
            count += -(-len(piece) // 2)
    return count
