"""The quantization mix: which ggml type each tensor gets for a llama.cpp file type.

Follows llama.cpp `src/llama-quant.cpp` `llama_tensor_get_type`, the rules that matter for
size: output / attn_v / ffn_down bumps, fallbacks for rows that do not divide the block size,
and tensors that stay F32.
"""

from __future__ import annotations

from vramtui.core.catalog.synth_tensors import RawTensor
from vramtui.core.gguf.ggml_types import ggml_type_by_name
from vramtui.core.gguf.spec import layer_index

# llama_ftype ids (include/llama.h) for general.file_type.
FTYPES: dict[str, int] = {
    "F32": 0,
    "F16": 1,
    "Q4_0": 2,
    "Q4_1": 3,
    "Q8_0": 7,
    "Q5_0": 8,
    "Q5_1": 9,
    "Q2_K": 10,
    "Q3_K_S": 11,
    "Q3_K_M": 12,
    "Q3_K_L": 13,
    "Q4_K_S": 14,
    "Q4_K_M": 15,
    "Q5_K_S": 16,
    "Q5_K_M": 17,
    "Q6_K": 18,
    "IQ2_XXS": 19,
    "IQ2_XS": 20,
    "Q2_K_S": 21,
    "IQ3_XS": 22,
    "IQ3_XXS": 23,
    "IQ1_S": 24,
    "IQ4_NL": 25,
    "IQ3_S": 26,
    "IQ3_M": 27,
    "IQ2_S": 28,
    "IQ2_M": 29,
    "IQ4_XS": 30,
    "IQ1_M": 31,
    "BF16": 32,
    "TQ1_0": 36,
    "TQ2_0": 37,
    "MXFP4": 38,
    "MXFP4_MOE": 38,
}

# Base tensor type of each ftype (llama-quant.cpp llama_model_quantize_impl switch).
BASE_TYPES: dict[str, str] = {
    "F32": "F32",
    "F16": "F16",
    "BF16": "BF16",
    "Q4_0": "Q4_0",
    "Q4_1": "Q4_1",
    "Q5_0": "Q5_0",
    "Q5_1": "Q5_1",
    "Q8_0": "Q8_0",
    "Q2_K": "Q2_K",
    "Q2_K_S": "Q2_K",
    "Q3_K_S": "Q3_K",
    "Q3_K_M": "Q3_K",
    "Q3_K_L": "Q3_K",
    "Q4_K_S": "Q4_K",
    "Q4_K_M": "Q4_K",
    "Q5_K_S": "Q5_K",
    "Q5_K_M": "Q5_K",
    "Q6_K": "Q6_K",
    "IQ2_XXS": "IQ2_XXS",
    "IQ2_XS": "IQ2_XS",
    "IQ2_S": "IQ2_XS",
    "IQ2_M": "IQ2_S",
    "IQ3_XS": "IQ3_S",
    "IQ3_XXS": "IQ3_XXS",
    "IQ3_S": "IQ3_S",
    "IQ3_M": "IQ3_S",
    "IQ1_S": "IQ1_S",
    "IQ1_M": "IQ1_M",
    "IQ4_NL": "IQ4_NL",
    "IQ4_XS": "IQ4_XS",
    "TQ1_0": "TQ1_0",
    "TQ2_0": "TQ2_0",
    "MXFP4": "Q8_0",
    "MXFP4_MOE": "Q8_0",
}

# Fallback when a row does not divide the block size (llama-quant.cpp: incompatible tensors).
_FALLBACK: dict[str, str] = {
    "TQ1_0": "Q4_0",
    "TQ2_0": "Q4_0",
    "IQ2_XXS": "Q4_0",
    "IQ2_XS": "Q4_0",
    "IQ2_S": "Q4_0",
    "IQ3_XXS": "Q4_0",
    "IQ3_S": "Q4_0",
    "IQ1_S": "Q4_0",
    "IQ1_M": "Q4_0",
    "Q2_K": "Q4_0",
    "Q3_K": "IQ4_NL",
    "IQ4_XS": "IQ4_NL",
    "Q4_K": "Q5_0",
    "Q5_K": "Q5_1",
    "Q6_K": "Q8_0",
}

# Tensors llama-quant.cpp never quantizes (kept as the converter wrote them, F32 here).
_KEEP_F32 = (
    "ffn_gate_inp",
    "ssm_conv1d",
    "ssm_a",
    "ssm_d",
    "ssm_dt",
    "attn_sinks",
    "exp_probs_b",
    "shortconv.conv",
    "pos_embd",
    "token_types",
    "ssm_norm",
    "rope_freqs",
)


