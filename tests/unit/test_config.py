from __future__ import annotations

import json
from typing import Any

import pytest

from assist_server.config import (
    FIM_FAMILIES,
    SETTINGS,
    SPECS,
    CustomFimTemplate,
    flatten,
    parse_settings,
)


def test_defaults_without_sources() -> None:
    settings = parse_settings()
    assert settings.problems == ()
    assert settings.unknown_keys == ()
    assert settings.backend.kind == "ollama"
    assert settings.backend.url == "http://127.0.0.1:11434"
    assert settings.backend.api_key_env == ""
    assert settings.backend.timeout_ms == 30000
    assert settings.backend.keep_alive == "30m"
    assert settings.completion.enabled is True
    assert settings.completion.model == "qwen2.5-coder:1.5b-base"
    assert settings.completion.fim_template == "auto"
    assert settings.completion.max_tokens == 128
    assert settings.completion.max_lines == 12
    assert settings.completion.temperature == 0.2
    assert settings.completion.context_tokens == 1024
    assert settings.completion.as_completion_item == "auto"
    assert settings.chat.model == "qwen2.5-coder:1.5b-instruct"


def test_every_default_passes_its_own_check() -> None:
    for spec in SETTINGS:
        assert spec.check(spec.default) == spec.default, spec.key


def test_empty_and_none_sources_are_ignored() -> None:
    assert parse_settings(None, {}, None) == parse_settings()


@pytest.mark.parametrize(
    "source",
    [
        {"backend": {"timeoutMs": 5000}, "completion": {"maxTokens": 64}},
        {"backend.timeoutMs": 5000, "completion.maxTokens": 64},
        {"backend": {"timeout_ms": 5000}, "completion.max_tokens": 64},
        {"assist": {"backend": {"timeoutMs": 5000}, "completion.maxTokens": 64}},
    ],
    ids=["nested", "dotted", "snake_case", "assist-wrapper"],
)
def test_input_shapes_mean_the_same(source: dict[str, Any]) -> None:
    settings = parse_settings(source)
    assert settings.problems == ()
    assert settings.unknown_keys == ()
    assert settings.backend.timeout_ms == 5000
    assert settings.completion.max_tokens == 64


def test_flatten_camelises_snake_case_and_keeps_template_objects_whole() -> None:
    template = {"prefix": "<p>", "suffix": "<s>", "middle": "<m>"}
    flat = flatten({"backend": {"api_key_env": "TOKEN"}, "completion": {"fim_template": template}})
    assert flat == {"backend.apiKeyEnv": "TOKEN", "completion.fimTemplate": template}


def test_string_values_are_stripped_and_url_loses_trailing_slash() -> None:
    settings = parse_settings(
        {"backend.url": " http://gpu-box:8000/v1/ ", "completion.model": " starcoder2:3b "}
    )
    assert settings.problems == ()
    assert settings.backend.url == "http://gpu-box:8000/v1"
    assert settings.completion.model == "starcoder2:3b"


def test_numbers_are_coerced_to_the_setting_type() -> None:
    settings = parse_settings({"completion": {"maxTokens": 64.0, "temperature": 1}})
    assert settings.problems == ()
    assert settings.completion.max_tokens == 64
    assert isinstance(settings.completion.max_tokens, int)
    assert settings.completion.temperature == 1.0
    assert isinstance(settings.completion.temperature, float)


@pytest.mark.parametrize(
    ("key", "value", "attribute", "default"),
    [
        ("completion.maxTokens", "64", ("completion", "max_tokens"), 128),
        ("completion.maxTokens", True, ("completion", "max_tokens"), 128),
        ("completion.maxTokens", 12.5, ("completion", "max_tokens"), 128),
        ("completion.maxTokens", 0, ("completion", "max_tokens"), 128),
        ("completion.maxTokens", 5000, ("completion", "max_tokens"), 128),
        ("completion.maxTokens", float("nan"), ("completion", "max_tokens"), 128),
        ("completion.maxTokens", float("inf"), ("completion", "max_tokens"), 128),
        ("completion.temperature", 2.5, ("completion", "temperature"), 0.2),
        ("completion.temperature", float("nan"), ("completion", "temperature"), 0.2),
        ("completion.contextTokens", 10, ("completion", "context_tokens"), 1024),
        ("completion.enabled", "false", ("completion", "enabled"), True),
        ("completion.enabled", 0, ("completion", "enabled"), True),
        ("completion.model", "   ", ("completion", "model"), "qwen2.5-coder:1.5b-base"),
        ("completion.model", 7, ("completion", "model"), "qwen2.5-coder:1.5b-base"),
        ("backend.url", "localhost:11434", ("backend", "url"), "http://127.0.0.1:11434"),
        ("backend.url", "ftp://models.example", ("backend", "url"), "http://127.0.0.1:11434"),
        ("backend.url", "http://", ("backend", "url"), "http://127.0.0.1:11434"),
        ("backend.url", "http://host name:1", ("backend", "url"), "http://127.0.0.1:11434"),
        ("backend.kind", "vllm", ("backend", "kind"), "ollama"),
        ("completion.asCompletionItem", "sometimes", ("completion", "as_completion_item"), "auto"),
        ("backend.apiKeyEnv", "sk-live-1234567890", ("backend", "api_key_env"), ""),
        ("backend.apiKeyEnv", "1TOKEN", ("backend", "api_key_env"), ""),
        ("completion.fimTemplate", "llama", ("completion", "fim_template"), "auto"),
        ("completion.fimTemplate", 3, ("completion", "fim_template"), "auto"),
    ],
)
def test_invalid_value_is_reported_and_default_kept(
    key: str, value: Any, attribute: tuple[str, str], default: Any
) -> None:
    settings = parse_settings({key: value})
    section, name = attribute
    assert getattr(getattr(settings, section), name) == default
    assert len(settings.problems) == 1
    problem = settings.problems[0]
    assert problem.startswith(f"assist.{key}: ")
    assert repr(default) in problem
    assert settings.unknown_keys == ()


