"""Screens of the vramtui app."""
