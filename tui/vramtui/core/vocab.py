"""The closed vocabularies of vramtui, each an enum that carries its meaning.

Every value is the exact string the JSON output and the preset files use: these strings are an
API, and an enum member compares equal to its string (`Verdict.FITS == "fits"`). What a word
means for a person (its label, its colour, its exit code, its severity) lives here, once, so
the CLI and the app cannot drift apart.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    """Exit codes of the command line (an API, listed in the README)."""

    OK = 0  # fits; or the command did what was asked
    WARNINGS = 1  # fits, with warnings
    BAD_INPUT = 2  # a file, flag, URL or setting the user must fix (one line on stderr)
    WILL_NOT_FIT = 3  # will not fit / will not load; `recommend` found no step that runs it
    INTERNAL = 70  # a bug in vramtui (EX_SOFTWARE of sysexits.h)


class Severity(StrEnum):
    """How much a reason weighs: an error decides "will not fit", a warning "with warnings"."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Verdict(StrEnum):
    """The answer for one scenario."""

    FITS = "fits"
    FITS_WITH_WARNINGS = "fits_with_warnings"
    WILL_NOT_FIT = "will_not_fit"

    @classmethod
    def from_severities(cls, severities: set[Severity]) -> Verdict:
        if Severity.ERROR in severities:
            return cls.WILL_NOT_FIT
        if Severity.WARNING in severities:
            return cls.FITS_WITH_WARNINGS
        return cls.FITS

    @property
    def label(self) -> str:
        """In running text: "fits, with warnings"."""
        return _VERDICT_LABEL[self]

    @property
    def banner(self) -> str:
        """The headline: "▲ FITS, WITH WARNINGS"."""
        return _VERDICT_BANNER[self]

    @property
    def short(self) -> str:
        """One word for a table column."""
        return _VERDICT_SHORT[self]

    @property
    def style(self) -> str:
        """A Rich colour name (the CLI) and the suffix of the app's CSS class."""
        return _VERDICT_STYLE[self]

    @property
    def exit_code(self) -> ExitCode:
        return _VERDICT_EXIT[self]


_VERDICT_LABEL = {
    Verdict.FITS: "fits",
    Verdict.FITS_WITH_WARNINGS: "fits, with warnings",
    Verdict.WILL_NOT_FIT: "will not fit",
}
_VERDICT_BANNER = {
    Verdict.FITS: "✔ FITS",
    Verdict.FITS_WITH_WARNINGS: "▲ FITS, WITH WARNINGS",
    Verdict.WILL_NOT_FIT: "✘ WILL NOT FIT",
}
_VERDICT_SHORT = {
    Verdict.FITS: "fits",
    Verdict.FITS_WITH_WARNINGS: "warnings",
    Verdict.WILL_NOT_FIT: "no",
}
_VERDICT_STYLE = {
    Verdict.FITS: "green",
    Verdict.FITS_WITH_WARNINGS: "yellow",
    Verdict.WILL_NOT_FIT: "red",
}
_VERDICT_EXIT = {
    Verdict.FITS: ExitCode.OK,
    Verdict.FITS_WITH_WARNINGS: ExitCode.WARNINGS,
    Verdict.WILL_NOT_FIT: ExitCode.WILL_NOT_FIT,
}