def test_nan_from_editor_json_does_not_stop_parsing() -> None:
    source = json.loads('{"completion": {"maxTokens": NaN, "temperature": Infinity}}')
    settings = parse_settings(source)
    assert settings.completion.max_tokens == 128
    assert settings.completion.temperature == 0.2
    assert len(settings.problems) == 2


def test_api_key_env_message_warns_against_pasting_the_key() -> None:
    (problem,) = parse_settings({"backend.apiKeyEnv": "sk-abc"}).problems
    assert "NAME of an environment variable" in problem


def test_valid_env_var_name_and_empty_name_are_accepted() -> None:
    assert parse_settings({"backend.apiKeyEnv": "OPENAI_API_KEY"}).backend.api_key_env == (
        "OPENAI_API_KEY"
    )
    assert parse_settings({"backend.apiKeyEnv": ""}).problems == ()


@pytest.mark.parametrize(
    "template",
    [
        {"prefix": "<p>", "suffix": "<s>"},  # no middle
        {"prefix": "<p>", "suffix": "<s>", "middle": ""},
        {"prefix": 1, "suffix": "<s>", "middle": "<m>"},
        {"prefix": "<p>", "suffix": "<s>", "middle": "<m>", "stop": [""]},
        {"prefix": "<p>", "suffix": "<s>", "middle": "<m>", "stop": 5},
        {"prefix": "<p>", "suffix": "<s>", "middle": "<m>", "stopp": ["x"]},
    ],
    ids=["missing-middle", "empty-middle", "non-string", "empty-stop", "stop-type", "typo"],
)
def test_malformed_custom_template_is_reported(template: dict[str, Any]) -> None:
    settings = parse_settings({"completion": {"fimTemplate": template}})
    assert settings.completion.fim_template == "auto"
    assert len(settings.problems) == 1
    assert settings.problems[0].startswith("assist.completion.fimTemplate: ")
    # The object stays whole: its fields are not mistaken for unknown settings.
    assert settings.unknown_keys == ()


def test_custom_template_object_is_parsed() -> None:
    template = {"prefix": "<PRE>", "suffix": "<SUF>", "middle": "<MID>", "stop": ["<EOT>", "</s>"]}
    settings = parse_settings({"completion": {"fimTemplate": template}})
    assert settings.problems == ()
    assert settings.completion.fim_template == CustomFimTemplate(
        "<PRE>", "<SUF>", "<MID>", ("<EOT>", "</s>")
    )


def test_custom_template_single_stop_string_becomes_a_tuple() -> None:
    template = {"prefix": "a", "suffix": "b", "middle": "c", "stop": "<end>"}
    settings = parse_settings({"completion.fimTemplate": template})
    assert settings.completion.fim_template == CustomFimTemplate("a", "b", "c", ("<end>",))


@pytest.mark.parametrize("family", ["auto", *FIM_FAMILIES])
def test_every_family_name_is_a_valid_template(family: str) -> None:
    settings = parse_settings({"completion.fimTemplate": family})
    assert settings.problems == ()
    assert settings.completion.fim_template == family


def test_null_means_unset() -> None:
    settings = parse_settings({"completion": {"model": None, "maxTokens": None}})
    assert settings.problems == ()
    assert settings.unknown_keys == ()
    assert settings.completion.model == "qwen2.5-coder:1.5b-base"
    assert settings.completion.max_tokens == 128


def test_null_in_a_later_source_keeps_the_earlier_value() -> None:
    settings = parse_settings({"completion.model": "codestral"}, {"completion": {"model": None}})
    assert settings.completion.model == "codestral"


