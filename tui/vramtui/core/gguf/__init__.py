"""The GGUF format: ggml types, the model's facts (ModelSpec), the header reader and writer,
local files and the header cache."""
