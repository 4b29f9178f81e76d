"""An address that keeps presenting refused tokens waits; other addresses do not."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.api import auth

from ledger.errors import ConfigurationError
from public_api import create_app

GIFT = {
    "fund": "LS-COVID",
    "amount": 100_000,
    "channel": "cash",
    "donor": {"display": "Nguyễn Văn An", "type": "individual"},
}


@pytest.fixture
def throttled(env: dict[str, str], funds: Any) -> Iterator[Flask]:
    app = create_app({**env, "TESTING": True, "LEDGER_RATELIMIT_BAD_TOKENS": "3 per 2 seconds"})
    yield app
    app.extensions["ledger.database"].dispose()


def _client(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_refused_tokens_slow_their_address_down(throttled: Flask, admin: str) -> None:
    prober = _client(throttled, "203.0.113.7")
    for attempt in range(3):
        refused = prober.post("/api/v1/contributions", json=GIFT, headers=auth(f"lt_x_{attempt}"))
        assert refused.status_code == 401
    slowed = prober.post("/api/v1/contributions", json=GIFT, headers=auth(admin))
    assert slowed.status_code == 429  # even a good token waits: the address is probing
    assert 1 <= int(slowed.headers["Retry-After"]) <= 2
    assert "too many refused tokens" in slowed.get_json()["error"]["message"]
    bystander = _client(throttled, "198.51.100.9")
    assert (
        bystander.post("/api/v1/contributions", json=GIFT, headers=auth(admin)).status_code == 201
    )
    time.sleep(2.1)
    assert prober.post("/api/v1/contributions", json=GIFT, headers=auth(admin)).status_code == 201


def test_asking_without_a_token_is_not_counted_as_guessing(throttled: Flask, admin: str) -> None:
    client = _client(throttled, "203.0.113.8")
    for _ in range(5):
        assert client.post("/api/v1/contributions", json=GIFT).status_code == 401
    assert client.post("/api/v1/contributions", json=GIFT, headers=auth(admin)).status_code == 201


def test_the_limit_must_read_like_a_limit(env: dict[str, str], funds: Any) -> None:
    with pytest.raises(ConfigurationError, match="LEDGER_RATELIMIT_BAD_TOKENS"):
        create_app({**env, "LEDGER_RATELIMIT_BAD_TOKENS": "lots"})