def test_unknown_keys_are_listed_not_reported_as_problems() -> None:
    settings = parse_settings(
        {"server": {"path": "/usr/bin/assist-server"}, "completion.maxTokenz": 5, "trace": "off"}
    )
    assert settings.problems == ()
    assert set(settings.unknown_keys) == {"server.path", "completion.maxTokenz", "trace"}
    defaults = parse_settings()
    assert (settings.backend, settings.completion, settings.chat) == (
        defaults.backend,
        defaults.completion,
        defaults.chat,
    )


def test_later_sources_override_earlier_ones() -> None:
    settings = parse_settings(
        {"completion": {"model": "a", "maxTokens": 10}, "chat.model": "c"},
        {"assist": {"completion.model": "b"}},
        {"completion": {"max_tokens": 20}},
    )
    assert settings.completion.model == "b"
    assert settings.completion.max_tokens == 20
    assert settings.chat.model == "c"


def test_a_good_later_value_replaces_a_bad_earlier_one_without_a_problem() -> None:
    settings = parse_settings({"completion.maxTokens": "lots"}, {"completion.maxTokens": 256})
    assert settings.problems == ()
    assert settings.completion.max_tokens == 256


def test_as_dict_lists_every_setting_by_its_camel_case_key() -> None:
    assert list(parse_settings().as_dict()) == [spec.key for spec in SETTINGS]
    assert set(SPECS) == set(parse_settings().as_dict())


@pytest.mark.parametrize(
    "source",
    [
        {},
        {
            "backend": {"kind": "openai", "url": "http://127.0.0.1:8080/v1", "apiKeyEnv": "K"},
            "completion": {
                "enabled": False,
                "model": "deepseek-coder-v2",
                "fimTemplate": {"prefix": "<p>", "suffix": "<s>", "middle": "<m>", "stop": ["x"]},
                "maxTokens": 32,
                "maxLines": 3,
                "temperature": 0.0,
                "contextTokens": 2048,
                "asCompletionItem": "never",
            },
            "chat": {"model": "llama3"},
        },
    ],
    ids=["defaults", "everything-set"],
)
def test_as_dict_round_trips_through_parse_settings(source: dict[str, Any]) -> None:
    settings = parse_settings(source)
    assert settings.problems == ()
    again = parse_settings(settings.as_dict())
    assert again == settings
    assert json.loads(json.dumps(settings.as_dict())) == settings.as_dict()


def test_settings_json_style_dotted_keys_with_the_section_prefix() -> None:
    settings = parse_settings(
        {"assist.completion.model": "codestral", "assist.backend.kind": "openai"}
    )
    assert settings.completion.model == "codestral"
    assert settings.backend.kind == "openai"
    assert settings.unknown_keys == ()


def test_index_defaults() -> None:
    index = parse_settings().index
    assert index.exclude == ()
    assert index.max_file_bytes == 1_000_000
    assert index.secret_patterns == ()
    assert parse_settings().as_dict()["index.exclude"] == []


def test_index_pattern_lists_are_read_as_tuples() -> None:
    settings = parse_settings(
        {
            "index": {
                "exclude": ["docs/", "!docs/keep.md", "*.snap"],
                "maxFileBytes": 250000,
                "secretPatterns": ["*.vault", "config/prod.yaml"],
            }
        }
    )
    assert settings.problems == ()
    assert settings.index.exclude == ("docs/", "!docs/keep.md", "*.snap")
    assert settings.index.max_file_bytes == 250000
    assert settings.index.secret_patterns == ("*.vault", "config/prod.yaml")
    assert reparsed_through_json(settings.as_dict()) == settings


def reparsed_through_json(flat: dict[str, Any]) -> Any:
    return parse_settings(json.loads(json.dumps(flat)))


def test_a_single_pattern_string_counts_as_a_list_of_one() -> None:
    assert parse_settings({"index.exclude": "*.log"}).index.exclude == ("*.log",)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("index.exclude", {"docs": True}, "list of non-empty gitignore-style patterns"),
        ("index.exclude", ["ok/", 3], "list of non-empty gitignore-style patterns"),
        ("index.exclude", ["ok/", "  "], "list of non-empty gitignore-style patterns"),
        ("index.exclude", ["trailing\\"], "not a valid gitignore-style pattern"),
        ("index.secretPatterns", ["*.vault", "!.env"], "can only add to the built-in list"),
        ("index.secretPatterns", "!*.pem", "can only add to the built-in list"),
        ("index.maxFileBytes", 10, "expected a number"),
        ("index.maxFileBytes", "1MB", "expected a number"),
    ],
)
def test_invalid_index_settings_are_reported_and_defaults_kept(
    key: str, value: Any, expected: str
) -> None:
    settings = parse_settings({key: value})
    (problem,) = settings.problems
    assert problem.startswith(f"assist.{key}: ")
    assert expected in problem
    assert settings.index == parse_settings().index


def test_index_settings_are_in_the_settings_table() -> None:
    assert {"index.exclude", "index.maxFileBytes", "index.secretPatterns"} <= set(SPECS)
