"""/healthz answers while the process lives; /readyz only while the log verifies at its head."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Connection, text

from ledger.db import Database
from ledger.keys import SigningKey
from ledger.models import APPEND_ONLY_TABLES


def _drop_triggers(conn: Connection) -> None:
    """What an attacker with the database's password does first (see test_tamper)."""
    for table in APPEND_ONLY_TABLES:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
        else:
            conn.execute(text(f"DROP TRIGGER {table}_no_update"))


def test_healthz_says_only_that_the_process_answers(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_names_the_verified_head(
    client: FlaskClient, ledger: Database, signer: SigningKey, append_notes: Any
) -> None:
    append_notes(ledger, signer, 4)
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["tree_size"] == 5
    checkpoint = client.get("/api/v1/log/checkpoint").get_data(as_text=True)
    assert bytes.fromhex(body["root"]).hex() == body["root"]
    assert str(body["tree_size"]) == checkpoint.split("\n")[1]


def test_readyz_fails_when_the_head_entry_was_rewritten(
    client: FlaskClient, ledger: Database, signer: SigningKey, append_notes: Any
) -> None:
    append_notes(ledger, signer, 3)
    with ledger.engine.begin() as conn:
        _drop_triggers(conn)
        leaf = bytes(conn.scalar(text("SELECT leaf FROM log_entries WHERE idx = 3")))
        forged = leaf.replace("ghi chú".encode(), b"ghi chu")
        assert forged != leaf
        conn.execute(text("UPDATE log_entries SET leaf = :l WHERE idx = 3"), {"l": forged})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json() == {
        "status": "failing",
        "reason": "entry 3 does not hash to its stored leaf hash",
    }
    assert client.get("/healthz").status_code == 200


def test_readyz_fails_when_the_stored_tree_disagrees_with_the_checkpoint(
    client: FlaskClient, ledger: Database, signer: SigningKey, append_notes: Any
) -> None:
    append_notes(ledger, signer, 3)
    with ledger.engine.begin() as conn:
        _drop_triggers(conn)
        # Entry 3 completes the subtree of entries 0-3, whose hash is the root at size 4.
        subtrees = conn.scalar(text("SELECT subtrees FROM log_entries WHERE idx = 3"))
        forged = bytes(subtrees)[:-32] + bytes(32)
        conn.execute(text("UPDATE log_entries SET subtrees = :s WHERE idx = 3"), {"s": forged})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "disagrees with checkpoint 4" in response.get_json()["reason"]
