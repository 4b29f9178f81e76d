"""Kept answers of the hot public reads: the same bytes as fresh ones, and never stale.

Every check compares what a reader sees with what a fresh app (nothing kept) answers
over the same database, or counts the connections a request takes from the app's
pool: a kept answer takes none while the log's head stands still (``head_watch``), an
answer built afresh at least one. The watch alone is trusted for a second
(``TRUST_WATCH_SECONDS``); these tests trust it for a minute, so that a slow machine
cannot turn a kept answer's check into a query.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from support.answers import fresh_client, same_answer
from support.api import API
from support.witnessing import add_witness
from werkzeug.test import TestResponse

from audit import witnesses
from audit.cosignature import WitnessSigner
from audit.witnesses import HttpAnswer
from ledger import log
from ledger.checkpoint import SignedNote
from ledger.db import Database
from ledger.log import StoredCheckpoint
from public_api import create_app
from public_api import response_cache as response_cache_module
from public_api.response_cache import Kept, ResponseCache, response_cache

LOG = f"{API}/log"
FUND = "LS-COVID"


class Checkouts:
    """How many connections requests take from an app's pool."""

    def __init__(self, app: Flask) -> None:
        self.count = 0
        pool = app.extensions["ledger.database"].engine.pool
        event.listen(pool, "checkout", self._taken)

    def _taken(self, *_args: Any) -> None:
        self.count += 1

    def during(self, call: Callable[[], Any]) -> int:
        before = self.count
        call()
        return self.count - before


def size_of(checkpoint: TestResponse) -> int:
    return int(checkpoint.get_data(as_text=True).split("\n")[1])


def received(client: FlaskClient) -> int:
    [fund] = [f for f in client.get(f"{API}/funds").get_json()["funds"] if f["code"] == FUND]
    return int(fund["balance"]["received"])


def cosign(
    db: Database,
    signer: WitnessSigner,
    timestamp: int,
    checkpoint: StoredCheckpoint | None = None,
) -> None:
    """The witness cosigns ``checkpoint`` (the latest by default), as ``collect`` stores it."""
    with db.session() as session:
        [cosigner] = [c for c in witnesses.configured(session) if c.name == signer.name]
        wanted = checkpoint or log.latest_checkpoint(session)

    def post(_url: str, body: bytes) -> HttpAnswer:
        note = SignedNote.parse(body.decode().split("\n\n", 1)[1])
        return HttpAnswer(200, "text/plain", signer.cosign(note.text, timestamp).line().encode())

    assert witnesses.ask(db, cosigner, wanted, post).cosigned


def stored_checkpoint(db: Database, size: int) -> StoredCheckpoint:
    with db.session() as session:
        covering = log.checkpoint_covering(session, size - 1)
    assert covering.tree_size == size
    return covering


@pytest.fixture(autouse=True)
def trust_the_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(response_cache_module, "TRUST_WATCH_SECONDS", 60.0)


@pytest.fixture
def gifts(funds: Any) -> list[dict[str, Any]]:
    return [funds.give(amount).answer() for amount in (500_000, 700_000, 900_000)]


def public_urls(gifts: list[dict[str, Any]], size: int) -> list[str]:
    first = gifts[0]
    return [
        f"{LOG}/checkpoint",
        "/checkpoint",
        f"{LOG}/keys",
        f"{LOG}/witnesses",
        f"{LOG}/entries?start=0&limit=5",
        f"{LOG}/entries?start=0&limit=1000",
        f"{LOG}/entries/{first['index']}",
        f"{LOG}/proofs/inclusion?index={first['index']}&tree_size={size}",
        f"{LOG}/proofs/inclusion?index={first['index']}",
        f"{LOG}/proofs/consistency?first=1&second={size}",
        f"{LOG}/proofs/consistency?first=1",
        f"{API}/receipts/{first['receipt_id']}",
        f"{API}/receipts/{first['receipt_id']}.tlog-proof",
        f"{API}/funds",
        f"{API}/funds?format=csv",
        f"{API}/units",
        f"{API}/mobilizers",
        "/tile/0/000.p/3",
        f"/tile/entries/000.p/{size}",
    ]


def test_kept_answers_are_the_fresh_ones_byte_for_byte(
    app: Flask, client: FlaskClient, env: dict[str, str], gifts: list[dict[str, Any]]
) -> None:
    size = size_of(client.get(f"{LOG}/checkpoint"))
    checkouts = Checkouts(app)
    with fresh_client(env) as fresh:
        for url in public_urls(gifts, size):
            built = client.get(url)
            assert built.status_code == 200, (url, built.get_data(as_text=True))
            kept = client.get(url)
            # Kept answers take no connection while the head stands still.
            assert checkouts.during(lambda url=url: client.get(url)) == 0, url
            same_answer(kept, fresh.get(url))
            same_answer(built, kept)
            head = client.head(url)
            assert head.status_code == 200 and head.get_data() == b""
            assert head.headers["ETag"] == kept.headers["ETag"]


