"""The main screen: the question on the left, the answer on the right, recomputed on each key.

State flows down: the screen owns `choice` (what is asked), `evaluation` (the fit for it) and
`sweep_result` (every carve-out step and memory against context); the panels and result widgets
receive them through data_bind. Edits come up as the panels' small `Changed` messages.

Never behind the keys: every edit builds on the newest question (`latest`) and only marks the
screen for a commit; one commit per burst of keys takes the newest and runs the fit (a few ms).
The slower sweep runs off the event loop, one at a time, always for the newest question
(app/sweep.py); until it arrives the comparison and the chart say "updating…". So a burst of
keys costs one fit per commit and at most one sweep in flight, never a replay of every
intermediate state. The keys are declared once, with the palette and help, in app/keys.py.

Layout by size (classes set on resize, drawn by vramtui.tcss): `-narrow` under 100 columns
(tighter controls, compact table), `-wide` from 160 columns (the results in two columns: the
answer and the comparison on the left, memory and the chart on the right), `-tall` from 48 rows
(a taller chart).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, OptionList, Select, Static
from textual.worker import get_current_worker

from vramtui.app.clipboard import share
from vramtui.app.keys import MAIN_BINDINGS, TYPED_KEY_ACTIONS
from vramtui.app.presets import share_text
from vramtui.app.probe_context import probe_context
from vramtui.app.problems import file_problems
from vramtui.app.recent import remember
from vramtui.app.screens.picker import ModelPicker
from vramtui.app.screens.preset_flows import export_flow, load_flow, save_flow
from vramtui.app.screens.probe import ProbeScreen
from vramtui.app.screens.stack import StackScreen
from vramtui.app.screens.views import open_cluster, open_exact, toggle_calibration
from vramtui.app.session import default_scenario, forget_session, save_session
from vramtui.app.state import Choice, Evaluation, Sweep, context_steps, evaluate
from vramtui.app.sweep import SweepRunner
from vramtui.app.widgets.chart import ContextChart
from vramtui.app.widgets.chart_view import CHART_TITLE, fit_chart, show_chart
from vramtui.app.widgets.compare import CarveOutComparison, CompareTable
from vramtui.app.widgets.controls import CarveOutStepper, MachinePanel, SettingsPanel
from vramtui.app.widgets.model_card import ModelCard
from vramtui.app.widgets.results import Figures, PoolBars, VerdictBanner
from vramtui.core.catalog.entries import DEFAULT_MODEL_REF
from vramtui.core.errors import VramtuiError
from vramtui.core.fit.set import SetMember
from vramtui.core.hardware.pools import MachineState
from vramtui.core.hardware.presets import get_machine, load_machines
from vramtui.core.model.source import open_model
from vramtui.core.probe.calibration import factor_of, scenario_calibration
from vramtui.present.untrusted import plain

NARROW_WIDTH = 100
WIDE_WIDTH = 160
TALL_HEIGHT = 48
SESSION_DELAY_S = 1.0  # the session is written this long after the last change


class ResultsColumn(Vertical):
    """A column of results; when its height changes (table rows arrive, the banner grows),
    the screen refits the chart to the rows left."""

    def on_resize(self) -> None:
        screen = self.screen
        if isinstance(screen, MainScreen):
            screen.call_after_refresh(screen._fit_chart)


class MainScreen(Screen[None]):
    """Model, machine and settings on the left; verdict, comparison, memory and chart right."""

    # Generated from the one declaration of every command (app/keys.py). Keys a text field
    # takes as typing are hidden from the footer and idle while one has focus, so `+` types a
    # plus and `q` a q; ctrl+q and esc show only then.
    BINDINGS: ClassVar[list[BindingType]] = list(MAIN_BINDINGS)

    # repaint=False: the screen itself draws nothing, and a repaint of the screen is a full
    # repaint of every widget (~25 ms); the widgets bound to these refresh themselves.
    choice: reactive[Choice | None] = reactive(None, init=False, repaint=False)
    evaluation: reactive[Evaluation | None] = reactive(None, repaint=False)
    sweep_result: reactive[Sweep | None] = reactive(None, repaint=False)

    def __init__(self, choice: Choice, *, pending_ref: str | None = None) -> None:
        super().__init__()
        self._initial = choice
        self._pending_ref = pending_ref
        self._mmproj = "auto"  # models opened from the picker pair their projector
        self._latest: Choice | None = None  # the newest question, committed once per burst
        self._commit_pending = False
        self._sweeps = SweepRunner(self)
        self._session_timer: Timer | None = None
        self._carve_keys: bool | None = None  # whether the footer shows the carve-out keys
        self._open_error = ""  # why the last model could not be opened (until the next open)

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
                with ResultsColumn(id="results-main"):
                    yield VerdictBanner(id="verdict").data_bind(
                        MainScreen.evaluation, sweep=MainScreen.sweep_result
                    )
                    yield Figures(id="figures").data_bind(MainScreen.evaluation)
                    yield CarveOutComparison(id="comparison").data_bind(
                        MainScreen.choice, sweep=MainScreen.sweep_result
                    )
                with ResultsColumn(id="results-side"):
                    yield Static("Memory", classes="panel-title")
                    yield PoolBars(id="bars").data_bind(MainScreen.evaluation)
                    yield Static(CHART_TITLE, id="chart-title", classes="panel-title")
                    yield ContextChart(id="chart")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.update_choice(self._initial)
        self._commit()
        self.call_after_refresh(self._update_chart)  # the first commit came before the mount
        if self._pending_ref:
            self.open_model(self._pending_ref)
        problems = file_problems()
        if problems:
            self.notify(
                f"{len(problems)} of your files could not be read; press ? for the list.",
                title="Problems with your files",
                severity="warning",
                timeout=10,
                markup=False,
            )

    def on_unmount(self) -> None:
        if self.choice is not None:
            save_session(self.choice)

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW_WIDTH, "-narrow")
        self.set_class(event.size.width >= WIDE_WIDTH, "-wide")
        tall = event.size.height >= TALL_HEIGHT
        self.set_class(tall, "-tall")
        self.set_class(not tall, "-short")
        bars = self.query_one(PoolBars)
        if bars.has_class("-compact") == tall:
            bars.set_class(not tall, "-compact")  # one line per pool when rows are short
            bars.refresh(layout=True)
        self.call_after_refresh(self._fit_chart)

    def _fit_chart(self) -> None:
        """In one column the chart takes the rows the rest leaves; in two the stylesheet does."""
        if not self.is_mounted or self.has_class("-wide"):
            return
        fit_chart(
            self.query_one(ContextChart),
            self.query_one("#results", VerticalScroll),
            list(self.query(ResultsColumn)),
            self.has_class("-tall"),
        )

    # --- keys: what acts with the current focus ----------------------------------------------

    def _typing(self) -> bool:
        """A text field, or an open list that searches as you type, has focus here."""
        if self.app.screen is not self:
            return False  # a dialog or the palette is on top: they handle their own keys
        focused = self.focused
        return isinstance(focused, Input) or (
            isinstance(focused, OptionList) and isinstance(focused.parent, Select)
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        typing = self._typing()
        if action in ("typing_quit", "leave_field"):
            return typing
        if action == "carve_out" and not self._has_carve_out():
            return False  # a Mac, a discrete GPU: no carve-out to step
        return not (typing and action in TYPED_KEY_ACTIONS)

    def _has_carve_out(self) -> bool:
        choice = self.latest
        machine = choice.machine.machine if choice is not None else None
        return machine is None or (bool(machine.carve_out_steps) and not machine.discrete)

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    def on_descendant_blur(self) -> None:
        self.refresh_bindings()

    async def action_show_help(self) -> None:
        await self.app.run_action("help")

    def action_quit(self) -> None:
        self.app.exit()

    def action_typing_quit(self) -> None:
        self.app.exit()

    def action_leave_field(self) -> None:
        """Esc in a text field: keep what was typed and give the keys back to the screen."""
        self.set_focus(None)

    # --- state: the newest question, committed once per burst ---------------------------------

    @property
    def latest(self) -> Choice | None:
        """The newest question, including edits not yet committed to the screen."""
        return self._latest or self.choice

    def update_choice(self, choice: Choice) -> None:
        """Ask a new question (the only way it changes). The probe-history calibration is looked
        up here and carried in the choice to the pure fit. The screen catches up in `_commit`,
        once for however many edits arrive before it runs."""
        spec = choice.effective_spec
        cal = None
        if spec is not None and choice.use_calibration:
            cal = scenario_calibration(spec, choice.machine)
        note = cal.describe() if cal is not None else ""
        self._latest = replace(choice, calibration=factor_of(cal), calibration_note=note)
        if not self._commit_pending:
            self._commit_pending = True
            self.call_later(self._commit)

    def _commit(self) -> None:
        self._commit_pending = False
        if self._latest is not None and self._latest != self.choice:
            self.choice = self._latest

    def watch_choice(self, choice: Choice | None) -> None:
        if choice is None:
            return
        self.evaluation = self._evaluate(choice)
        subtitle = self._subtitle(choice)
        if subtitle != self.sub_title:
            self.sub_title = subtitle
        if choice.spec is not None:
            self._sweeps.schedule()
        self._update_chart()
        if self._has_carve_out() != self._carve_keys:
            self._carve_keys = self._has_carve_out()
            self.refresh_bindings()  # the footer's carve-out keys come and go with the machine
        if self._session_timer is not None:
            self._session_timer.stop()
        self._session_timer = self.set_timer(SESSION_DELAY_S, self._save_session)

    def _evaluate(self, choice: Choice) -> Evaluation:
        """The fit; with no model open because it failed to open, that failure (not a
        "loading the model…" that would never end)."""
        if choice.spec is None and self._open_error:
            return Evaluation(choice, None, f"{self._open_error}  (press m to pick a model)")
        return evaluate(choice)

    def _save_session(self) -> None:
        self._session_timer = None
        if self.choice is not None:
            save_session(self.choice)

    def _subtitle(self, choice: Choice) -> str:
        """Model, machine and OS only: the carve-out lives in the machine panel.

        The Header relayouts the whole screen when its text changes, so a subtitle that
        moved with every carve-out step cost a layout pass per key.
        """
        state = choice.machine
        machine = state.machine.name
        if choice.machine_source == "detected":
            built = state.machine.id == "this-machine"  # its name already says "This machine"
            machine = f"{machine}, detected" if built else f"this machine (detected: {machine})"
        return f"{plain(choice.spec.name) if choice.spec else '…'} on {plain(machine)} · {state.os}"

    def watch_sweep_result(self) -> None:
        self._update_chart()
        self.call_after_refresh(self._fit_chart)  # the table's rows may have come or gone

    def _update_chart(self) -> None:
        if self.is_mounted:
            chart, title = self.query_one(ContextChart), self.query_one("#chart-title", Static)
            show_chart(chart, title, self.choice, self.evaluation, self.sweep_result)

    # --- messages from the panels -------------------------------------------------------------

    @on(MachinePanel.Changed)
    def _machine_changed(self, event: MachinePanel.Changed) -> None:
        choice = self.latest
        if choice is None:
            return
        changes = dict(event.changes)
        try:
            if "machine_id" in changes:
                machine = get_machine(str(changes["machine_id"]))
                new = replace(
                    choice, machine=MachineState.default_for(machine), machine_source="given"
                )
            else:
                new = choice.with_machine(**changes)
        except VramtuiError as err:
            self.notify(str(err), severity="error", markup=False)
            return
        self.update_choice(new)

    @on(SettingsPanel.Changed)
    def _settings_changed(self, event: SettingsPanel.Changed) -> None:
        choice = self.latest
        if choice is None:
            return
        changes = dict(event.changes)
        try:
            if "mmproj" in changes:
                choice = replace(choice, projector=bool(changes.pop("mmproj")))
            if changes:
                choice = choice.with_settings(**changes)
        except VramtuiError as err:
            self.notify(str(err), severity="error", markup=False)
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
        choice = self.latest
        if choice is None or event.row_key.value is None:
            return
        self.update_choice(choice.with_machine(carve_out_bytes=int(event.row_key.value)))

    # --- actions ------------------------------------------------------------------------------

    def action_carve_out(self, delta: int) -> None:
        """Step to the next or previous carve-out the BIOS offers."""
        choice = self.latest
        if choice is None:
            return
        steps = sorted(choice.machine.machine.carve_out_steps)
        if not steps or choice.machine.machine.discrete:
            self.notify("This machine has no carve-out to set.", severity="warning", timeout=3)
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
        choice = self.latest
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

        picker = ModelPicker(discover=getattr(self.app, "discover", True), choice=self.latest)
        self.app.push_screen(picker, picked)

    def action_stack(self) -> None:
        """The models loaded beside this one (app/stack.py); the fit becomes the set's."""
        choice = self.latest
        if choice is None:
            return

        def done(stack: tuple[SetMember, ...] | None) -> None:
            latest = self.latest
            if stack is not None and latest is not None and stack != latest.also:
                self.update_choice(replace(latest, also=stack))

        self.app.push_screen(StackScreen(choice.model_ref, choice.also), done)

    def action_reset(self) -> None:
        """Back to the defaults: the bundled model, this machine, every setting at default;
        the saved session is forgotten."""
        try:
            resolved = default_scenario()
        except VramtuiError as err:
            self.notify(str(err), title="Could not reset", severity="error", markup=False)
            return
        choice = self.latest
        if choice is None:
            return
        forget_session()
        defaults = replace(
            choice,
            settings=resolved.settings,
            machine=resolved.state,
            projector=True,
            machine_source=resolved.machine_source,
        )
        self.update_choice(defaults)
        if choice.model_ref != DEFAULT_MODEL_REF:
            self.open_model(DEFAULT_MODEL_REF)
        self.notify("Back to the defaults.", timeout=3)

    def open_model(self, ref: str) -> None:
        """Read the model's header (or synthesize it) in a worker; the screen stays live."""
        card = self.query_one(ModelCard)
        card.loading_bytes = 0
        card.loading_ref = ref
        if self._open_error:
            self._open_error = ""
            if self.choice is not None:
                self.evaluation = self._evaluate(self.choice)
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
        choice = self.latest
        if choice is None:
            return
        remember(ref)
        self.update_choice(replace(choice, model_ref=ref, spec=spec))
        self.notify(f"Opened {plain(spec.name)}", timeout=3, markup=False)

    def _model_failed(self, ref: str, message: str) -> None:
        """Said once: in the banner when no model is open (nothing else to show there; the
        comparison and the chart have no sweep on its way, so they stop saying they work),
        else in a notification over the model still on screen."""
        self.query_one(ModelCard).loading_ref = ""
        choice = self.choice
        if choice is not None and choice.spec is None:
            self._open_error = message
            self.evaluation = self._evaluate(choice)
        else:
            self.notify(message, title="Could not open the model", severity="error", markup=False)

    def reload_machines(self) -> None:
        """The machine list again (after a preset installed its own machine)."""
        machines = [(m.name, m.id) for m in load_machines().machines]
        self.query_one(MachinePanel).set_machines(machines)

    @work(exclusive=True, group="preset-flow")
    async def action_save_preset(self) -> None:
        await save_flow(self)

    @work(exclusive=True, group="preset-flow")
    async def action_load_preset(self) -> None:
        await load_flow(self)

    @work(exclusive=True, group="preset-flow")
    async def action_export_preset(self) -> None:
        await export_flow(self)

    @work(thread=True, exclusive=True, group="share", exit_on_error=False)
    def action_copy_share(self) -> None:
        """OSC 52 for terminals that pass it on, and the platform's clipboard tool (or a
        file) for those that do not."""
        evaluation = self.evaluation
        if evaluation is None:
            return
        text = share_text(evaluation)
        self.app.call_from_thread(self.app.copy_to_clipboard, text)
        result = share(text)
        severity = "information" if result.tool else "warning"
        self.app.call_from_thread(
            self.notify, result.message(), severity=severity, timeout=8, markup=False
        )

    def action_exact(self) -> None:
        open_exact(self)

    def action_cluster(self) -> None:
        open_cluster(self)

    def action_toggle_calibration(self) -> None:
        toggle_calibration(self)

    def action_probe(self) -> None:
        """Measure a running server beside this prediction (the probe screen)."""
        evaluation = self.evaluation
        fit = evaluation.fit if evaluation is not None else None
        prediction, history = probe_context(self.choice, fit)

        def probed(_result: object) -> None:
            # A measurement may have changed the calibration: ask the question again.
            if self.latest is not None:
                self.update_choice(self.latest)

        self.app.push_screen(ProbeScreen(prediction=prediction, history=history), probed)
