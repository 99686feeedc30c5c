"""The README documents every setting exactly as the code declares it."""

from __future__ import annotations

from pathlib import Path

from settings_table import table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_holds_the_generated_settings_table() -> None:
    assert table() in README.read_text(encoding="utf-8")
