"""Prompt templates as data, rendered by pure functions."""
