"""Tokens per second, prefill and time to first token, with their sourced constants."""
