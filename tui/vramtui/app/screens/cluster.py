"""The cluster view: the model on screen split over several machines with llama.cpp's RPC
backend (vramtui.core.cluster.build). Nodes are typed as on the command line
(`ID[:CARVE][@HOST]`, comma-separated, in device order: the last runs llama-server); the table
shows each node's layers, buffers, verdict and RAM left, then the speed and the commands."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Select, Static

from vramtui.core.cluster.build import ClusterResult, evaluate_cluster
from vramtui.core.cluster.types import Cluster, node_from_text, tensor_split_from_text
from vramtui.core.errors import VramtuiError
from vramtui.core.estimate.settings import RuntimeSettings
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.links import DEFAULT_LINK, get_link, link_ids
from vramtui.core.hardware.pools import MachineState
from vramtui.core.sizes import format_bytes, size_arg
from vramtui.core.vocab import OsName, Verdict
from vramtui.present import untrusted
from vramtui.present.cluster_words import cluster_notes
from vramtui.present.reasons import reason_text
from vramtui.present.speed_words import rate_span
from vramtui.present.untrusted import plain

COLUMNS = (
    "Device",
    "Machine",
    "Carve-out",
    "Layers",
    "Weights",
    "KV",
    "Compute",
    "GPU used",
    "RAM left",
    "Verdict",
)


def default_nodes(state: MachineState) -> str:
    """Two of the machine on screen at its carve-out: where most people start."""
    machine = state.machine
    node = machine.id
    if machine.carve_out_steps and not machine.discrete:
        node += f":{size_arg(state.carve_out_bytes)}"
    return f"{node}, {node}"


def evaluate(
    spec: ModelSpec,
    settings: RuntimeSettings,
    nodes_text: str,
    *,
    split_text: str,
    link: str,
    os_name: OsName,
) -> ClusterResult:
    """The cluster for what the user typed (SettingsError / VramtuiError with one line)."""
    texts = [t for t in (x.strip() for x in nodes_text.split(",")) if t]
    nodes = tuple(node_from_text(t, os=os_name) for t in texts)
    cluster = Cluster(nodes, get_link(link), tensor_split_from_text(split_text, len(nodes)))
    return evaluate_cluster(spec, settings, cluster)


def node_rows(result: ClusterResult) -> list[tuple[Text | str, ...]]:
    rows: list[tuple[Text | str, ...]] = []
    for n in result.nodes:
        b = n.buffers
        ram = format_bytes(n.system_ram_left_bytes) if n.verdict != Verdict.WILL_NOT_FIT else "-"
        rows.append(
            (
                n.device,
                Text(plain(n.state.machine.id, 40)),
                format_bytes(n.state.carve_out_bytes) if n.state.machine.carve_out_steps else "-",
                f"{n.layers}" + (" +out" if n.output_layer else ""),
                format_bytes(b.weights),
                format_bytes(b.kv + b.recurrent),
                format_bytes(b.compute),
                f"{format_bytes(n.gpu_used_bytes)} / {format_bytes(n.gpu_capacity_bytes)}",
                ram,
                Text(n.verdict.short, style=f"bold {n.verdict.style}"),
            )
        )
    return rows


def summary(result: ClusterResult) -> Text:
    text = Text(result.verdict.banner, style=f"bold {result.verdict.style}")
    for n in result.nodes:
        for r in n.reasons:
            text.append(f"\n• {n.device}: {reason_text(r)}")
    if result.verdict != Verdict.WILL_NOT_FIT:
        sp = result.speed
        text.append(
            f"\n{rate_span(sp.decode_tokens_per_second, sp.decode_range())} tok/s decode, "
            f"{rate_span(sp.prefill_tokens_per_second, sp.prefill_range())} tok/s prefill "
            f"({sp.decode_network_share:.0%} of each token on the wire)"
        )
    for note in cluster_notes(result):
        text.append(f"\nnote: {untrusted.lines(note)}", style="dim")
    text.append("\n\nCommands:", style="bold")
    for line in (
        *result.commands.setup,
        *result.commands.rpc_servers,
        result.commands.llama_server,
    ):
        text.append(f"\n  {untrusted.command(line)}")
    return text


class ClusterScreen(ModalScreen[None]):
    """Split the model on screen over several machines; Esc closes."""

    BINDINGS = [Binding("escape", "close", "Close", id="cluster.close")]  # noqa: RUF012

    def __init__(self, spec: ModelSpec, settings: RuntimeSettings, state: MachineState) -> None:
        super().__init__()
        self._spec = spec
        self._settings = settings
        self._os = state.os
        self._node_text = default_nodes(state)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="cluster-dialog"):
            yield Label(
                Text(f"Cluster: {plain(self._spec.name)} over llama.cpp's RPC backend"),
                classes="dialog-title",
            )
            with Horizontal(id="cluster-inputs"):
                yield Input(
                    value=self._node_text,
                    id="cluster-nodes",
                    placeholder="id[:carve-out], ... (last: llama-server)",
                )
                yield Input(placeholder="tensor split, e.g. 1,1", id="cluster-split")
                yield Select(
                    [(name, name) for name in link_ids()],
                    value=DEFAULT_LINK,
                    allow_blank=False,
                    id="cluster-link",
                )
            yield DataTable(id="cluster-table", cursor_type="none")
            with VerticalScroll(id="cluster-summary-box"):
                yield Static("", id="cluster-summary")
            yield Label("Enter recomputes; Esc closes", classes="dialog-hint")

    def on_mount(self) -> None:
        table = self.query_one("#cluster-table", DataTable)
        for column in COLUMNS:
            table.add_column(column)
        self.recompute()

    @on(Input.Submitted)
    @on(Select.Changed)
    def _changed(self) -> None:
        self.recompute()

    @work(thread=True, exclusive=True, group="cluster", exit_on_error=False)
    def recompute(self) -> None:
        nodes = self.query_one("#cluster-nodes", Input).value
        split = self.query_one("#cluster-split", Input).value
        link = str(self.query_one("#cluster-link", Select).value)
        try:
            result = evaluate(
                self._spec, self._settings, nodes, split_text=split, link=link, os_name=self._os
            )
        except VramtuiError as err:
            self.app.call_from_thread(self._failed, str(err))
            return
        self.app.call_from_thread(self._show, result)

    def _show(self, result: ClusterResult) -> None:
        table = self.query_one("#cluster-table", DataTable)
        table.clear()
        for row in node_rows(result):
            table.add_row(*row)
        self.query_one("#cluster-summary", Static).update(summary(result))

    def _failed(self, message: str) -> None:
        self.query_one("#cluster-table", DataTable).clear()
        self.query_one("#cluster-summary", Static).update(Text(plain(message, 400), style="red"))

    def action_close(self) -> None:
        self.dismiss(None)
