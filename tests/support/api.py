"""Calling the writers' API as a client does: bearer tokens and idempotency keys."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

API = "/api/v1"

# The ``make_token`` fixture: ``make_token(role=ADMIN, unit=None, name=None, ...)``.
MakeToken = Callable[..., str]


def auth(token: str | None, key: str | None = None, **headers: str) -> dict[str, str]:
    """``headers`` plus the bearer token and the idempotency key, where given."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def log_size(client: FlaskClient) -> int:
    """How many entries the public log shows (the tests write fewer than a page)."""
    page = client.get(f"{API}/log/entries?start=0&limit=1000").get_json()
    return len(page["entries"])
