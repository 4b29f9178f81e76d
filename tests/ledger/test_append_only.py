"""The database itself refuses to rewrite history, whatever SQL a client sends.

The triggers come from the migrations; these tests go around the application and send
raw UPDATE, DELETE (and on PostgreSQL TRUNCATE) statements, then check the rows.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.db import Database
from ledger.keys import SigningKey
from ledger.models import APPEND_ONLY_TABLES

AppendNotes = Callable[..., None]

KEY = {"log_entries": "idx", "log_checkpoints": "tree_size"}
WRITES = {
    "log_entries": [
        "UPDATE log_entries SET leaf_hash = leaf_hash WHERE idx = 2",
        "UPDATE log_entries SET kind = 'allocation' WHERE idx = 2",
        "UPDATE log_entries SET subtrees = leaf_hash WHERE idx = 3",
        "UPDATE log_entries SET idx = 99 WHERE idx = 3",
        "DELETE FROM log_entries WHERE idx = 3",
        "DELETE FROM log_entries",
    ],
    "log_checkpoints": [
        "UPDATE log_checkpoints SET note = 'forged' WHERE tree_size = 4",
        "UPDATE log_checkpoints SET tree_size = 40 WHERE tree_size = 4",
        "DELETE FROM log_checkpoints WHERE tree_size = 4",
        "DELETE FROM log_checkpoints",
    ],
}


def snapshot(db: Database, table: str) -> list[tuple[object, ...]]:
    with db.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY {KEY[table]}"))
        return [tuple(row) for row in rows]


@pytest.fixture
def filled(ledger: Database, signer: SigningKey, append_notes: AppendNotes) -> Database:
    append_notes(ledger, signer, 6, batch=3)  # sizes 1, 4, 7: nodes up to level 2
    return ledger


def test_the_tables_named_append_only_are_the_log_tables() -> None:
    assert set(APPEND_ONLY_TABLES) == set(WRITES)


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_update_and_delete_are_refused_by_the_database(filled: Database, table: str) -> None:
    before = snapshot(filled, table)
    assert len(before) >= 3
    for sql in WRITES[table]:
        with (
            pytest.raises(DBAPIError, match="append-only") as caught,
            filled.engine.begin() as conn,
        ):
            conn.execute(text(sql))
        assert table in str(caught.value), sql
        assert snapshot(filled, table) == before, sql


def test_emptying_a_table_at_once_is_refused(filled: Database) -> None:
    """TRUNCATE on PostgreSQL; on SQLite, whose DELETE without WHERE is its truncate."""
    postgres = filled.dialect == "postgresql"
    for table in APPEND_ONLY_TABLES:
        before = snapshot(filled, table)
        statement = f"TRUNCATE {table}" if postgres else f"DELETE FROM {table}"
        with (
            pytest.raises(DBAPIError, match="append-only") as caught,
            filled.engine.begin() as conn,
        ):
            conn.execute(text(statement))
        assert ("TRUNCATE" if postgres else "DELETE") in str(caught.value)
        assert snapshot(filled, table) == before


def test_inserting_stays_possible_after_a_refused_change(
    filled: Database, signer: SigningKey, append_notes: AppendNotes
) -> None:
    with pytest.raises(DBAPIError), filled.engine.begin() as conn:
        conn.execute(text("DELETE FROM log_entries WHERE idx = 6"))
    append_notes(filled, signer, 1)
    assert len(snapshot(filled, "log_entries")) == 8
