"""Fund operations: projections of fund entries, private data, tokens, imports, documents.

Revision ID: 0002_fund_tables
Revises: 0001_log_tables
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_fund_tables"
down_revision = "0001_log_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("unit", sa.String(length=48), nullable=True),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "documents",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "fund_allocations",
        sa.Column("entry_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("fund", sa.String(length=48), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("earmark", sa.String(length=300), nullable=False),
        sa.Column("campaign", sa.String(length=48), nullable=True),
        sa.Column("program", sa.String(length=64), nullable=True),
        sa.Column("id_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("entry_index"),
    )
    op.create_index(op.f("ix_fund_allocations_fund"), "fund_allocations", ["fund"], unique=False)
    op.create_index(
        op.f("ix_fund_allocations_id_hash"), "fund_allocations", ["id_hash"], unique=False
    )
    op.create_table(
        "fund_campaigns",
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("fund", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("opens", sa.String(length=10), nullable=False),
        sa.Column("closes", sa.String(length=10), nullable=False),
        sa.Column("distribute_by", sa.String(length=10), nullable=False),
        sa.Column("bank_bin", sa.String(length=6), nullable=False),
        sa.Column("bank_name", sa.String(length=100), nullable=False),
        sa.Column("account_number", sa.String(length=19), nullable=False),
        sa.Column("account_holder", sa.String(length=200), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index(op.f("ix_fund_campaigns_fund"), "fund_campaigns", ["fund"], unique=False)
    op.create_table(
        "fund_contributions",
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.Column("fund", sa.String(length=48), nullable=False),
        sa.Column("campaign", sa.String(length=48), nullable=False),
        sa.Column("mobilizer", sa.String(length=48), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("received_on", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("pledge", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("receipt_id"),
        sa.UniqueConstraint("entry_index"),
    )
    op.create_index(
        op.f("ix_fund_contributions_campaign"), "fund_contributions", ["campaign"], unique=False
    )
    op.create_index(
        op.f("ix_fund_contributions_fund"), "fund_contributions", ["fund"], unique=False
    )
    op.create_index(
        op.f("ix_fund_contributions_reference"), "fund_contributions", ["reference"], unique=False
    )
    op.create_index(
        op.f("ix_fund_contributions_mobilizer"), "fund_contributions", ["mobilizer"], unique=False
    )
    op.create_index(
        op.f("ix_fund_contributions_pledge"), "fund_contributions", ["pledge"], unique=False
    )
    op.create_table(
        "fund_disbursements",
        sa.Column("entry_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("allocation", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entry_index"),
    )
    op.create_index(
        op.f("ix_fund_disbursements_allocation"), "fund_disbursements", ["allocation"], unique=False
    )
    op.create_table(
        "fund_funds",
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("unit", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(op.f("ix_fund_funds_unit"), "fund_funds", ["unit"], unique=False)
    op.create_table(
        "fund_mobilizers",
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=48), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index(op.f("ix_fund_mobilizers_unit"), "fund_mobilizers", ["unit"], unique=False)
    op.create_table(
        "fund_pledges",
        sa.Column("pledge_id", sa.String(length=32), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.Column("fund", sa.String(length=48), nullable=False),
        sa.Column("campaign", sa.String(length=48), nullable=False),
        sa.Column("mobilizer", sa.String(length=48), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pledge_id"),
        sa.UniqueConstraint("entry_index"),
    )
    op.create_index(op.f("ix_fund_pledges_campaign"), "fund_pledges", ["campaign"], unique=False)
    op.create_index(op.f("ix_fund_pledges_fund"), "fund_pledges", ["fund"], unique=False)
    op.create_table(
        "fund_postings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.Column("fund", sa.String(length=48), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("earmark", sa.String(length=300), nullable=False),
        sa.Column("campaign", sa.String(length=48), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "fund_pools",
        sa.Column("fund", sa.String(length=48), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("earmark", sa.String(length=300), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fund", "account", "earmark"),
    )
    op.create_index(op.f("ix_fund_postings_campaign"), "fund_postings", ["campaign"], unique=False)
    op.create_index(
        op.f("ix_fund_postings_entry_index"), "fund_postings", ["entry_index"], unique=False
    )
    op.create_table(
        "fund_reversals",
        sa.Column("target", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("target"),
        sa.UniqueConstraint("entry_index"),
    )
    op.create_table(
        "fund_units",
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent", sa.String(length=48), nullable=True),
        sa.Column("level", sa.String(length=48), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(op.f("ix_fund_units_parent"), "fund_units", ["parent"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor", "key"),
    )
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bank_format", sa.String(length=48), nullable=False),
        sa.Column("campaign", sa.String(length=48), nullable=True),
        sa.Column("unit", sa.String(length=48), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "private_beneficiaries",
        sa.Column("entry_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("entry_index"),
    )
    op.create_table(
        "private_donor_contacts",
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("receipt_id"),
    )
    op.create_table(
        "import_rows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("value_date", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("counterparty", sa.String(length=200), nullable=True),
        sa.Column("counterparty_account", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=True),
        sa.Column("settled_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_import_rows_batch_id"), "import_rows", ["batch_id"], unique=False)
    op.create_index(op.f("ix_import_rows_status"), "import_rows", ["status"], unique=False)
    op.create_index(op.f("ix_import_rows_reference"), "import_rows", ["reference"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("fund tables hold private data: restore from a backup instead")
