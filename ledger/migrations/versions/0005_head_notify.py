"""PostgreSQL notifies the channel ``ledger_head`` when the log's head may have changed.

Each web process keeps finished answers of the public reads and used to query the
head (latest checkpoint, witnesses, newest cosignatures) before sending one. A
process that LISTENs on this channel learns of every commit that changed the head
without a query: the triggers fire for any writer (the service, the CLI, a restore),
once per statement, and PostgreSQL delivers the notification only if the
transaction commits, folding repeats within it. SQLite has no such channel; its
readers use ``PRAGMA data_version`` instead.

Revision ID: 0005_head_notify
Revises: 0004_audit
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0005_head_notify"
down_revision = "0004_audit"
branch_labels = None
depends_on = None

CHANNEL = "ledger_head"
HEAD_TABLES = ("log_checkpoints", "log_cosignatures", "log_witnesses")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION ledger_head_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END
        $$
        """
    )
    for table in HEAD_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_head_changed"
            f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_head_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in HEAD_TABLES:
        op.execute(f"DROP TRIGGER {table}_head_changed ON {table}")
    op.execute("DROP FUNCTION ledger_head_changed()")
