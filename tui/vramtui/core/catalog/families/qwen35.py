"""Qwen3.5 / Qwen3.6 (`qwen35` dense, `qwen35moe`): gated delta-net layers with full attention
every `full_attention_interval` layers (or where `attention.recurrent_layers` says 0).

Shapes follow llama.cpp src/models/qwen35.cpp and qwen35moe.cpp `load_arch_tensors`: a
recurrent layer holds attn_qkv [n_embd, 2 key_dim + value_dim], attn_gate [n_embd, value_dim],
a depthwise conv over q/k/v, per-head dt bias, A, beta and alpha projections, a norm of one head
and ssm_out; head_k_dim = head_v_dim = ssm.state_size, n_k_heads = ssm.group_count, n_v_heads =
ssm.time_step_rank. An attention layer has a gated Q (2 n_head x head_dim) and Q/K norms.
"""

from __future__ import annotations

from vramtui.core.catalog.families.rows import Md, Row, experts, f32, ffn, io, mat, qkvo, vec

ARCHITECTURES = frozenset({"qwen35", "qwen35moe"})


def recurrent_layers(m: Md, n_layer: int) -> list[bool]:
    """llama.cpp load_arch_hparams: the `attention.recurrent_layers` array if present, else
    every layer but each `full_attention_interval`-th (default 4)."""
    arr = m.md.get(f"{m.arch}.attention.recurrent_layers")
    if isinstance(arr, tuple) and arr:
        flags = [bool(x) for x in arr] + [False] * n_layer
        return flags[:n_layer]
    iv = max(m.num("full_attention_interval", 4), 1)
    return [(il + 1) % iv != 0 for il in range(n_layer)]


def _delta_net(p: str, m: Md, n_embd: int) -> list[Row]:
    d_conv = m.num("ssm.conv_kernel")
    head_dim = m.num("ssm.state_size")
    key_dim = head_dim * m.num("ssm.group_count")
    n_v_heads = m.num("ssm.time_step_rank")
    value_dim = head_dim * n_v_heads
    conv_dim = 2 * key_dim + value_dim
    return [
        mat(p + "attn_qkv.weight", n_embd, conv_dim),
        mat(p + "attn_gate.weight", n_embd, value_dim),
        f32(p + "ssm_conv1d.weight", d_conv, conv_dim),
        vec(p + "ssm_dt.bias", n_v_heads),
        vec(p + "ssm_a", n_v_heads),
        mat(p + "ssm_beta.weight", n_embd, n_v_heads),
        mat(p + "ssm_alpha.weight", n_embd, n_v_heads),
        vec(p + "ssm_norm.weight", head_dim),
        mat(p + "ssm_out.weight", value_dim, n_embd),
    ]


def tensors(m: Md, n_vocab: int) -> list[Row]:
    n_layer, n_embd = m.num("block_count"), m.num("embedding_length")
    n_head = m.num("attention.head_count")
    n_head_kv = m.num("attention.head_count_kv")
    hd = m.num("attention.key_length", n_embd // max(n_head, 1))
    rec = recurrent_layers(m, n_layer)
    rows = io(n_embd, n_vocab, tied=m.tied)
    for il in range(n_layer):
        p = f"blk.{il}."
        rows += [vec(p + "attn_norm.weight", n_embd), vec(p + "post_attention_norm.weight", n_embd)]
        if rec[il]:
            rows += _delta_net(p, m, n_embd)
        else:
            rows += qkvo(p, n_embd, 2 * n_head * hd, (n_head_kv * hd, n_head_kv * hd), n_head * hd)
            rows += [vec(p + "attn_q_norm.weight", hd), vec(p + "attn_k_norm.weight", hd)]
        if m.arch == "qwen35":
            rows += ffn(p, n_embd, m.per_layer("feed_forward_length", n_layer)[il])
            continue
        n_ff_exp = m.num("expert_feed_forward_length")
        shexp = m.num("expert_shared_feed_forward_length", n_ff_exp)
        rows += experts(p, n_embd, n_ff_exp, m.num("expert_count"))
        rows.append(vec(p + "ffn_gate_inp_shexp.weight", n_embd))
        rows += ffn(p, n_embd, shexp, suffix="_shexp")
    return rows
