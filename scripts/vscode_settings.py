#!/usr/bin/env python3
"""Write the VS Code extension's settings and activation from the server's own tables.

`contributes.configuration` of editors/vscode/package.json gets every server setting of
`config.SETTINGS` as `assist.<key>` (description, default, type, enum), after the extension's own
`assist.server.*` and `assist.trace.server`; `activationEvents` gets one `onLanguage:` per
language the server parses (`syntax.languages.LANGUAGES`, whose keys are VS Code language ids).
tests/unit/test_vscode_settings.py fails when package.json is out of date: run
`python scripts/vscode_settings.py` to refresh it (`--check` only reports).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from assist_server.config import SETTINGS, SettingSpec
from assist_server.syntax.languages import LANGUAGES

PACKAGE_JSON = Path(__file__).resolve().parent.parent / "editors" / "vscode" / "package.json"

# Settings of the extension itself: how to start the server and how much protocol to log. The
# server never sees them (the extension leaves the `server` and `trace` groups out).
EXTENSION_SETTINGS: dict[str, dict[str, Any]] = {
    "assist.server.path": {
        "type": "string",
        "default": "assist-server",
        "scope": "machine-overridable",
        "markdownDescription": "The language server to start: a command looked up on `PATH`, "
        "the path of the `assist-server` executable, or the path of a Python interpreter that "
        "has the assist-server package installed (then `<python> -m assist_server` runs). "
        "`~` and `${workspaceFolder}` are expanded. Install the server with "
        "`pipx install assist-server`. A change restarts the server.",
    },
    "assist.server.args": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["--stdio"],
        "scope": "machine-overridable",
        "markdownDescription": "Arguments for the server, for example "
        '`["--stdio", "-v", "--log-file", "/tmp/assist.log"]` (without `--log-file` its log '
        "goes to the Assist output). A change restarts the server.",
    },
    # vscode-languageclient 11 traces only while the output channel's log level is Trace; this
    # setting then picks how much ("off" would mean "messages" there, so it is not offered).
    "assist.trace.server": {
        "type": "string",
        "enum": ["messages", "verbose"],
        "default": "messages",
        "markdownDescription": "How the Assist output logs the LSP messages between VS Code and "
        "the server while its log level is Trace (Output view, Assist, gear menu: Set Log Level): "
        '`"messages"` names each message, `"verbose"` adds its content.',
    },
}

# In an untrusted workspace VS Code ignores the workspace's values of these: they choose what runs
# on this machine, where the model server's token is sent, and where the index is written.
RESTRICTED = [
    "assist.server.path",
    "assist.server.args",
    "assist.backend.url",
    "assist.backend.apiKeyEnv",
    "assist.index.path",
]


def json_type(spec: SettingSpec) -> str | list[str]:
    """The JSON schema type of a setting: declared in its schema, or that of its default."""
    declared = spec.schema.get("type")
    if declared is not None:
        return list(declared) if isinstance(declared, (list, tuple)) else str(declared)
    default = spec.default
    if isinstance(default, bool):  # before int: bool is an int in Python
        return "boolean"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "number"
    if isinstance(default, str):
        return "string"
    if isinstance(default, (list, tuple)):
        return "array"
    if isinstance(default, dict):
        return "object"
    raise TypeError(f"{spec.key}: no JSON type for a default of type {type(default).__name__}")


def json_default(value: Any) -> Any:
    """A default as JSON has it (tuples are lists)."""
    if isinstance(value, tuple):
        return [json_default(item) for item in value]
    return value


def server_setting(spec: SettingSpec) -> dict[str, Any]:
    """The package.json entry of one server setting."""
    entry: dict[str, Any] = {"type": json_type(spec), "default": json_default(spec.default)}
    for name, value in spec.schema.items():
        if name != "type":
            entry[name] = json_default(value)
    entry["description"] = spec.description
    return entry


def configuration() -> dict[str, Any]:
    """`contributes.configuration`: the extension's settings, then the server's in its order."""
    properties: dict[str, Any] = {}
    entries = [*EXTENSION_SETTINGS.items()]
    entries += [(f"assist.{spec.key}", server_setting(spec)) for spec in SETTINGS]
    for order, (key, entry) in enumerate(entries):
        properties[key] = {**entry, "order": order}  # the settings UI sorts by name otherwise
    return {"title": "Assist", "properties": properties}


def activation_events() -> list[str]:
    """Start the extension for the languages the server parses."""
    return [f"onLanguage:{language}" for language in LANGUAGES]


def render(package: dict[str, Any]) -> dict[str, Any]:
    """`package` with the generated fields replaced, everything else (and its order) kept."""
    out = dict(package)
    out["activationEvents"] = activation_events()
    contributes = dict(out.get("contributes", {}))
    contributes["configuration"] = configuration()
    out["contributes"] = contributes
    capabilities = dict(out.get("capabilities", {}))
    capabilities["untrustedWorkspaces"] = {
        "supported": "limited",
        "description": "Workspace values of the settings that choose the server executable, "
        "the model server's address and token, and the index folder are ignored.",
        "restrictedConfigurations": RESTRICTED,
    }
    out["capabilities"] = capabilities
    return out


def dump(package: dict[str, Any]) -> str:
    """package.json text as npm writes it (two-space indent, final newline)."""
    return json.dumps(package, indent=2, ensure_ascii=False) + "\n"


def expected_text(path: Path) -> str:
    """What package.json should hold."""
    return dump(render(json.loads(path.read_text(encoding="utf-8"))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if package.json is stale")
    args = parser.parse_args(argv)
    want = expected_text(PACKAGE_JSON)
    if PACKAGE_JSON.read_text(encoding="utf-8") == want:
        return 0
    if args.check:
        print(f"{PACKAGE_JSON} is out of date: run python scripts/vscode_settings.py")
        return 1
    PACKAGE_JSON.write_text(want, encoding="utf-8")
    print(f"wrote {PACKAGE_JSON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
