"""The plan: what to set in the BIOS, and what to run, for one model on one machine.

Built on `recommend` (the fit at every BIOS step):
- The carve-out: the current one when the model already runs cleanly there (no reboot for
  nothing), else the step `recommend` picks (cleanly running with the most RAM left to the OS,
  else the fastest that runs with warnings). `reboot_needed` = that step != the current one.
- The context: the one asked for (-c), else the largest that runs cleanly at that carve-out
  (`max_clean_context`, up to the model's training context).
- The command lines for that context: llama-server flags, the LM Studio load settings and
  `lms load`, and Ollama's num_ctx / num_gpu (Ollama takes flash attention and the KV cache
  type from its environment: OLLAMA_FLASH_ATTENTION, OLLAMA_KV_CACHE_TYPE, Ollama FAQ).
- On Linux with a carve-out, AMD's own route is offered beside it: the smallest carve-out and
  a larger GTT set by kernel parameters (ROCm docs strixhalo.rst; `recommend`'s alternative).
- The platform's own settings beside the carve-out (a BIOS size rather than "Auto", the GTT
  limit's exact lines, amdgpu's uma/carveout sysfs, macOS's wired limit): platform_steps.py.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from vramtui.core.advice.moe_offload import N_CPU_MOE, ExpertOffload, expert_offload
from vramtui.core.advice.platform_steps import PlatformStep, platform_steps
from vramtui.core.advice.recommend import Recommendation, max_clean_context, recommend
from vramtui.core.estimate.flags import DEFAULTS, FLAGS
from vramtui.core.estimate.settings import RuntimeSettings, settings_argv
from vramtui.core.fit.fit import FitResult, evaluate_fit
from vramtui.core.fit.types import Reason
from vramtui.core.gguf.spec import ModelSpec
from vramtui.core.hardware.pools import MachineState
from vramtui.core.speed.predict import rounded_range
from vramtui.core.vocab import Backend, OsName, Severity, Verdict

OLLAMA_ALL_LAYERS = 999  # Ollama's num_gpu for every layer (more than any model has)
# The settings every llama-server line states, in this order, whatever their value.
_ALWAYS = ("ctx_size", "n_gpu_layers", "flash_attn", "parallel")
_DRAFT_FLAG = FLAGS["model_draft"].flag

# A model file the plan cannot name (a catalog or remote model): the user fills it in.
PATH_PLACEHOLDER = "<path to "


@dataclass(frozen=True)
class RunCommands:
    """How to run the plan in llama.cpp, LM Studio and Ollama."""

    llama_server: str
    lmstudio: dict[str, Any]  # LM Studio's load settings, by the names its UI shows
    lms_load: str
    ollama_options: dict[str, int]
    ollama_env: dict[str, str]
    model_path_known: bool  # False: -m names a placeholder (a catalog model has no file here)

    def to_json(self) -> dict[str, Any]:
        return {
            "llama_server": self.llama_server,
            "lmstudio": self.lmstudio,
            "lms_load": self.lms_load,
            "ollama_options": self.ollama_options,
            "ollama_env": self.ollama_env,
            "model_path_known": self.model_path_known,
        }


@dataclass(frozen=True)
class GttRoute:
    """AMD's Linux route beside the plan: the smallest carve-out and a larger GTT."""

    carve_out_bytes: int
    gtt_bytes: int
    kernel_params: str
    verdict: Verdict
    decode_tps: float
    decode_range: tuple[float, float] | None = None  # tok/s, core/speed/bands.py

    def to_json(self) -> dict[str, Any]:
        return {
            "carve_out_bytes": self.carve_out_bytes,
            "gtt_bytes": self.gtt_bytes,
            "kernel_params": self.kernel_params,
            "verdict": self.verdict,
            "decode_tokens_per_second": round(self.decode_tps, 2),
            "decode_tokens_per_second_range": rounded_range(self.decode_range, 2),
        }