def test_immutable_answers_are_sent_without_touching_the_database(
    app: Flask, client: FlaskClient, gifts: list[dict[str, Any]]
) -> None:
    size = size_of(client.get(f"{LOG}/checkpoint"))
    index, receipt = gifts[1]["index"], gifts[1]["receipt_id"]
    immutable = [
        f"{LOG}/entries/{index}",
        f"{LOG}/proofs/inclusion?index={index}&tree_size={size}",
        f"{LOG}/proofs/consistency?first=2&second={size}",
        f"{API}/receipts/{receipt}.tlog-proof",
        "/tile/0/000.p/3",
    ]
    for url in immutable:
        client.get(url)
    checkouts = Checkouts(app)
    statements: list[str] = []
    engine = app.extensions["ledger.database"].engine
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for url in immutable:
        assert checkouts.during(lambda url=url: client.get(url)) == 0, url
        assert "immutable" in client.get(url).headers["Cache-Control"]
    assert statements == []


def test_the_query_string_is_keyed_by_its_parameters_not_their_order(
    app: Flask, client: FlaskClient, gifts: list[dict[str, Any]]
) -> None:
    size = size_of(client.get(f"{LOG}/checkpoint"))
    index = gifts[0]["index"]
    first = client.get(f"{LOG}/proofs/inclusion?index={index}&tree_size={size}")
    checkouts = Checkouts(app)
    swapped = f"{LOG}/proofs/inclusion?tree_size={size}&index={index}"
    assert checkouts.during(lambda: client.get(swapped)) == 0
    assert client.get(swapped).get_data() == first.get_data()
    other = client.get(f"{LOG}/proofs/inclusion?index={index + 1}&tree_size={size}")
    assert other.get_json()["index"] == index + 1


def test_a_new_gift_shows_at_once_in_the_checkpoint_the_funds_and_a_receipt(
    client: FlaskClient, env: dict[str, str], funds: Any, gifts: list[dict[str, Any]]
) -> None:
    receipt_url = f"{API}/receipts/{gifts[0]['receipt_id']}"
    for _ in range(2):  # built, then kept
        checkpoint = client.get(f"{LOG}/checkpoint")
        before = received(client)
        assert client.get(receipt_url).get_json()["reversal_index"] is None
        latest_proof = client.get(f"{LOG}/proofs/inclusion?index=1").get_json()

    funds.give(1_234_000)
    assert size_of(client.get(f"{LOG}/checkpoint")) == size_of(checkpoint) + 1
    assert received(client) == before + 1_234_000
    assert client.get(f"{LOG}/proofs/inclusion?index=1").get_json() != latest_proof

    reversal = funds.record("reversal", {"target": gifts[0]["index"], "reason": "Ghi trùng"})
    assert client.get(receipt_url).get_json()["reversal_index"] == reversal.index
    assert received(client) == before + 1_234_000 - 500_000  # the reversed gift is out
    with fresh_client(env) as fresh:
        for url in (f"{LOG}/checkpoint", f"{API}/funds", receipt_url):
            same_answer(client.get(url), fresh.get(url))


def test_a_new_cosignature_shows_at_once_in_the_checkpoint_and_the_receipt(
    app: Flask,
    client: FlaskClient,
    env: dict[str, str],
    ledger: Database,
    gifts: list[dict[str, Any]],
) -> None:
    receipt_url = f"{API}/receipts/{gifts[0]['receipt_id']}"
    signer = add_witness(ledger, "witness.kiemtoan.example/w1")
    for _ in range(2):
        plain = client.get(f"{LOG}/checkpoint").get_data(as_text=True)
        assert client.get(receipt_url).get_json()["witnessed"] is None
    # Nothing cosigned yet: no receipt can be witnessed until the head moves, so it is kept.
    assert Checkouts(app).during(lambda: client.get(receipt_url)) == 0
    now = int(time.time())

    cosign(ledger, signer, now)
    note = client.get(f"{LOG}/checkpoint").get_data(as_text=True)
    assert note.startswith(plain) and note.count("\n— witness.kiemtoan.example/w1 ") == 1
    [cosigner] = client.get(receipt_url).get_json()["witnessed"]["witnesses"]
    assert cosigner["timestamp"] == now
    assert client.get(f"{LOG}/witnesses").get_json()["witnesses"][0]["cosigned_size"] > 0

    cosign(ledger, signer, now + 60)  # the same size again: only the line changes
    assert client.get(f"{LOG}/checkpoint").get_data(as_text=True) != note
    [cosigner] = client.get(receipt_url).get_json()["witnessed"]["witnesses"]
    assert cosigner["timestamp"] == now + 60
    with fresh_client(env) as fresh:
        for url in (f"{LOG}/checkpoint", receipt_url, f"{LOG}/witnesses"):
            same_answer(client.get(url), fresh.get(url))


