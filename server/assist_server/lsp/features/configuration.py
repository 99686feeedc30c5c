"""Initialize, settings from initializationOptions and the client's `assist` section, shutdown."""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from assist_server.lsp.server import AssistServer

log = logging.getLogger(__name__)

SECTION = "assist"


def register(server: AssistServer) -> None:
    """Wire the lifecycle and configuration handlers."""

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        options = params.initialization_options
        server.init_options = dict(options) if isinstance(options, dict) else {}
        if options is not None and not isinstance(options, dict):
            server.errors.message("initializationOptions must be an object; ignored")
        server.locale = params.locale
        server.apply_settings()
        for hook in server.on_initialize:
            hook(params)

    @server.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        server.run_background(_watch_configuration(server), "register-configuration")
        await pull_configuration(server)
        for hook in server.on_initialized:
            hook()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        if _can_pull(server):
            await pull_configuration(server)
            return
        pushed = params.settings
        if isinstance(pushed, dict):
            server.apply_settings(pushed.get(SECTION, pushed))

    @server.feature(types.SHUTDOWN)
    async def shutdown(params: None) -> None:
        server.protocol.cancel_in_flight()  # type: ignore[attr-defined]
        await server.aclose()


def _can_pull(server: AssistServer) -> bool:
    workspace = server.client_capabilities.workspace
    return bool(workspace and workspace.configuration)


async def pull_configuration(server: AssistServer) -> None:
    """Ask the client for the `assist` section (workspace/configuration) and apply it."""
    if not _can_pull(server):
        return
    try:
        values = await server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        )
    except Exception as exc:  # a client that fails the request must not stop the server
        log.warning("workspace/configuration failed: %s", exc)
        return
    value: Any = values[0] if values else None
    server.apply_settings(value if isinstance(value, dict) else None)


async def _watch_configuration(server: AssistServer) -> None:
    """Register for configuration changes where the client wants dynamic registration."""
    workspace = server.client_capabilities.workspace
    change = workspace.did_change_configuration if workspace else None
    await server.register_capability(
        types.WORKSPACE_DID_CHANGE_CONFIGURATION,
        {"section": SECTION},
        bool(change and change.dynamic_registration),
    )
