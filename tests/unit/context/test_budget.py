from __future__ import annotations

import random
from pathlib import Path

import pytest

from assist_server.context.budget import estimate_tokens

ROOT = Path(__file__).resolve().parents[3]
MODEL = Path.home() / ".cache/assist-server/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

PYTHON = '''\
from dataclasses import dataclass


@dataclass
class Item:
    """One line of an order."""

    name: str
    price: float
    quantity: int = 1

    def total(self) -> float:
        return round(self.price * self.quantity, 2)


def order_total(items: list[Item]) -> float:
    subtotal = sum(item.total() for item in items)
    if subtotal > 100:
        subtotal *= 0.95  # bulk discount
    return subtotal
'''

JAVASCRIPT = """\
export function groupBy(items, key) {
  const groups = new Map();
  for (const item of items) {
    const k = typeof key === "function" ? key(item) : item[key];
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(item);
  }
  return groups;
}

export const sum = (xs) => xs.reduce((a, b) => a + b, 0);
"""

C = """\
#include <stdio.h>
#include <stdlib.h>

typedef struct node {
    int value;
    struct node *next;
} node_t;

static node_t *push(node_t *head, int value) {
    node_t *n = malloc(sizeof *n);
    if (n == NULL) {
        perror("malloc");
        exit(EXIT_FAILURE);
    }
    n->value = value;
    n->next = head;
    return n;
}
"""


def test_empty_text_costs_nothing() -> None:
    assert estimate_tokens("") == 0


def test_single_spaces_are_free_and_runs_of_them_cost_one() -> None:
    assert estimate_tokens(" ") == 0
    assert estimate_tokens("        ") == 1


def test_newline_with_indentation_is_one_token() -> None:
    assert estimate_tokens("\n") == 1
    assert estimate_tokens("\n        ") == 1


def test_long_identifiers_cost_more_than_short_ones() -> None:
    assert estimate_tokens("x") == 1
    assert estimate_tokens("total") == 1
    assert estimate_tokens("calculate_order_total_with_discount") > 2


def test_each_digit_is_a_token() -> None:
    # Qwen2.5 splits numbers into single digits.
    assert estimate_tokens("1234567890") == 10


def test_non_ascii_characters_are_counted() -> None:
    assert estimate_tokens("é") == 1
    assert estimate_tokens("日本語") == 3
    assert estimate_tokens("# 価格を計算する") >= 7
    assert estimate_tokens("🙂") >= 1
    assert estimate_tokens("naïve café") > estimate_tokens("naive cafe")


@pytest.mark.parametrize("code", [PYTHON, JAVASCRIPT, C], ids=["python", "javascript", "c"])
def test_code_costs_between_two_and_six_characters_a_token(code: str) -> None:
    tokens = estimate_tokens(code)
    assert len(code) / 6 < tokens < len(code) / 2


def _fragments() -> list[str]:
    pieces = [line + "\n" for code in (PYTHON, JAVASCRIPT, C) for line in code.split("\n")]
    pieces += ["    ", " ", "(", ")", "){", "42", "é", "日本", "x", "_name", "\t", "->", "\n\n"]
    return pieces


def test_concatenation_is_roughly_additive_and_never_shrinks() -> None:
    rng = random.Random(7)
    fragments = _fragments()
    for _ in range(2000):
        a = "".join(rng.choices(fragments, k=rng.randint(0, 4)))
        b = "".join(rng.choices(fragments, k=rng.randint(0, 4)))
        joined = estimate_tokens(a + b)
        assert joined >= max(estimate_tokens(a), estimate_tokens(b)), (a, b)
        # Only the one piece at the seam can merge or split.
        assert joined <= estimate_tokens(a) + estimate_tokens(b) + 1, (a, b)


def test_repeating_code_scales_the_estimate() -> None:
    one = estimate_tokens(PYTHON)
    assert abs(estimate_tokens(PYTHON * 10) - 10 * one) <= 10


def _samples() -> dict[str, str]:
    samples = {"python": PYTHON, "javascript": JAVASCRIPT, "c": C}
    fixtures = ROOT / "tests/fixtures/workspace"
    for path in sorted(fixtures.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".js"}:
            samples[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    for name in ("config.py", "engine/postprocess.py", "syntax/cursor.py"):
        path = ROOT / "server/assist_server" / name
        samples[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    return samples


@pytest.mark.slow
def test_estimate_tracks_the_real_qwen_tokenizer() -> None:
    if not MODEL.is_file():
        pytest.skip(f"Qwen2.5-Coder GGUF not found at {MODEL} (scripts/fetch_model.py fetches it)")
    llama_cpp = pytest.importorskip("llama_cpp")
    model = llama_cpp.Llama(model_path=str(MODEL), vocab_only=True, verbose=False)

    def real(text: str) -> int:
        return len(model.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    total_real = total_estimate = 0
    for name, text in _samples().items():
        actual, estimate = real(text), estimate_tokens(text)
        if actual >= 100:  # tiny files are dominated by rounding
            assert 0.75 <= estimate / actual <= 1.35, (name, estimate, actual)
        total_real += actual
        total_estimate += estimate
    assert 0.85 <= total_estimate / total_real <= 1.2

    for text in ("# 価格を計算する\n", "naïve = 'café'\n", 'print("🙂")\n'):
        assert 0.5 <= estimate_tokens(text) / real(text) <= 2.0, text


def test_prompt_speed_shrinks_the_snippet_budget_to_the_target() -> None:
    from assist_server.context.budget import PromptSpeed

    speed = PromptSpeed()
    assert speed.snippet_budget(1024, 2000, 800) == 1024  # nothing measured yet
    speed.observe(10, 50.0)  # too small to say anything: ignored
    assert speed.tokens_per_second is None
    speed.observe(600, 2000.0)  # 300 tokens/s: 2 s buy 600 tokens, the window takes 400
    assert speed.snippet_budget(1024, 2000, 400) == 1024 // 4  # 200 is below the floor
    speed.observe(6000, 1000.0)  # a fast server raises the estimate
    assert speed.tokens_per_second is not None and speed.tokens_per_second > 300
    assert speed.snippet_budget(1024, 2000, 400) == 1024
    assert speed.snippet_budget(0, 2000, 400) == 0
