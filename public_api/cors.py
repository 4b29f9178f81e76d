"""Cross-origin reading: any web page may read the public API, nobody may write from one.

Public GET and HEAD answers under ``/api/``, ``/r/``, ``/tile/`` and ``/checkpoint`` carry
``Access-Control-Allow-Origin: *``, errors included, so that a verifier running in a
browser can fetch entries, proofs and receipts from any site. The same answer goes
to every origin, so caches need not vary on ``Origin``, and no credentials are
involved. ``ETag`` and ``Retry-After`` are exposed to scripts.

Writers' endpoints (those that document the bearer security requirement, see
``public_api.writing.documented``) get no CORS headers at all: writers are servers
and the command line, and a browser must not be able to send a token cross-origin.
A preflight is only answered for GET and HEAD of a public endpoint, and
``Authorization`` is not among the headers it allows.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Flask, Request, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.local import LocalProxy

PREFIXES = ("/api/", "/r/", "/tile/", "/checkpoint")
READ = ("GET", "HEAD")
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
EXPOSED = "ETag, Retry-After"
ALLOWED_REQUEST_HEADERS = "If-None-Match, If-Modified-Since"
PREFLIGHT_MAX_AGE = "86400"
READING = ((ALLOW_ORIGIN, "*"), ("Access-Control-Expose-Headers", EXPOSED))
PREFLIGHT = (
    (ALLOW_ORIGIN, "*"),
    ("Access-Control-Allow-Methods", ", ".join(READ)),
    ("Access-Control-Allow-Headers", ALLOWED_REQUEST_HEADERS),
    ("Access-Control-Max-Age", PREFLIGHT_MAX_AGE),
)


def requires_token(view: Any) -> bool:
    """Whether a view is a writer's: its OpenAPI description names a security scheme."""
    apidoc = getattr(view, "_apidoc", None) or {}
    return bool(apidoc.get("manual_doc", {}).get("security"))


def _public_endpoint(app: Flask, asked: Request, method: str) -> bool:
    """Whether ``method``, which a preflight asks about, reaches a public view on its path."""
    adapter = app.url_map.bind_to_environ(asked.environ)
    try:
        endpoint, _arguments = adapter.match(method=method)
    except HTTPException:
        return False
    return _public(app, endpoint)


def _public(app: Flask, endpoint: str | None) -> bool:
    """Whether ``endpoint`` is a public view's, or nobody's (a path that leads nowhere)."""
    return not requires_token(app.view_functions.get(endpoint or ""))


def _set(response: Response, wanted: tuple[tuple[str, str], ...]) -> None:
    """Set each header of ``wanted``, appending them when the answer has none yet.

    Appending is what setting a missing header comes to, without werkzeug's scan of
    all the answer's headers for each: this runs on every public read.
    """
    headers = response.headers
    present = {name.lower() for name, _value in headers}
    if any(name.lower() in present for name, _value in wanted):
        for name, value in wanted:
            headers[name] = value
    else:
        for name, value in wanted:
            headers.add(name, value)


def add_headers(response: Response) -> Response:
    # The request and the app themselves, not Flask's proxies, whose every attribute
    # read is a lookup: this runs on every answer (see "Notes On Proxies" in Flask's
    # documentation).
    asked = cast("LocalProxy[Request]", request)._get_current_object()
    if not asked.path.startswith(PREFIXES):
        return response
    app = cast("LocalProxy[Flask]", current_app)._get_current_object()
    if asked.method in READ:
        if _public(app, asked.endpoint):
            _set(response, READING)
    elif asked.method == "OPTIONS":
        wanted = asked.headers.get("Access-Control-Request-Method", "").upper()
        if wanted in READ and _public_endpoint(app, asked, wanted):
            _set(response, PREFLIGHT)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