@dataclass(frozen=True)
class Plan:
    """The plan's figures; `vramtui.present.plan_words` says them in words."""

    model: str
    machine_id: str
    machine_name: str
    os: OsName
    has_carve_out: bool  # BIOS carve-out steps to choose among (not a discrete card)
    discrete: bool
    current_carve_out_bytes: int
    current_source: str  # detected | given | preset | default
    carve_out_bytes: int | None  # to set; None: no step runs the model
    reboot_needed: bool
    ctx_size: int
    ctx_given: bool  # the context was asked for, rather than the largest clean one
    max_clean_context: int
    fit: FitResult | None  # at the plan's carve-out and context
    commands: RunCommands | None
    gtt_route: GttRoute | None
    recommendation: Recommendation
    # A MoE model that does not fit the GPU at the plan's step: the --n-cpu-moe beside spilling
    expert_offload: ExpertOffload | None = None
    # Nothing runs the model: the first error at the current carve-out, if any
    blocker: Reason | None = None
    # Settings beside the carve-out for this platform (BIOS size, GTT limit, wired limit)
    platform: tuple[PlatformStep, ...] = ()

    @property
    def verdict(self) -> Verdict:
        return self.fit.verdict if self.fit is not None else Verdict.WILL_NOT_FIT

    def to_json(self) -> dict[str, Any]:
        fit = self.fit
        return {
            "model": self.model,
            "machine": self.machine_id,
            "machine_name": self.machine_name,
            "os": self.os,
            "verdict": self.verdict,
            "reasons": [str(c) for c in fit.codes] if fit else [],
            "has_carve_out": self.has_carve_out,
            "current_carve_out_bytes": self.current_carve_out_bytes,
            "current_carve_out_source": self.current_source,
            "carve_out_bytes": self.carve_out_bytes,
            "reboot_needed": self.reboot_needed,
            "ctx_size": self.ctx_size,
            "max_clean_context": self.max_clean_context,
            "decode_tokens_per_second": (
                round(fit.speed.decode_tokens_per_second, 2) if fit else None
            ),
            "decode_tokens_per_second_range": fit.speed.decode_range_json() if fit else None,
            "system_ram_left_bytes": fit.system_ram_left_bytes if fit else None,
            "n_gpu_layers": fit.n_gpu_layers if fit else None,
            "backend": fit.backend if fit else None,
            "commands": self.commands.to_json() if self.commands else None,
            "linux_gtt_route": self.gtt_route.to_json() if self.gtt_route else None,
            "platform_steps": [p.to_json() for p in self.platform],
            "recommendation": self.recommendation.to_json(),
        }


def build_plan(
    spec: ModelSpec,
    settings: RuntimeSettings,
    state: MachineState,
    *,
    ctx_given: bool = False,
    current_source: str = "detected",
    calibration: float | None = None,
) -> Plan:
    """The plan for `spec` on `state` (whose carve-out is the current one). `ctx_given`: the
    user asked for settings.ctx_size, so the plan keeps it instead of the largest clean one."""
    m = state.machine
    has_carve = bool(m.carve_out_steps) and not m.discrete
    rec = recommend(spec, settings, state, calibration=calibration)
    now = evaluate_fit(spec, settings, state, calibration=calibration)
    target: int | None = state.carve_out_bytes if now.runs else None
    if has_carve and now.verdict != Verdict.FITS and rec.recommended_index is not None:
        target = rec.rows[rec.recommended_index].carve_out_bytes
    gtt = _gtt_route(rec)
    plan = partial(
        Plan,
        model=spec.name,
        machine_id=m.id,
        machine_name=m.name,
        os=state.os,
        has_carve_out=has_carve,
        discrete=m.discrete,
        current_carve_out_bytes=state.carve_out_bytes,
        current_source=current_source,
        ctx_given=ctx_given,
        gtt_route=gtt,
        recommendation=rec,
    )
    steps = partial(platform_steps, spec, settings, state)
    if target is None:
        blocker = next((r for r in now.reasons if r.severity == Severity.ERROR), None)
        return plan(
            carve_out_bytes=None,
            reboot_needed=False,
            ctx_size=settings.ctx_size,
            max_clean_context=0,
            fit=None,
            commands=None,
            blocker=blocker,
            platform=steps(carve_out_bytes=None, gtt_bytes=_gtt(state, gtt, True), fit=now),
        )
    st = replace(state, carve_out_bytes=target)
    best_ctx = max_clean_context(spec, settings, st, calibration=calibration)
    ctx = settings.ctx_size if ctx_given or best_ctx == 0 else best_ctx
    fit = evaluate_fit(spec, settings.with_changes(ctx_size=ctx), st, calibration=calibration)
    # A MoE model that does not fit the GPU: run it with --n-cpu-moe when that is faster.
    moe = expert_offload(spec, fit.settings, st, calibration=calibration)
    if moe is not None and moe.faster == N_CPU_MOE:
        fit = moe.fit
    reboot = has_carve and target != state.carve_out_bytes
    return plan(
        carve_out_bytes=target,
        reboot_needed=reboot,
        ctx_size=ctx,
        max_clean_context=best_ctx,
        fit=fit,
        commands=run_commands(spec, fit, st),
        expert_offload=moe,
        platform=steps(carve_out_bytes=target, gtt_bytes=_gtt(state, gtt, reboot), fit=fit),
    )


