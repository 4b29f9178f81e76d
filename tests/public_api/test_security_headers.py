"""Every answer, page or not, error or not, is unframeable, unsniffable and leaks no referrer."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from public_api.security_headers import HEADERS, NOTHING


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/funds",
        "/api/v1/funds?format=csv",
        "/api/v1/log/checkpoint",
        "/api/v1/log/entries/424242",
        "/api/v1/no-such-thing",
        "/tile/0/000.p/1",
        "/healthz",
    ],
)
def test_answers_that_are_not_pages_allow_nothing(
    client: FlaskClient, funds: Any, path: str
) -> None:
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == NOTHING
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_write_refused_carries_them_too(client: FlaskClient, funds: Any) -> None:
    response = client.post("/api/v1/contributions", json={})
    assert response.status_code == 401
    assert response.headers["Content-Security-Policy"] == NOTHING
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_page_keeps_its_own_policy_and_cannot_be_framed(client: FlaskClient, funds: Any) -> None:
    gift = funds.give(500_000)
    page = client.get(f"/r/{gift.extra['receipt_id']}")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["X-Frame-Options"] == "DENY"


def test_each_is_sent_once_where_a_view_sets_some_itself(client: FlaskClient, funds: Any) -> None:
    receipt = funds.give(500_000).extra["receipt_id"]
    for path in (f"/r/{receipt}", "/api/v1/docs", "/", "/api/v1/funds", "/api/v1/no-such-thing"):
        response = client.get(path)
        for name in (*HEADERS, "Content-Security-Policy"):
            assert len(response.headers.getlist(name)) == 1, (path, name)
