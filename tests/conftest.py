"""Shared test set-up: the scripts folder (llama_stack, fetch_model) and test helpers import."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))  # shared test doubles (scripted_backend)
