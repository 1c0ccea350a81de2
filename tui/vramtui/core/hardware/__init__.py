"""Machine presets, their memory pools and interconnect links."""
