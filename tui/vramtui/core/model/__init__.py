"""A model reference (file, folder, hf:, URL, catalog id) made into a ModelSpec; draft models."""