def test_while_a_witness_lags_receipts_are_built_for_each_request_and_right(
    app: Flask,
    client: FlaskClient,
    env: dict[str, str],
    ledger: Database,
    funds: Any,
    gifts: list[dict[str, Any]],
) -> None:
    """A cosignature of an older size must reach receipts even though no head moved."""
    receipt_url = f"{API}/receipts/{gifts[0]['receipt_id']}"
    early = add_witness(ledger, "witness.kiemtoan.example/w1")
    late = add_witness(ledger, "witness.thanhtra.example/w2")
    now = int(time.time())
    both = size_of(client.get(f"{LOG}/checkpoint"))
    cosign(ledger, early, now)
    funds.give(100_000)
    cosign(ledger, early, now + 1)  # the newest cosigned size has one of two witnesses
    for _ in range(2):
        assert client.get(receipt_url).get_json()["witnessed"]["tree_size"] == both + 1
    checkouts = Checkouts(app)
    assert checkouts.during(lambda: client.get(receipt_url)) >= 1  # not kept

    cosign(ledger, late, now + 2, stored_checkpoint(ledger, both))
    witnessed = client.get(receipt_url).get_json()["witnessed"]
    assert witnessed["tree_size"] == both
    assert [w["name"] for w in witnessed["witnesses"]] == [early.name, late.name]
    with fresh_client(env) as fresh:
        same_answer(client.get(receipt_url), fresh.get(receipt_url))
    # The checkpoint names only the latest checkpoint's cosignatures: it is still kept.
    client.get(f"{LOG}/checkpoint")
    assert checkouts.during(lambda: client.get(f"{LOG}/checkpoint")) == 0


def test_errors_are_never_kept(
    app: Flask,
    client: FlaskClient,
    ledger: Database,
    signer: Any,
    append_notes: Callable[..., None],
) -> None:
    for _ in range(2):
        assert client.get(f"{LOG}/entries/3").status_code == 404
        assert client.get(f"{LOG}/proofs/inclusion?index=0&tree_size=4").status_code == 404
        assert client.get(f"{API}/receipts/AAAAAAAAAAAAAAAA").status_code in (400, 404)
    checkouts = Checkouts(app)
    assert checkouts.during(lambda: client.get(f"{LOG}/entries/3")) >= 1
    append_notes(ledger, signer, 3)
    entry = client.get(f"{LOG}/entries/3")
    assert entry.status_code == 200 and entry.get_json()["index"] == 3
    assert client.get(f"{LOG}/proofs/inclusion?index=0&tree_size=4").status_code == 200


