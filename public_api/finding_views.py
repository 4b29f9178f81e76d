"""Endpoints of the audit layer."""

from __future__ import annotations

from flask_smorest import Api


def register(api: Api) -> None:
    """Register this module's blueprint (after the bearer security scheme exists)."""
