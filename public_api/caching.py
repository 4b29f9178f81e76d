"""HTTP caching: anything about a fixed tree size never changes, so caches may keep it.

Views say how long a response may be kept; ``conditional`` adds a strong ETag and
answers ``If-None-Match`` with 304, for every cacheable GET response.

``conditional`` runs on every answer of the hot reads, so it adds what werkzeug's
``add_etag`` and ``make_conditional`` would (the ETag, then ``Date`` and
``Content-Length`` where they are missing) after reading the names present once, and
leaves the evaluation to ``make_conditional`` only when the request holds something to
evaluate: without ``If-None-Match``, ``If-Modified-Since`` or ``If-Match`` no answer
can become a 304 or a 412 (``Range`` is never honoured, as no answer accepts ranges).
"""

from __future__ import annotations

import functools
import time
from typing import cast

from flask import Flask, Request, Response, request
from werkzeug.http import generate_etag, http_date, quote_etag
from werkzeug.local import LocalProxy

IMMUTABLE = "public, max-age=31536000, immutable"
LATEST = "public, max-age=5"
SHORT = "public, max-age=60"
NO_STORE = "no-store"

READ = ("GET", "HEAD")
CONDITIONS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH")
"""The request headers (as WSGI keys) that can turn an answer into a 304 or a 412."""


def policy(value: str) -> dict[str, str]:
    """Headers a view returns to mark its response cacheable."""
    return {"Cache-Control": value}


def _request() -> Request:
    """The request itself, not Flask's proxy to it, whose every attribute read is a lookup.

    These hooks run on every answer; see "Notes On Proxies" in Flask's documentation.
    """
    return cast("LocalProxy[Request]", request)._get_current_object()


def conditional(response: Response) -> Response:
    asked = _request()
    if response.status_code != 200 or asked.method not in READ:
        return response
    headers = response.headers
    if not headers.get("Cache-Control", "").startswith("public"):
        return response
    present = {name.lower() for name, _value in headers}
    if "etag" not in present:
        headers.add("ETag", quote_etag(generate_etag(response.get_data())))
    environ = asked.environ
    if environ["REQUEST_METHOD"] not in READ:  # sent in lower case: werkzeug adds no more
        return response
    if "date" not in present:
        headers.add("Date", _date(int(time.time())))
    if any(key in environ for key in CONDITIONS):
        response.make_conditional(asked)
    elif response.automatically_set_content_length and "content-length" not in present:
        length = response.calculate_content_length()
        if length is not None:
            headers.add("Content-Length", str(length))
    return response


@functools.lru_cache(maxsize=2)
def _date(second: int) -> str:
    """``Date`` for a second: formatted once, not for each of the answers sent in it."""
    return http_date(second)


def never_stored_unless_said(response: Response) -> Response:
    """Errors and anything but a read are ``no-store`` unless their view said otherwise.

    A GET answer without a policy is left alone, so that a view that forgot one shows.
    """
    if response.status_code < 400 and _request().method in READ:
        return response
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = NO_STORE
    return response


def init_app(app: Flask) -> None:
    app.after_request(never_stored_unless_said)
