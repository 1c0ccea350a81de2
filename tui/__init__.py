"""vramtui: will this GGUF model run on this shared-memory machine, and with which BIOS carve-out?"""

__version__ = "0.1.0"
