"""Header read: vramtui vs gguf.GGUFReader on a Qwen3-32B-shaped file with the Qwen vocab.

The file is written once to a temporary folder with gguf.GGUFWriter: the Qwen tokenizer
(151,936 tokens, 151,387 merges, token types), Qwen3-32B hyperparameters and its 707-tensor
table (64 layers, Q4_K with Q6_K ffn_down/output), extended sparsely to its full ~19 GB with
os.truncate. Both readers read it; the scalars and tensor infos must agree.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.gguf_files import gguf_py_view, qwen_vocab_metadata, write_gguf
from vramtui.core.gguf.reader import read_gguf_header

N_LAYERS, N_EMBD, N_HEAD, N_HEAD_KV, HEAD_DIM, N_FF, N_VOCAB = 64, 5120, 64, 8, 128, 25600, 151936
Q4_K, Q6_K, F32 = 12, 14, 0


def qwen3_32b_tensors() -> list[tuple[str, tuple[int, ...], int]]:
    rows: list[tuple[str, tuple[int, ...], int]] = [("token_embd.weight", (N_EMBD, N_VOCAB), Q4_K)]
    q, kv = N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM
    for i in range(N_LAYERS):
        p = f"blk.{i}."
        rows += [
            (p + "attn_norm.weight", (N_EMBD,), F32),
            (p + "attn_q.weight", (N_EMBD, q), Q4_K),
            (p + "attn_k.weight", (N_EMBD, kv), Q4_K),
            (p + "attn_v.weight", (N_EMBD, kv), Q6_K if i % 2 == 0 else Q4_K),
            (p + "attn_output.weight", (q, N_EMBD), Q4_K),
            (p + "attn_q_norm.weight", (HEAD_DIM,), F32),
            (p + "attn_k_norm.weight", (HEAD_DIM,), F32),
            (p + "ffn_norm.weight", (N_EMBD,), F32),
            (p + "ffn_gate.weight", (N_EMBD, N_FF), Q4_K),
            (p + "ffn_up.weight", (N_EMBD, N_FF), Q4_K),
            (p + "ffn_down.weight", (N_FF, N_EMBD), Q6_K if i % 2 == 0 else Q4_K),
        ]
    rows.append(("output_norm.weight", (N_EMBD,), F32))
    rows.append(("output.weight", (N_EMBD, N_VOCAB), Q6_K))
    return rows


def write_model(folder: Path) -> Path:
    arch = "qwen3"
    meta: dict[str, Any] = {
        "general.name": "Qwen3 32B (bench)",
        "general.file_type": 15,
        f"{arch}.block_count": N_LAYERS,
        f"{arch}.context_length": 40960,
        f"{arch}.embedding_length": N_EMBD,
        f"{arch}.feed_forward_length": N_FF,
        f"{arch}.attention.head_count": N_HEAD,
        f"{arch}.attention.head_count_kv": N_HEAD_KV,
        f"{arch}.attention.key_length": HEAD_DIM,
        f"{arch}.attention.value_length": HEAD_DIM,
        f"{arch}.rope.freq_base": 1000000.0,
        f"{arch}.attention.layer_norm_rms_epsilon": 1e-6,
    }
    meta.update(qwen_vocab_metadata())
    meta["general.name"] = "Qwen3 32B (bench)"
    return write_gguf(folder / "Qwen3-32B-Q4_K_M.gguf", arch, meta, qwen3_32b_tensors())


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="vramtui-bench-") as tmp:
        started = time.perf_counter()
        path = write_model(Path(tmp))
        size = path.stat().st_size
        print(
            f"wrote {path.name}: {size / 2**30:.1f} GiB (sparse), header written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        ours = []
        for _ in range(7):
            t0 = time.perf_counter()
            header = read_gguf_header(path)
            ours.append(time.perf_counter() - t0)
        best = min(ours)
        print(
            f"header {header.header_size / 2**20:.2f} MiB, {len(header.tensors)} tensors, "
            f"{len(header.metadata)} keys"
        )
        print(f"vramtui read_gguf_header: best {best * 1e3:8.1f} ms of {len(ours)} runs")
        t0 = time.perf_counter()
        meta, tensors, data_offset = gguf_py_view(path)
        theirs = time.perf_counter() - t0
        print(f"gguf.GGUFReader         : {theirs * 1e3:8.1f} ms (one run)")
        print(f"ratio                   : {theirs / best:8.0f}x faster")
        mine = [
            (t.name, t.shape, t.ggml_type, header.data_offset + t.offset, t.n_elements)
            for t in header.tensors
        ]
        agree = meta == header.metadata and tensors == mine and data_offset == header.data_offset
        print(f"scalars and tensor infos agree: {'yes' if agree else 'NO'}")
        if not agree:
            raise SystemExit("the readers disagree")


if __name__ == "__main__":
    main()
