"""Database engines and the write discipline that keeps the log a single chain.

Every append runs inside a *write transaction*: on SQLite it starts with
``BEGIN IMMEDIATE`` (the database-wide write lock is taken before the head is read),
on PostgreSQL it takes a transaction-scoped advisory lock first. Either way, two
writers can never read the same head and fork the chain. Read-only sessions use
ordinary deferred transactions and never wait for writers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

from ledger.models import EntryRow

# Arbitrary constant naming "the append lock of this ledger" among advisory locks.
APPEND_LOCK_KEY = 0x4C454447  # "LEDG"
_WRITE_OPTION = "ledger_write"


# libpq waits for ever to connect to a host that does not answer; a request must fail
# (503) in seconds instead of holding its worker until gunicorn kills it. A
# ``connect_timeout`` in the URL wins.
CONNECT_TIMEOUT_SECONDS = 5
POOL_SIZE = 12
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine configured for the ledger's locking; creating it opens no connection."""
    parsed = make_url(url)
    if parsed.database != ":memory:":
        # A gunicorn worker runs several request threads (``gunicorn_conf.threads``),
        # each holding a connection, plus the leader of a group commit: connections
        # beyond the pool would be opened and closed per request (on PostgreSQL, a new
        # server process each time).
        kwargs.setdefault("pool_size", POOL_SIZE)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    if "connect_timeout" not in parsed.query:
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only if it sat idle for a while.

    A server restart or a dropped link shows on a connection that waited in the pool,
    and a ping then swaps it for a fresh one before a request sees the error. Pinging
    on every checkout (``pool_pre_ping``) would cost a round trip per request, most of
    a cached read; a connection handed back a moment ago is as good as its last query.
    """

    @event.listens_for(engine.pool, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as err:  # the pool discards it and connects afresh
            raise DisconnectionError(str(err)) from err


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", 60)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN IMMEDIATE is ours to send.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


# What each database says when its disk is full: SQLite's result code SQLITE_FULL and
# PostgreSQL's SQLSTATE disk_full.
SQLITE_FULL = 13
PG_DISK_FULL = "53100"


def disk_full(error: BaseException) -> bool:
    """Whether a database error (SQLAlchemy's or the driver's) says the disk is full.

    The transaction that met it was rolled back whole, so nothing of it was written;
    the operator must free space before the next write can succeed.
    """
    driver = getattr(error, "orig", None) or error
    code = getattr(driver, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
        return True
    return getattr(driver, "sqlstate", None) == PG_DISK_FULL


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


class Database:
    """An engine plus the two kinds of session the ledger uses."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        # PostgreSQL's READ COMMITTED gives every statement its own snapshot, inside a
        # transaction or not: a web request's reads lose nothing without one, and save
        # the BEGIN and ROLLBACK round trips. SQLite keeps its deferred transaction,
        # which is what holds one snapshot across a request's statements there.
        self._request_engine = (
            self.engine
            if self.dialect == "sqlite"
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        """A session for reading."""
        return Session(self.engine, expire_on_commit=False)

    def request_session(self) -> Session:
        """A session for the reads of one web request (never for writing: see above)."""
        return Session(self._request_engine, expire_on_commit=False)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session whose transaction holds the append lock; commits on success."""
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            take_append_lock(session)
            yield session

    def missing_file(self) -> Path | None:
        """The SQLite file ``ledger init`` has not created yet; connecting would create it."""
        path = sqlite_path(self.url)
        return path if path is not None and not path.exists() else None

    def initialised(self) -> bool:
        """Whether ``ledger init`` has created the log's tables (without creating a file)."""
        if self.missing_file() is not None:
            return False
        return inspect(self.engine).has_table(EntryRow.__tablename__)

    def dispose(self) -> None:
        self.engine.dispose()


def take_append_lock(session: Session) -> None:
    """Serialise appenders; on SQLite the IMMEDIATE transaction already did."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
    elif bind.dialect.name == "sqlite":
        # Touching the database starts the (IMMEDIATE) transaction now, not lazily later.
        session.execute(text("SELECT 1"))
