"""The left-hand side: the machine and the runtime settings. Values come down from the screen's
`Choice`; edits go up as small `Changed` messages carrying only what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from vramtui.app.state import Choice, context_steps
from vramtui.core.errors import VramtuiError
from vramtui.core.estimate.flags import FLAGS, parse_text
from vramtui.core.hardware.presets import MachinePreset
from vramtui.core.sizes import GiB, format_bytes, format_tokens, parse_size
from vramtui.core.vocab import Backend, OsName, Runtime
from vramtui.present.untrusted import text as shown

# The selects hold the vocabulary's members, so an edit goes up as an enum, not a string.
OS_OPTIONS = [(o.label, o) for o in OsName]
RUNTIME_OPTIONS = [(r.label, r) for r in Runtime]
BACKEND_OPTIONS: list[tuple[str, Backend | None]] = [
    ("machine default", None),
    *(
        (b.label, b)
        for b in (Backend.VULKAN, Backend.ROCM, Backend.CUDA, Backend.METAL, Backend.CPU)
    ),
]


def carve_label(n_bytes: int) -> str:
    """A BIOS step in binary units ("512 MiB", "32 GiB"): the BIOS's "32 GB" is 32 GiB."""
    return format_bytes(n_bytes)


def _set_select(select: Select[Any], value: Any) -> None:
    if select.value != value:
        select.value = value


def _set_input(widget: Input, text: str) -> None:
    """Reflect the choice in an input the user is not typing into."""
    if not widget.has_focus and widget.value != text:
        widget.value = text


class Row(Horizontal):
    """One labelled control."""


class CarveOutStepper(Widget, can_focus=True):
    """The carve-out as the BIOS offers it: a value stepped left/right over fixed steps."""

    BINDINGS = [  # noqa: RUF012
        Binding("left", "step(-1)", "Less VRAM", show=False, id="carve-out.less"),
        Binding("right", "step(1)", "More VRAM", show=False, id="carve-out.more"),
    ]

    steps: reactive[tuple[int, ...]] = reactive(())
    value: reactive[int] = reactive(0)

    @dataclass
    class Stepped(Message):
        """The user asked for the next (1) or previous (-1) BIOS step."""

        delta: int

    def render(self) -> Text:
        if not self.steps:
            return Text("none to set", style="italic")
        index = self.steps.index(self.value) if self.value in self.steps else -1
        text = Text()
        text.append("◀ ", style="bold" if index > 0 else "dim")
        text.append(
            f"{carve_label(self.value):^8}", style="bold reverse" if self.has_focus else "bold"
        )
        text.append(" ▶", style="bold" if 0 <= index < len(self.steps) - 1 else "dim")
        text.append(f"  {index + 1}/{len(self.steps)}", style="dim")
        return text

    def action_step(self, delta: int) -> None:
        self.post_message(self.Stepped(delta))

    def on_click(self, event: Any) -> None:
        self.focus()
        self.post_message(self.Stepped(-1 if event.x < 4 else 1))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


def _listed(machines: list[tuple[str, str]]) -> list[tuple[Text, str]]:
    """(name, id) rows as Select options: a machine's name, from a file, shown literally."""
    return [(shown(name), ident) for name, ident in machines]


