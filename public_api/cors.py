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

from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

PREFIXES = ("/api/", "/r/", "/tile/", "/checkpoint")
READ = ("GET", "HEAD")
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
EXPOSED = "ETag, Retry-After"
ALLOWED_REQUEST_HEADERS = "If-None-Match, If-Modified-Since"
PREFLIGHT_MAX_AGE = "86400"


def requires_token(view: Any) -> bool:
    """Whether a view is a writer's: its OpenAPI description names a security scheme."""
    apidoc = getattr(view, "_apidoc", None) or {}
    return bool(apidoc.get("manual_doc", {}).get("security"))


def _public_endpoint(method: str) -> bool:
    """Whether ``method`` on the request's path reaches a public view (or none at all)."""
    if method == request.method:
        endpoint = request.endpoint
    else:
        adapter = current_app.url_map.bind_to_environ(request.environ)
        try:
            endpoint, _arguments = adapter.match(method=method)
        except HTTPException:
            return False
    view = current_app.view_functions.get(endpoint or "")
    return not requires_token(view)


def add_headers(response: Response) -> Response:
    if not request.path.startswith(PREFIXES):
        return response
    if request.method in READ and _public_endpoint(request.method):
        response.headers[ALLOW_ORIGIN] = "*"
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
    elif request.method == "OPTIONS":
        wanted = request.headers.get("Access-Control-Request-Method", "").upper()
        if wanted in READ and _public_endpoint(wanted):
            response.headers[ALLOW_ORIGIN] = "*"
            response.headers["Access-Control-Allow-Methods"] = ", ".join(READ)
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_REQUEST_HEADERS
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