def test_conditional_requests_still_get_304_and_a_new_head_a_new_tag(
    client: FlaskClient, funds: Any
) -> None:
    tag = client.get(f"{LOG}/checkpoint").headers["ETag"]
    for _ in range(2):
        again = client.get(f"{LOG}/checkpoint", headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.get_data() == b""
    zipped = client.get(f"{API}/funds", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    conditional = {"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}
    assert client.get(f"{API}/funds", headers=conditional).status_code == 304
    funds.give(1_000)
    moved = client.get(f"{LOG}/checkpoint", headers={"If-None-Match": tag})
    assert moved.status_code == 200 and moved.headers["ETag"] != tag


def test_requests_with_credentials_are_neither_answered_from_nor_kept(
    app: Flask, client: FlaskClient, gifts: list[dict[str, Any]]
) -> None:
    url = f"{LOG}/entries/{gifts[0]['index']}"
    checkouts = Checkouts(app)
    with_token = {"Authorization": "Bearer not-a-token"}
    assert checkouts.during(lambda: client.get(url, headers=with_token)) >= 1
    assert checkouts.during(lambda: client.get(url)) > 1  # the first anonymous one builds it
    assert checkouts.during(lambda: client.get(url, headers=with_token)) >= 1
    assert checkouts.during(lambda: client.get(url)) == 0


def test_the_bound_in_bytes_holds_and_the_least_recently_used_go_first(
    env: dict[str, str],
    ledger: Database,
    signer: Any,
    append_notes: Callable[..., None],
) -> None:
    append_notes(ledger, signer, 40)
    bound = 16_000
    app = create_app({**env, "TESTING": True, "RESPONSE_CACHE_MAX_BYTES": bound})
    try:
        client = app.test_client()
        for index in range(40):
            assert client.get(f"{LOG}/entries/{index}").status_code == 200
        with app.app_context():
            kept = response_cache()
        assert 0 < kept.bytes_used <= bound
        assert 0 < len(kept) < 40
        checkouts = Checkouts(app)
        assert checkouts.during(lambda: client.get(f"{LOG}/entries/39")) == 0
        assert checkouts.during(lambda: client.get(f"{LOG}/entries/0")) > 0
        assert client.get(f"{LOG}/entries/0").get_json()["index"] == 0
        assert kept.bytes_used <= bound
    finally:
        app.extensions["ledger.database"].dispose()


def test_an_answer_too_large_for_its_share_of_the_bound_is_sent_but_not_kept(
    env: dict[str, str], ledger: Database, signer: Any, append_notes: Callable[..., None]
) -> None:
    append_notes(ledger, signer, 30, batch=30)
    app = create_app({**env, "TESTING": True, "RESPONSE_CACHE_MAX_BYTES": 40_000})
    try:
        client = app.test_client()
        page = client.get(f"{LOG}/entries?start=0&limit=30")
        assert page.status_code == 200 and len(page.get_data()) > 40_000 // 8
        with app.app_context():
            assert len(response_cache()) == 0
    finally:
        app.extensions["ledger.database"].dispose()


def test_threads_reading_while_gifts_are_recorded_never_see_an_older_state(
    env: dict[str, str], funds: Any, gifts: list[dict[str, Any]]
) -> None:
    # Four threads read as fast as they can, from one address: on a fast machine that
    # is over the public rate limit within the test, which is not what it is about.
    with fresh_client({**env, "LEDGER_RATELIMIT_ENABLED": "false"}) as unlimited:
        app = unlimited.application
        receipt_url = f"{API}/receipts/{gifts[0]['receipt_id']}"
        recorded = {"size": size_of(app.test_client().get(f"{LOG}/checkpoint")), "received": 0}
        recorded["received"] = received(app.test_client())
        done = threading.Event()
        failures: list[str] = []

        def read() -> None:
            client = app.test_client()
            while not done.is_set():
                size, total = recorded["size"], recorded["received"]
                seen = size_of(client.get(f"{LOG}/checkpoint"))
                if seen < size:
                    failures.append(f"checkpoint {seen} after {size} was recorded")
                if received(client) < total:
                    failures.append("the funds list showed an older balance")
                if client.get(receipt_url).status_code != 200:
                    failures.append("a receipt was not answered")
                time.sleep(0.001)  # four threads that never wait starve the writer of the GIL

        readers = [threading.Thread(target=read) for _ in range(4)]
        for reader in readers:
            reader.start()
        try:
            for _ in range(8):
                funds.give(10_000)
                recorded["received"] += 10_000
                recorded["size"] += 1
                time.sleep(0.02)
        finally:
            done.set()
            for reader in readers:
                reader.join()
        assert failures == []
        client = app.test_client()
        assert size_of(client.get(f"{LOG}/checkpoint")) == recorded["size"]
        with fresh_client(env) as fresh:
            for url in (f"{LOG}/checkpoint", f"{API}/funds", receipt_url):
                same_answer(client.get(url), fresh.get(url))


def test_the_head_check_leaves_no_connection_in_autocommit(
    app: Flask, client: FlaskClient, gifts: list[dict[str, Any]]
) -> None:
    """Writers share the pool: a connection left in autocommit would commit half a write."""
    for _ in range(5):
        client.get(f"{LOG}/checkpoint")
        client.get(f"{API}/funds")
    engine = app.extensions["ledger.database"].engine
    idle = engine.pool.checkedin()
    assert idle > 0
    taken = [engine.raw_connection() for _ in range(idle)]
    try:
        for pooled in taken:
            assert getattr(pooled.driver_connection, "autocommit", False) is not True
    finally:
        for pooled in taken:
            pooled.close()


def test_the_kept_answers_are_safe_to_share_between_threads(ledger: Database) -> None:
    kept = ResponseCache(ledger, max_bytes=64_000)
    errors: list[BaseException] = []

    def churn(offset: int) -> None:
        try:
            for n in range(2_000):
                key = f"/k/{(n * 7 + offset) % 300}"
                found = kept.get(key)
                if found is not None:
                    assert found.body == key.encode() * 10
                body = key.encode() * 10
                kept.put(key, Kept(body, 200, (), None, len(body) + 200))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=churn, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert 0 < kept.bytes_used <= 64_000
