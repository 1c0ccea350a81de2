"""The main screen: the question on the left, the answer on the right, recomputed on each key.

State flows down: the screen owns `choice` (what is asked) and `evaluation` (the fit for it); the
panels and result widgets receive them through data_bind. Edits come up as the panels' small
`Changed` messages. The fit is pure and fast, so it runs synchronously in the watcher; the
carve-out sweep (one fit per BIOS step and context) runs in an exclusive thread worker.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

from tui.app.presets import share_text
from tui.app.recent import remember
from tui.app.screens.picker import ModelPicker
from tui.app.screens.preset_flows import export_flow, load_flow, save_flow
from tui.app.screens.probe import ProbeScreen
from tui.app.state import (
    Choice,
    Evaluation,
    context_steps,
    evaluate,
)
from tui.app.widgets.controls import CarveOutStepper, MachinePanel, SettingsPanel, carve_label
from tui.app.widgets.results import (
    CompareTable,
    Figures,
    PoolBars,
    VerdictBanner,
    update_static,
)
from tui.core.errors import VramtuiError
from tui.core.machine.fit import MachineState
from tui.core.machine.presets import get_machine, load_machines
from tui.core.machine.recommend import Recommendation, recommend
from tui.core.model.source import open_model
from tui.core.probe.calibration import load_calibration
from tui.core.probe.predict import prediction_from_fit
from tui.core.sizes import format_bytes, format_gib, format_tokens, short_tokens
from tui.core.vocab import Verdict
from tui.present.fit_words import gtt_alternative_sentence, recommendation_sentence

NARROW_WIDTH = 100
SWEEP_DELAY_S = 0.15
COMPARE_COLUMNS = ("mark", "carve", "verdict", "gpu-left", "ram-left", "best-ctx", "tps")
COMPARE_LABELS = ("", "Carve-out", "Verdict", "GPU left", "RAM left", "Best ctx", "tok/s")


class ModelCard(Static, can_focus=True):
    """The model in use; Enter or a click opens the picker."""

    BINDINGS = [Binding("enter", "screen.pick_model", "Pick model", show=False)]  # noqa: RUF012

    choice: reactive[Choice | None] = reactive(None)
    loading_ref: reactive[str] = reactive("")
    loading_bytes: reactive[int] = reactive(0)  # header bytes read so far (remote models)

    def render(self) -> Text:
        if self.loading_ref:
            text = Text(f"Reading {self.loading_ref}…", style="italic")
            if self.loading_bytes:
                text.append(f"\n{format_bytes(self.loading_bytes)} of header read", style="dim")
            return text
        choice = self.choice
        if choice is None or choice.spec is None:
            return Text("no model", style="italic")
        spec = choice.spec
        text = Text(spec.name, style="bold")
        text.append(f"\n{spec.architecture or '?'} · {format_gib(spec.weights_bytes)} weights")
        if spec.mmproj is not None:
            text.append(f" + {format_gib(spec.mmproj.weights_bytes)} projector")
        if spec.synthesized:
            text.append("\nfrom the catalog (no file needed)", style="dim italic")
        return text

    async def on_click(self) -> None:
        await self.run_action("screen.pick_model")


def _verdict_cell(verdict: Verdict) -> Text:
    return Text(verdict.short, style=f"bold {verdict.style}")


class MainScreen(Screen[None]):
    """Model, machine and settings on the left; verdict, bars, speed and tables on the right."""

    BINDINGS = [  # noqa: RUF012
        Binding("question_mark,f1", "app.help", "Help", key_display="?", id="main.help"),
        Binding("m", "pick_model", "Model", tooltip="Pick another model", id="pick-model"),
        Binding("left,[", "carve_out(-1)", "VRAM-", key_display="←", id="carve-out-down"),
        Binding("right,]", "carve_out(1)", "VRAM+", key_display="→", id="carve-out-up"),
        Binding("minus", "context(-1)", "Ctx-", tooltip="Smaller context", id="context-down"),
        Binding(
            "plus,equals_sign", "context(1)", "Ctx+", tooltip="Larger context", id="context-up"
        ),
        Binding(
            "s", "save_preset", "Save", tooltip="Save this scenario as a preset", id="save-preset"
        ),
        Binding(
            "l", "load_preset", "Load", tooltip="Load a saved scenario preset", id="load-preset"
        ),
        Binding("e", "export_preset", "Export", show=False, id="export-preset"),
        Binding(
            "y",
            "copy_share",
            "Copy",
            show=False,
            tooltip="Copy a shareable summary",
            id="copy-share",
        ),
        Binding("p", "probe", "Probe", tooltip="Measure a running server", id="probe"),
    ]

    # repaint=False: the screen itself draws nothing, and a repaint of the screen is a full
    # repaint of every widget (~25 ms); the widgets bound to these refresh themselves.
    choice: reactive[Choice | None] = reactive(None, init=False, repaint=False)
    evaluation: reactive[Evaluation | None] = reactive(None, repaint=False)
    recommendation: reactive[Recommendation | None] = reactive(None, repaint=False)

    def __init__(self, choice: Choice, *, pending_ref: str | None = None) -> None:
        super().__init__()
        self._initial = choice
        self._pending_ref = pending_ref
        self._mmproj = "auto"  # models opened from the picker pair their projector
        self._sweep_timer: Timer | None = None
        self._swept_once = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            with VerticalScroll(id="controls"):
                yield Static("Model  [dim](m)[/]", classes="panel-title")
                yield ModelCard(id="model-card").data_bind(MainScreen.choice)
                machines = [(m.name, m.id) for m in load_machines().machines]
                yield MachinePanel(machines, self._initial, id="machine-panel").data_bind(
                    MainScreen.choice
                )
                yield SettingsPanel(self._initial, id="settings-panel").data_bind(MainScreen.choice)
            with VerticalScroll(id="results"):
                yield VerdictBanner(id="verdict").data_bind(MainScreen.evaluation)
                yield Figures(id="figures").data_bind(MainScreen.evaluation)
                yield Static("Memory", classes="panel-title")
                yield PoolBars(id="bars").data_bind(MainScreen.evaluation)
                yield Static(
                    "Carve-out comparison  [dim](Enter picks a step)[/]", classes="panel-title"
                )
                yield CompareTable(id="compare", cursor_type="row", zebra_stripes=True)
                yield Static("", id="gtt-alternative")
                yield Static("Context sweep", id="sweep-title", classes="panel-title")
                yield DataTable(id="sweep", cursor_type="none")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#compare", CompareTable)
        for column, label in zip(COMPARE_COLUMNS, COMPARE_LABELS, strict=True):
            table.add_column(label, key=column)
        self.update_choice(self._initial)
        if self._pending_ref:
            self.open_model(self._pending_ref)

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW_WIDTH, "-narrow")

    # --- state -------------------------------------------------------------------------------

    def watch_choice(self, choice: Choice | None) -> None:
        if choice is None:
            return
        self.evaluation = evaluate(choice)
        subtitle = self._subtitle(choice)
        if subtitle != self.sub_title:
            self.sub_title = subtitle
        if choice.spec is not None:
            self._schedule_sweep(choice)
        self._fill_compare(self.recommendation)

    def _schedule_sweep(self, choice: Choice) -> None:
        """Start the carve-out sweep once the keys pause, so it never slows a repaint.

        The first one starts right after the first frame; later ones wait SWEEP_DELAY_S after
        the last change (holding an arrow key runs one sweep, not twenty).
        """
        if self._sweep_timer is not None:
            self._sweep_timer.stop()
            self._sweep_timer = None
        if self.recommendation is None and not self._swept_once:
            self._swept_once = True
            self.call_after_refresh(self._sweep, choice)
        else:
            self._sweep_timer = self.set_timer(SWEEP_DELAY_S, lambda: self._sweep(choice))

    def _subtitle(self, choice: Choice) -> str:
        """Model, machine and OS only: the carve-out lives in the machine panel.

        The Header relayouts the whole screen when its text changes, so a subtitle that
        moved with every carve-out step cost a layout pass per key.
        """
        state = choice.machine
        return f"{choice.spec.name if choice.spec else '…'} on {state.machine.name} · {state.os}"

    def update_choice(self, choice: Choice) -> None:
        """Replace the choice (the only way the question changes). The probe-history calibration
        is looked up here, once per change, and carried in the choice to the pure fit."""
        machine = choice.machine
        calibration = load_calibration(machine.machine.id, machine.resolved_backend)
        self.choice = replace(choice, calibration=calibration)

    @work(thread=True, exclusive=True, group="recommend", exit_on_error=False)
    def _sweep(self, choice: Choice) -> None:
        spec = choice.effective_spec
        if spec is None:
            return
        try:
            rec = recommend(spec, choice.settings, choice.machine, calibration=choice.calibration)
        except VramtuiError:
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._swept, choice, rec)

    def _swept(self, choice: Choice, rec: Recommendation) -> None:
        if choice == self.choice:
            self.recommendation = rec

    def watch_recommendation(self, rec: Recommendation | None) -> None:
        self._fill_compare(rec)

    def _fill_compare(self, rec: Recommendation | None) -> None:
        """Show the sweep; rows are updated in place when the steps are the same (no relayout)."""
        if not self.is_mounted:
            return
        table = self.query_one("#compare", CompareTable)
        choice = self.choice
        alt = self.query_one("#gtt-alternative", Static)
        if rec is None or choice is None:
            table.clear()
            alt.update("")
            self._alt_text = ""
            return
        current = choice.machine.carve_out_bytes
        rows: list[tuple[str, tuple[Text | str, ...]]] = [
            (
                str(row.carve_out_bytes),
                (
                    ("▸" if row.carve_out_bytes == current else " ")
                    + ("★" if index == rec.recommended_index else " "),
                    carve_label(row.carve_out_bytes),
                    _verdict_cell(row.fit.verdict),
                    format_gib(row.gpu_left_bytes),
                    format_gib(row.system_ram_left_bytes),
                    short_tokens(row.max_clean_context) if row.max_clean_context else "-",
                    f"{row.decode_tps:.1f}" if row.decode_tps else "-",
                ),
            )
            for index, row in enumerate(rec.rows)
        ]
        keys = [key for key, _ in rows]
        if [k.value for k in table.rows] == keys:
            shown: dict[str, tuple[Text | str, ...]] = getattr(self, "_compare_cells", {})
            for key, cells in rows:
                old = shown.get(key, ())
                for index, (column, cell) in enumerate(zip(COMPARE_COLUMNS, cells, strict=True)):
                    if index >= len(old) or old[index] != cell:  # repaint only changed cells
                        table.update_cell(key, column, cell)
        else:
            table.clear()
            for key, cells in rows:
                table.add_row(*cells, key=key)
        self._compare_cells = dict(rows)
        if str(current) in keys:
            table.move_cursor(row=keys.index(str(current)), animate=False)
        notes = [recommendation_sentence(rec)]
        if rec.linux_gtt_alternative is not None:
            notes.append(gtt_alternative_sentence(rec.linux_gtt_alternative))
        text = Text("\n".join(notes))
        if text.plain != getattr(self, "_alt_text", None):  # Static.update relayouts: skip no-ops
            self._alt_text = text.plain
            alt.update(text)
        self._fill_sweep(self.query_one("#sweep", DataTable), rec)

    def _fill_sweep(self, sweep: DataTable[Any], rec: Recommendation) -> None:
        """Verdict per context at the recommended step: how far the context can grow."""
        rows = [(format_tokens(ctx), _verdict_cell(verdict)) for ctx, verdict in rec.context_sweep]
        title = self.query_one("#sweep-title", Static)
        if rec.recommended_index is not None and rows:
            step = carve_label(rec.rows[rec.recommended_index].carve_out_bytes)
            update_static(title, f"Context sweep at the ★ step ({step})")
        else:
            update_static(title, "Context sweep")
        if rows == getattr(self, "_sweep_rows", None):
            return  # unchanged: no relayout
        self._sweep_rows = rows
        sweep.clear(columns=True)
        if not rows:
            sweep.add_column("")
            sweep.add_row("no step runs the model: nothing to sweep")
            return
        sweep.add_columns("Context", "Verdict")
        for cells in rows:
            sweep.add_row(*cells)

    # --- messages from the panels -------------------------------------------------------------

    @on(MachinePanel.Changed)
    def _machine_changed(self, event: MachinePanel.Changed) -> None:
        choice = self.choice
        if choice is None:
            return
        changes = dict(event.changes)
        if "machine_id" in changes:
            try:
                machine = get_machine(str(changes["machine_id"]))
            except VramtuiError as err:
                self.notify(str(err), severity="error")
                return
            self.update_choice(replace(choice, machine=MachineState.default_for(machine)))
            return
        try:
            self.update_choice(choice.with_machine(**changes))
        except VramtuiError as err:
            self.notify(str(err), severity="error")

    @on(SettingsPanel.Changed)
    def _settings_changed(self, event: SettingsPanel.Changed) -> None:
        choice = self.choice
        if choice is None:
            return
        changes = dict(event.changes)
        try:
            if "mmproj" in changes:
                choice = replace(choice, projector=bool(changes.pop("mmproj")))
            if changes:
                choice = choice.with_settings(**changes)
        except VramtuiError as err:
            self.notify(str(err), severity="error")
            return
        self.update_choice(choice)

    @on(CarveOutStepper.Stepped)
    def _stepper(self, event: CarveOutStepper.Stepped) -> None:
        self.action_carve_out(event.delta)

    @on(CompareTable.StepCarveOut)
    def _table_step(self, event: CompareTable.StepCarveOut) -> None:
        self.action_carve_out(event.delta)

    @on(DataTable.RowSelected, "#compare")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        choice = self.choice
        if choice is None or event.row_key.value is None:
            return
        self.update_choice(choice.with_machine(carve_out_bytes=int(event.row_key.value)))

    # --- actions ------------------------------------------------------------------------------

    def action_carve_out(self, delta: int) -> None:
        """Step to the next or previous carve-out the BIOS offers."""
        choice = self.choice
        if choice is None:
            return
        steps = sorted(choice.machine.machine.carve_out_steps)
        if not steps:
            self.notify("This machine has no carve-out to set.", severity="warning")
            return
        current = choice.machine.carve_out_bytes
        below = [i for i, s in enumerate(steps) if s <= current]
        index = below[-1] if below else 0
        if current not in steps and delta > 0:
            index -= 1
        new = steps[max(0, min(len(steps) - 1, index + delta))]
        self.update_choice(choice.with_machine(carve_out_bytes=new))

    def action_context(self, delta: int) -> None:
        """Step the context through the quick steps (4K ... the model's maximum)."""
        choice = self.choice
        if choice is None:
            return
        steps = context_steps(choice.spec)
        ctx = choice.settings.ctx_size
        if delta > 0:
            bigger = [s for s in steps if s > ctx]
            new = bigger[0] if bigger else steps[-1]
        else:
            smaller = [s for s in steps if s < ctx]
            new = smaller[-1] if smaller else steps[0]
        self.update_choice(choice.with_settings(ctx_size=new))

    def action_pick_model(self) -> None:
        def picked(ref: str | None) -> None:
            if ref:
                self.open_model(ref)

        self.app.push_screen(ModelPicker(discover=getattr(self.app, "discover", True)), picked)

    def open_model(self, ref: str) -> None:
        """Read the model's header (or synthesize it) in a worker; the screen stays live."""
        card = self.query_one(ModelCard)
        card.loading_bytes = 0
        card.loading_ref = ref
        self._load_model(ref)

    def _header_progress(self, done: int, _total: int) -> None:
        """Called from the loading worker as a remote header arrives."""
        self.query_one(ModelCard).loading_bytes = done

    @work(thread=True, exclusive=True, group="model", exit_on_error=False)
    def _load_model(self, ref: str) -> None:
        try:
            spec = open_model(
                ref,
                mmproj=self._mmproj,
                progress=lambda done, total: self.app.call_from_thread(
                    self._header_progress, done, total
                ),
            )
        except VramtuiError as err:
            self.app.call_from_thread(self._model_failed, ref, str(err))
            return
        except Exception as err:  # a reader bug must not take the app down
            self.app.call_from_thread(self._model_failed, ref, f"{ref}: {err}")
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._model_loaded, ref, spec)

    def _model_loaded(self, ref: str, spec: Any) -> None:
        self.query_one(ModelCard).loading_ref = ""
        choice = self.choice
        if choice is None:
            return
        remember(ref)
        self.update_choice(replace(choice, model_ref=ref, spec=spec))
        self.notify(f"Opened {spec.name}", timeout=3)

    def _model_failed(self, ref: str, message: str) -> None:
        self.query_one(ModelCard).loading_ref = ""
        self.notify(message, title="Could not open the model", severity="error")
        if self.choice is not None and self.choice.spec is None:
            # Nothing to show yet: say why in the banner, and offer the picker.
            self.evaluation = Evaluation(self.choice, None, f"{message}  (press m to pick a model)")

    @work(exclusive=True, group="preset-flow")
    async def action_save_preset(self) -> None:
        await save_flow(self)

    @work(exclusive=True, group="preset-flow")
    async def action_load_preset(self) -> None:
        await load_flow(self)

    @work(exclusive=True, group="preset-flow")
    async def action_export_preset(self) -> None:
        await export_flow(self)

    def action_copy_share(self) -> None:
        if self.evaluation is None:
            return
        self.app.copy_to_clipboard(share_text(self.evaluation))
        self.notify("Copied a shareable summary to the clipboard.", timeout=3)

    def action_probe(self) -> None:
        """Measure a running server beside this prediction (the probe screen)."""
        choice = self.choice
        fit = self.evaluation.fit if self.evaluation else None
        prediction = None
        history: dict[str, Any] = {}
        if choice is not None:
            state = choice.machine
            name = choice.spec.name if choice.spec else choice.model_ref
            label = f"{name} on {state.machine.id} @ {carve_label(state.carve_out_bytes)}"
            # The history keeps raw (uncalibrated) predictions, or each probe would calibrate
            # against the last calibration: prediction_from_fit divides the factor out.
            if fit is not None:
                prediction = prediction_from_fit(fit, label, calibration=choice.calibration)
            history = {
                "machine": state.machine.id,
                "carve_out_bytes": state.carve_out_bytes,
                "os_name": state.os,
                "backend": fit.backend if fit is not None else state.backend,
                "settings": choice.settings.to_dict(),
                "model_ref": choice.model_ref,
            }
        self.app.push_screen(ProbeScreen(prediction=prediction, history=history))
