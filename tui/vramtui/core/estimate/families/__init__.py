"""Per-family memory rules: the architectures whose KV, recurrent state or compute buffer
follow a layout of their own in llama.cpp, one module per family."""
