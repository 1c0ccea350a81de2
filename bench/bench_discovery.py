"""Local discovery: list 200 models cold and warm, beside reading the same headers with gguf-py.

200 sparse GGUF files (Qwen3-32B / Llama-3.1-8B / GLM-4.7-Flash shapes, with a real-size
tokenizer in a quarter of them) spread over fake LM Studio, HF cache and user folders.
Cold = header cache empty (parallel header reads); warm = the second listing (stat only).
The peer: `gguf.GGUFReader` (gguf-py, what most Python tools use) opening the same 200 files.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from vramtui.core.catalog.entries import open_catalog_model
from vramtui.core.discovery.scan import discover_models
from vramtui.core.gguf.reader import read_gguf_header
from vramtui.core.gguf.writer import write_sparse_gguf

N_MODELS = 200
WITH_TOKENIZER_EVERY = 4
PEER_SAMPLE = 10  # time GGUFReader on the first tenth (same 1-in-4 tokenizer mix)


def _make_tree(root: Path) -> list[Path]:
    specs = []
    for ref in ("qwen3-32b:Q4_K_M", "llama-3.1-8b:Q6_K", "glm-4.7-flash:Q4_K_M"):
        spec = open_catalog_model(ref)
        assert spec is not None
        specs.append(spec)
    template_dir = root / "templates"
    template_dir.mkdir(parents=True)
    templates: dict[tuple[int, bool], Path] = {}
    for i, spec in enumerate(specs):
        for tok in (False, True):
            templates[(i, tok)] = write_sparse_gguf(
                template_dir / f"{i}-{tok}.gguf", spec, tokenizer=tok
            )
    files = []
    folders = [
        root / "home" / ".lmstudio" / "models" / "pub",
        root
        / "home"
        / ".cache"
        / "huggingface"
        / "hub"
        / "models--org--repo"
        / "snapshots"
        / "rev",
        root / "user-models",
    ]
    for n in range(N_MODELS):
        kind = n % 3
        template = templates[(kind, n % WITH_TOKENIZER_EVERY == 0)]
        folder = folders[n % len(folders)] / f"repo{n}"
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"model{n}-Q4_K_M.gguf"
        # A copy of the header, extended sparsely to the model's full size.
        with dest.open("wb") as fh, template.open("rb") as src:
            fh.write(src.read(_header_len(template)))
            fh.truncate(template.stat().st_size)
        files.append(dest)
    return files


def _header_len(path: Path) -> int:
    return read_gguf_header(path).data_offset


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["VRAMTUI_CACHE_DIR"] = str(root / "cache")
        os.environ["HOME"] = str(root / "home")
        for var in ("HF_HOME", "HF_HUB_CACHE", "LLAMA_CACHE", "OLLAMA_MODELS", "XDG_CACHE_HOME"):
            os.environ.pop(var, None)
        files = _make_tree(root)
        extra = [root / "user-models"]

        started = time.perf_counter()
        cold = discover_models(extra)
        t_cold = time.perf_counter() - started
        started = time.perf_counter()
        warm = discover_models(extra)
        t_warm = time.perf_counter() - started
        assert len(cold.models) == len(warm.models) == N_MODELS, (len(cold.models), cold.problems)

        import gguf  # noqa: PLC0415 - the peer, imported only here

        # GGUFReader takes ~1 s per file with a full tokenizer: time the first tenth of the files
        # (the same mix of tokenizer / no tokenizer) and scale to 200 (a full run: ~200 s).
        sample = files[: len(files) // PEER_SAMPLE]
        started = time.perf_counter()
        for f in sample:
            gguf.GGUFReader(str(f))
        t_peer = (time.perf_counter() - started) * len(files) / len(sample)

        n_tok = N_MODELS // WITH_TOKENIZER_EVERY
        print(f"models listed: {len(warm.models)} ({n_tok} with a full tokenizer)")
        print(f"vramtui cold (header reads, {os.cpu_count()} CPUs): {t_cold:7.3f} s")
        print(f"vramtui warm (cached by path+size+mtime):      {t_warm:7.3f} s")
        print(
            f"gguf.GGUFReader, {len(sample)} of the files timed, x{PEER_SAMPLE}:  {t_peer:7.3f} s"
        )
        print(f"ratio peer/cold: {t_peer / t_cold:.1f}x, peer/warm: {t_peer / t_warm:.0f}x")


if __name__ == "__main__":
    main()