class ReasonCode(StrEnum):
    """Why a verdict is what it is. Each code has one severity."""

    EXCEEDS_GPU_MEMORY = "exceeds_gpu_memory"
    LOAD_EXCEEDS_SYSTEM_RAM = "load_exceeds_system_ram"
    PARTIAL_OFFLOAD = "partial_offload"
    SPILLS_TO_SHARED = "spills_to_shared"
    DESKTOP_RAM_LOW = "desktop_ram_low"
    CARVE_OUT_NOT_A_STEP = "carve_out_not_a_step"
    CONTEXT_EXCEEDS_TRAINING = "context_exceeds_training"
    USES_GTT = "uses_gtt"
    SLOW_DECODE = "slow_decode"
    APPROXIMATE_ESTIMATE = "approximate_estimate"
    EXPERTS_ON_HOST = "experts_on_host"  # -ot / --n-cpu-moe keep expert weights in system RAM
    # Platform rules (core/fit/platform.py): Strix Halo under Windows above a 64 GB carve-out
    VULKAN_HEAPS_SPLIT = "vulkan_heaps_split"
    ROCM_WINDOWS_64G = "rocm_windows_64g"
    # ROCm under Windows on an integrated GPU keeps the KV cache in shared GPU memory
    ROCM_WINDOWS_KV_SHARED = "rocm_windows_kv_shared"
    # A ROCm release that ran prefill slower at this llama.cpp build (core/speed/releases.py)
    ROCM_RELEASE_SLOW_PREFILL = "rocm_release_slow_prefill"

    @property
    def severity(self) -> Severity:
        return _REASON_SEVERITY[self]

    @property
    def evidence(self) -> Evidence:
        """What the rule behind this reason rests on (the sources are in core/fit)."""
        return _REASON_EVIDENCE[self]


_REASON_SEVERITY = {
    ReasonCode.EXCEEDS_GPU_MEMORY: Severity.ERROR,
    ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM: Severity.ERROR,
    ReasonCode.PARTIAL_OFFLOAD: Severity.WARNING,
    ReasonCode.SPILLS_TO_SHARED: Severity.WARNING,
    ReasonCode.DESKTOP_RAM_LOW: Severity.WARNING,
    ReasonCode.CARVE_OUT_NOT_A_STEP: Severity.WARNING,
    ReasonCode.CONTEXT_EXCEEDS_TRAINING: Severity.WARNING,
    ReasonCode.USES_GTT: Severity.INFO,
    ReasonCode.SLOW_DECODE: Severity.INFO,
    ReasonCode.APPROXIMATE_ESTIMATE: Severity.INFO,
    ReasonCode.EXPERTS_ON_HOST: Severity.INFO,
    ReasonCode.VULKAN_HEAPS_SPLIT: Severity.INFO,
    ReasonCode.ROCM_WINDOWS_64G: Severity.WARNING,
    ReasonCode.ROCM_WINDOWS_KV_SHARED: Severity.INFO,
    ReasonCode.ROCM_RELEASE_SLOW_PREFILL: Severity.INFO,
}


class Evidence(StrEnum):
    """How sure a reason is: what the rule behind it rests on."""

    MEASURED = "measured"  # measured on this class of machine, under this OS
    DOCUMENTED = "documented"  # derived from a documented rule (vendor docs, llama.cpp source)
    EXTRAPOLATED = "extrapolated"  # a rule seen in one case, applied beyond it

    @property
    def label(self) -> str:
        return _EVIDENCE_LABEL[self]


_EVIDENCE_LABEL = {
    Evidence.MEASURED: "measured",
    Evidence.DOCUMENTED: "from a documented rule",
    Evidence.EXTRAPOLATED: "extrapolated from one measured case",
}

# The 48 + 16 GB load failure was measured once (Qwen3-VL-32B Q6_K, 28 GB, at a 48 GiB carve-out
# of 64 GB, 2026-02-02 ZBook article) and reported by users (lemonade-sdk #841): every other
# model and machine it is applied to is an extrapolation of that staging rule. Spilling into
# shared memory was measured (17.26 vs 42.89 tok/s); the rest is arithmetic on documented pools.
_REASON_EVIDENCE = {
    ReasonCode.EXCEEDS_GPU_MEMORY: Evidence.DOCUMENTED,
    ReasonCode.LOAD_EXCEEDS_SYSTEM_RAM: Evidence.EXTRAPOLATED,
    ReasonCode.PARTIAL_OFFLOAD: Evidence.DOCUMENTED,
    ReasonCode.SPILLS_TO_SHARED: Evidence.MEASURED,
    ReasonCode.DESKTOP_RAM_LOW: Evidence.DOCUMENTED,
    ReasonCode.CARVE_OUT_NOT_A_STEP: Evidence.DOCUMENTED,
    ReasonCode.CONTEXT_EXCEEDS_TRAINING: Evidence.DOCUMENTED,
    ReasonCode.USES_GTT: Evidence.DOCUMENTED,
    ReasonCode.SLOW_DECODE: Evidence.DOCUMENTED,
    ReasonCode.APPROXIMATE_ESTIMATE: Evidence.DOCUMENTED,
    ReasonCode.EXPERTS_ON_HOST: Evidence.DOCUMENTED,
    ReasonCode.VULKAN_HEAPS_SPLIT: Evidence.MEASURED,
    ReasonCode.ROCM_WINDOWS_64G: Evidence.MEASURED,
    ReasonCode.ROCM_WINDOWS_KV_SHARED: Evidence.MEASURED,
    ReasonCode.ROCM_RELEASE_SLOW_PREFILL: Evidence.MEASURED,
}


