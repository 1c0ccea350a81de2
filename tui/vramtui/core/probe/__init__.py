"""Measure a running llama.cpp server, LM Studio or Ollama beside vramtui's prediction.

`run.run_probe` streams a fixed prompt and measures it; `servers` identifies a server, lists its
models and finds servers on the default ports; `stream` reads SSE / NDJSON events and the
server's own timings; `http` holds the client and its bounded reads; `evidence` and `sysfs`
gather memory evidence; `predict` computes the prediction compared with; `results` holds the
types, `history` the runs kept, `calibration` the factor the history gives. The network
functions are async; callers run them with `asyncio.run` (the CLI) or in an async worker (the app).
"""
