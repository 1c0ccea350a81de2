"""The speed model's constants, and how a backend on a machine finds its own.

A constant is named `<term>@<key>`: the term of `speed_features` it multiplies and the key
`<backend>[.<driver>]/<os>/<machine kind>` it was fitted for ("vulkan.radv/linux/strix_halo",
"rocm/windows/strix_halo", "cuda/linux/discrete_gpu", "metal/macos/apple"). A key without its
own value for a term borrows from its nearest relative (`key_chain`): Windows AMD Vulkan from
AMDVLK, then from RADV (AMDVLK is built on PAL, "a shared component ... for many of AMD's 3D
and compute drivers"; the closed Windows driver differs mainly in its pipeline compiler:
GPUOpen-Drivers/AMDVLK README); ROCm and CUDA on Windows from their Linux values; a machine
kind from another kind with the same backend. A term no relative has takes its fallback: the
median over the Linux/macOS keys that were fitted (`FALLBACK_FITTED`), else a sourced prior.

`FITTED` is written by `python -m bench.speed_rows --write-constants` from the rows in
tests/data/speed_rows.toml; the comment above each value names the rows it was fitted on, and
tests/test_speed_rows.py checks the file is exactly the fit of the rows.
"""

from __future__ import annotations

from functools import lru_cache

from vramtui.core.speed.constants_fitted import FALLBACK_FITTED, FITTED
from vramtui.core.vocab import Backend, MachineKind, OsName

# The order a kind borrows constants from the others in (key_chain).
KINDS = (
    MachineKind.STRIX_HALO,
    MachineKind.DISCRETE_GPU,
    MachineKind.DGX_SPARK,
    MachineKind.APPLE,
    MachineKind.OTHER,
)
_VARIANT_RELATIVES: dict[str, tuple[str, ...]] = {
    "vulkan/windows": ("vulkan.amdvlk/linux", "vulkan.radv/linux"),
    "vulkan.radv/linux": ("vulkan.amdvlk/linux",),
    "vulkan.amdvlk/linux": ("vulkan.radv/linux",),
    "vulkan/macos": ("vulkan.radv/linux",),
    "rocm/windows": ("rocm/linux",),
    "cuda/windows": ("cuda/linux",),
    "metal/macos": (),
}

# Priors for terms no fitted row can reach (no public row offloads layers to the CPU, none runs
# the CPU backend alone):
#   cpu       1 / 0.68: llama.cpp decode on a 13900K with DDR5-6400 (102.4 GB/s) ran Llama 7B
#             Q4_0 (3.8 GB) at 18.27 tok/s = 69 GB/s (slaren, ggml-org/llama.cpp#34)
#   cpulayer  0: CPU layers add no launch cost of their own (a CPU graph node is a function call)
#   p.host    1 / 0.8: an assumption, no row measures it: copies over PCIe at 80 % of the link
#             (PCI-SIG 4.0 x16: 31.5 GB/s per direction)
#   p.cpu     1: CPU_PREFILL_TFLOPS below is already a measured rate
#   sh        1: bytes in Windows shared memory at the CPU<->GPU copy bandwidth rocm_bandwidth_test
#             measured on Strix Halo (84-85 GB/s, lhl/strix-halo-testing), the figure the term
#             divides by already
PRIORS: dict[str, float] = {
    "cpu": 1 / 0.68,
    "cpulayer": 0.0,
    "p.host": 1 / 0.8,
    "p.cpu": 1.0,
    "sh": 1.0,
}
# Fixed cost of a request before its first prefill ubatch (tokenising, scheduling, the HTTP
# round trip): the 2026-02-02 ZBook article's fastest first token, 0.04 s (GLM 4.7 Flash, ROCm, LM
# Studio).
REQUEST_OVERHEAD_S = 0.04
# A backend running the whole model on the CPU computes prefill at about this rate:
# Llama 7B Q4_0 pp512 at 55 tok/s x 13.5 GFLOP = 0.74 TFLOPS (slaren, ggml-org/llama.cpp#34).
CPU_PREFILL_TFLOPS = 0.74


def constants_key(backend: str, os_name: str, kind: str, driver: str | None = None) -> str:
    """The key a placement's constants are looked up by. Vulkan on Linux names its driver:
    RADV (Mesa, every distribution's default) unless `driver` says otherwise."""
    variant = backend
    if backend == Backend.VULKAN and os_name == OsName.LINUX:
        variant = f"vulkan.{driver or 'radv'}"
    return f"{variant}/{os_name}/{kind if kind in KINDS else MachineKind.OTHER}"


@lru_cache(maxsize=64)
def key_chain(key: str) -> tuple[str, ...]:
    """`key` first, then its relatives in the order they lend constants."""
    variant, os_name, kind = key.split("/")
    out: list[str] = []
    for vo in (f"{variant}/{os_name}", *_VARIANT_RELATIVES.get(f"{variant}/{os_name}", ())):
        for k in (kind, *(x for x in KINDS if x != kind)):
            cand = f"{vo}/{k}"
            if cand not in out:
                out.append(cand)
    return tuple(out)


# A term no relative has measured borrows another term's constant before the fallbacks: MXFP4
# matmuls are priced like the other block quants until rows show they differ.
TERM_RELATIVES: dict[str, str] = {"p.mx": "p.q"}


def resolve(table: dict[str, float], fallback: dict[str, float], term: str, key: str) -> float:
    """The constant for `term` at `key`: the first relative key with a fitted value, else the
    term's relative term, else the fallback (fitted median or sourced prior), else 0 (a term
    that costs nothing extra)."""
    chain = key_chain(key)
    for k in chain:
        value = table.get(f"{term}@{k}")
        if value is not None:
            return value
    if term in TERM_RELATIVES:
        return resolve(table, fallback, TERM_RELATIVES[term], key)
    if term in fallback:
        return fallback[term]
    return PRIORS.get(term, 0.0)


@lru_cache(maxsize=64)
def constants_for(key: str) -> dict[str, float]:
    """Every term's shipped constant at `key` (cached: the tables are fixed at import)."""
    terms = {t.split("@", 1)[0] for t in FITTED} | set(FALLBACK_FITTED) | set(PRIORS)
    return {t: resolve(FITTED, FALLBACK_FITTED, t, key) for t in terms}
