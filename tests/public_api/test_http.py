"""HTTP behaviour around the views: CORS, rate limits, gzip and cache policies.

Each test reads what a client sees: headers, statuses and bodies. The Redis tests
run against the Redis of this machine (``LEDGER_TEST_REDIS_URL``, by default
redis://127.0.0.1:6379/0) and fail, never skip, when it is not there.
"""

from __future__ import annotations

import gzip
import os
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from support.api import API, auth, log_size
from support.statements import Sheet
from werkzeug.test import TestResponse

from ledger.errors import ConfigurationError
from ledger.settings import Settings
from public_api import caching, create_app
from public_api.cors import requires_token

REDIS_URL = os.environ.get("LEDGER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ORIGIN = {"Origin": "https://kiem-tra.example.org"}
GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
GIFT = {
    "fund": "LS-COVID",
    "amount": 500_000,
    "channel": "cash",
    "donor": {"display": "Công ty TNHH Minh An", "type": "organization"},
}

MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(env: dict[str, str], funds: Any) -> Iterator[MakeApp]:
    """``make_app(LEDGER_…=value)``: another app over the same ledger, with these settings."""
    made: list[Flask] = []

    def make(**settings: str) -> Flask:
        app = create_app({**env, "TESTING": True, **settings})
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["ledger.database"].dispose()


def client_at(app: Flask, address: str) -> FlaskClient:
    """A client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def error_of(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


def retry_after(response: TestResponse, most: int) -> int:
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= most
    return seconds


# -- CORS ----------------------------------------------------------------------------------


def test_public_reads_may_be_fetched_from_any_site(client: FlaskClient, funds: Any) -> None:
    gift = funds.give(1_000_000)
    for url in (
        f"{API}/log/entries",
        f"{API}/log/entries/{gift.index}",
        f"{API}/funds",
        f"{API}/receipts/{gift.extra['receipt_id']}",
        f"{API}/openapi.json",
        f"/r/{gift.extra['receipt_id']}",
    ):
        for method in (client.get, client.head):
            response = method(url, headers=ORIGIN)
            assert response.status_code == 200, url
            assert response.headers.getlist("Access-Control-Allow-Origin") == ["*"], url
            [exposing] = response.headers.getlist("Access-Control-Expose-Headers")
            exposed = {h.strip() for h in exposing.split(",")}
            assert {"ETag", "Retry-After"} <= exposed
            assert "Access-Control-Allow-Credentials" not in response.headers


def test_public_errors_are_readable_from_any_site(client: FlaskClient, funds: Any) -> None:
    missing = client.get(f"{API}/log/entries/999999", headers=ORIGIN)
    assert error_of(missing, 404)["code"] == "not_found"
    assert missing.headers["Access-Control-Allow-Origin"] == "*"
    bad = client.get(f"{API}/log/entries?limit=abc", headers=ORIGIN)
    assert bad.status_code == 400 and bad.headers["Access-Control-Allow-Origin"] == "*"


def test_a_preflight_for_reading_is_answered_without_authorization(
    client: FlaskClient, funds: Any
) -> None:
    response = client.options(
        f"{API}/funds",
        headers={
            **ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert response.status_code == 200
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["*"]
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "HEAD"}
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "if-none-match" in allowed and "authorization" not in allowed
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_writers_get_no_cors_headers(client: FlaskClient, funds: Any, admin: str) -> None:
    written = client.post(f"{API}/contributions", json=GIFT, headers=auth(admin, **ORIGIN))
    refused = client.post(f"{API}/contributions", json=GIFT, headers=ORIGIN)
    rows = client.get(f"{API}/imports/rows", headers=auth(admin, **ORIGIN))
    assert (written.status_code, refused.status_code, rows.status_code) == (201, 401, 200)
    preflights = [
        client.options(url, headers={**ORIGIN, "Access-Control-Request-Method": method})
        for url, method in (
            (f"{API}/contributions", "POST"),
            (f"{API}/funds", "POST"),  # the same path as the public list of funds
            (f"{API}/imports/rows", "GET"),
            (f"{API}/imports/rows/1/dismiss", "POST"),
        )
    ]
    for response in (written, refused, rows, *preflights):
        assert "Access-Control-Allow-Origin" not in response.headers, response.request.path
        assert "Access-Control-Allow-Methods" not in response.headers


# -- rate limits -----------------------------------------------------------------------------


def test_a_reader_over_the_limit_is_told_when_to_come_back(make_app: MakeApp) -> None:
    app = make_app(LEDGER_RATELIMIT_PUBLIC="3 per hour")
    reader = client_at(app, "192.0.2.10")
    for _ in range(3):
        assert reader.get(f"{API}/log/checkpoint").status_code == 200
    refused = reader.get(f"{API}/funds", headers=ORIGIN)
    error = error_of(refused, 429)
    assert error["code"] == "too_many_requests"
    assert "3 per hour" in error["message"]
    seconds = retry_after(refused, 3600)
    assert f"{seconds} s" in error["message"]
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.headers["Access-Control-Allow-Origin"] == "*"  # a web page can read it
    assert reader.head(f"{API}/funds").status_code == 429  # HEAD reads too

    assert client_at(app, "192.0.2.11").get(f"{API}/funds").status_code == 200


def test_paths_that_lead_nowhere_count_too(make_app: MakeApp) -> None:
    app = make_app(LEDGER_RATELIMIT_PUBLIC="2 per hour")
    scanner = client_at(app, "192.0.2.12")
    statuses = [scanner.get(f"{API}/{name}").status_code for name in ("a", "b", "c")]
    assert statuses == [404, 404, 429]
    assert scanner.get("/wp-login.php").status_code == 429


def test_reading_and_writing_have_separate_budgets(make_app: MakeApp, admin: str) -> None:
    app = make_app(LEDGER_RATELIMIT_PUBLIC="2 per hour", LEDGER_RATELIMIT_WRITE="2 per hour")
    writer = client_at(app, "192.0.2.20")
    reader = client_at(app, "192.0.2.21")
    before = log_size(reader)
    for _ in range(2):
        assert writer.get(f"{API}/funds").status_code == 200
    assert writer.get(f"{API}/funds").status_code == 429
    for amount in (100_000, 200_000):
        written = writer.post(
            f"{API}/contributions", json={**GIFT, "amount": amount}, headers=auth(admin)
        )
        assert written.status_code == 201
    refused = writer.post(f"{API}/contributions", json=GIFT, headers=auth(admin))
    assert error_of(refused, 429)["code"] == "too_many_requests"
    retry_after(refused, 3600)
    assert refused.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert log_size(reader) == before + 2  # the refused gift was not recorded


def test_pages_over_the_limit_answer_429_with_retry_after(make_app: MakeApp, funds: Any) -> None:
    receipt = funds.give(300_000).extra["receipt_id"]
    app = make_app(LEDGER_RATELIMIT_PUBLIC="1 per hour")
    donor = client_at(app, "192.0.2.30")
    assert donor.get(f"/r/{receipt}").status_code == 200
    refused = donor.get(f"/r/{receipt}")
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"  # pages keep their HTML errors
    retry_after(refused, 3600)
    assert refused.headers["Cache-Control"] == "no-store"


def test_limits_can_be_switched_off(make_app: MakeApp) -> None:
    app = make_app(LEDGER_RATELIMIT_PUBLIC="1 per hour", LEDGER_RATELIMIT_ENABLED="false")
    reader = client_at(app, "192.0.2.40")
    assert [reader.get(f"{API}/funds").status_code for _ in range(5)] == [200] * 5


def test_the_default_limits_let_a_busy_reader_through(app: Flask, funds: Any) -> None:
    reader = client_at(app, "192.0.2.41")
    assert {reader.get(f"{API}/log/checkpoint").status_code for _ in range(300)} == {200}


def test_limits_are_on_generous_and_in_memory_unless_said_otherwise() -> None:
    default = Settings.load(environ={})
    assert default.ratelimit_enabled and default.trusted_proxies == 0
    assert default.ratelimit_storage_url == "memory://"
    assert (default.ratelimit_public, default.ratelimit_write) == (
        "1200 per minute",
        "600 per minute",
    )
    told = Settings.load(
        environ={
            "LEDGER_RATELIMIT_ENABLED": "off",
            "LEDGER_RATELIMIT_STORAGE_URL": "redis://cache:6379/2",
            "LEDGER_RATELIMIT_PUBLIC": "20 per second; 1000 per minute",
            "LEDGER_RATELIMIT_WRITE": "60 per minute",
            "LEDGER_TRUSTED_PROXIES": "2",
        }
    )
    assert not told.ratelimit_enabled and told.trusted_proxies == 2
    assert told.ratelimit_storage_url == "redis://cache:6379/2"
    assert told.ratelimit_public == "20 per second; 1000 per minute"
    assert told.ratelimit_write == "60 per minute"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("LEDGER_RATELIMIT_PUBLIC", "lots"),
        ("LEDGER_RATELIMIT_WRITE", "10 per fortnight"),
        ("LEDGER_RATELIMIT_ENABLED", "maybe"),
        ("LEDGER_TRUSTED_PROXIES", "one"),
        ("LEDGER_TRUSTED_PROXIES", "-1"),
    ],
)
def test_bad_settings_stop_the_app_from_starting(
    env: dict[str, str], setting: str, value: str
) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        create_app({**env, setting: value})


BALANCER = "10.0.0.2"


def test_behind_a_trusted_proxy_each_client_is_counted_alone(make_app: MakeApp) -> None:
    app = make_app(LEDGER_RATELIMIT_PUBLIC="2 per hour", LEDGER_TRUSTED_PROXIES="1")
    balancer = client_at(app, BALANCER)

    def get(forwarded_for: str) -> int:
        headers = {"X-Forwarded-For": forwarded_for}
        return balancer.get(f"{API}/funds", headers=headers).status_code

    assert [get("203.0.113.5") for _ in range(3)] == [200, 200, 429]
    assert get("203.0.113.6") == 200
    # The balancer appends the address it saw; what the client wrote before it is ignored.
    assert get("198.51.100.1, 203.0.113.5") == 429


def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(
    make_app: MakeApp,
) -> None:
    app = make_app(LEDGER_RATELIMIT_PUBLIC="2 per hour")
    client = client_at(app, "192.0.2.50")
    statuses = [
        client.get(f"{API}/funds", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]


@pytest.fixture
def shared_redis() -> Iterator[tuple[str, str]]:
    """The Redis URL and a client address no other run uses; its counters go afterwards."""
    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        server.ping()
    except redis.RedisError as err:
        pytest.fail(
            f"these tests need Redis at {REDIS_URL} ({err}); start redis-server "
            "or point LEDGER_TEST_REDIS_URL at one"
        )
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    yield REDIS_URL, address
    for key in server.scan_iter(match=f"*{address}*"):
        server.delete(key)
    server.close()


def test_workers_sharing_redis_share_the_limit(
    make_app: MakeApp, shared_redis: tuple[str, str]
) -> None:
    url, address = shared_redis
    settings = {"LEDGER_RATELIMIT_STORAGE_URL": url, "LEDGER_RATELIMIT_PUBLIC": "3 per hour"}
    first, second = (client_at(make_app(**settings), address) for _ in range(2))
    assert first.get(f"{API}/funds").status_code == 200
    assert second.get(f"{API}/funds").status_code == 200
    assert first.get(f"{API}/funds").status_code == 200
    refused = second.get(f"{API}/funds")
    assert error_of(refused, 429)["code"] == "too_many_requests"
    retry_after(refused, 3600)
    assert first.get(f"{API}/funds").status_code == 429
    stored = redis.Redis.from_url(url).keys(f"*{address}*")
    assert stored, "the counters are in Redis"


def test_a_redis_that_does_not_answer_falls_back_to_counting_in_memory(
    make_app: MakeApp,
) -> None:
    app = make_app(
        LEDGER_RATELIMIT_STORAGE_URL="redis://127.0.0.1:1/0",  # nothing listens on port 1
        LEDGER_RATELIMIT_PUBLIC="3 per hour",
    )
    reader = client_at(app, "192.0.2.60")
    assert [reader.get(f"{API}/funds").status_code for _ in range(4)] == [200, 200, 200, 429]


# -- gzip ------------------------------------------------------------------------------------


@pytest.fixture
def busy(funds: Any) -> Any:
    """Enough entries that a page of them is several kilobytes of JSON."""
    for amount in range(100_000, 2_100_000, 100_000):
        funds.give(amount)
    return funds


def test_large_json_is_gzipped_and_means_the_same(client: FlaskClient, busy: Any) -> None:
    url = f"{API}/log/entries?limit=1000"
    plain = client.get(url, headers=IDENTITY)
    packed = client.get(url, headers=GZIP)
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 3
    assert gzip.decompress(packed.data) == plain.data
    for response in (plain, packed):
        assert "accept-encoding" in response.headers["Vary"].lower()


def test_conditional_requests_still_answer_304_either_way(client: FlaskClient, busy: Any) -> None:
    url = f"{API}/log/entries?limit=1000"
    plain = client.get(url, headers=IDENTITY)
    packed = client.get(url, headers=GZIP)
    assert plain.headers["ETag"] != packed.headers["ETag"]  # two representations, two tags
    for headers, tag in ((IDENTITY, plain.headers["ETag"]), (GZIP, packed.headers["ETag"])):
        again = client.get(url, headers={**headers, "If-None-Match": tag})
        assert again.status_code == 304
        assert again.data == b""
        assert again.headers["ETag"] == tag
    # A client holding the gzipped copy that now asks for the plain one gets it in full.
    assert client.get(url, headers={**IDENTITY, "If-None-Match": packed.headers["ETag"]}).data


def test_images_pdfs_and_small_answers_are_sent_as_they_are(
    client: FlaskClient, funds: Any
) -> None:
    receipt = funds.give(1_000_000).extra["receipt_id"]
    for url in (
        f"{API}/campaigns/{funds.campaign}/vietqr.png",
        f"{API}/receipts/{receipt}/qr.png",
        f"{API}/receipts/{receipt}.pdf",
        f"{API}/log/checkpoint",  # a few hundred bytes of text
    ):
        response = client.get(url, headers=GZIP)
        assert response.status_code == 200, url
        assert "Content-Encoding" not in response.headers, url
    for url in (f"{API}/campaigns/{funds.campaign}/vietqr.svg", f"{API}/docs", f"/r/{receipt}"):
        response = client.get(url, headers=GZIP)
        assert response.headers.get("Content-Encoding") == "gzip", url


# -- cache policies ---------------------------------------------------------------------------


def _real_url(rule: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "code":
            before = rule[: match.start()].rstrip("/").rsplit("/", 1)[-1]
            return values.get(f"code:{before}", values["code:units"])
        return values.get(name, "0")

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, rule)


def test_every_get_endpoint_says_how_long_it_may_be_kept(
    app: Flask, client: FlaskClient, funds: Any, admin: str
) -> None:
    gift = funds.give(1_000_000)
    sheet = Sheet(funds.today).credit(1, "FT26100", 250_000, "ung ho", "LE VAN CUONG")
    imported = client.post(
        f"{API}/imports?format=vietcombank",
        data=sheet.csv(),
        content_type="text/csv",
        headers=auth(admin),
    ).get_json()
    values = {
        "index": str(gift.index),
        "receipt_id": gift.extra["receipt_id"],
        "batch_id": str(imported["batch_id"]),
        "row_id": str(imported["unmatched"][0]["row_id"]),
        "filename": "api_docs.css",
        "tile": "0/000.p/1",
        "code:units": funds.province,
        "code:funds": funds.fund,
        "code:campaigns": funds.campaign,
        "code:mobilizers": funds.mobilizer,
    }
    answered = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        url = _real_url(rule.rule, values)
        response = client.get(url, headers=auth(admin))
        assert response.status_code < 500, url
        policy = response.headers.get("Cache-Control")
        assert policy, f"{url} answers {response.status_code} without Cache-Control"
        if response.status_code >= 400:
            assert policy == "no-store", url
        elif requires_token(app.view_functions[rule.endpoint]):
            assert policy == "no-store", url  # private answers
        elif rule.endpoint.startswith("health."):
            assert policy == "no-store", url  # about this host now: no cache may answer it
        else:
            assert policy.startswith("public, max-age=") or policy == "no-cache", url
        answered += response.status_code == 200
    assert answered >= 25


def test_what_never_changes_is_kept_for_a_year_and_the_latest_for_seconds(
    client: FlaskClient, funds: Any
) -> None:
    gift = funds.give(1_000_000)
    size = log_size(client)
    policies = {
        f"{API}/log/entries/{gift.index}": caching.IMMUTABLE,
        f"{API}/log/proofs/inclusion?index={gift.index}&tree_size={size}": caching.IMMUTABLE,
        f"{API}/log/proofs/consistency?first=1&second={size}": caching.IMMUTABLE,
        f"{API}/receipts/{gift.extra['receipt_id']}.tlog-proof": caching.IMMUTABLE,
        f"{API}/log/proofs/inclusion?index={gift.index}": caching.LATEST,
        f"{API}/log/checkpoint": caching.LATEST,
        f"{API}/funds": caching.LATEST,
    }
    for url, policy in policies.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == policy, url
        assert response.headers["ETag"], url
    qr = client.get(f"{API}/receipts/{gift.extra['receipt_id']}/qr.png")
    assert qr.headers["Cache-Control"].startswith("public, max-age=")


def test_every_condition_of_a_request_is_evaluated_on_kept_answers(
    client: FlaskClient, funds: Any
) -> None:
    url = f"{API}/log/entries/{funds.give(1_000_000).index}"
    tag = client.get(url).headers["ETag"]  # built, and kept for the requests below
    expected = {
        tag: 304,
        f"W/{tag}": 304,  # If-None-Match compares weakly
        f'"other", {tag}': 304,
        "*": 304,
        '"other"': 200,
    }
    for value, status in expected.items():
        answer = client.get(url, headers={"If-None-Match": value})
        assert answer.status_code == status, value
        assert answer.headers["ETag"] == tag
    assert client.head(url, headers={"If-None-Match": tag}).status_code == 304
    assert client.get(url, headers={"If-Match": '"other"'}).status_code == 412
    assert client.get(url, headers={"If-Match": tag}).status_code == 200


def test_writes_and_errors_are_never_stored(client: FlaskClient, funds: Any, admin: str) -> None:
    responses = [
        client.post(f"{API}/contributions", json=GIFT, headers=auth(admin)),
        client.post(f"{API}/contributions", json={}, headers=auth(admin)),
        client.post(f"{API}/contributions", json=GIFT),
        client.get(f"{API}/log/entries/999999"),
        client.get(f"{API}/no/such/thing"),
        client.delete(f"{API}/funds"),
        client.get("/no/such/page"),
        client.get("/r/not-a-receipt"),
    ]
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store", (
            response.request.method,
            response.request.path,
            response.status_code,
        )
