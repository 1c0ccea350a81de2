"""Kimi-K3 (`kimi-k3`) compute terms beside kimi-linear's (src/models/kimi-k3.cpp graph):

- the dense feed-forward runs the situ activation (kimi_k3_situ: gate and up each scaled, put
  through tanh and scaled back, the gate times its sigmoid) instead of a fused SwiGLU; ggml-alloc
  keeps two n_ff-wide tensors and six n_embd-wide ones alive at its peak, where the fused
  SwiGLU keeps three and five (`compute.py` `_ffn_floats`);
- cross-layer residual attention (`attn_res.block_size` > 0) banks the raw layer input every
  block_size layers into a stack [n_embd, n_ckpt, n_tokens] (res_push: an append-only concat)
  that every later layer scores (res_mix), so the stack is alive through the graph: one
  n_embd per checkpoint per token.

  Each res_mix also normalizes the whole stack and the next push copies it into a stack one
  checkpoint longer, so a layer late in the graph holds about three stacks at once: the
  residual phase keeps 3 x n_ckpt + 3 n_embd-wide tensors per token and a fixed part.

Fitted on llama.cpp's own dry run (xllamacpp CPU build, ctx 4096, ubatch 512,
tests/oracle/k3m3_models.py's layout, its KQ mask taken out):
- dense FFN: n_ff 6,144 to 16,384 at n_embd 1,024 and n_ff 8,192 at n_embd 2,048, each exactly
  2 n_ff + 6 n_embd floats per token;
- residual phase: 24 layers banking 6 and 12 checkpoints at n_embd 1,024 and 2,048, each within
  0.5 % of (3 n_ckpt + 3) n_embd + `RES_FIXED`; 8 layers with 2 checkpoints at n_embd 1,024
  +1.6 %, at 2,048 +15 % (there another phase sets the peak, lower than this one).
"""

from __future__ import annotations

ARCH = "kimi-k3"
SITU_FF, SITU_EMBD = 2, 6
RES_STACKS, RES_EMBD = 3, 3
# The residual phase's part that does not grow with n_embd or the checkpoints, at the fitted
# layout (8 KDA heads of 128, 4 of 32 experts 512 wide, 8 MLA heads): fitted, not derived.
RES_FIXED = 7424


def dense_ffn_floats(n_ff: int, n_embd: int, base_embd: int) -> int:
    """Floats per token a dense situ FFN layer keeps beyond `base_embd` x n_embd."""
    return SITU_FF * n_ff + (SITU_EMBD - base_embd) * n_embd


def checkpoints(n_layer: int, block_size: int) -> int:
    """Residual checkpoints banked over the layers: layer il is banked where il % block_size
    is 0 (0 without cross-layer residual attention)."""
    if block_size <= 0 or n_layer <= 0:
        return 0
    return (n_layer + block_size - 1) // block_size


def residual_stack_floats(n_layer: int, block_size: int, n_embd: int) -> int:
    """Floats per token of the residual stack alive beside the attention phase."""
    return checkpoints(n_layer, block_size) * n_embd


def residual_phase_floats(n_layer: int, block_size: int, n_embd: int) -> int:
    """Floats per token at the residual phase's peak (0 without cross-layer residual
    attention)."""
    n_ckpt = checkpoints(n_layer, block_size)
    if n_ckpt == 0:
        return 0
    return (RES_STACKS * n_ckpt + RES_EMBD) * n_embd + RES_FIXED