def _gtt(state: MachineState, route: GttRoute | None, rebooting: bool) -> int | None:
    """The GTT limit a Linux plan relies on: the one set now, else the route's where the plan
    means a reboot anyway (or nothing runs the model) and the route runs it."""
    if state.gtt_bytes is not None:
        return state.gtt_bytes
    if rebooting and route is not None and route.verdict != Verdict.WILL_NOT_FIT:
        return route.gtt_bytes
    return None


def _gtt_route(rec: Recommendation) -> GttRoute | None:
    alt = rec.linux_gtt_alternative
    if alt is None:
        return None
    sp = alt.fit.speed
    return GttRoute(
        alt.carve_out_bytes,
        alt.gtt_bytes,
        alt.kernel_params,
        alt.fit.verdict,
        sp.decode_tokens_per_second,
        sp.decode_range(),
    )


def model_args(spec: ModelSpec) -> tuple[list[str], bool]:
    """llama-server's model flags for the reference the spec came from."""
    src = spec.source
    if src.startswith("catalog:"):
        parts = src.split(":")
        stem = "-".join(p for p in parts[1:] if p) or spec.name
        return ["-m", f"{PATH_PLACEHOLDER}{stem}.gguf>"], False
    if src.startswith("hf:"):
        ref = src[3:].split("@", 1)[0]
        if ref.endswith(".gguf") and ref.count("/") >= 2:
            org, repo, file = ref.split("/", 2)
            return ["-hfr", f"{org}/{repo}", "-hff", file], True
        return ["-hf", ref], True
    if src.startswith(("http://", "https://")):
        return ["-mu", src], True
    return ["-m", src], True


def command_line(argv: list[str]) -> str:
    """A shell line; placeholders like `<path to X.gguf>` are left as written for the user."""
    return " ".join(a if a.startswith("<") else shlex.quote(a) for a in argv)


def _draft_args(spec: ModelSpec) -> list[str]:
    """-md PATH for a local draft, -hfd ORG/REPO[:QUANT] for a Hub one, else a placeholder."""
    if spec.draft is None:
        return []
    args, _ = model_args(spec.draft)
    if args[0] == "-m" and not args[1].startswith("<"):
        return [_DRAFT_FLAG, args[1]]
    src = spec.draft.source
    if src.startswith("hf:") and args[0] == "-hf":
        return ["-hfd", args[1]]
    return [_DRAFT_FLAG, f"{PATH_PLACEHOLDER}{_model_key(spec.draft)}.gguf>"]


def _model_key(spec: ModelSpec) -> str:
    src = spec.source
    if src.startswith("catalog:"):
        return src.split(":")[1]
    tail = src.rstrip("/").rsplit("/", 1)[-1]
    return tail.removesuffix(".gguf") or spec.name


def run_settings(spec: ModelSpec, fit: FitResult) -> RuntimeSettings:
    """The settings the llama-server line runs: the fit's, with what the fit decided written
    out (the context, every layer or the layers that fit, flash attention on or off), the draft
    as the line names it, and the projector's setting only where the line loads one."""
    s = fit.settings
    bd = fit.breakdown
    cpu = fit.backend == Backend.CPU
    all_layers = bd.n_gpu_layers >= bd.n_layers + 1
    draft = _draft_args(spec)
    projector = _projector_path(spec) is not None
    return s.with_changes(
        ctx_size=bd.n_ctx or s.ctx_size,
        n_gpu_layers=0 if cpu else None if all_layers else bd.n_gpu_layers,
        flash_attn="on" if bd.flash_attn else "off",
        model_draft=draft[1] if draft[:1] == [_DRAFT_FLAG] else "",
        mmproj_offload=s.mmproj_offload if projector else DEFAULTS["mmproj_offload"],
    )


