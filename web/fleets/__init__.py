"""Fleets in the panel: their settings and their cars."""
