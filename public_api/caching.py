"""HTTP caching: anything about a fixed tree size never changes, so caches may keep it.

Views say how long a response may be kept; ``conditional`` adds a strong ETag and
answers ``If-None-Match`` with 304, for every cacheable GET response.
"""

from __future__ import annotations

from flask import Response, request

IMMUTABLE = "public, max-age=31536000, immutable"
LATEST = "public, max-age=5"
SHORT = "public, max-age=60"


def policy(value: str) -> dict[str, str]:
    """Headers a view returns to mark its response cacheable."""
    return {"Cache-Control": value}


def conditional(response: Response) -> Response:
    cacheable = response.headers.get("Cache-Control", "").startswith("public")
    if request.method in ("GET", "HEAD") and response.status_code == 200 and cacheable:
        response.add_etag()
        response.make_conditional(request)
    return response
