"""The recurrent layers' phase of the compute buffer: what a gated delta-net or Mamba-2 layer
keeps alive for one ubatch, beside `compute.py`'s FFN and attention phases.

Mamba-2 in granitehybrid and nemotron_h(_moe) follows llama.cpp's graph tensor by tensor
(`mamba2_graph_floats`). The rest are fits of the same shape: per token of the ubatch, the
residual stream and the layer's projections (x, z, the conv input and output, the scan
output); per sequence, the gathered recurrent state and the new state the scan writes
(llama-graph.cpp build_rs, src/models/delta-net-base.cpp build_delta_net_fused, mamba-base.cpp
build_mamba2_layer). The weights are fitted on llama.cpp's own dry run (xllamacpp 2026.10 CPU
build, ctx 4096, ubatch 256 and 512, 1 and 4 sequences; the KQ mask taken out, least squares,
rounded):
- gated delta net (qwen3next, qwen35, qwen35moe): 32 shapes, n_embd 1024-2048, 16-32 value
  heads, 8-16 key heads of 128; within 13 % each (ggml-alloc's holes move with the shape),
- Mamba-2 (falcon-h1, mamba2): fitted on 32 shapes of all five Mamba-2 architectures, n_embd
  1024-2048, d_inner 2048-4096, 1-8 groups of state 128; within 14 % each.
"""

from __future__ import annotations

from vramtui.core.estimate.hparams import ModelHparams

DELTA_NET = frozenset({"qwen3next", "qwen35", "qwen35moe"})
MAMBA2 = frozenset({"mamba2", "granitehybrid", "nemotron_h", "nemotron_h_moe", "falcon-h1"})
# Mamba-2 hybrids whose layer is build_mamba2_layer between a norm and the residual add
# (src/models/granite-hybrid.cpp, nemotron-h.cpp): the graph rule below.
MAMBA2_GRAPH = frozenset({"granitehybrid", "nemotron_h", "nemotron_h_moe"})
# The residual stream, norms and graph inputs alive through a layer (estimate/compute.py).
BASE_EMBD = 5

# floats per token: x n_embd, x value width (d_inner), x key width (n_group x d_state)
DN_EMBD, DN_VALUE, DN_KEY = 2, 3, 5
DN_STATES = 2.5  # the gathered state, the new state and part of a copy, per sequence
# floats per token: x n_embd, x d_inner, x the B and C width (2 x n_group x d_state)
M2_EMBD, M2_INNER, M2_BC = 5, 5, 2.25
M2_STATES = 1.5


def recurrent_phase_bytes(hp: ModelHparams, n_ubatch: int, n_seqs: int) -> int:
    """Bytes a recurrent layer of `hp` keeps alive at its peak (without the KQ masks); 0 for
    an architecture without such layers or one these fits do not cover."""
    if not any(hp.is_recurrent):
        return 0
    key = hp.ssm_n_group * hp.ssm_d_state
    state = 4 * hp.n_embd_s * max(n_seqs, 1)
    if hp.arch in DELTA_NET:
        dn_tok = DN_EMBD * hp.n_embd + DN_VALUE * hp.d_inner + DN_KEY * key
        return int(4 * n_ubatch * dn_tok + DN_STATES * state)
    if hp.arch in MAMBA2_GRAPH and hp.d_inner:
        return 4 * mamba2_graph_floats(hp, n_ubatch, max(n_seqs, 1))
    if hp.arch in MAMBA2:
        m2_tok = M2_EMBD * hp.n_embd + M2_INNER * hp.d_inner + M2_BC * 2 * key
        return int(4 * n_ubatch * m2_tok + M2_STATES * state)
    return 0


