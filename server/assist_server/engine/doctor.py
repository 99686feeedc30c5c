"""Checks that the configured backend can serve completions, each with a one-line fix."""

from __future__ import annotations

import time
from dataclasses import dataclass

from assist_server.backends import BackendError, create_backend
from assist_server.config import FIM_FAMILIES, Settings
from assist_server.prompts.fim import render_fim, resolve_template
from assist_server.types import GenerateRequest


@dataclass(frozen=True)
class Check:
    """One check's outcome: ok, what was seen, and how to fix it when not ok."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


async def run_checks(settings: Settings) -> list[Check]:
    """Check that the backend answers, the models exist and a one-token FIM request works.

    Stops at the first failure that makes the later checks meaningless.
    """
    checks: list[Check] = []
    backend = create_backend(settings.backend)
    model = settings.completion.model
    try:
        try:
            models = await backend.list_models()
        except BackendError as exc:
            checks.append(
                Check("backend answers", False, f"{backend.url}: {type(exc).__name__}", str(exc))
            )
            return checks
        checks.append(
            Check("backend answers", True, f"{settings.backend.kind} server at {backend.url}")
        )
        for label, name in (
            ("completion model exists", model),
            ("chat model exists", settings.chat.model),
        ):
            if _listed(name, models):
                checks.append(Check(label, True, name))
            else:
                fix = (
                    f"run `ollama pull {name}`"
                    if settings.backend.kind == "ollama"
                    else "set the model to one the server lists"
                )
                checks.append(
                    Check(label, False, f"'{name}' not among: {', '.join(models) or '(none)'}", fix)
                )
        template = resolve_template(settings.completion.fim_template, model)
        if template is None and not backend.capabilities.native_fim:
            checks.append(
                Check(
                    "FIM template",
                    False,
                    f"unknown family for '{model}'",
                    "set completion.fimTemplate to one of " + ", ".join(FIM_FAMILIES),
                )
            )
            return checks
        checks.append(
            Check(
                "FIM template",
                True,
                template.name if template else "the model's own (Ollama suffix)",
            )
        )
        prefix, suffix = "def add(a, b):\n    return ", "\n"
        request = GenerateRequest(
            model=model,
            max_tokens=1,
            temperature=0.0,
            prompt=render_fim(template, prefix, suffix) if template else prefix,
            suffix=None if template else suffix,
            stop=template.stop if template else (),
        )
        started = time.perf_counter()
        try:
            pieces = [piece async for piece in backend.stream_completion(request)]
        except BackendError as exc:
            checks.append(Check("1-token FIM request", False, type(exc).__name__, str(exc)))
            return checks
        ms = (time.perf_counter() - started) * 1000
        checks.append(Check("1-token FIM request", True, f"{''.join(pieces)!r} in {ms:.0f} ms"))
    finally:
        await backend.aclose()
    return checks


def _listed(name: str, models: list[str]) -> bool:
    """Ollama lists "name:tag"; a name without a tag means ":latest"."""
    candidates = {name, f"{name}:latest"} if ":" not in name else {name}
    return bool(candidates & set(models))