def _use_more_bits(i: int, n: int) -> bool:
    """llama-quant.cpp use_more_bits: first/last eighth and every third layer between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _layer_of(name: str) -> int:
    if name.startswith("blk."):
        return layer_index(name)
    return 0


class QuantMix:
    """Per-tensor type choice after llama-quant.cpp llama_tensor_get_type (size-relevant rules)."""

    def __init__(
        self,
        quant: str,
        arch: str,
        *,
        n_layer: int,
        n_attn_v: int,
        n_expert: int,
        n_gqa: int,
        has_output: bool,
    ) -> None:
        self.q = quant
        self.arch = arch
        self.n_layer = max(n_layer, 1)
        self.n_attn_v = max(n_attn_v, 1)
        self.i_attn_v = 0
        self.n_expert = n_expert
        self.n_gqa = n_gqa
        self.has_output = has_output

    def choose(self, t: RawTensor) -> str:
        q = self.q
        if "tid2eid" in t.name:  # DeepSeek-V4 hash routing table (conversion/deepseek.py: I32)
            return "I32"
        if t.f32 or len(t.shape) < 2 or any(k in t.name for k in _KEEP_F32):
            return "F32"
        if self.arch == "gpt-oss" and "_exps" in t.name:
            # gpt-oss ships its experts in MXFP4 and the converter keeps them so at every file
            # type (ggml-org gpt-oss-120b-F16.gguf is 60.87 GiB, not ~230: llama.cpp#15105).
            return "MXFP4"
        if q in {"F32", "F16", "BF16"}:
            return q
        if q in {"MXFP4", "MXFP4_MOE"}:  # gpt-oss releases: MXFP4 experts, Q8_0 elsewhere
            return "MXFP4" if "_exps" in t.name else "Q8_0"
        return _fit_rows(self._bumped(t.name, BASE_TYPES[q]), t.shape[0])

    def _bumped(self, name: str, base: str) -> str:
        """The type after the per-tensor bumps (more bits where quality needs them)."""
        q = self.q
        new = base
        if name == "output.weight" or (not self.has_output and name == "token_embd.weight"):
            if q not in {"Q8_0"} and not q.startswith(("IQ1", "IQ2", "IQ3")):
                new = "Q6_K"
            elif q.startswith(("IQ1", "IQ2", "IQ3")):
                new = "Q5_K"
        elif name == "token_embd.weight":
            if q.startswith(("IQ1", "IQ2")):
                new = "Q2_K"
            elif q.startswith("IQ3"):
                new = "IQ3_S"
        elif "attn_v.weight" in name:
            i = self.i_attn_v
            self.i_attn_v += 1
            if q == "Q2_K":
                new = "Q4_K" if self.n_gqa >= 4 else "Q3_K"
            elif q == "Q3_K_M":
                new = "Q5_K" if i < 2 else "Q4_K"
            elif q == "Q3_K_L":
                new = "Q5_K"
            elif q in {"Q4_K_M", "Q5_K_M"} and _use_more_bits(i, self.n_attn_v):
                new = "Q6_K"
            elif (q == "Q4_K_S" and i < 4) or (q in {"IQ4_XS", "IQ4_NL"} and self.n_gqa >= 4):
                new = "Q5_K"
            if self.n_expert == 8 and q not in {"Q8_0", "Q6_K"}:
                new = "Q8_0"
        elif "ffn_down" in name:
            i = _layer_of(name)
            n = self.n_layer
            if q == "Q2_K":
                new = "Q3_K"
            elif q == "Q3_K_M":
                new = "Q5_K" if i < n // 16 else "Q4_K"
            elif q == "Q3_K_L":
                new = "Q5_K"
            elif q in {"Q4_K_M", "Q5_K_M"} and _use_more_bits(i, n):
                new = "Q6_K"
            elif q == "Q4_K_S" and i < n // 8:
                new = "Q5_K"
        elif "attn_output.weight" in name:
            if self.n_expert == 8:
                if q in {"Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S"}:
                    new = "Q5_K"
            elif q == "Q2_K":
                new = "Q3_K"
            elif q == "Q3_K_M":
                new = "Q4_K"
            elif q == "Q3_K_L":
                new = "Q5_K"
        elif "attn_qkv.weight" in name:
            if q in {"Q3_K_M", "Q3_K_L"}:
                new = "Q4_K"
            elif q == "Q4_K_M":
                new = "Q5_K"
            elif q == "Q5_K_M":
                new = "Q6_K"
        return new


def _fit_rows(type_name: str, ne0: int) -> str:
    """Rows that do not divide the type's block size fall back (llama-quant.cpp)."""
    new = type_name
    block = ggml_type_by_name(new).block_size
    while ne0 % block:
        fb = _FALLBACK.get(new, "F16")
        if fb == new:
            break
        new = fb
        block = ggml_type_by_name(new).block_size
    return new


__all__ = ["BASE_TYPES", "FTYPES", "QuantMix"]
