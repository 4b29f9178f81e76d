"""The writers' API (CONTRACT.md §5): fund managers record operations with a bearer token.

Every POST follows the writers' one path (``public_api.writing``): authenticate, parse
the body, then, inside the write transaction that holds the append lock, look up the
``Idempotency-Key``, record the operation through ``ledger.funds.recorder`` and
remember the answer. Validation is
the core's (``ledger.funds.schemas``), so the HTTP API and the command line refuse
the same input with the same messages; the same schemas document the request bodies
in OpenAPI, so the documentation cannot drift from what is enforced.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, request
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields
from sqlalchemy.orm import Session

from ledger.funds import documents, schemas
from ledger.funds.access import Scope
from ledger.funds.group_commit import Operation
from public_api import auth, database, writing
from public_api.schemas import ErrorSchema, ValidationErrorSchema

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
    503: "the database is unavailable: nothing was recorded; retry after `Retry-After`",
    507: "the database's disk is full: nothing was recorded; retry once space is freed",
}


def _error_schema(status: int) -> type[Schema]:
    return ValidationErrorSchema if status == 422 else ErrorSchema


def _documented(
    view: Any,
    *,
    summary: str,
    request_body: dict[str, Any],
    answer: type[Schema],
    headers: tuple[dict[str, Any], ...] = (),
) -> Any:
    return writing.documented(
        blp,
        answer=(201, answer, "recorded"),
        failures={status: (_error_schema(status), why) for status, why in _ERRORS.items()},
        parameters=(writing.IDEMPOTENCY_KEY, *headers),
        request_body=request_body,
        summary=summary,
    )(view)


def record_operation(kind: str, scope: Scope, body: dict[str, Any]) -> Response:
    """Record one operation as ``scope``; answers 201 with the entry's index and hashes.

    Operations arriving together in this process share one write transaction and one
    checkpoint (``ledger.funds.group_commit``); each keeps its own answer or error.
    """
    key, fingerprint = writing.idempotency_of(body)
    operation = Operation(kind, body, scope, key, fingerprint)
    database.release()  # the token was checked; the batch's leader has its own connection
    outcome = writing.committer().record(operation)
    return writing.answer(
        outcome.status,
        outcome.document,
        location=writing.entry_location(outcome.document),
        replayed=outcome.replayed,
    )


def _operation_view(path: str, kind: str, summary: str) -> None:
    def view() -> Response:
        scope = auth.current_scope()
        scope.require(kind)
        return record_operation(kind, scope, writing.json_body())

    view.__name__ = f"record_{kind}"
    view.__doc__ = f"{summary}.\n\nThe body is validated by the ledger; see the schema."
    body = writing.json_request(schemas.SCHEMAS[kind])
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
    content = writing.read_body(documents.MAX_DOCUMENT_BYTES, "a document")
    filename = writing.header_filename()
    media_type = documents.clean_media_type(request.headers.get("Content-Type"))
    described = {
        "sha256": hashlib.sha256(content).hexdigest(),
        "media_type": media_type,
        "filename": filename,
    }

    def write(session: Session) -> dict[str, Any]:
        digest = documents.store_document(session, content, filename, media_type, scope.actor)
        return {"sha256": digest, "size": len(content)}

    return writing.idempotent(scope, described, 201, write)


blp.route("/documents", endpoint="upload_document", methods=["POST"])(
    _documented(
        _document_upload,
        summary="Upload a supporting document (at most 10 MiB)",
        request_body={
            "required": True,
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        answer=StoredDocumentSchema,
        headers=(writing.filename_header("the file's name, percent-encoded UTF-8"),),
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
