"""Kept receipt proofs: a receipt rebuilt from them is the fresh one, byte for byte.

An app keeps what each receipt proves (its entry, checkpoint, inclusion proof and key)
and the consistency proofs of its witnessed checkpoints. Every check compares what a
reader of that app sees after the log moved (appends, a reversal, cosignatures) with
what a new app, which keeps nothing yet, answers over the same database, and looks at
the statements the rebuilt answers ran.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from support.answers import fresh_client, same_answer
from support.api import API
from support.witnessing import add_witness

from audit import witnesses
from audit.cosignature import WitnessSigner
from audit.witnesses import HttpAnswer
from ledger import log, receipts
from ledger.checkpoint import SignedNote
from ledger.db import Database
from ledger.errors import NotFoundError
from ledger.log import StoredCheckpoint
from ledger.settings import Settings
from public_api import create_app
from public_api.receipt_cache import ReceiptCache, keep_proof


class Statements:
    """The SQL statements an app runs through SQLAlchemy."""

    def __init__(self, app: Flask) -> None:
        self.seen: list[str] = []
        engine = app.extensions["ledger.database"].engine
        event.listen(engine, "before_cursor_execute", self._ran)

    def _ran(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.seen.append(statement)

    def reading(self, table: str) -> list[str]:
        return [s for s in self.seen if table in s]


def cosign(
    db: Database, signer: WitnessSigner, timestamp: int, size: int | None = None
) -> StoredCheckpoint:
    """The witness cosigns the checkpoint of ``size`` (the latest by default), as stored."""
    with db.session() as session:
        [cosigner] = [c for c in witnesses.configured(session) if c.name == signer.name]
        latest = log.latest_checkpoint(session)
        wanted = latest if size is None else log.checkpoint_covering(session, size - 1)

    def post(_url: str, body: bytes) -> HttpAnswer:
        note = SignedNote.parse(body.decode().split("\n\n", 1)[1])
        return HttpAnswer(200, "text/plain", signer.cosign(note.text, timestamp).line().encode())

    assert witnesses.ask(db, cosigner, wanted, post).cosigned
    return wanted


@pytest.fixture
def gifts(funds: Any) -> list[dict[str, Any]]:
    """Three gifts, each in its own checkpoint."""
    return [funds.give(amount).answer() for amount in (500_000, 700_000, 900_000)]


def urls_of(gifts: list[dict[str, Any]]) -> list[str]:
    return [f"{API}/receipts/{gift['receipt_id']}" for gift in gifts]


def test_receipts_rebuilt_from_kept_proofs_are_the_fresh_ones_byte_for_byte(
    app: Flask,
    client: FlaskClient,
    env: dict[str, str],
    ledger: Database,
    funds: Any,
    gifts: list[dict[str, Any]],
) -> None:
    urls = urls_of(gifts)
    statements = Statements(app)

    def check(step: str) -> None:
        """Every receipt of ``client`` (its proofs kept) is the one a new app builds."""
        with fresh_client(env) as fresh:
            for url in urls:
                same_answer(client.get(url), fresh.get(url))
        # What a receipt proves is read once per app, however the log moved since.
        assert len(statements.reading("fund_contributions")) == len(urls), step

    check("first read")
    funds.give(100_000)
    funds.give(200_000)
    check("after appends")

    reversal = funds.record("reversal", {"target": gifts[1]["index"], "reason": "Ghi trùng"})
    assert client.get(urls[1]).get_json()["reversal_index"] == reversal.index
    check("after a reversal")

    early = add_witness(ledger, "witness.kiemtoan.example/w1")
    late = add_witness(ledger, "witness.thanhtra.example/w2")
    now = int(time.time())
    older = cosign(ledger, early, now)
    check("after a first cosignature")
    assert client.get(urls[0]).get_json()["witnessed"]["tree_size"] == older.tree_size

    funds.give(300_000)
    cosign(ledger, early, now + 1)
    check("after a cosignature of a later size")

    cosign(ledger, late, now + 2, older.tree_size)  # two witnesses now on the older size
    witnessed = client.get(urls[0]).get_json()["witnessed"]
    assert witnessed["tree_size"] == older.tree_size
    assert [w["name"] for w in witnessed["witnesses"]] == [early.name, late.name]
    check("after the most cosigned size changed")

    cosign(ledger, late, now + 3, older.tree_size)  # the same size again: a later time
    check("after a new cosignature of the same size")


def test_a_rebuild_after_an_append_reads_only_the_reversal_and_the_evidence(
    app: Flask,
    client: FlaskClient,
    ledger: Database,
    funds: Any,
    gifts: list[dict[str, Any]],
) -> None:
    url = urls_of(gifts)[0]
    signer = add_witness(ledger, "witness.kiemtoan.example/w1")
    cosign(ledger, signer, int(time.time()))
    witnessed = client.get(url).get_json()["witnessed"]
    assert witnessed["consistency_proof"]  # cosigned after the gift's own checkpoint

    funds.give(100_000)  # the head moves: the kept answer is stale, the proofs are not
    statements = Statements(app)
    assert client.get(url).get_json()["witnessed"] == witnessed
    # Neither the gift, its entry, the tree's nodes nor the key periods are read again.
    assert statements.reading("log_entries") == []
    assert statements.reading("fund_contributions") == []
    assert len(statements.reading("fund_reversals")) == 1
    assert len(statements.reading("log_cosignatures")) == 1
    assert len([s for s in statements.seen if s.startswith("SELECT")]) == 2


def test_qr_codes_and_the_proof_file_come_from_the_kept_proof(
    app: Flask, client: FlaskClient, env: dict[str, str], gifts: list[dict[str, Any]]
) -> None:
    base = urls_of(gifts)[2]
    files = [f"{base}/qr.png", f"{base}/qr.svg", f"{base}.tlog-proof"]
    client.get(base)
    statements = Statements(app)
    with fresh_client(env) as fresh:
        for url in files:
            same_answer(client.get(url), fresh.get(url))
    assert statements.seen == []


def test_apps_never_share_kept_proofs(
    app: Flask, client: FlaskClient, env: dict[str, str], gifts: list[dict[str, Any]]
) -> None:
    url = urls_of(gifts)[0]
    assert client.get(url).get_json()["receipt_url"].startswith("https://quy.example.vn/r/")
    other = create_app({**env, "LEDGER_BASE_URL": "https://khac.example.vn", "TESTING": True})
    try:
        answer = other.test_client().get(url).get_json()
        assert answer["receipt_url"] == f"https://khac.example.vn/r/{gifts[0]['receipt_id']}"
        qr = other.test_client().get(f"{url}/qr.svg").get_data()
        assert qr != client.get(f"{url}/qr.svg").get_data()
    finally:
        other.extensions["ledger.database"].dispose()


def _proofs(
    db: Database, settings: Settings, gifts: list[dict[str, Any]]
) -> list[receipts.ReceiptProof]:
    with db.session() as session:
        return [receipts.prove(session, settings, gift["receipt_id"]) for gift in gifts]


def test_the_bound_in_bytes_holds_and_the_least_recently_used_go_first(
    ledger: Database, settings: Settings, gifts: list[dict[str, Any]]
) -> None:
    first, second, third = _proofs(ledger, settings, gifts)
    sizes = [keep_proof(p).size for p in (first, second, third)]
    cache = ReceiptCache(max_bytes=sizes[0] + sizes[1] + sizes[2] - 1)
    made: list[str] = []

    def prove(proof: receipts.ReceiptProof) -> receipts.ReceiptProof:
        made.append(proof.receipt_id)
        return proof

    for proof in (first, second, first, third):  # ``first`` used again: ``second`` goes
        assert cache.proof(proof.receipt_id, functools.partial(prove, proof)).proof == proof
    assert made == [first.receipt_id, second.receipt_id, third.receipt_id]
    assert len(cache) == 2 and cache.bytes_used <= cache.max_bytes
    cache.proof(first.receipt_id, lambda: prove(first))
    cache.proof(second.receipt_id, lambda: prove(second))
    assert made[3:] == [second.receipt_id]


def test_a_proof_larger_than_the_bound_is_used_but_not_kept(
    ledger: Database, settings: Settings, gifts: list[dict[str, Any]]
) -> None:
    [proof] = _proofs(ledger, settings, gifts[:1])
    cache = ReceiptCache(max_bytes=keep_proof(proof).size - 1)
    assert cache.proof(proof.receipt_id, lambda: proof).proof == proof
    assert len(cache) == 0 and cache.bytes_used == 0


def test_an_unknown_receipt_is_not_kept(ledger: Database) -> None:
    """A gift may be recorded under that ID a moment later."""
    cache = ReceiptCache()

    def missing() -> receipts.ReceiptProof:
        raise NotFoundError("no receipt with ID X")

    with pytest.raises(NotFoundError):
        cache.proof("X", missing)
    assert len(cache) == 0
