"""Write a tiny but real llama GGUF: 2 layers, a byte-level vocab, small random f32 weights.

llama.cpp loads it in milliseconds and generates (nonsense) tokens, which is all the probe needs
to exercise a real server end to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vramtui.core.gguf.spec import TensorInfo
from vramtui.core.gguf.writer import WriteValue, byte_vocabulary, write_gguf


@dataclass
class LlamaServer:
    """The session's running llama.cpp server (see tests/probe/conftest.py llama_server)."""

    url: str
    model_path: Path
    n_ctx: int


N_EMBD = 64
N_HEAD = 4
N_FF = 128
N_LAYER = 2
N_CTX_TRAIN = 4096
N_VOCAB = 3 + 256  # <unk>, <s>, </s> and one token per byte value
F32 = 0


def _metadata() -> dict[str, WriteValue]:
    md: dict[str, WriteValue] = {
        "general.name": "tiny-probe-llama",
        "llama.context_length": N_CTX_TRAIN,
        "llama.embedding_length": N_EMBD,
        "llama.block_count": N_LAYER,
        "llama.feed_forward_length": N_FF,
        "llama.attention.head_count": N_HEAD,
        "llama.attention.head_count_kv": N_HEAD,
        "llama.attention.layer_norm_rms_epsilon": 1e-5,
        "llama.rope.dimension_count": N_EMBD // N_HEAD,
        "general.file_type": 0,  # all f32
    }
    md.update(byte_vocabulary(N_VOCAB))
    md["tokenizer.ggml.add_bos_token"] = True
    md["tokenizer.ggml.add_eos_token"] = False
    return md


def _weights(seed: int) -> dict[str, np.ndarray]:
    """name -> array in numpy order (outermost dimension first), in the file's order."""
    rng = np.random.default_rng(seed)

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    def ones() -> np.ndarray:
        return np.ones(N_EMBD, dtype=np.float32)

    w = {"token_embd.weight": rand(N_VOCAB, N_EMBD), "output_norm.weight": ones()}
    w["output.weight"] = rand(N_VOCAB, N_EMBD)
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w[p + "attn_norm.weight"] = ones()
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w[p + name + ".weight"] = rand(N_EMBD, N_EMBD)
        w[p + "ffn_norm.weight"] = ones()
        w[p + "ffn_gate.weight"] = rand(N_FF, N_EMBD)
        w[p + "ffn_up.weight"] = rand(N_FF, N_EMBD)
        w[p + "ffn_down.weight"] = rand(N_EMBD, N_FF)
    return w


def write_tiny_llama(path: Path, seed: int = 0) -> Path:
    weights = _weights(seed)
    tensors = [TensorInfo(n, tuple(reversed(a.shape)), F32) for n, a in weights.items()]
    data = {name: a.tobytes() for name, a in weights.items()}
    return write_gguf(path, "llama", _metadata(), tensors, data=data)[0].path