def llama_server_argv(spec: ModelSpec, fit: FitResult) -> list[str]:
    """llama-server's words: the model, then every setting written from the settings table
    (context, layers, flash attention and slots always), then a Hub draft and the projector."""
    model, _ = model_args(spec)
    argv = [
        "llama-server",
        *model,
        *settings_argv(run_settings(spec, fit), always=_ALWAYS, llama_cpp_only=True),
    ]
    draft = _draft_args(spec)
    if draft[:1] != [_DRAFT_FLAG]:
        argv += draft
    if (projector := _projector_path(spec)) is not None:
        argv += ["--mmproj", projector]
    return argv


def _projector_path(spec: ModelSpec) -> str | None:
    """The projector's file for `--mmproj`: its path where it was read from a file, else a
    placeholder that says what to put there (a catalog model's projector is synthesized)."""
    mmproj = spec.mmproj
    if mmproj is None:
        return None
    if mmproj.synthesized or mmproj.source.startswith("catalog:"):
        return f"{PATH_PLACEHOLDER}mmproj-{_model_key(spec)}.gguf>"
    return mmproj.source


def run_commands(spec: ModelSpec, fit: FitResult, st: MachineState) -> RunCommands:
    s = fit.settings
    bd = fit.breakdown
    all_layers = bd.n_gpu_layers >= bd.n_layers + 1
    cpu = fit.backend == Backend.CPU
    ngl = 0 if cpu else OLLAMA_ALL_LAYERS if all_layers else bd.n_gpu_layers
    _, known = model_args(spec)
    argv = llama_server_argv(spec, fit)
    line = command_line(argv)
    ctx = bd.n_ctx or s.ctx_size
    total_layers = bd.n_layers + 1
    offload = f"{bd.n_gpu_layers} / {total_layers} layers" + (" (max)" if all_layers else "")
    # LM Studio keeps a copy of the weights in RAM by default; on a machine whose GPU memory is
    # system RAM that copy only costs RAM (the 2026-02-02 ZBook article turned it off to load
    # at 48 GB).
    lmstudio: dict[str, Any] = {
        "Context Length": ctx,
        "GPU Offload": "off" if cpu else offload,
        "Flash Attention": bd.flash_attn,
        "Keep Model in Memory": not st.machine.unified_memory or st.machine.discrete,
        "Try mmap()": s.mmap,
    }
    # Experts on the CPU: LM Studio 0.3.23's "Force Model Expert Weights onto CPU" switch (all
    # of them), or the gpu.numCpuExpertLayersRatio of its load config (lmstudio-js
    # LLMLoadModelConfig) for the first N layers.
    if s.cpu_moe or (s.n_cpu_moe and s.n_cpu_moe >= bd.n_layers):
        lmstudio["Force Model Expert Weights onto CPU"] = True
    elif s.n_cpu_moe:
        lmstudio["numCpuExpertLayersRatio"] = round(s.n_cpu_moe / max(bd.n_layers, 1), 3)
    if spec.draft is not None:  # LM Studio's Speculative Decoding panel
        lmstudio["Draft Model"] = _model_key(spec.draft)
    if s.cache_type_k != "f16" or s.cache_type_v != "f16":
        lmstudio["K Cache Quantization Type"] = s.cache_type_k
        lmstudio["V Cache Quantization Type"] = s.cache_type_v
    gpu = "off" if cpu else "max" if all_layers else f"{bd.n_gpu_layers / total_layers:.2f}"
    lms = f"lms load {shlex.quote(_model_key(spec))} --gpu {gpu} --context-length {ctx}"
    env = {"OLLAMA_FLASH_ATTENTION": "1" if bd.flash_attn else "0"}
    if s.cache_type_k != "f16":  # Ollama has one cache type for K and V
        env["OLLAMA_KV_CACHE_TYPE"] = s.cache_type_k
    return RunCommands(line, lmstudio, lms, {"num_ctx": ctx, "num_gpu": ngl}, env, known)
