"""One read session per request, closed when the request ends."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.settings import Settings


class NotInitialisedError(Exception):
    """The database holds no ledger yet: ``ledger init`` has not been run."""


def settings() -> Settings:
    value: Settings = current_app.extensions["ledger.settings"]
    return value


def database() -> Database:
    value: Database = current_app.extensions["ledger.database"]
    return value


def session() -> Session:
    """The request's read session, opened on first use.

    A SQLite file that does not exist yet is not created by a request (opening it would
    leave an empty database behind); ``ledger init`` creates it.
    """
    if "ledger_session" not in g:
        path = database().missing_file()
        if path is not None:
            raise NotInitialisedError(str(path))
        g.ledger_session = database().request_session()
    value: Session = g.ledger_session
    return value


def initialised() -> bool:
    """Whether ``ledger init`` has created the tables; True when that cannot be told."""
    try:
        return database().initialised()
    except DBAPIError:
        return True  # the database is down, which is not the same as empty


def _close_session(_error: BaseException | None) -> None:
    """Close the read session; one whose database went away is dropped quietly.

    The answer is made by then (a 503 if the outage hit this request): a failure to roll
    back a read-only transaction on a dead connection must not turn it into a 500.
    """
    opened = g.pop("ledger_session", None)
    if opened is not None:
        try:
            opened.close()
        except DBAPIError:
            opened.invalidate()


def release() -> None:
    """Give the read session's connection back now, before a long wait (a write's batch).

    A request that waits for the append lock would otherwise hold a pooled connection
    it no longer needs; a later read in the same request opens a fresh session.
    """
    _close_session(None)


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)
