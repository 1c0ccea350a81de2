"""A user's own machine travels inside a scenario preset.

A preset names its machine by id; a bundled machine is known everywhere, but one the user wrote
(config_dir()/machines/*.toml) is not. Such a preset carries the machine file itself as its
`[machine_definition]` table, and importing the preset installs that machine, asking before it
replaces a different machine of the same id.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from vramtui.core.atomic import read_text_capped, write_atomic
from vramtui.core.errors import PresetError
from vramtui.core.hardware.presets import MachinePreset, load_machines, parse_machine
from vramtui.core.paths import is_device_name, user_machines_dir

FILE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # matched whole: fullmatch


def is_user_machine(machine: MachinePreset) -> bool:
    """True for a machine read from the user's machines folder (not a bundled one)."""
    if not machine.path:
        return False
    try:
        return Path(machine.path).resolve().parent == user_machines_dir().resolve()
    except OSError:
        return False


def definition_for(machine: MachinePreset) -> dict[str, Any] | None:
    """The machine's own file as a table to embed, for a user machine; None for a bundled
    one (or when its file can no longer be read)."""
    if not is_user_machine(machine):
        return None
    try:
        data = tomllib.loads(read_text_capped(machine.path, 1 << 20))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    return data


def check_definition(data: Any, source: str, machine_id: str) -> MachinePreset:
    """Validate an embedded definition as a machine file; it must describe the preset's own
    machine. PresetError names the field."""
    where = f"{source} [machine_definition]"
    if not isinstance(data, dict):
        raise PresetError(source, "machine_definition", "expected a table")
    machine = parse_machine(data, where)
    if machine.id != machine_id:
        raise PresetError(
            source,
            "machine_definition.id",
            f"{machine.id!r} is not the preset's machine {machine_id!r}",
        )
    if not FILE_ID_RE.fullmatch(machine.id) or is_device_name(machine.id):
        raise PresetError(source, "machine_definition.id", "not usable as a file name")
    return machine


@dataclass(frozen=True)
class EmbeddedMachine:
    """What installing an embedded machine would do here."""

    machine: MachinePreset
    installed: MachinePreset | None  # the machine of that id known here now, if any
    target: Path  # the file installing writes

    @property
    def needed(self) -> bool:
        """Not known here, or known with different facts."""
        return self.installed is None or self.installed != self.machine

    @property
    def replaces(self) -> bool:
        """Installing would replace (or, for a bundled one, shadow) a different machine, or
        overwrite a file of that name (one that does not load counts: the user may be
        fixing it)."""
        return self.needed and (self.installed is not None or self.target.exists())


def embedded_machine(definition: dict[str, Any], source: str, machine_id: str) -> EmbeddedMachine:
    machine = check_definition(definition, source, machine_id)
    installed = load_machines().get(machine.id)
    target = user_machines_dir() / f"{machine.id}.toml"
    if installed is not None and is_user_machine(installed):
        target = Path(installed.path)  # replace that file, so the id stays unique
    return EmbeddedMachine(machine, installed, target)


def install_machine(
    definition: dict[str, Any], source: str, machine_id: str, *, replace: bool = False
) -> Path | None:
    """Write the embedded machine to the user's machines folder; None when the same machine
    is already known. A different machine of that id is replaced only with `replace`."""
    plan = embedded_machine(definition, source, machine_id)
    if not plan.needed:
        return None
    if plan.replaces and not replace:
        raise PresetError(
            source,
            "machine_definition",
            f"a different machine {machine_id!r} is installed here (replace it to use this one)",
        )
    write_atomic(plan.target, tomli_w.dumps(definition))
    plan.target.chmod(0o644)
    return plan.target
