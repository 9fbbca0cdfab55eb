"""Reusable layout pieces (no callbacks, no API calls)."""
