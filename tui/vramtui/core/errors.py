"""Errors the user can act on. Every one renders as a single line and maps to exit code 2."""

from __future__ import annotations


class VramtuiError(Exception):
    """Base class: bad input the user can fix. `str(err)` is the one-line message shown."""

    exit_code = 2


class ModelFileError(VramtuiError):
    """A GGUF file (or shard) that cannot be read: names the file and what is wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ModelReferenceError(VramtuiError):
    """A model reference (path, folder, hf:, URL, catalog id) that does not resolve."""


class RemoteError(VramtuiError):
    """An HTTP source that failed: names the URL and what happened."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


class SettingsError(VramtuiError):
    """A runtime setting out of range or of the wrong kind: names the setting."""


class PresetError(VramtuiError):
    """A machine or scenario preset file that does not validate: names the file and field."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.field = field
        self.problem = problem


class ProbeError(VramtuiError):
    """A server the probe talks to that refused, stalled or answered garbage."""
