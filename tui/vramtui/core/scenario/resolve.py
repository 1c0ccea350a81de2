"""One way from what the user said to the complete scenario, and back to a command line.

Every face goes through here: the CLI commands (a `--preset` plus flags), the app (its current
choice), preset files and the probe. `resolve_scenario` lays the flags the user gave over the
preset's values over the machine's defaults; `scenario_args` writes a complete scenario as the
`vramtui check` arguments that reproduce it, so a command copied from the app answers exactly
what the screen shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from vramtui.core.detect.match import detected_machine_state
from vramtui.core.detect.this_machine import detect_machine
from vramtui.core.errors import PresetError, SettingsError
from vramtui.core.estimate.settings import RuntimeSettings, settings_argv
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine
from vramtui.core.scenario.also import AlsoModel
from vramtui.core.scenario.files import Scenario
from vramtui.core.sizes import size_arg
from vramtui.core.vocab import Backend, CarveOutSource, OsName, Runtime

# Machine-state fields a preset or a flag may set; None in either means "not said".
STATE_FIELDS = (
    "carve_out_bytes",
    "os",
    "gtt_bytes",
    "wired_limit_bytes",
    "os_baseline_bytes",
    "desktop_ram_bytes",
    "backend",
    "runtime",
)


@dataclass(frozen=True, kw_only=True)
class ScenarioOverrides:
    """What the user said beside (or instead of) a preset. None: not said."""

    model_ref: str | None = None
    mmproj: str | None = None
    machine_id: str | None = None
    carve_out_bytes: int | None = None
    os: OsName | None = None
    gtt_bytes: int | None = None
    wired_limit_bytes: int | None = None
    os_baseline_bytes: int | None = None
    desktop_ram_bytes: int | None = None
    backend: Backend | None = None
    runtime: Runtime | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # RuntimeSettings field -> value
    also: tuple[AlsoModel, ...] | None = None  # more models loaded at once (None: not said)


@dataclass(frozen=True)
class ResolvedScenario:
    """The complete question: every value decided. `machine_source` says where the machine
    came from ("given", "preset" or "detected"); for the detected machine,
    `current_carve_out_bytes` is the carve-out its BIOS is set to now."""

    model_ref: str
    mmproj: str
    settings: RuntimeSettings
    state: MachineState
    machine_source: str = "given"
    current_carve_out_bytes: int | None = None
    carve_out_source: CarveOutSource = CarveOutSource.GIVEN
    ctx_said: bool = True  # False: the context is vramtui's default, fitted to the model
    also: tuple[AlsoModel, ...] = ()  # more models loaded at the same time (a set)

    def settings_for(self, spec: ModelSpec) -> RuntimeSettings:
        """The settings for this model: a context nobody chose is the smaller of the default
        and the model's training context (a 4K model is not asked for 16K)."""
        return self.settings if self.ctx_said else self.settings.context_fitted_to(spec)

    @property
    def reboot_needed(self) -> bool | None:
        """True when the scenario's carve-out differs from the one set now (known only for
        the machine vramtui runs on)."""
        if self.current_carve_out_bytes is None:
            return None
        return self.state.carve_out_bytes != self.current_carve_out_bytes

    def to_scenario(self, name: str, description: str = "") -> Scenario:
        """A preset record with every value written out (a shared file must not depend on
        this version's defaults)."""
        st = self.state
        return Scenario(
            name=name,
            description=description,
            model_ref=self.model_ref,
            mmproj=self.mmproj,
            machine_id=st.machine.id,
            carve_out_bytes=st.carve_out_bytes,
            os=st.os,
            gtt_bytes=st.gtt_bytes,
            wired_limit_bytes=st.wired_limit_bytes,
            os_baseline_bytes=st.os_baseline_bytes,
            desktop_ram_bytes=st.desktop_ram_bytes,
            backend=st.resolved_backend,
            runtime=st.runtime,
            settings=self.settings,
            also=self.also,
        )


def resolve_model(
    preset: Scenario | None, overrides: ScenarioOverrides
) -> tuple[str, str, RuntimeSettings]:
    """(model ref, projector choice, settings): the model argument wins over the preset's
    model; a preset's projector choice applies only to the preset's own model; setting flags
    are laid over the preset's settings."""
    model = overrides.model_ref or (preset.model_ref if preset else None)
    if not model:
        raise SettingsError("no model given: pass MODEL or --preset NAME")
    mmproj = overrides.mmproj
    if mmproj is None:
        mmproj = preset.mmproj if preset is not None and not overrides.model_ref else "auto"
    base = preset.settings if preset is not None else RuntimeSettings()
    try:
        settings = base.with_changes(**overrides.settings) if overrides.settings else base
    except (TypeError, ValueError) as err:
        raise SettingsError(str(err)) from None
    return model, mmproj, settings