def mamba2_graph_floats(hp: ModelHparams, n_tokens: int, n_seqs: int) -> int:
    """Floats alive at a Mamba-2 layer's peak (src/models/mamba-base.cpp build_mamba2_layer),
    for a ubatch of `n_tokens` over `n_seqs` sequences, with d_xBC = d_inner + 2 n_group d_state
    and the SSM heads H = time_step_rank:

    - the residual stream and norms: `BASE_EMBD` x n_embd per token;
    - zxBCdt, the input projection, alive until z and dt are read after the scan:
      2 d_inner + 2 n_group d_state + H per token;
    - conv_x, the concat of the gathered conv states and xBC (ggml_concat):
      d_xBC x (n_tokens + n_seqs (d_conv - 1)), freed after ggml_ssm_conv, a hole from then on;
    - xBC, the ggml_ssm_conv output (bias and SiLU in place), d_xBC per token, alive until
      x x D after the scan;
    - the scan output (ggml_ssm_scan: y and the new states concatenated),
      d_inner per token + n_seqs x n_embd_s; it reuses conv_x's hole when it fits there, and
      then the next d_inner-wide tensor (x x D) lands above, so only its states drop out;
    - the gathered conv states (llama-graph.cpp build_rs: ggml_get_rows), n_seqs x n_embd_r;
    - the extra states gathered for the copy back (build_rs, s_copy_tail: n_seqs - 1 of them),
      which stay as a hole above everything unless conv_x is larger and covers them.

    Held to llama.cpp's CPU dry run (xllamacpp 2026.10, ctx 4096, ubatch 256-512, 1-8
    sequences; granitehybrid n_embd 2048, d_inner 4096, 1 and 8 groups, state 128; nemotron_h
    n_embd 1024-2048, d_inner 2048-4096, 2-8 groups, state 64-128): within 0.13 n_embd_s each
    but two single-sequence shapes where the scan output would fit conv_x's hole with room to
    spare (over 500,000 floats) yet llama.cpp keeps its states above: 1 n_embd_s short, -2.4 %
    (nemotron_h n_embd 1024) and -2.7 % (granitehybrid with 8 groups) of the buffer.
    """
    dx = hp.d_inner + 2 * hp.ssm_n_group * hp.ssm_d_state
    proj = 2 * hp.d_inner + 2 * hp.ssm_n_group * hp.ssm_d_state + hp.ssm_dt_rank
    d_conv_1 = hp.n_embd_r // dx if dx else 0
    conv_x = dx * (n_tokens + n_seqs * d_conv_1)
    states = n_seqs * hp.n_embd_s
    y_fits = hp.d_inner * n_tokens + states <= conv_x
    floats = n_tokens * (BASE_EMBD * hp.n_embd + proj + 2 * dx + hp.d_inner)
    floats += n_seqs * hp.n_embd_r + (0 if y_fits else states)
    extra = (n_seqs - 1) * hp.n_embd_s
    return floats + (extra if extra > conv_x else 0)


def granite_ffn_extra_floats(hp: ModelHparams) -> int:
    """Floats per token granitehybrid's feed-forward phase keeps beyond the generic one: one
    n_embd once an attention layer follows a Mamba-2 layer that follows an attention layer.

    Measured, cause not traced (a hole the second attention layer leaves under its FFN):
    llama.cpp's CPU dry run (xllamacpp 2026.10, n_embd 2048, n_ff 8192 and 12288, 1 and 4
    sequences, ubatch 256 and 512) gives +n_embd for layer strings AMA, AMMA, AMMMA, AMMAM,
    MAMMAM and Granite-4.0-H-Micro's (attention at 10, 13, 17, 27 of 40), none for MAMM,
    MMAMM, MMMA, AMMM and AA. Dense feed-forwards only: with experts (Granite-4.0-H-Tiny,
    A after M after A) llama.cpp keeps no such n_embd (+3.3 % with it)."""
    if hp.arch != "granitehybrid" or hp.n_expert:
        return 0
    seen_attn = seen_rec_after = False
    for rec in hp.is_recurrent:
        if not rec and seen_rec_after:
            return hp.n_embd
        seen_rec_after = seen_rec_after or (rec and seen_attn)
        seen_attn = seen_attn or not rec
    return 0
