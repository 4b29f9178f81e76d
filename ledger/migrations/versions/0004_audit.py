"""The audit's tables: witnesses and their cosignatures, and an index of audit entries.

Acknowledged findings and award nominations are entries of the log; the partial
index lets their states be replayed without scanning every gift.

Revision ID: 0004_audit
Revises: 0003_public_lists
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.models import AUDIT_ENTRY_CONDITION

revision = "0004_audit"
down_revision = "0003_public_lists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_log_entries_audit_entries",
        "log_entries",
        ["idx"],
        sqlite_where=sa.text(AUDIT_ENTRY_CONDITION),
        postgresql_where=sa.text(AUDIT_ENTRY_CONDITION),
    )
    op.create_table(
        "log_witnesses",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("verifier_key", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
    )
    op.create_table(
        "log_cosignatures",
        sa.Column("tree_size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("witness", sa.String(200), primary_key=True),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_cosignatures")
    op.drop_table("log_witnesses")
    op.drop_index("ix_log_entries_audit_entries", table_name="log_entries")