def resolve_scenario(preset: Scenario | None, overrides: ScenarioOverrides) -> ResolvedScenario:
    """Flags over the preset over the machine's defaults: the complete scenario. Without a
    carve-out said, the machine vramtui runs on is answered at the step set now, any other at
    its preset's default step (`carve_out_source` says which).
    Raises SettingsError / PresetError with one line for anything the user must fix."""
    model, mmproj, settings = resolve_model(preset, overrides)
    said = preset is not None or "ctx_size" in overrides.settings
    also = overrides.also if overrides.also is not None else preset.also if preset else ()
    if overrides.machine_id or preset is not None:
        state, carve_source = _state(preset, overrides)
        source = "given" if overrides.machine_id else "preset"
        return ResolvedScenario(
            model,
            mmproj,
            settings,
            state,
            source,
            carve_out_source=carve_source,
            ctx_said=said,
            also=also,
        )
    state, current = _detected_state(overrides)
    carve_source = CarveOutSource.GIVEN
    if overrides.carve_out_bytes is None:
        carve_source = CarveOutSource.CURRENT if current is not None else CarveOutSource.DEFAULT
    return ResolvedScenario(
        model,
        mmproj,
        settings,
        state,
        "detected",
        current,
        carve_out_source=carve_source,
        ctx_said=said,
        also=also,
    )


def _detected_state(overrides: ScenarioOverrides) -> tuple[MachineState, int | None]:
    """The machine vramtui runs on, with the flags the user gave laid over it; and the
    carve-out its BIOS is set to now (None where that cannot be read)."""
    detection = detect_machine()
    base = detected_machine_state(detection)
    changes = {n: getattr(overrides, n) for n in STATE_FIELDS if getattr(overrides, n) is not None}
    state = replace(base, **changes) if changes else base
    current = base.carve_out_bytes if detection.carve_out_bytes is not None else None
    return state, current


def _state(
    preset: Scenario | None, overrides: ScenarioOverrides
) -> tuple[MachineState, CarveOutSource]:
    machine_id = overrides.machine_id or (preset.machine_id if preset else "")
    machine = get_machine(machine_id)
    changes: dict[str, Any] = {}
    for name in STATE_FIELDS:
        value = getattr(overrides, name)
        if value is None and preset is not None and preset.machine_id == machine_id:
            value = getattr(preset, name)  # a preset's state belongs to the preset's machine
        if value is not None:
            changes[name] = value
    carve_source = CarveOutSource.DEFAULT
    if overrides.carve_out_bytes is not None:
        carve_source = CarveOutSource.GIVEN
    elif "carve_out_bytes" in changes:
        carve_source = CarveOutSource.PRESET
    try:
        return MachineState.default_for(machine, **changes), carve_source
    except SettingsError as err:
        if preset is not None and preset.machine_id == machine_id:
            raise PresetError(preset.name, "machine", str(err)) from None
        raise


def scenario_state(s: Scenario) -> MachineState:
    """The machine state a preset describes (its own values over the machine's defaults)."""
    return resolve_scenario(s, ScenarioOverrides()).state


def scenario_args(resolved: ResolvedScenario) -> list[str]:
    """`vramtui check` arguments that reproduce this scenario exactly: every machine value
    and every setting that differs from the runtime's default."""
    st = resolved.state
    args = [resolved.model_ref, "--machine", st.machine.id, "--os", st.os]
    if st.machine.carve_out_steps and not st.machine.discrete:
        args += ["--carve-out", size_arg(st.carve_out_bytes)]
    args += ["--runtime", st.runtime, "--backend", st.resolved_backend]
    if resolved.mmproj != "auto":
        args += ["--mmproj", resolved.mmproj]
    for flag, value in (
        ("--gtt", st.gtt_bytes),
        ("--wired-limit", st.wired_limit_bytes),
        ("--os-baseline", st.os_baseline_bytes),
        ("--desktop-ram", st.desktop_ram_bytes),
    ):
        if value is not None:
            args += [flag, size_arg(value)]
    args += settings_args(resolved.settings)
    for a in resolved.also:
        args += ["--also", a.text]
    return args


def settings_args(settings: RuntimeSettings) -> list[str]:
    """The flags for every setting that differs from the default (context always), written
    from the settings table as every other command line writes them."""
    return settings_argv(settings, always=("ctx_size",))
