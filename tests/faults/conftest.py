"""Faults that only one of the two databases can have.

A PostgreSQL outage needs a server to lose; a full disk is tested on a SQLite file on a
tiny filesystem. ``@pytest.mark.postgresql_only`` and ``@pytest.mark.sqlite_only``
deselect a test on the other pass of ``make test`` (it shows in the deselected count),
so each pass runs every test that means something on its database and skips none.
"""

from __future__ import annotations

import os

import pytest

ONLY = {"postgresql_only": "postgresql", "sqlite_only": "sqlite"}


def _backend() -> str:
    return "postgresql" if os.environ.get("LEDGER_TEST_DATABASE_URL") else "sqlite"


def pytest_configure(config: pytest.Config) -> None:
    for marker, backend in ONLY.items():
        config.addinivalue_line(
            "markers", f"{marker}: a fault only {backend} can have; deselected on the other pass"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = _backend()
    other = [
        item
        for item in items
        if any(item.get_closest_marker(m) and b != backend for m, b in ONLY.items())
    ]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]
