"""Scenario preset files and the one resolver of flags over presets over machines."""
