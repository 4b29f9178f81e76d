"""gzip for text answers large enough to gain from it: JSON, CSV, HTML, SVG, plain text.

Entry pages and proofs are hex and base64 in JSON, which gzip shrinks several times
over. PNG, PDF and other already-compressed formats are sent as they are.

ETags stay sound: ``caching.conditional`` tags the identity body first; the gzipped
body is a different representation, so its strong ETag becomes ``"<tag>:gzip"`` and
``If-None-Match`` is evaluated again against that, giving the 304 a client expects
for whichever of the two it holds. Every answer says ``Vary: Accept-Encoding``.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_compress import Compress

MIMETYPES = [
    "application/json",
    "application/problem+json",
    "application/schema+json",
    "text/plain",
    "text/csv",
    "text/html",
    "text/css",
    "text/javascript",
    "image/svg+xml",
]
# Below about a kilobyte, the gzip header and a lost TCP segment outweigh the gain.
MIN_SIZE = 1024


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_MIMETYPES", MIMETYPES)
    app.config.setdefault("COMPRESS_MIN_SIZE", MIN_SIZE)
    app.config.setdefault("COMPRESS_LEVEL", 6)
    app.config.setdefault("COMPRESS_ALGORITHM", ["gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["gzip"])
    Compress(app)
    app.after_request(_static_files_whole)  # registered after gzip's, so it runs before


def _static_files_whole(response: Response) -> Response:
    """Read a static file into the response before gzip sees it.

    Flask streams static files from an open file; gzip would replace that stream with
    its own and the file would never be closed. Our stylesheets and scripts are a few
    kilobytes.
    """
    if request.endpoint == "static" and response.is_streamed:
        stream = response.response
        try:
            body = b"".join(response.iter_encoded())
        finally:
            getattr(stream, "close", lambda: None)()
        response.direct_passthrough = False
        response.response = [body]
    return response
