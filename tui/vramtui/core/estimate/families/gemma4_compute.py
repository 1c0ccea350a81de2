"""gemma4's compute buffer with per-layer inputs (E2B, E4B): what src/models/gemma4.cpp keeps
alive beside the generic phases of `estimate/compute.py`.

The per-layer inputs, P = n_embd_per_layer x n_layer floats per token, are built once before the
first layer (build_inp_per_layer, project_per_layer_inputs) and read by every layer as a view
of one permuted ggml_cont. ggml-alloc (ggml/src/ggml-alloc.c: best fit, a block freed after its
last consumer) leaves the projection they were summed from as a hole of P under them, so the
layers see 2 P where a reading of live tensors alone sees P.
"""

from __future__ import annotations

from vramtui.core.estimate.families.gemma4 import ARCH
from vramtui.core.estimate.hparams import ModelHparams

# The residual stream, norms and graph inputs alive through a layer (estimate/compute.py).
BASE_EMBD = 5
# From this width on, the prologue keeps 6 n_embd instead of 5 (llama.cpp's dry run: 5 at 1024
# and 1536, 6 at 2048 and 3072; see `prologue_floats`).
WIDE_PROLOGUE_EMBD = 2048


def _per_layer_width(hp: ModelHparams) -> int:
    """P: floats per token of the per-layer inputs, n_embd_per_layer x n_layer (0 without)."""
    return hp.n_embd_altup * hp.n_layer if hp.arch == ARCH and not hp.n_expert else 0


def prologue_floats(hp: ModelHparams) -> int:
    """Floats per token alive while the per-layer inputs are built, before the first layer
    (gemma4.cpp build_inp_per_layer, project_per_layer_inputs): the selected rows of
    per_layer_tok_embd, the projection of the input embeddings and the permuted ggml_cont of
    their sum, each [n_embd_per_layer x n_layer, n_tokens], beside the residual stream
    (`BASE_EMBD` x n_embd). llama.cpp's dry run gives 3 P + 5 n_embd within 16 floats per
    token at n_embd 1024 and 1536, P 4480 to 17920; at n_embd 2048 and 3072 one n_embd more
    (`WIDE_PROLOGUE_EMBD`, as measured; the cause is not traced). 0 without per-layer inputs."""
    p = _per_layer_width(hp)
    if not p:
        return 0
    return 3 * p + (BASE_EMBD + (hp.n_embd >= WIDE_PROLOGUE_EMBD)) * hp.n_embd


def ffn_phase_floats(hp: ModelHparams) -> int | None:
    """Floats per token beyond `BASE_EMBD` x n_embd at a gemma4 layer's feed-forward peak, for
    a model with per-layer inputs; None for any other model (the generic FFN phase applies).

    The permuted per-layer inputs (P floats per token) stay alive through every layer and the
    projection's hole lies under them: 2 P. A layer's gate and up, and their product (build_ffn,
    GELU, parallel), are n_ff wide each: 3 n_ff, unless one of them lands in that hole. It does
    when n_ff fits beside what the attention leaves there: with n_embd below the sliding
    layers' query width Q (n_head x head_k_swa), 2 Q - n_embd; from n_embd = Q on, nothing.
    Read off llama.cpp's CPU dry run (xllamacpp 2026.10, ctx 4096-32768, ubatch 256-512, flash
    attention on; 40 shapes: n_embd 1024-3072, P 4480-17920, n_ff 2048-12288, 4 and 8 heads),
    each within 16 floats per token but one: at P 11200 an n_ff of 8704 and 8960 fit where
    this rule gives 8640 (+17 %). E2B's double-wide shared layers (n_ff 12288 > P 8960) land
    above, 2 P + 3 n_ff (-13.7 % before); E2B-like layers of 6144 fit, 2 P + 2 n_ff (-7 %
    before); E4B (n_ff 10240, P 10752) fits."""
    p = _per_layer_width(hp)
    if not p:
        return None
    swa_q = max(
        (h * k for h, k, s in zip(hp.n_head, hp.head_k, hp.is_swa, strict=True) if s),
        default=0,
    )
    room = p - (2 * swa_q - hp.n_embd if hp.n_embd < swa_q else 0)
    return 2 * p + max((2 if ff <= room else 3) * ff for ff in hp.n_ff)


def resident_floats(hp: ModelHparams) -> int:
    """P, the permuted per-layer inputs every layer reads, alive beside the attention phase
    too (the projection's hole is reused there: within 3 % with flash attention off)."""
    return _per_layer_width(hp)
