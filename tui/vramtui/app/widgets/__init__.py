"""Widgets of the vramtui app: results (verdict, bars, tables) and controls (machine, settings)."""