class CarveOutSource(StrEnum):
    """Where the carve-out of an answer came from."""

    GIVEN = "given"  # --carve-out, or the app's choice
    PRESET = "preset"  # the scenario preset's value
    CURRENT = "current"  # the step the BIOS of the machine vramtui runs on is set to now
    DEFAULT = "default"  # the machine preset's default step

    @property
    def label(self) -> str:
        return _CARVE_OUT_SOURCE_LABEL[self]


_CARVE_OUT_SOURCE_LABEL = {
    CarveOutSource.GIVEN: "",
    CarveOutSource.PRESET: "the scenario preset's",
    CarveOutSource.CURRENT: "set in the BIOS now",
    CarveOutSource.DEFAULT: "the machine's default step; --carve-out to choose",
}


class PlatformStepKind(StrEnum):
    """A setting the plan gives beside the carve-out for the platform it runs on
    (core/advice/platform_steps.py)."""

    BIOS_EXPLICIT_SIZE = "bios_explicit_size"  # a size, not "Auto", in the BIOS menu
    TTM_PAGES_LIMIT = "ttm_pages_limit"  # Linux: the GTT limit, kernel command line or modprobe.d
    UMA_CARVEOUT_SYSFS = "uma_carveout_sysfs"  # Linux: the carve-out set from amdgpu's sysfs
    WIRED_LIMIT = "wired_limit"  # macOS: iogpu.wired_limit_mb


class AdviceKind(StrEnum):
    """What one item of advice changes; the order is the order they are offered in (no
    reboot first, the BIOS carve-out last)."""

    CONTEXT = "context"
    KV_CACHE = "kv_cache"
    EXPERT_OFFLOAD = "expert_offload"
    QUANT = "quant"
    BACKEND = "backend"
    CARVE_OUT = "carve_out"


class OsName(StrEnum):
    WINDOWS = "windows"
    LINUX = "linux"
    MACOS = "macos"

    @property
    def label(self) -> str:
        return {"windows": "Windows", "linux": "Linux", "macos": "macOS"}[self.value]


class BandwidthBasis(StrEnum):
    """Where a CPU bandwidth figure comes from."""

    MEASURED = "measured"  # `vramtui detect --measure` on this CPU
    RATED = "rated"  # the CPU maker's channels x memory speed
    ASSUMED = "assumed"  # neither: a modest default


class CalibrationRefusal(StrEnum):
    """Why a probe's measurement does not correct later predictions (core/probe/calibration)."""

    OTHER_MODEL = "other_model"  # the server ran another model than the one predicted
    NO_MEASUREMENT = "no_measurement"  # no prediction or no decode speed to compare
    ABSURD_RATIO = "absurd_ratio"  # measured / predicted below 0.2x or above 5x
    BUSY_CPU = "busy_cpu"  # the CPUs were busy with other work before the run
    CPU_STEAL = "cpu_steal"  # a hypervisor gave the CPUs' time to other guests
    BUSY_GPU = "busy_gpu"  # another process kept the GPU busy before the run


class Runtime(StrEnum):
    """The program that loads the model: its defaults change the answer."""

    LLAMACPP = "llamacpp"
    LMSTUDIO = "lmstudio"
    OLLAMA = "ollama"

    @property
    def label(self) -> str:
        return {"llamacpp": "llama.cpp", "lmstudio": "LM Studio", "ollama": "Ollama"}[self.value]


