"""The witness's HTTP edge: ``POST <prefix>/add-checkpoint`` of c2sp.org/tlog-witness.

A witness is run by someone other than the ledger's operator, on their own machine,
with only their key, their state file and the verifier keys of the logs they follow:
it reads no database and imports nothing of the ledger's web application. Answers are
plain text, as the spec has them: the cosignature lines (200), or one line saying why
not, with the spec's status (400, 403, 404, 409 with the witness's size as
``text/x.tlog.size``, 422).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from audit.witness import MAX_REQUEST_BYTES, SizeMismatchError, Witness
from ledger.errors import (
    ConfigurationError,
    InvalidRequestError,
    LedgerError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)

SIZE_MEDIA_TYPE = "text/x.tlog.size"
STATUS = {
    InvalidRequestError: 400,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    SizeMismatchError: 409,
    ValidationError: 422,
    ConfigurationError: 503,
}

log = logging.getLogger(__name__)


def _status(error: LedgerError) -> int:
    return next((STATUS[cls] for cls in type(error).__mro__ if cls in STATUS), 400)


def _text(body: str, status: int, mimetype: str = "text/plain") -> Response:
    response = Response(body, status=status, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"
    return response


def create_witness_app(witness: Witness, prefix: str = "") -> Flask:
    """The witness as a WSGI app; ``prefix`` is the submission prefix's path, if any."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    path = prefix.rstrip("/")

    @app.post(f"{path}/add-checkpoint")
    def add_checkpoint() -> Response:
        try:
            lines = witness.add_checkpoint(request.get_data(cache=False))
        except SizeMismatchError as e:
            log.info("add-checkpoint refused (409): %s", e)
            return _text(f"{e.size}\n", 409, SIZE_MEDIA_TYPE)
        except LedgerError as e:
            status = _status(e)
            log.warning("add-checkpoint refused (%d): %s", status, e)
            return _text(f"{e}\n", status)
        return _text("".join(lines), 200)

    @app.get(f"{path}/")
    def about() -> Response:
        """The witness's verifier key, for an operator checking what they configured."""
        return _text(f"{witness.signer.verifier}\n", 200)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 400
        return _text(f"{error.description}\n", status)

    return app


def serve(app: Flask, host: str, port: int) -> None:
    """Serve until interrupted, one thread per request; the state file is the one lock."""
    server = make_server(host, port, app, threaded=True)
    log.info("witness listening on http://%s:%d", host, server.server_port)
    try:
        server.serve_forever()
    finally:
        server.server_close()


@contextmanager
def serving(app: Flask, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve from a background thread for the block's duration; yields the base URL.

    For running a witness inside another program (and in tests): port 0 picks a free one.
    """
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