class MachinePanel(Vertical):
    """Machine preset, carve-out stepper, OS, Linux GTT, macOS wired limit, OS baseline."""

    choice: reactive[Choice | None] = reactive(None)

    @dataclass
    class Changed(Message):
        """Machine fields the user changed (`machine_id` for a new preset, else state fields)."""

        changes: dict[str, Any] = field(default_factory=dict)

    def __init__(self, machines: list[tuple[str, str]], initial: Choice, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._machines = machines
        self._initial = initial

    def compose(self) -> ComposeResult:
        # Controls start at the initial choice, so their first Changed events change nothing.
        state = self._initial.machine
        yield Static("Machine", classes="panel-title")
        yield Select(
            self._options_with(state.machine.id, state.machine.name),
            value=state.machine.id,
            allow_blank=False,
            compact=True,
            id="machine",
        )
        with Row():
            yield Label("Carve-out", classes="row-label")
            yield CarveOutStepper(id="carve-out")
        with Row():
            yield Label("OS", classes="row-label")
            yield Select(OS_OPTIONS, value=state.os, allow_blank=False, compact=True, id="os")
        with Row():
            yield Label("Runtime", classes="row-label")
            yield Select(
                RUNTIME_OPTIONS, value=state.runtime, allow_blank=False, compact=True, id="runtime"
            )
        with Row():
            yield Label("Backend", classes="row-label")
            yield Select(
                BACKEND_OPTIONS, value=state.backend, allow_blank=False, compact=True, id="backend"
            )
        with Row(id="gtt-row"):
            yield Label("Linux GTT", classes="row-label")
            yield Input(placeholder="default", compact=True, id="gtt")
        with Row(id="wired-row"):
            yield Label("Wired limit", classes="row-label")
            yield Input(placeholder="default", compact=True, id="wired")
        with Row():
            yield Label("OS + apps", classes="row-label")
            yield Input(placeholder="default", compact=True, id="baseline")
        yield Static("", id="machine-problem", classes="input-problem", markup=False)

    def _options_with(self, ident: str, name: str) -> list[tuple[Text, str]]:
        """The machine list, with the current machine in it even when it is not a preset
        (the machine the app runs on, detected but not recognised)."""
        if any(value == ident for _, value in self._machines):
            return _listed(self._machines)
        return _listed([(name, ident), *self._machines])

    def set_machines(self, machines: list[tuple[str, str]]) -> None:
        """A new machine list (a preset installed its own machine), keeping the selection."""
        self._machines = machines
        select: Select[str] = self.query_one("#machine", Select)
        value = select.value
        with self.prevent(Select.Changed):
            select.set_options(_listed(machines))
            if any(ident == value for _, ident in machines):
                select.value = value

    def watch_choice(self, choice: Choice | None) -> None:
        if choice is None:
            return
        # The controls follow the choice; their own Changed messages would only echo it back
        # (and, arriving late in a burst of keys, undo newer edits), so none are sent.
        with self.prevent(Select.Changed, Input.Changed, Checkbox.Changed):
            self._show(choice)

    def _offer(self, machine: MachinePreset) -> None:
        """Offer only what this machine can run: its OSes and its GPU's backends."""
        if getattr(self, "_offered_for", None) == machine.id:
            return
        self._offered_for = machine.id
        oses = set(machine.operating_systems)
        backends = set(machine.backends)
        self.query_one("#os", Select).set_options([o for o in OS_OPTIONS if o[1] in oses])
        self.query_one("#backend", Select).set_options(
            [b for b in BACKEND_OPTIONS if b[1] is None or b[1] in backends]
        )

    def _show(self, choice: Choice) -> None:
        state = choice.machine
        machine = state.machine
        select: Select[str] = self.query_one("#machine", Select)
        if machine.id != select.value and not any(v == machine.id for _, v in self._machines):
            select.set_options(self._options_with(machine.id, machine.name))
        _set_select(select, machine.id)
        stepper = self.query_one(CarveOutStepper)
        stepper.steps = tuple(machine.carve_out_steps)
        stepper.value = state.carve_out_bytes
        self._offer(machine)
        _set_select(self.query_one("#os", Select), state.os)
        _set_select(self.query_one("#runtime", Select), state.runtime)
        _set_select(self.query_one("#backend", Select), state.backend)
        self.query_one("#gtt-row").display = state.os == OsName.LINUX
        self.query_one("#wired-row").display = state.os == OsName.MACOS
        _set_input(self.query_one("#gtt", Input), _size_text(state.gtt_bytes))
        _set_input(self.query_one("#wired", Input), _size_text(state.wired_limit_bytes))
        baseline = self.query_one("#baseline", Input)
        _set_input(baseline, _size_text(state.os_baseline_bytes))
        baseline.placeholder = f"default {_size_text(state.baseline)}"

    @on(Select.Changed, "#machine")
    def _machine_changed(self, event: Select.Changed) -> None:
        event.stop()
        if self.choice is not None and event.value != self.choice.machine.machine.id:
            self.post_message(self.Changed({"machine_id": event.value}))

    @on(Select.Changed, "#os, #runtime, #backend")
    def _state_select(self, event: Select.Changed) -> None:
        event.stop()
        self.post_message(self.Changed({event.select.id or "": event.value}))

    @on(Input.Changed, "#gtt, #wired, #baseline")
    def _size_changed(self, event: Input.Changed) -> None:
        event.stop()
        name = {"gtt": "gtt_bytes", "wired": "wired_limit_bytes", "baseline": "os_baseline_bytes"}
        key = name[event.input.id or ""]
        text = event.value.strip()
        if not text:
            show_problem(self, event.input, "")
            self.post_message(self.Changed({key: None}))
            return
        try:
            value = parse_size(text, key)
        except VramtuiError:
            label = {"gtt": "Linux GTT", "wired": "Wired limit", "baseline": "OS + apps"}
            show_problem(
                self,
                event.input,
                f"{label[event.input.id or '']}: {text} is not a "
                "size: try 60G, 512M or 0.5G (empty for the default)",
            )
            return
        show_problem(self, event.input, "")
        self.post_message(self.Changed({key: value}))


def show_problem(panel: Widget, field: Input, message: str) -> None:
    """Explain a value that is not accepted, on the line under the panel's fields (empty:
    the value is fine). The field keeps what was typed; the choice keeps its last good value."""
    field.set_class(bool(message), "-invalid")
    problem = panel.query_one(".input-problem", Static)
    problem.update(message)
    problem.set_class(bool(message), "-shown")


def _size_text(n_bytes: int | None) -> str:
    if n_bytes is None:
        return ""
    if n_bytes % GiB == 0:
        return f"{n_bytes // GiB}G"
    return f"{n_bytes / GiB:.2f}G"


CACHE_OPTIONS = [(name, name) for name in FLAGS["cache_type_k"].choices]
FLASH_OPTIONS = [(name, name) for name in FLAGS["flash_attn"].choices]


class SettingsPanel(Vertical):
    """Runtime settings with llama.cpp's names: context, K/V cache type, flash attention..."""

    choice: reactive[Choice | None] = reactive(None)

    @dataclass
    class Changed(Message):
        """RuntimeSettings fields the user changed."""

        changes: dict[str, Any] = field(default_factory=dict)

    def __init__(self, initial: Choice, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._initial = initial

    def compose(self) -> ComposeResult:
        # Controls start at the initial choice, so their first Changed events change nothing.
        s = self._initial.settings
        steps = [(format_tokens(n), n) for n in context_steps(self._initial.spec)]
        yield Static("Runtime settings", classes="panel-title")
        with Row():
            yield Label("Context", classes="row-label")
            yield Select(
                steps,
                value=s.ctx_size if s.ctx_size in {v for _, v in steps} else Select.NULL,
                prompt="custom",
                compact=True,
                id="ctx-step",
            )
        with Row():
            yield Label("  or type", classes="row-label")
            yield Input(format_tokens(s.ctx_size), placeholder="e.g. 20K", compact=True, id="ctx")
        yield Static("", id="settings-problem", classes="input-problem", markup=False)
        with Row():
            yield Label("K cache", classes="row-label")
            yield Select(
                CACHE_OPTIONS, value=s.cache_type_k, allow_blank=False, compact=True, id="ctk"
            )
        with Row():
            yield Label("V cache", classes="row-label")
            yield Select(
                CACHE_OPTIONS, value=s.cache_type_v, allow_blank=False, compact=True, id="ctv"
            )
        with Row():
            yield Label("Flash attn", classes="row-label")
            yield Select(
                FLASH_OPTIONS, value=s.flash_attn, allow_blank=False, compact=True, id="fa"
            )
        with Row():
            yield Label("Parallel", classes="row-label")
            yield Input(str(s.parallel), type="integer", compact=True, id="np")
        with Row():
            yield Label("GPU layers", classes="row-label")
            yield Input(
                "" if s.n_gpu_layers is None else str(s.n_gpu_layers),
                placeholder="all",
                compact=True,
                id="ngl",
            )
        with Row():  # --n-cpu-moe: experts of the first N layers in system RAM
            yield Label("CPU MoE", classes="row-label")
            yield Input(str(s.n_cpu_moe or ""), placeholder="0", compact=True, id="ncmoe")
        yield Checkbox("mmap the model file", s.mmap, compact=True, id="mmap")
        yield Checkbox("keep model in memory", s.keep_in_memory, compact=True, id="mlock")
        yield Checkbox("count the projector", self._initial.projector, compact=True, id="mmproj")

    def watch_choice(self, old: Choice | None, choice: Choice | None) -> None:
        if choice is None:
            return
        # As in MachinePanel: following the choice sends no Changed messages back.
        with self.prevent(Select.Changed, Input.Changed, Checkbox.Changed):
            self._show(old, choice)

    def _show(self, old: Choice | None, choice: Choice) -> None:
        s = choice.settings
        step_select: Select[int] = self.query_one("#ctx-step", Select)
        if old is None or old.spec is not choice.spec:
            steps = context_steps(choice.spec)
            step_select.set_options([(format_tokens(n), n) for n in steps])
        if s.ctx_size in context_steps(choice.spec):
            _set_select(step_select, s.ctx_size)
        else:
            _set_select(step_select, Select.NULL)
        _set_input(self.query_one("#ctx", Input), format_tokens(s.ctx_size))
        _set_select(self.query_one("#ctk", Select), s.cache_type_k)
        _set_select(self.query_one("#ctv", Select), s.cache_type_v)
        _set_select(self.query_one("#fa", Select), s.flash_attn)
        _set_input(self.query_one("#np", Input), str(s.parallel))
        _set_input(
            self.query_one("#ngl", Input), "" if s.n_gpu_layers is None else str(s.n_gpu_layers)
        )
        _set_input(self.query_one("#ncmoe", Input), str(s.n_cpu_moe or ""))
        self.query_one("#mmap", Checkbox).value = s.mmap
        self.query_one("#mlock", Checkbox).value = s.keep_in_memory
        self.query_one("#mmproj", Checkbox).value = choice.projector
        has_projector = choice.spec is not None and choice.spec.mmproj is not None
        self.query_one("#mmproj", Checkbox).display = has_projector

    def _send(self, **changes: Any) -> None:
        self.post_message(self.Changed(changes))

    @on(Select.Changed, "#ctx-step")
    def _ctx_step(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, int):
            self._send(ctx_size=event.value)

    @on(Select.Changed, "#ctk, #ctv, #fa")
    def _select(self, event: Select.Changed) -> None:
        event.stop()
        key = {"ctk": "cache_type_k", "ctv": "cache_type_v", "fa": "flash_attn"}[
            event.select.id or ""
        ]
        self._send(**{key: event.value})

    @on(Input.Changed, "#ctx, #np, #ngl, #ncmoe")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        ident = event.input.id or ""
        text = event.value.strip()
        if not text and ident not in ("ngl", "ncmoe"):
            show_problem(self, event.input, "")
            return  # half-typed: wait for a value
        try:
            changes = _typed_setting(ident, text)
        except ValueError as err:
            show_problem(self, event.input, str(err))
            return
        show_problem(self, event.input, "")
        self._send(**changes)

    @on(Checkbox.Changed)
    def _checkbox(self, event: Checkbox.Changed) -> None:
        event.stop()
        ident = event.checkbox.id
        if ident == "mmap":
            self._send(mmap=event.value)
        elif ident == "mlock":
            self._send(keep_in_memory=event.value)
        elif ident == "mmproj":
            self._send(mmproj=event.value)


# Each text field: the setting it holds and the sentence shown when the table refuses the text.
_TYPED = {
    "ctx": ("ctx_size", "{text} is not a context size: try 16K, 32768 or max"),
    "np": (
        "parallel",
        "Parallel: {text} is not a number of slots ({low} to {high}): try 1, 2 or 4",
    ),
    "ncmoe": (
        "n_cpu_moe",
        "CPU MoE: {text} is not a layer count ({low} to {high}): try 0, 10 or 24",
    ),
    "ngl": (
        "n_gpu_layers",
        "GPU layers: {text} is not a layer count ({low} to {high}): try 0, 24 or all",
    ),
}


def _typed_setting(ident: str, text: str) -> dict[str, Any]:
    """The setting a text field holds, read and bounded by the settings table (as the command
    line reads it); ValueError with the sentence to show under it. An empty CPU MoE field is 0,
    an empty GPU layers field all layers."""
    name, problem = _TYPED[ident]
    flag = FLAGS[name]
    if not text and ident in ("ncmoe", "ngl"):
        return {name: flag.default}
    try:
        return {name: parse_text(flag, text)}
    except VramtuiError:
        raise ValueError(problem.format(text=text, low=flag.low, high=flag.high)) from None
