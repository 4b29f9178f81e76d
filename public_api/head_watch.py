"""Knowing without a query that the log's head has not changed since it was last read.

The kept answers of ``response_cache`` are sent only while the log's head is the one
they were made from, and reading the head is a query: on PostgreSQL a round trip that
costs about as much as serving the whole kept answer. A watch gives a *generation*
instead, read in microseconds, that changes whenever the head may have changed; the
head is read again only then.

- SQLite: ``PRAGMA data_version`` on a connection of the watch's own, which changes
  as soon as any other connection, of this process or another, commits to the file.
  The watch's connection never writes, so every commit counts.
- PostgreSQL: the watch's own connection LISTENs on ``ledger_head``, which triggers
  on the head's tables notify at every commit that touches them (migration 0005).
  Reading the generation drains what has arrived on its socket, without blocking.
  A commit made in this process counts the moment it returns, through SQLAlchemy's
  ``after_commit`` hook on every session; one made by another process counts once
  its notification arrives. PostgreSQL signals the listeners while it commits,
  before the writer is told, so the notification normally arrives before anyone
  could have learned of the commit and asked another process; that is the only
  window in which another process may send the answer made before the commit.

Nothing is known (``None``, and the head is queried) while the watch has no working
connection: before the first request, after the server closed it (a restart), while
the database is down, or where it cannot notify (a ledger not upgraded to 0005, a hot
standby, which refuses LISTEN; listening on the primary instead would announce a
commit before the replica has replayed it). A lost connection is opened again at most once a second,
by one request thread, and the generation then changes, since notifications may have
been missed. A watch belongs to one process: it is made lazily by the first request
of a worker, never before gunicorn forks.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import threading
import time
import weakref
from typing import Any, Protocol

from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ledger.db import sqlite_path

CHANNEL = "ledger_head"
"""The channel migration 0005's triggers notify."""

TRIGGERS_QUERY = (
    "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('log_checkpoints')"
    " AND tgname = 'log_checkpoints_head_changed'"
)
"""Whether the ledger (on the connection's search path) has the triggers: one not yet
upgraded to 0005 would never notify, and is queried instead."""

RECONNECT_AFTER_SECONDS = 1.0
REFUSED_RETRY_SECONDS = 60.0
"""How long a database that answered but cannot notify (not migrated, or a read replica,
which refuses LISTEN) is queried before the watch asks again: each try is a connection."""

Generation = tuple[int, ...]

_commits = itertools.count(1)
_last_commit = 0
_hook_lock = threading.Lock()
_hooked = False


def _count_commit(_session: Session) -> None:
    global _last_commit
    _last_commit = next(_commits)


def _hook_commits() -> None:
    """Count every session commit of this process (once, whichever app asks first)."""
    global _hooked
    with _hook_lock:
        if not _hooked:
            event.listen(Session, "after_commit", _count_commit)
            _hooked = True


class HeadWatch(Protocol):
    def generation(self) -> Generation | None:
        """A value that differs from every earlier one once the head may have changed."""

    def close(self) -> None: ...


class DataVersionWatch:
    """SQLite: the file's ``data_version``, as seen by a connection that never writes.

    The file's identity is part of the generation: a database removed and created
    again under the same name is another database, and the old connection would keep
    reading the removed file.
    """

    def __init__(self, engine: Engine) -> None:
        path = sqlite_path(str(engine.url))
        if path is None:
            raise ValueError("a data_version watch needs a SQLite file")
        self._path = path
        self._engine = engine
        self._lock = threading.Lock()
        self._connection: Any = None
        self._identity: tuple[int, int] | None = None
        _closed_with_engine(self, engine)

    def generation(self) -> Generation | None:
        try:
            found = os.stat(self._path)
        except FileNotFoundError:
            return None
        identity = (found.st_dev, found.st_ino)
        with self._lock:
            try:
                if self._connection is None or identity != self._identity:
                    self._close()
                    self._connection = _dedicated(self, self._engine)
                    self._identity = identity
                (version,) = self._connection.execute("PRAGMA data_version").fetchone()
            except (sqlite3.Error, SQLAlchemyError):  # the head query will say what is wrong
                self._close()
                return None
        return (*identity, int(version))

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._connection is not None:
            _close_quietly(self._connection)
            self._connection = None


class NotificationWatch:
    """PostgreSQL: the notifications of ``ledger_head`` counted on a listening connection."""

    def __init__(self, engine: Engine) -> None:
        _hook_commits()
        self._engine = engine
        self._driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._lock = threading.Lock()
        self._reconnecting = threading.Lock()
        self._connection: Any = None
        self._opened = 0  # connections opened so far: a new one may have missed notifications
        self._notified = 0
        self._next_attempt = 0.0
        _closed_with_engine(self, engine)

    def generation(self) -> Generation | None:
        if self._connection is None and not self._listen():
            return None
        with self._lock:
            connection = self._connection
            if connection is None:
                return None
            try:
                connection.pgconn.consume_input()
                while connection.pgconn.notifies() is not None:
                    self._notified += 1
            except self._driver_error:
                self._drop()
                return None
            return (self._opened, self._notified, _last_commit)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _listen(self) -> bool:
        """Open the listening connection, unless another thread is or one did just now."""
        if time.monotonic() < self._next_attempt or not self._reconnecting.acquire(False):
            return False
        try:
            self._next_attempt = time.monotonic() + RECONNECT_AFTER_SECONDS
            try:
                connection = _dedicated(self, self._engine)
            except (self._driver_error, SQLAlchemyError):  # the database is down: ask again later
                return False
            try:
                connection.autocommit = True
                listening = connection.execute(TRIGGERS_QUERY).fetchone() is not None
                if listening:  # else not migrated yet: nothing would notify
                    connection.execute(f"LISTEN {CHANNEL}")
            except self._driver_error:  # a hot standby refuses LISTEN
                listening = False
            if not listening:
                _close_quietly(connection)
                self._next_attempt = time.monotonic() + REFUSED_RETRY_SECONDS
                return False
            with self._lock:
                self._drop()
                self._connection = connection
                self._opened += 1
            return True
        finally:
            self._reconnecting.release()

    def _drop(self) -> None:
        if self._connection is not None:
            _close_quietly(self._connection)
            self._connection = None


def _dedicated(watch: HeadWatch, engine: Engine) -> Any:
    """A driver connection made as the engine makes them, but owned by ``watch`` alone.

    It is closed with the engine's pool (``Engine.dispose``), or when the watch is
    collected, never left for the driver to complain about.
    """
    pooled = engine.raw_connection()
    connection = pooled.driver_connection
    pooled.detach()
    weakref.finalize(watch, _close_quietly, connection)
    return connection


def _close_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):  # closing a connection whose server is gone
        connection.close()


def _closed_with_engine(watch: HeadWatch, engine: Engine) -> None:
    closing = weakref.WeakMethod(watch.close)

    def close(_engine: Engine) -> None:
        method = closing()
        if method is not None:
            method()

    event.listen(engine, "engine_disposed", close)


def watch_for(engine: Engine) -> HeadWatch | None:
    """The watch for this engine's database, or None where there is none (memory)."""
    if engine.dialect.name == "postgresql":
        return NotificationWatch(engine)
    if sqlite_path(str(engine.url)) is not None:
        return DataVersionWatch(engine)
    return None
