"""This machine: RAM, GPUs and the carve-out, read from the operating system."""
