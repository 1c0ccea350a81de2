"""Answers over many fits: the per-step table, the plan, the quant table, expert offload."""
