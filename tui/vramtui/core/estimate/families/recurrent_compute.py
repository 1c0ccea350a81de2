"""The recurrent layers' phase of the compute buffer: what a gated delta-net or Mamba-2 layer
keeps alive for one ubatch, beside `compute.py`'s FFN and attention phases.

Both follow the same shape: per token of the ubatch, the residual stream and the layer's
projections (x, z, the conv input and output, the scan output); per sequence, the gathered
recurrent state and the new state the scan writes (llama-graph.cpp build_rs,
src/models/delta-net-base.cpp build_delta_net_fused, mamba-base.cpp build_mamba2_layer). The
weights are fitted on llama.cpp's own dry run (xllamacpp 2026.10 CPU build, ctx 4096, ubatch
256 and 512, 1 and 4 sequences; the KQ mask taken out, least squares, rounded):
- gated delta net (qwen3next, qwen35, qwen35moe): 32 shapes, n_embd 1024-2048, 16-32 value
  heads, 8-16 key heads of 128; within 13 % each (ggml-alloc's holes move with the shape),
- Mamba-2 (granitehybrid, nemotron_h, falcon-h1, mamba2): 32 shapes, n_embd 1024-2048,
  d_inner 2048-4096, 1-8 groups of state 128; within 14 % each.
"""

from __future__ import annotations

from vramtui.core.estimate.hparams import ModelHparams

DELTA_NET = frozenset({"qwen3next", "qwen35", "qwen35moe"})
MAMBA2 = frozenset({"mamba2", "granitehybrid", "nemotron_h", "nemotron_h_moe", "falcon-h1"})

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
    if hp.arch in MAMBA2:
        m2_tok = M2_EMBD * hp.n_embd + M2_INNER * hp.d_inner + M2_BC * 2 * key
        return int(4 * n_ubatch * m2_tok + M2_STATES * state)
    return 0
