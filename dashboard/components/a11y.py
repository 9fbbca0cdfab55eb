"""ARIA attributes for Dash html components (they accept ``aria-*`` only as keyword splats)."""

from __future__ import annotations

from typing import Any


def aria(**attributes: str | bool) -> dict[str, Any]:
    """``aria(label="Main", live="polite")`` → ``{"aria-label": "Main", "aria-live": "polite"}``."""
    return {f"aria-{name.replace('_', '-')}": value for name, value in attributes.items()}
