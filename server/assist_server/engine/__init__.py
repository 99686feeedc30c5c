"""Completion and chat pipelines, pure of LSP types."""
