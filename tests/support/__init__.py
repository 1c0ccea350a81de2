"""Helpers shared by the tests and the benchmarks, imported one way: `from tests.support.X import`.

- `gguf_files`: GGUF test models through the project's one writer (`vramtui.core.gguf.writer`).
- `raw_gguf`: byte-level GGUF pieces, for broken and hostile headers no writer would produce.
- `http_server`: a real HTTP server on loopback that honours Range requests, or misbehaves.
- `oracle_models`: GGUF metadata of real models, synthesized into sparse files.
- `dry_run`: llama.cpp's own memory dry run (xllamacpp), the oracle for the estimate.
- `probe_doubles`: raw-socket doubles of LM Studio, Ollama and OpenAI-compatible servers.
- `tiny_llama`: a tiny real llama model that llama.cpp loads and runs.
"""
