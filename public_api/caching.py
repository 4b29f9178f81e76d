"""HTTP caching: anything about a fixed tree size never changes, so caches may keep it.

Views say how long a response may be kept; ``conditional`` adds a strong ETag and
answers ``If-None-Match`` with 304, for every cacheable GET response.
"""

from __future__ import annotations

from flask import Flask, Response, request

IMMUTABLE = "public, max-age=31536000, immutable"
LATEST = "public, max-age=5"
SHORT = "public, max-age=60"
NO_STORE = "no-store"


def policy(value: str) -> dict[str, str]:
    """Headers a view returns to mark its response cacheable."""
    return {"Cache-Control": value}


def conditional(response: Response) -> Response:
    cacheable = response.headers.get("Cache-Control", "").startswith("public")
    if request.method in ("GET", "HEAD") and response.status_code == 200 and cacheable:
        response.add_etag()
        response.make_conditional(request)
    return response


def never_stored_unless_said(response: Response) -> Response:
    """Errors and anything but a read are ``no-store`` unless their view said otherwise.

    A GET answer without a policy is left alone, so that a view that forgot one shows.
    """
    reading = request.method in ("GET", "HEAD")
    if "Cache-Control" not in response.headers and (response.status_code >= 400 or not reading):
        response.headers["Cache-Control"] = NO_STORE
    return response


def init_app(app: Flask) -> None:
    app.after_request(never_stored_unless_said)
