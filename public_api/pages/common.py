"""What every page shares: its headers, its caching and the figures' formats."""

from __future__ import annotations

from flask import Blueprint, Response

from public_api import caching

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    if response.status_code == 200 and "Cache-Control" not in response.headers:
        response.headers.update(caching.policy(caching.LATEST))
    return caching.conditional(response)


def blueprint(name: str) -> Blueprint:
    """A page blueprint with the pages' headers."""
    blp = Blueprint(name, __name__)
    blp.after_request(page_headers)
    return blp
