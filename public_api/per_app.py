"""Objects each Flask app makes once, on first use, and keeps in ``app.extensions``.

The kept answers and receipt proofs belong to one app, so that tests and tools that
build several apps in one process never share them; they are made by the first
request that needs them (in a gunicorn worker, after the fork), by one thread only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar, cast

from flask import Flask, current_app

T = TypeVar("T")

_CREATING = threading.Lock()


def per_app(name: str, make: Callable[[Flask], T]) -> T:
    """The current app's object named ``name``, made by ``make(app)`` the first time."""
    app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    found = app.extensions.get(name)
    if found is None:
        with _CREATING:
            found = app.extensions.get(name)
            if found is None:
                found = make(app)
                app.extensions[name] = found
    return cast(T, found)
