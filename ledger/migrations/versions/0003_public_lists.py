"""Columns the public lists filter and show: donors of gifts, beneficiaries, payment days.

Every new value is read from the leaf of the row's entry, so rows written before this
revision are filled in from the log itself (nothing private is read).

Revision ID: 0003_public_lists
Revises: 0002_fund_tables
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from ledger.funds.postings import earmark_key
from ledger.funds.text import in_kind_json, search_key

revision = "0003_public_lists"
down_revision = "0002_fund_tables"
branch_labels = None
depends_on = None

BATCH = 1000
CODE = sa.String(length=48)

# table -> (column, type, nullable once filled)
COLUMNS: dict[str, list[tuple[str, sa.types.TypeEngine[Any], bool]]] = {
    "fund_contributions": [
        ("donor_display", sa.String(length=200), False),
        ("donor_type", sa.String(length=16), False),
        ("donor_anonymous", sa.Boolean(), False),
        ("donor_search", sa.String(length=200), False),
        ("earmark", sa.String(length=300), False),
        ("in_kind", sa.Text(), True),
    ],
    "fund_allocations": [
        ("beneficiary_type", sa.String(length=16), False),
        ("beneficiary_unit", CODE, True),
    ],
    "fund_disbursements": [
        ("fund", CODE, False),
        ("paid_on", sa.String(length=10), False),
    ],
}

INDEXES = {
    "fund_contributions": ["amount", "received_on"],
    "fund_allocations": ["beneficiary_unit"],
    "fund_disbursements": ["fund", "paid_on"],
}


def _contribution(body: dict[str, Any]) -> dict[str, Any]:
    donor = body["donor"]
    return {
        "donor_display": donor["display"],
        "donor_type": donor["type"],
        "donor_anonymous": bool(donor["anonymous"]),
        "donor_search": search_key(donor["display"]),
        "earmark": earmark_key(body.get("earmark")),
        "in_kind": in_kind_json(body.get("in_kind")),
    }


def _allocation(body: dict[str, Any]) -> dict[str, Any]:
    beneficiary = body["beneficiary"]
    return {"beneficiary_type": beneficiary["type"], "beneficiary_unit": beneficiary.get("unit")}


def _disbursement(body: dict[str, Any]) -> dict[str, Any]:
    return {"fund": body["fund"], "paid_on": body["paid_on"]}


FILL: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "fund_contributions": _contribution,
    "fund_allocations": _allocation,
    "fund_disbursements": _disbursement,
}


def _bodies(connection: sa.Connection, table: str) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """The leaf bodies of the table's rows, a batch at a time, in index order."""
    query = sa.text(
        f"SELECT t.entry_index, e.leaf FROM {table} t "  # noqa: S608 - names are constants
        "JOIN log_entries e ON e.idx = t.entry_index "
        "WHERE t.entry_index > :after ORDER BY t.entry_index LIMIT :batch"
    )
    after = -1
    while True:
        rows = connection.execute(query, {"after": after, "batch": BATCH}).all()
        if not rows:
            return
        yield [(int(index), orjson.loads(bytes(leaf))["body"]) for index, leaf in rows]
        after = int(rows[-1][0])


def _backfill(connection: sa.Connection, table: str) -> None:
    names = [name for name, _type, _nullable in COLUMNS[table]]
    update = sa.text(
        f"UPDATE {table} SET "  # noqa: S608 - names are constants
        + ", ".join(f"{name} = :{name}" for name in names)
        + " WHERE entry_index = :entry_index"
    )
    for batch in _bodies(connection, table):
        connection.execute(
            update, [{"entry_index": index, **FILL[table](body)} for index, body in batch]
        )


def upgrade() -> None:
    connection = op.get_bind()
    for table, columns in COLUMNS.items():
        for name, type_, _nullable in columns:
            op.add_column(table, sa.Column(name, type_, nullable=True))
        _backfill(connection, table)
        with op.batch_alter_table(table) as batch:
            for name, type_, nullable in columns:
                if not nullable:
                    batch.alter_column(name, existing_type=type_, nullable=False)
        for column in INDEXES[table]:
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def downgrade() -> None:
    """Drop what ``upgrade`` added: every value of it can be read from the leaves again."""
    for table, columns in COLUMNS.items():
        for column in INDEXES[table]:
            op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        with op.batch_alter_table(table) as batch:
            for name, _type, _nullable in columns:
                batch.drop_column(name)
