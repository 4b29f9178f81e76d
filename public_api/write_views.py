"""The writers' API (CONTRACT.md §5): fund managers record operations with a bearer token.

Every POST follows one path: authenticate, parse the body, then, inside the write
transaction that holds the append lock, look up the ``Idempotency-Key``, record the
operation through ``ledger.funds.recorder`` and remember the answer. Validation is
the core's (``ledger.funds.schemas``), so the HTTP API and the command line refuse
the same input with the same messages; the same schemas document the request bodies
in OpenAPI, so the documentation cannot drift from what is enforced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from flask import Response, current_app, jsonify, request
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from ledger.errors import ValidationError
from ledger.funds import documents, idempotency, schemas
from ledger.funds.access import Scope
from ledger.funds.privacy import PrivacyKey
from ledger.funds.recorder import Recorder
from public_api import auth
from public_api.database import database, settings
from public_api.schemas import ErrorSchema

# A leaf is at most 64 KiB; a request body many times that is a mistake or an attack.
MAX_BODY_BYTES = 1024 * 1024
NO_STORE = "no-store"

blp = Blueprint(
    "write",
    __name__,
    url_prefix="/api/v1",
    description="Writers: record fund operations (Authorization: Bearer <token>)",
)

# path under /api/v1 -> (entry kind, summary)
OPERATIONS: dict[str, tuple[str, str]] = {
    "contributions": ("contribution", "Record a gift of money or goods"),
    "pledges": ("pledge", "Record a promise of a gift (never counted in a balance)"),
    "allocations": ("allocation", "Allocate money or goods to a beneficiary by a decision"),
    "disbursements": ("disbursement", "Pay out (part of) an allocation, with its documents"),
    "transfers": ("transfer", "Move money from one fund to another"),
    "reversals": ("reversal", "Reverse an earlier money entry or pledge, with the reason"),
    "units": ("unit", "Register a unit (committee), or re-record a changed one"),
    "funds": ("fund", "Register a fund held by a unit"),
    "campaigns": ("campaign", "Register a campaign with its period and bank account"),
    "mobilizers": ("mobilizer", "Register a mobilizer (an organisation or person collecting)"),
}


class RecordedSchema(Schema):
    index = fields.Integer(required=True, metadata={"description": "the entry's log index"})
    kind = fields.String(required=True)
    leaf_hash = fields.String(required=True, metadata={"description": "hex SHA-256(0x00||leaf)"})
    receipt_id = fields.String(metadata={"description": "contributions only"})
    receipt_url = fields.String(metadata={"description": "contributions only: the donor's page"})
    pledge_id = fields.String(metadata={"description": "pledges only"})
    code = fields.String(metadata={"description": "registrations only: the registered code"})


class StoredDocumentSchema(Schema):
    sha256 = fields.String(required=True, metadata={"description": "lowercase hex"})
    size = fields.Integer(required=True, metadata={"description": "bytes"})


_ERRORS = {
    401: "no token, or an unknown, expired or revoked one",
    403: "the token's role or unit does not cover this operation",
    409: "the ledger's state refuses it (balance, campaign dates, duplicate, reused key)",
    413: "the body is too large",
    422: "the body is invalid; `fields` names each problem",
}


def _documented(
    view: Any,
    *,
    summary: str,
    request_body: dict[str, Any],
    answer: type,
    headers: tuple[dict[str, Any], ...] = (),
) -> Any:
    for status, description in _ERRORS.items():
        view = blp.alt_response(status, schema=ErrorSchema, description=description)(view)
    view = blp.alt_response(201, schema=answer, description="recorded", success=True)(view)
    idempotency_header = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
        "description": "a retry with the same key returns the first answer without writing",
    }
    return blp.doc(
        summary=summary,
        security=auth.SECURITY,
        parameters=[idempotency_header, *headers],
        requestBody=request_body,
    )(view)


def _privacy() -> PrivacyKey:
    """The privacy key, read once per app (``ledger init`` creates it)."""
    cached: PrivacyKey | None = current_app.extensions.get("ledger.privacy")
    if cached is None:
        cached = PrivacyKey.load(settings().privacy_key_file)
        current_app.extensions["ledger.privacy"] = cached
    return cached


def _read_body(limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of body, or 413 without reading more than that."""
    too_large = RequestEntityTooLarge(f"{what} must be at most {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise too_large
    return raw


class _NotANumber(ValueError):
    """NaN and Infinity: Python's parser reads them, JSON has no such numbers."""


def _refuse_constant(name: str) -> Any:
    raise _NotANumber(f"{name} is not a JSON number")


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        reason = f"{err.msg} (line {err.lineno}, column {err.colno})"
    except UnicodeDecodeError:
        reason = "it is not UTF-8 text"
    except _NotANumber as err:
        reason = str(err)
    except ValueError:  # an integer of thousands of digits
        reason = "a number in it is too long"
    except RecursionError:
        reason = "it is nested too deeply"
    message = f"the request body is not valid JSON: {reason}"
    raise ValidationError(message, {"_schema": [message]})


def _bad_text(value: Any) -> str | None:
    """What is wrong with the strings of a parsed body, if anything.

    JSON may escape a lone surrogate (``"\\ud800"``) or NUL; neither is text a leaf
    or PostgreSQL can hold, so they are refused here, before anything hashes or stores them.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "a string holds a NUL character"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds an unpaired surrogate escape"
    return None


def json_body() -> dict[str, Any]:
    """The body as a JSON object; anything else is a 422 naming the problem, never a 500."""
    body = _parse(_read_body(MAX_BODY_BYTES, "the request body"))
    problem = _bad_text(body)
    if problem is not None:
        message = f"the request body is not valid text: {problem}"
        raise ValidationError(message, {"_schema": [message]})
    if not isinstance(body, dict):
        message = "the request body must be a JSON object"
        raise ValidationError(message, {"_schema": [message]})
    return body


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    return None if key is None else idempotency.check_key(key)


def _answer(status: int, document: dict[str, Any], *, replayed: bool = False) -> Response:
    response = jsonify(document)
    response.status_code = status
    response.headers["Cache-Control"] = NO_STORE
    if isinstance(document.get("index"), int):
        response.headers["Location"] = f"/api/v1/log/entries/{document['index']}"
    if replayed:
        response.headers["Idempotency-Replayed"] = "true"
    return response


def _idempotent_write(
    scope: Scope, request_body: Any, write: Callable[[Session], dict[str, Any]]
) -> Response:
    """Run ``write`` in the write transaction, unless the Idempotency-Key already did."""
    key = _idempotency_key()
    fingerprint = idempotency.request_hash(request.method, request.path, request_body)
    with database().writing() as session:
        if key is not None:
            stored = idempotency.replay(session, scope.actor, key, fingerprint)
            if stored is not None:
                return _answer(*stored, replayed=True)
        document = write(session)
        if key is not None:
            idempotency.store(session, scope.actor, key, fingerprint, 201, document)
    return _answer(201, document)


def record_operation(kind: str, scope: Scope, body: dict[str, Any]) -> Response:
    """Record one operation as ``scope``; answers 201 with the entry's index and hashes."""

    def write(session: Session) -> dict[str, Any]:
        recorder = Recorder(session, settings(), scope, _privacy())
        recorder.add(kind, body)
        return recorder.commit()[0].answer()

    return _idempotent_write(scope, body, write)


def _operation_view(path: str, kind: str, summary: str) -> None:
    def view() -> Response:
        scope = auth.current_scope()
        scope.require(kind)
        return record_operation(kind, scope, json_body())

    view.__name__ = f"record_{kind}"
    view.__doc__ = f"{summary}.\n\nThe body is validated by the ledger; see the schema."
    body = {"required": True, "content": {"application/json": {"schema": schemas.SCHEMAS[kind]}}}
    documented = _documented(view, summary=summary, request_body=body, answer=RecordedSchema)
    blp.route(f"/{path}", endpoint=f"record_{kind}", methods=["POST"])(documented)


for _path, (_kind, _summary) in OPERATIONS.items():
    _operation_view(_path, _kind, _summary)


def _document_upload() -> Response:
    """Upload a supporting document; entries then name it by its SHA-256.

    The body is the file itself (``Content-Type`` its media type, ``X-Filename`` its
    name, percent-encoded if not ASCII). Uploading the same bytes again is harmless.
    """
    scope = auth.current_scope()
    scope.require("document")
    content = _read_body(documents.MAX_DOCUMENT_BYTES, "a document")
    filename = unquote(request.headers.get("X-Filename", ""), errors="replace")
    media_type = documents.clean_media_type(request.headers.get("Content-Type"))
    described = {
        "sha256": hashlib.sha256(content).hexdigest(),
        "media_type": media_type,
        "filename": filename,
    }

    def write(session: Session) -> dict[str, Any]:
        digest = documents.store_document(session, content, filename, media_type, scope.actor)
        return {"sha256": digest, "size": len(content)}

    return _idempotent_write(scope, described, write)


blp.route("/documents", endpoint="upload_document", methods=["POST"])(
    _documented(
        _document_upload,
        summary="Upload a supporting document (at most 10 MiB)",
        request_body={
            "required": True,
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        answer=StoredDocumentSchema,
        headers=(
            {
                "name": "X-Filename",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "the file's name, percent-encoded UTF-8",
            },
        ),
    )
)


def _input_schemas() -> list[type[Schema]]:
    """The core's request schemas, each after the schemas nested in it."""
    ordered: list[type[Schema]] = []

    def visit(cls: type[Schema]) -> None:
        for field in cls._declared_fields.values():
            inner = field.inner if isinstance(field, fields.List) else field
            if isinstance(inner, fields.Nested) and isinstance(inner.nested, type):
                visit(inner.nested)
        if cls not in ordered:
            ordered.append(cls)

    for cls in schemas.SCHEMAS.values():
        visit(cls)
    return ordered


def register(api: Api) -> None:
    """Add the writers' endpoints and the bearer security scheme to the API.

    Request schemas are named ``…Input`` (``ContributionInput``, ``AccountInput``) so
    that they never clash with the response schemas of the read endpoints.
    """
    api.spec.components.security_scheme(auth.BEARER_SCHEME, auth.SECURITY_SCHEME)
    for cls in _input_schemas():
        api.spec.components.schema(cls.__name__.removesuffix("Schema") + "Input", schema=cls)
    api.register_blueprint(blp)
