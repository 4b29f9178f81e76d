"""One read session per request, closed when the request ends."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.settings import Settings


def settings() -> Settings:
    value: Settings = current_app.extensions["ledger.settings"]
    return value


def database() -> Database:
    value: Database = current_app.extensions["ledger.database"]
    return value


def session() -> Session:
    """The request's read session, opened on first use."""
    if "ledger_session" not in g:
        g.ledger_session = database().session()
    value: Session = g.ledger_session
    return value


def _close_session(_error: BaseException | None) -> None:
    opened = g.pop("ledger_session", None)
    if opened is not None:
        opened.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)
