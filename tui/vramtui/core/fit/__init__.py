"""Buffers placed in the machine's pools: RAM left, GPU memory used, the verdict and its reasons."""