class Backend(StrEnum):
    """The GPU (or CPU) backend of llama.cpp."""

    VULKAN = "vulkan"
    ROCM = "rocm"
    METAL = "metal"
    CUDA = "cuda"
    CPU = "cpu"

    @property
    def label(self) -> str:
        return {
            "vulkan": "Vulkan",
            "rocm": "ROCm",
            "metal": "Metal",
            "cuda": "CUDA",
            "cpu": "CPU",
        }[self.value]


class RocmRelease(StrEnum):
    """The ROCm release llama.cpp's ROCm backend was built with, as far as the speed model tells
    them apart (core/speed/releases.py says which releases slowed prefill at which builds)."""

    CURRENT = "current"  # 7.2.1 or newer: the release the fitted Strix Halo rows ran
    R6_4 = "6.4"
    R7_0 = "7.0"
    R7_1 = "7.1"
    R7_2_0 = "7.2.0"
    NIGHTLY = "nightly"  # TheRock's nightly and 7.x alpha builds

    @property
    def label(self) -> str:
        if self is RocmRelease.CURRENT:
            return "ROCm 7.2.1 or newer"
        if self is RocmRelease.NIGHTLY:
            return "a ROCm nightly (TheRock)"
        return f"ROCm {self.value}"


class MachineKind(StrEnum):
    """The class of machine a preset describes: it decides which OS and backends can run on it
    and which speed constants apply. OTHER: a machine vramtui has no class for (an unknown
    integrated GPU, a CPU-only box)."""

    STRIX_HALO = "strix_halo"  # AMD Ryzen AI Max (Radeon 8060S/8050S, gfx1151)
    APPLE = "apple"  # Apple silicon
    DGX_SPARK = "dgx_spark"  # NVIDIA GB10
    DISCRETE_GPU = "discrete_gpu"  # a GPU with its own VRAM
    OTHER = "other"


class ServerKind(StrEnum):
    """A server the probe can measure."""

    LLAMACPP = "llamacpp"
    LMSTUDIO = "lmstudio"
    OLLAMA = "ollama"
    OPENAI = "openai"  # any other OpenAI-compatible server

    @property
    def label(self) -> str:
        return {
            "llamacpp": "llama.cpp",
            "lmstudio": "LM Studio",
            "ollama": "Ollama",
            "openai": "OpenAI-compatible",
        }[self.value]

    @property
    def default_port(self) -> int | None:
        """The port the server listens on unless told otherwise (llama-server --port default,
        LM Studio's server, Ollama); None for a generic server."""
        return {"llamacpp": 8080, "lmstudio": 1234, "ollama": 11434}.get(self.value)


class Place(StrEnum):
    """Where the runtime allocates a buffer."""

    DEVICE = "device"  # memory the GPU backend allocates (dedicated VRAM, then shared/GTT)
    HOST = "host"  # system RAM the runtime allocates on the CPU side


class BufferKind(StrEnum):
    """What a runtime buffer holds (the estimate's breakdown)."""

    WEIGHTS = "weights"
    KV_CACHE = "kv_cache"
    RECURRENT_STATE = "recurrent_state"
    COMPUTE = "compute"
    OUTPUT = "output"  # logits buffer (llama.cpp "output buffer", host)
    PROJECTOR = "projector"  # mmproj weights + its compute

    @property
    def label(self) -> str:
        return self.value.replace("kv_cache", "KV cache").replace("_", " ")


class SegmentKind(StrEnum):
    """A segment of a memory pool's bar: a buffer kind on the GPU, or a use of system RAM."""

    WEIGHTS = "weights"
    KV_CACHE = "kv_cache"
    RECURRENT_STATE = "recurrent_state"
    COMPUTE = "compute"
    OUTPUT = "output"
    PROJECTOR = "projector"
    OS = "os"  # the OS and desktop (RAM baseline, or GPU memory the desktop holds)
    HOST = "host"  # the runtime's host buffers
    GPU = "gpu"  # GPU memory taken from system RAM (shared, GTT, unified)
    KEPT = "kept"  # the copy of the weights the runtime keeps in RAM
    OTHER_MODEL = "other_model"  # another model of a set loaded at the same time (fit/set.py)
