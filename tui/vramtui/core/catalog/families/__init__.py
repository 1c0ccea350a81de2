"""Per-family tensor tables for the catalog's synthesized headers, one module per family."""
