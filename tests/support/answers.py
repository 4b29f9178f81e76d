"""Comparing what a reader is sent with what a new app, which has kept nothing, sends."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from public_api import create_app


@contextmanager
def fresh_client(env: Mapping[str, str]) -> Iterator[FlaskClient]:
    """A client of a new app over the same ledger: nothing kept, every answer built."""
    app = create_app({**env, "TESTING": True})
    try:
        yield app.test_client()
    finally:
        app.extensions["ledger.database"].dispose()


def same_answer(kept: TestResponse, fresh: TestResponse) -> None:
    """Byte for byte: status, body and every header but the date."""
    assert kept.status_code == fresh.status_code
    assert kept.get_data() == fresh.get_data()
    assert [h for h in kept.headers if h[0] != "Date"] == [
        h for h in fresh.headers if h[0] != "Date"
    ]
