"""What a probe measures and predicts: the result types, the prediction beside it, and the
comparison rows shown by both the CLI and the app."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from vramtui.core.detect.conditions import RunConditions
from vramtui.core.errors import ProbeError
from vramtui.core.sizes import format_bytes
from vramtui.core.vocab import ServerKind

SERVER_KINDS: tuple[ServerKind, ...] = tuple(ServerKind)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ProbeTimeouts:
    """Seconds. `first_token` and `total` count from the moment the request is sent."""

    connect: float = 3.0
    first_token: float = 60.0
    total: float = 180.0
    request: float = 10.0  # non-streaming requests: model lists, /props, /api/ps

    def __post_init__(self) -> None:
        for name in ("connect", "first_token", "total", "request"):
            if not getattr(self, name) > 0:
                raise ProbeError(f"timeout {name} must be more than 0 seconds")


@dataclass(frozen=True)
class ServerModel:
    name: str
    loaded: bool
    size_bytes: int | None = None
    vram_bytes: int | None = None
    context_length: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerInfo:
    kind: ServerKind
    url: str
    models: list[ServerModel]

    def model_names(self) -> list[str]:
        return [m.name for m in self.models]


@dataclass(frozen=True)
class GpuMemorySample:
    """One reading of amdgpu's sysfs counters (bytes); None where the file is absent."""

    card: str
    vram_used: int | None
    vram_total: int | None
    gtt_used: int | None
    gtt_total: int | None

    @property
    def used(self) -> int:
        return (self.vram_used or 0) + (self.gtt_used or 0)


@dataclass
class MemoryEvidence:
    """What the server or the OS says about memory; every field is optional evidence."""

    ollama_size_bytes: int | None = None
    ollama_vram_bytes: int | None = None
    ollama_context_length: int | None = None
    n_ctx: int | None = None  # llama.cpp /props (per slot) or /slots
    slots_n_ctx: list[int] = field(default_factory=list)
    total_slots: int | None = None
    model_path: str | None = None  # llama.cpp /props model_path
    amdgpu_before: list[GpuMemorySample] = field(default_factory=list)
    amdgpu_during: list[GpuMemorySample] = field(default_factory=list)

    def amdgpu_delta_bytes(self) -> int | None:
        """GPU memory (VRAM + GTT) that appeared between the sample before and the peak during."""
        if not self.amdgpu_before or not self.amdgpu_during:
            return None
        before = sum(s.used for s in self.amdgpu_before)
        return max(0, sum(s.used for s in self.amdgpu_during) - before)

    def device_bytes(self) -> int | None:
        """Best measured GPU memory: Ollama's size_vram, else the amdgpu delta."""
        if self.ollama_vram_bytes is not None:
            return self.ollama_vram_bytes
        return self.amdgpu_delta_bytes()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["amdgpu_delta_bytes"] = self.amdgpu_delta_bytes()
        data["device_bytes"] = self.device_bytes()
        return data


@dataclass
class ProbeResult:
    kind: ServerKind
    url: str
    model: str
    ttft_client_s: float | None
    ttft_server_s: float | None
    decode_tokens_per_second: float | None
    prompt_tokens_per_second: float | None
    tokens_generated: int
    prompt_tokens: int | None
    server_timings: dict[str, Any]
    memory: MemoryEvidence
    # A key of the JSON output (an API): always false, since a cancelled probe raises
    # CancelledError rather than returning a partial result.
    cancelled: bool = False
    decode_source: Literal["server", "client", "none"] = "none"
    text: str = ""
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)  # e.g. impossible server timings discarded
    conditions: RunConditions | None = None  # how busy the machine was just before the run

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["memory"] = self.memory.to_json()
        data["conditions"] = self.conditions.to_json() if self.conditions else None
        return data


@dataclass(frozen=True)
class Prediction:
    """What vramtui predicted for the same model, machine and settings."""

    decode_tps: float | None  # as shown: calibrated from the probe history when it could be
    ttft_s: float | None
    device_bytes: int | None
    label: str = ""  # e.g. "Qwen3-8B on framework-desktop-128gb @ 96.0 GB, linux, vulkan"
    raw_decode_tps: float | None = None  # before calibration (what the history keeps)
    calibration: float | None = None  # the factor applied, when the prediction is calibrated
    backend: str | None = None
    calibration_note: str = ""  # "calibrated x1.12 from 3 probes"
    # The scenario predicted for, kept in the history beside the measurement.
    machine: str | None = None
    carve_out_bytes: int | None = None
    os: str | None = None
    runtime: str | None = None
    model_key: str | None = None  # calibration.model_identity of the predicted model
    model_names: tuple[str, ...] = ()  # the reference and the header's name

    def to_json(self) -> dict[str, Any]:
        raw = self.raw_decode_tps if self.raw_decode_tps is not None else self.decode_tps
        return {
            # decode_tps is the raw prediction: calibration divides measured by it.
            "decode_tps": raw,
            "calibrated_decode_tps": self.decode_tps if self.calibration is not None else None,
            "calibration": self.calibration,
            "ttft_s": self.ttft_s,
            "device_bytes": self.device_bytes,
            "backend": self.backend,
            "label": self.label,
            "calibration_note": self.calibration_note or None,
            "machine": self.machine,
            "runtime": self.runtime,
            "model_key": self.model_key,
        }


@dataclass(frozen=True)
class ComparisonRow:
    name: str
    unit: str
    predicted: float | None
    measured: float | None

    @property
    def ratio(self) -> float | None:
        """measured / predicted (1.0 = the prediction was exact)."""
        if self.predicted is None or self.measured is None or self.predicted == 0:
            return None
        return self.measured / self.predicted


def compare(prediction: Prediction | None, result: ProbeResult) -> list[ComparisonRow]:
    """The rows shown side by side: measured beside predicted, with the ratio."""
    p = prediction or Prediction(None, None, None)
    ttft = result.ttft_server_s if result.ttft_server_s is not None else result.ttft_client_s
    device = result.memory.device_bytes()
    return [
        ComparisonRow("decode", "tok/s", p.decode_tps, result.decode_tokens_per_second),
        ComparisonRow("time to first token", "s", p.ttft_s, ttft),
        ComparisonRow("GPU memory", "bytes", p.device_bytes, float(device) if device else None),
    ]


def format_measure(value: float | None, unit: str) -> str:
    """One figure as the CLI table and the TUI show it ("-" when there is none)."""
    if value is None:
        return "-"
    if unit == "bytes":
        return format_bytes(value)
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:,.1f} {unit}".rstrip()


def format_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"
