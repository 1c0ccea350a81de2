"""Tensor tables of the MLA families beyond deepseek2: DeepSeek-V3.2 (`deepseek32`), GLM-5
(`glm-dsa`) and Mistral 4 (`mistral4`), with their NextN/MTP blocks.

Shapes follow llama.cpp (GGUF order, ne0 first):
- src/models/deepseek32.cpp and src/models/glm-dsa.cpp `load_arch_tensors`: deepseek2's MLA
  block (q_a/q_b low-rank query, kv_a_mqa latent + rope, split k_b/v_b) plus the lightning
  indexer (`indexer.attn_q_b` q_lora -> n_idx_head x idx_head, `indexer.attn_k` n_embd ->
  idx_head, `indexer.k_norm` weight and bias, `indexer.proj` n_embd -> n_idx_head);
- src/models/models.h `llama_model_mistral4`: a deepseek2 model (same loader);
- the trailing `nextn_predict_layers` blocks are whole decoder blocks plus `nextn.eh_proj`
  (2 n_embd -> n_embd), `nextn.enorm`, `nextn.hnorm`, `nextn.shared_head_norm`, as the
  converter writes them (gguf-py/gguf/constants.py MODEL_TENSOR.NEXTN_*).
"""

from __future__ import annotations

from collections.abc import Mapping

from vramtui.core.catalog.families.rows import Md, Row, mat, vec
from vramtui.core.gguf.spec import MetaValue

MLA_ARCHITECTURES = frozenset({"deepseek32", "glm-dsa", "mistral4"})
_INDEXED = frozenset({"deepseek32", "glm-dsa"})


def _attn(p: str, m: Md, n_embd: int) -> list[Row]:
    n_head = m.num("attention.head_count")
    q_lora = m.num("attention.q_lora_rank")
    kv_lora = m.num("attention.kv_lora_rank")
    n_rot = m.num("rope.dimension_count", 64)
    hk = m.num("attention.key_length_mla")
    hv = m.num("attention.value_length_mla")
    if q_lora:
        t = [
            mat(p + "attn_q_a.weight", n_embd, q_lora),
            vec(p + "attn_q_a_norm.weight", q_lora),
            mat(p + "attn_q_b.weight", q_lora, n_head * hk),
        ]
    else:
        t = [mat(p + "attn_q.weight", n_embd, n_head * hk)]
    return [
        *t,
        mat(p + "attn_kv_a_mqa.weight", n_embd, kv_lora + n_rot),
        vec(p + "attn_kv_a_norm.weight", kv_lora),
        mat(p + "attn_k_b.weight", hk - n_rot, kv_lora, n_head),
        mat(p + "attn_v_b.weight", kv_lora, hv, n_head),
        mat(p + "attn_output.weight", n_head * hv, n_embd),
    ]


def _indexer(p: str, m: Md, n_embd: int) -> list[Row]:
    n_idx = m.num("attention.indexer.head_count")
    hd = m.num("attention.indexer.key_length")
    return [
        vec(p + "indexer.k_norm.weight", hd),
        vec(p + "indexer.k_norm.bias", hd),
        mat(p + "indexer.proj.weight", n_embd, n_idx),
        mat(p + "indexer.attn_k.weight", n_embd, hd),
        mat(p + "indexer.attn_q_b.weight", m.num("attention.q_lora_rank"), n_idx * hd),
    ]


def _ffn(p: str, m: Md, n_embd: int, dense: bool) -> list[Row]:
    if dense:
        n_ff = m.num("feed_forward_length")
        return [
            mat(p + "ffn_gate.weight", n_embd, n_ff),
            mat(p + "ffn_down.weight", n_ff, n_embd),
            mat(p + "ffn_up.weight", n_embd, n_ff),
        ]
    n_exp, n_ff_exp = m.num("expert_count"), m.num("expert_feed_forward_length")
    shexp = n_ff_exp * m.num("expert_shared_count", 1)
    t = [
        (p + "ffn_gate_inp.weight", (n_embd, n_exp), True),
        mat(p + "ffn_gate_exps.weight", n_embd, n_ff_exp, n_exp),
        mat(p + "ffn_down_exps.weight", n_ff_exp, n_embd, n_exp),
        mat(p + "ffn_up_exps.weight", n_embd, n_ff_exp, n_exp),
    ]
    if m.num("expert_gating_func") == 2 or m.arch == "glm-dsa":  # sigmoid routing: a bias
        t.append(vec(p + "exp_probs_b.bias", n_exp))
    return [
        *t,
        mat(p + "ffn_gate_shexp.weight", n_embd, shexp),
        mat(p + "ffn_down_shexp.weight", shexp, n_embd),
        mat(p + "ffn_up_shexp.weight", n_embd, shexp),
    ]


def mla_tensors(md: Mapping[str, MetaValue], n_vocab: int) -> list[Row] | None:
    """The converter's tensor table for an MLA family of this module, or None for any other."""
    arch = md.get("general.architecture")
    if not isinstance(arch, str) or arch not in MLA_ARCHITECTURES:
        return None
    m = Md(md, arch)
    n_embd, n_layer = m.num("embedding_length"), m.num("block_count")
    n_nextn = m.num("nextn_predict_layers")
    t = [mat("token_embd.weight", n_embd, n_vocab), vec("output_norm.weight", n_embd)]
    if md.get("vramtui.tied_embeddings") is not True:
        t.append(mat("output.weight", n_embd, n_vocab))
    n_dense = m.num("leading_dense_block_count")
    for il in range(n_layer):
        p = f"blk.{il}."
        t.append(vec(p + "attn_norm.weight", n_embd))
        t += _attn(p, m, n_embd)
        t.append(vec(p + "ffn_norm.weight", n_embd))
        if arch in _INDEXED:
            t += _indexer(p, m, n_embd)
        t += _ffn(p, m, n_embd, il < n_dense)
        if il >= n_layer - n_nextn:
            t += [
                mat(p + "nextn.eh_proj.weight", 2 * n_embd, n_embd),
                vec(p + "nextn.enorm.weight", n_embd),
                vec(p + "nextn.hnorm.weight", n_embd),
                vec(p + "nextn.shared_head_norm.weight", n_embd),
            ]
    return t
