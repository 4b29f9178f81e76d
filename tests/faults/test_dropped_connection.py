"""A pooled PostgreSQL connection the server dropped while it sat idle is replaced.

Pinging every connection at every checkout would cost a round trip per request, so a
connection is pinged only after ``PING_AFTER_IDLE_SECONDS`` in the pool: the case of a
server restarted, or a link cut, while the service was quiet.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ledger import db as ledger_db
from ledger.db import Database
from ledger.settings import Settings

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def pooled(settings: Settings) -> Iterator[Database]:
    """A database whose pool holds one connection, already used once."""
    database = Database(settings.database_url, pool_size=1, max_overflow=0)
    with database.request_session() as session:
        session.execute(text("SELECT 1"))
    yield database
    database.dispose()


def drop_pooled_connection(database: Database) -> None:
    """Terminate, from the server's side, the backend behind the pooled connection."""
    with database.request_session() as session:
        backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    conninfo = database.engine.url.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))


def test_a_connection_dropped_while_idle_is_replaced_before_a_request_uses_it(
    pooled: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop_pooled_connection(pooled)
    monkeypatch.setattr(ledger_db, "PING_AFTER_IDLE_SECONDS", 0.0)  # it sat idle long enough

    with pooled.request_session() as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1


def test_a_connection_used_a_moment_ago_is_not_pinged(
    pooled: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop_pooled_connection(pooled)
    monkeypatch.setattr(ledger_db, "PING_AFTER_IDLE_SECONDS", 3600.0)

    # No ping, so the request meets the dropped connection (the web answer is a 503) ...
    with pytest.raises(OperationalError), pooled.request_session() as session:
        session.execute(text("SELECT 1"))
    # ... and the pool, told of the disconnect, connects afresh for the next one.
    with pooled.request_session() as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1
