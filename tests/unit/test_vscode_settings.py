"""The VS Code extension's manifest declares every server setting as the server does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import vscode_settings
from assist_server.config import SETTINGS, SettingSpec, parse_settings
from assist_server.lsp.app import create_server
from assist_server.syntax.languages import LANGUAGES
from vscode_settings import PACKAGE_JSON, expected_text, json_type


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    return data


def properties() -> dict[str, Any]:
    props: dict[str, Any] = manifest()["contributes"]["configuration"]["properties"]
    return props


def test_package_json_is_generated_from_the_settings_table() -> None:
    assert PACKAGE_JSON.read_text(encoding="utf-8") == expected_text(PACKAGE_JSON), (
        "editors/vscode/package.json is out of date: run python scripts/vscode_settings.py"
    )


def test_every_server_setting_is_contributed_with_its_default_description_and_enum() -> None:
    props = properties()
    for spec in SETTINGS:
        entry = props[f"assist.{spec.key}"]
        default = list(spec.default) if isinstance(spec.default, tuple) else spec.default
        assert entry["default"] == default, spec.key
        assert entry["description"] == spec.description, spec.key
        assert entry.get("enum") == spec.schema.get("enum"), spec.key
        assert entry["type"] == json_type(spec), spec.key


def test_only_the_extension_adds_settings_of_its_own() -> None:
    server_keys = {f"assist.{spec.key}" for spec in SETTINGS}
    extra = set(properties()) - server_keys
    assert extra == {"assist.server.path", "assist.server.args", "assist.trace.server"}


def test_the_defaults_in_the_manifest_are_valid_server_settings() -> None:
    # What VS Code sends when the user changed nothing: every default, nested by dots.
    nested: dict[str, Any] = {}
    for key, entry in properties().items():
        *groups, name = key.removeprefix("assist.").split(".")
        target = nested
        for group in groups:
            target = target.setdefault(group, {})
        target[name] = entry["default"]
    del nested["server"], nested["trace"]  # the extension leaves its own groups out
    settings = parse_settings(nested)
    assert settings.problems == ()
    assert settings.unknown_keys == ()
    assert settings == parse_settings()


def test_json_types_follow_the_defaults() -> None:
    def spec(default: Any, schema: dict[str, Any] | None = None) -> SettingSpec:
        return SettingSpec("x.y", default, "", lambda v: v, schema or {})

    assert json_type(spec(True)) == "boolean"
    assert json_type(spec(3)) == "integer"
    assert json_type(spec(0.5)) == "number"
    assert json_type(spec("s")) == "string"
    assert json_type(spec(())) == "array"
    assert json_type(spec("auto", {"type": ["string", "object"]})) == ["string", "object"]
    with pytest.raises(TypeError):
        json_type(spec(None))


def test_the_extension_activates_for_the_languages_the_server_parses() -> None:
    events = manifest()["activationEvents"]
    assert events == [f"onLanguage:{language}" for language in LANGUAGES]


def test_extension_commands_differ_from_the_server_commands() -> None:
    # vscode-languageclient registers a VS Code command for each server command: the same id in
    # the extension would fail to register.
    server_commands = set(create_server().protocol.fm.commands) | {"assist.runAction"}
    contributed = {command["command"] for command in manifest()["contributes"]["commands"]}
    assert contributed
    assert not contributed & server_commands


def test_check_mode_reports_a_stale_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "package.json"
    data = manifest()
    del data["contributes"]["configuration"]["properties"]["assist.chat.model"]
    stale.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    monkeypatch.setattr(vscode_settings, "PACKAGE_JSON", stale)
    assert vscode_settings.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out
    assert vscode_settings.main([]) == 0
    assert stale.read_text(encoding="utf-8") == expected_text(stale)
    assert vscode_settings.main(["--check"]) == 0
