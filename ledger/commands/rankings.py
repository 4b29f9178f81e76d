"""The `ledger rankings` commands."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    """Add the commands of this module to ``main``."""
