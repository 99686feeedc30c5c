"""assist-server: a local-first AI coding assistant delivered as a language server."""

__version__ = "0.1.0"
