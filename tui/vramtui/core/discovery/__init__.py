"""GGUF models found in LM Studio, Ollama, Hugging Face and llama.cpp caches."""
