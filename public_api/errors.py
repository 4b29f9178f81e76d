"""Every API error has one shape: ``{"error": {"code", "message"}}`` with a 4xx status.

``LedgerError`` subclasses map to status codes here and only here. Pages outside
``/api/`` keep Flask's own HTML error pages.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from ledger.db import disk_full
from ledger.errors import (
    AuthenticationError,
    ChainError,
    ConfigurationError,
    ConflictError,
    EncodingError,
    InvalidRequestError,
    LedgerError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from ledger.funds.documents import DocumentTooLargeError
from public_api import database

log = logging.getLogger(__name__)

STATUS = {
    NotFoundError: 404,
    InvalidRequestError: 400,
    ValidationError: 422,
    ConflictError: 409,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    DocumentTooLargeError: 413,
    EncodingError: 422,
    ConfigurationError: 503,
    ChainError: 503,
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
    507: "insufficient_storage",
}


def error_response(
    status: int, code: str, message: str, fields: Any = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if status == 422 and not fields:  # a 422 always says what is wrong, and where
        fields = {"_schema": [message]}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def status_for(error: LedgerError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def handle_ledger_error(error: LedgerError) -> Response:
    status = status_for(error)
    if status >= 500:
        log.error("ledger unavailable: %s", error)
        message = "the ledger is temporarily unavailable"
        return error_response(status, error.code, message, headers={"Retry-After": "5"})
    fields = error.fields if isinstance(error, ValidationError) else None
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, error.code, str(error), fields, headers)


def handle_http_exception(error: HTTPException) -> Response | HTTPException:
    if not request.path.startswith("/api/"):
        return error
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    fields = data.get("errors") or data.get("messages")
    if isinstance(fields, dict) and len(fields) == 1 and next(iter(fields)) in {"query", "json"}:
        fields = next(iter(fields.values()))
    message = data.get("message") or error.description or error.name
    if status in (400, 422) and isinstance(fields, dict) and fields:
        message = "invalid parameters: " + "; ".join(
            f"{name}: {' '.join(map(str, problems))}" for name, problems in sorted(fields.items())
        )
    if status >= 500:
        message = "internal error"
    # Keep what the exception says about itself, such as the Allow header of a 405.
    headers = {name: value for name, value in error.get_headers() if name != "Content-Type"}
    return error_response(status, HTTP_CODES.get(status, "error"), message, fields, headers)


def handle_not_initialised(_error: database.NotInitialisedError) -> Response:
    return error_response(
        503,
        "not_initialised",
        "the ledger has not been initialised: run `ledger init`",
        headers={"Retry-After": "5"},
    )


def handle_database_error(error: DBAPIError) -> Response:
    """A database that is down or was never initialised answers 503, one whose disk is
    full 507 (it will not come back by itself); anything else is a bug.

    An error outside any statement (connecting, committing) or one that lost the
    connection cannot be a missing table: asking whether the database is initialised
    would only wait for a database that does not answer a second time.
    """
    unreachable = error.statement is None or error.connection_invalidated
    if not unreachable and not database.initialised():
        return handle_not_initialised(database.NotInitialisedError())
    if not isinstance(error, OperationalError):
        raise error
    if disk_full(error):
        log.error("database disk full: %s", error.__class__.__name__)
        return error_response(
            507,
            "insufficient_storage",
            "the database's disk is full: nothing was recorded; "
            "send the request again once the operators have freed space",
        )
    log.error("database unavailable: %s", error.__class__.__name__)
    return error_response(
        503,
        "unavailable",
        "the database is unavailable, try again shortly",
        headers={"Retry-After": "5"},
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(LedgerError, handle_ledger_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(database.NotInitialisedError, handle_not_initialised)
    app.register_error_handler(DBAPIError, handle_database_error)
