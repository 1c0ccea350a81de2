"""vramtui: will this GGUF model run on this shared-memory machine, and with which carve-out?"""

__version__ = "0.4.0"
