"""Bank statement imports over HTTP: upload a sao kê, then settle what no campaign claimed.

The same path as the other writers' endpoints (``write_views``): the bearer token is
checked in the read session, then the import runs in the write transaction that holds
the append lock, where the ``Idempotency-Key`` is looked up and its answer stored. The
statement is parsed before that transaction: reading a 10 MiB workbook must not hold
up every other writer.

Unmatched rows carry what the bank printed about the sender, the memo included. They
are answered only to importers and auditors whose unit covers the unit that imported
them (``ledger.funds.import_rows``), never on a public endpoint, and no answer here may
be cached anywhere: every response is ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import marshmallow
from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from ledger.entries import format_time
from ledger.errors import NotFoundError, ValidationError
from ledger.funds import idempotency, state, tokens
from ledger.funds.access import Scope
from ledger.funds.amounts import parse_amount
from ledger.funds.bank_formats import BankFormat, StatementError, load_formats
from ledger.funds.import_rows import STATUSES, UNMATCHED, get_batch, row_document
from ledger.funds.imports import (
    ImportRefused,
    list_rows,
    record_assignment,
    record_dismissal,
    record_statement,
)
from ledger.funds.models import ImportBatchRow
from ledger.funds.privacy import PrivacyKey
from ledger.funds.schemas import CODE_PATTERN
from ledger.funds.statements import parse_statement
from ledger.funds.text import nfc
from public_api import auth, errors
from public_api.database import database, session, settings
from public_api.schemas import ErrorSchema
from public_api.write_views import RecordedSchema, json_body

MAX_STATEMENT_BYTES = 10 * 1024 * 1024
_MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file
_READ_CHUNK = 64 * 1024
NO_STORE = "no-store"
API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

blp = Blueprint(
    "imports",
    __name__,
    url_prefix=API,
    description="Bank statement imports and their unmatched credits (Authorization: Bearer)",
)


# -- schemas: request bodies and query arguments in, documents out --------------------


class ImportArgsSchema(Schema):
    format = fields.String(metadata={"description": "the bank's layout, e.g. vietcombank"})
    campaign = fields.String(validate=validate.Regexp(CODE_PATTERN))
    all_or_nothing = fields.Boolean(load_default=False)
    closing_balance = fields.String(metadata={"description": "đồng, e.g. 18200000"})


class RowsArgsSchema(Schema):
    status = fields.String(load_default=UNMATCHED, validate=validate.OneOf((*STATUSES, "all")))


class AssignInputSchema(Schema):
    campaign = fields.String(required=True, validate=validate.Regexp(CODE_PATTERN))
    mobilizer = fields.String(
        allow_none=True,
        validate=validate.Regexp(CODE_PATTERN),
        metadata={"description": "default: the one the memo names"},
    )


class DismissInputSchema(Schema):
    note = fields.String(required=True, metadata={"description": "why it is not a gift"})


class ImportCreatedSchema(Schema):
    line = fields.Integer(required=True)
    index = fields.Integer(required=True, metadata={"description": "the entry's log index"})
    receipt_id = fields.String(required=True)
    amount = fields.Integer(required=True)


class ImportDuplicateSchema(Schema):
    line = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"description": "the bank reference"})


class ImportUnmatchedSchema(Schema):
    line = fields.Integer(required=True)
    row_id = fields.Integer(required=True, metadata={"description": "assign or dismiss it"})
    amount = fields.Integer(required=True)


class ImportInvalidSchema(Schema):
    line = fields.Integer(required=True)
    reason = fields.String(required=True)


class ImportAssertionSchema(Schema):
    ok = fields.Boolean(required=True)
    running_balance_errors = fields.List(fields.Dict(), required=True)
    closing_balance = fields.Dict(allow_none=True, required=True)
    ledger_check = fields.Dict(required=True)


class ImportReportSchema(Schema):
    batch_id = fields.Integer(allow_none=True, required=True)
    filename = fields.String(required=True)
    format = fields.String(required=True)
    recorded = fields.Boolean(required=True, metadata={"description": "false: nothing written"})
    created = fields.List(fields.Nested(ImportCreatedSchema), required=True)
    duplicates = fields.List(fields.Nested(ImportDuplicateSchema), required=True)
    unmatched = fields.List(fields.Nested(ImportUnmatchedSchema), required=True)
    invalid = fields.List(fields.Nested(ImportInvalidSchema), required=True)
    debits = fields.Integer(required=True, metadata={"description": "debit lines, not gifts"})
    totals = fields.Dict(required=True, metadata={"description": "đồng per outcome"})
    assertion = fields.Nested(ImportAssertionSchema, required=True)


class ImportBatchSchema(ImportReportSchema):
    sha256 = fields.String(required=True, metadata={"description": "of the uploaded file"})
    campaign = fields.String(allow_none=True, required=True)
    unit = fields.String(
        allow_none=True, required=True, metadata={"description": "the importing token's unit"}
    )
    imported_by = fields.String(required=True)
    imported_at = fields.String(required=True, metadata={"description": "RFC 3339, UTC"})


class ImportRowSchema(Schema):
    id = fields.Integer(required=True)
    batch_id = fields.Integer(required=True)
    line = fields.Integer(required=True)
    date = fields.String(required=True)
    reference = fields.String(required=True)
    amount = fields.Integer(required=True)
    memo = fields.String(required=True, metadata={"description": "private: never published"})
    counterparty = fields.String(allow_none=True, required=True)
    account = fields.String(allow_none=True, required=True, metadata={"description": "…1234"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    entry_index = fields.Integer(allow_none=True, required=True)
    settled_by = fields.String(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)


class ImportRowListSchema(Schema):
    rows = fields.List(fields.Nested(ImportRowSchema), required=True)


class AssignedSchema(RecordedSchema):
    row_id = fields.Integer(required=True)


class ImportRefusedBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "import_refused"})
    message = fields.String(required=True)
    report = fields.Nested(ImportReportSchema, required=True)


class ImportRefusedSchema(Schema):
    error = fields.Nested(ImportRefusedBodySchema, required=True)


# -- helpers -------------------------------------------------------------------------


def _answer(
    status: int, document: Any, *, location: str | None = None, replayed: bool = False
) -> Response:
    response = jsonify(document)
    response.status_code = status
    response.headers["Cache-Control"] = NO_STORE
    if location is not None:
        response.headers["Location"] = location
    if replayed:
        response.headers["Idempotency-Replayed"] = "true"
    return response


def _idempotent(
    scope: Scope,
    described: Any,
    status: int,
    write: Callable[[Session], dict[str, Any]],
    location: Callable[[dict[str, Any]], str | None] = lambda _document: None,
) -> Response:
    """Run ``write`` in the write transaction, unless the Idempotency-Key already did."""
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        idempotency.check_key(key)
    fingerprint = idempotency.request_hash(request.method, request.path, described)
    with database().writing() as db:
        if key is not None:
            stored = idempotency.replay(db, scope.actor, key, fingerprint)
            if stored is not None:
                code, document = stored
                return _answer(code, document, location=location(document), replayed=True)
        document = write(db)
        if key is not None:
            idempotency.store(db, scope.actor, key, fingerprint, status, document)
    return _answer(status, document, location=location(document))


def _load(schema: type[Schema], data: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``data`` through ``schema``; a 422 naming each bad member, never a 500."""
    try:
        loaded: dict[str, Any] = schema().load(data)
    except marshmallow.ValidationError as err:
        messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        problems = {name: [str(m) for m in _listed(ms)] for name, ms in messages.items()}
        text = "; ".join(f"{name}: {' '.join(ms)}" for name, ms in sorted(problems.items()))
        raise ValidationError(f"invalid {what}: {text}", problems) from None
    return loaded


def _listed(messages: Any) -> list[Any]:
    return messages if isinstance(messages, list) else [messages]


def _privacy() -> PrivacyKey:
    """The privacy key, read once per app; the writers' endpoints share the same copy."""
    cached: PrivacyKey | None = current_app.extensions.get("ledger.privacy")
    if cached is None:
        cached = PrivacyKey.load(settings().privacy_key_file)
        current_app.extensions["ledger.privacy"] = cached
    return cached


def _formats() -> dict[str, BankFormat]:
    cached: dict[str, BankFormat] | None = current_app.extensions.get("ledger.bank_formats")
    if cached is None:
        cached = load_formats()
        current_app.extensions["ledger.bank_formats"] = cached
    return cached


def _bank_format(name: str | None) -> BankFormat:
    formats = _formats()
    if name in formats:
        return formats[name]
    known = ", ".join(sorted(formats))
    problem = "required" if not name else f"unknown bank format {name!r}"
    message = f"{problem}: use one of {known}"
    raise ValidationError(f"format: {message}", {"format": [message]})


def _require_campaign(code: str) -> None:
    """An unknown campaign named in the request is a bad request (422), not a missing page."""
    try:
        state.campaign(session(), code)
    except NotFoundError:
        message = f"no campaign with code {code!r}"
        raise ValidationError(f"campaign: {message}", {"campaign": [message]}) from None


def _too_large() -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"a statement must be at most {MAX_STATEMENT_BYTES} bytes")


def _read_raw() -> bytes:
    """The whole body, up to the limit, or 413 without reading more than that."""
    if request.content_length is not None and request.content_length > MAX_STATEMENT_BYTES:
        raise _too_large()
    data = bytearray()
    while len(data) <= MAX_STATEMENT_BYTES:
        chunk = request.stream.read(min(_READ_CHUNK, MAX_STATEMENT_BYTES + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    if len(data) > MAX_STATEMENT_BYTES:
        raise _too_large()
    return bytes(data)


def _clean_filename(raw: str | None) -> str:
    """A name fit for the report and the database: no path, no control characters."""
    name = re.split(r"[/\\]", raw or "")[-1]
    name = "".join(c for c in nfc(name) if c.isprintable()).strip()
    return name[:255] or "statement"


def _statement_file() -> tuple[bytes, str]:
    """The file as the raw body, or as the multipart form field ``file``, and its name."""
    header = unquote(request.headers.get("X-Filename", ""), errors="replace")
    if request.mimetype != "multipart/form-data":
        return _read_raw(), _clean_filename(header)
    request.max_content_length = MAX_STATEMENT_BYTES + _MULTIPART_SLACK
    upload = request.files.get("file")
    if upload is None:
        message = "send the statement as the form field `file`, or as the whole body"
        raise ValidationError(f"file: {message}", {"file": [message]})
    data = upload.stream.read(MAX_STATEMENT_BYTES + 1)
    if len(data) > MAX_STATEMENT_BYTES:
        raise _too_large()
    return data, _clean_filename(upload.filename or header)


def batch_document(batch: ImportBatchRow) -> dict[str, Any]:
    """The stored report of an import, with who imported it, when and for which unit."""
    imported_at = tokens.aware(batch.imported_at)
    return {
        **json.loads(batch.report),
        "batch_id": batch.id,
        "sha256": batch.sha256,
        "campaign": batch.campaign,
        "unit": batch.unit,
        "imported_by": batch.actor,
        "imported_at": format_time(imported_at) if imported_at else None,
    }


def _batch_url(document: Mapping[str, Any]) -> str:
    return f"{API}/imports/{document['batch_id']}"


def _entry_url(document: Mapping[str, Any]) -> str:
    return f"{API}/log/entries/{document['index']}"


def _refused(refused: ImportRefused) -> Response:
    """409 in the usual error shape, with the report saying which lines were invalid."""
    error = {"code": refused.code, "message": str(refused), "report": refused.report.as_dict()}
    return _answer(409, {"error": error})


# -- documentation -------------------------------------------------------------------

_ERRORS = {
    401: "no token, or an unknown, expired or revoked one",
    403: "the token's role or unit does not cover this",
    404: "no such import batch or row",
    409: "already settled, or the key was used for another request",
    413: "the statement is larger than 10 MiB",
    422: "a parameter, the body or the file is invalid; `fields` names each problem",
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
    "description": "a retry with the same key returns the first answer without writing",
}


def _query(
    name: str, schema: dict[str, Any], description: str, *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _json_body(schema: type[Schema]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _documented(
    *,
    answer: tuple[int, type[Schema], str],
    errors_: tuple[int, ...],
    parameters: tuple[dict[str, Any], ...] = (),
    request_body: dict[str, Any] | None = None,
    described: Mapping[int, tuple[type[Schema], str]] | None = None,
) -> Callable[[Any], Any]:
    """OpenAPI for a view: its answer, its errors (``described`` overrides some), bearer."""

    def decorate(view: Any) -> Any:
        for status in errors_:
            schema, description = (described or {}).get(status, (ErrorSchema, _ERRORS[status]))
            view = blp.alt_response(status, schema=schema, description=description)(view)
        code, schema, description = answer
        view = blp.alt_response(code, schema=schema, description=description, success=True)(view)
        doc: dict[str, Any] = {"security": auth.SECURITY, "parameters": list(parameters)}
        if request_body is not None:
            doc["requestBody"] = request_body
        return blp.doc(**doc)(view)

    return decorate


_UPLOAD_PARAMETERS = (
    _query("format", {"type": "string"}, "the bank's layout: vietcombank, …", required=True),
    _query("campaign", {"type": "string"}, "the statement is of this campaign's account"),
    _query("all_or_nothing", {"type": "boolean"}, "record nothing if any line is invalid"),
    _query("closing_balance", {"type": "string"}, "the closing balance the statement must show"),
    {
        "name": "X-Filename",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": 255},
        "description": "the file's name, percent-encoded UTF-8 (raw bodies only)",
    },
    _IDEMPOTENCY_KEY,
)
_FILE = {"type": "string", "format": "binary"}
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": _FILE},
        XLSX: {"schema": _FILE},
        "application/octet-stream": {"schema": _FILE},
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": _FILE}, "required": ["file"]}
        },
    },
}


# -- views ---------------------------------------------------------------------------


@blp.route("/imports", methods=["POST"])
@_documented(
    answer=(201, ImportBatchSchema, "imported: the report; check `assertion.ok`"),
    errors_=(401, 403, 409, 413, 422),
    parameters=_UPLOAD_PARAMETERS,
    request_body=_UPLOAD_BODY,
    described={
        409: (
            ImportRefusedSchema,
            "all or nothing was asked and a line is invalid (`error.report` says which); "
            "or the Idempotency-Key was used for another request (no `report`)",
        )
    },
)
def upload_statement() -> Response:
    """Import a bank statement (CSV or XLSX, at most 10 MiB): credits become gifts.

    The file is the body, or the multipart form field `file`. Lines already imported
    are reported as duplicates and create nothing; credits whose memo names no
    campaign wait as unmatched rows; unreadable lines are reported and skipped, unless
    `all_or_nothing`. A failed closing-balance assertion is reported, not refused:
    the lines are real credits.
    """
    scope = auth.current_scope()
    scope.require("import")
    options = _load(ImportArgsSchema, request.args, "parameters")
    bank_format = _bank_format(options.get("format"))
    campaign: str | None = options.get("campaign")
    if campaign is not None:
        _require_campaign(campaign)
    closing = options.get("closing_balance")
    if closing is not None:
        try:
            options["closing_balance"] = parse_amount(closing, allow_negative=True)
        except ValueError as err:
            raise ValidationError(
                f"closing_balance: {err}", {"closing_balance": [str(err)]}
            ) from None
    data, filename = _statement_file()
    try:
        statement = parse_statement(data, filename, bank_format)
    except StatementError as err:
        return errors.error_response(422, err.code, str(err), {"file": [str(err)]})
    sha256 = hashlib.sha256(data).hexdigest()

    def write(db: Session) -> dict[str, Any]:
        report = record_statement(
            db,
            settings(),
            scope,
            _privacy(),
            statement,
            filename,
            sha256,
            campaign=campaign,
            all_or_nothing=options["all_or_nothing"],
            closing_balance=options.get("closing_balance"),
        )
        return batch_document(get_batch(db, scope, report.batch_id or 0))

    described = {"sha256": sha256, "filename": filename, "query": options}
    try:
        return _idempotent(scope, described, 201, write, _batch_url)
    except ImportRefused as refused:
        return _refused(refused)


@blp.route("/imports/rows", methods=["GET"])
@_documented(
    answer=(200, ImportRowListSchema, "the rows, oldest first"),
    errors_=(401, 403, 422),
    parameters=(
        _query("status", {"type": "string", "enum": [*STATUSES, "all"]}, "default unmatched"),
    ),
)
def import_rows() -> Response:
    """Credited lines no campaign claimed, within the token's unit (private: memo, sender).

    Fund managers and admins settle them; auditors may read them, since a credit on the
    statement that is not in the ledger is exactly what an audit looks for.
    """
    scope = auth.current_scope()
    status = _load(RowsArgsSchema, request.args, "parameters")["status"]
    found = list_rows(session(), scope, None if status == "all" else status)
    return _answer(200, {"rows": [row_document(row) for row in found]})


@blp.route("/imports/<index:batch_id>", methods=["GET"])
@_documented(
    answer=(200, ImportBatchSchema, "the import's stored report"),
    errors_=(401, 403, 404),
)
def import_batch(batch_id: int) -> Response:
    """One import's report, for importers and auditors whose unit covers the importer's."""
    scope = auth.current_scope()
    return _answer(200, batch_document(get_batch(session(), scope, batch_id)))


@blp.route("/imports/rows/<index:row_id>/assign", methods=["POST"])
@_documented(
    answer=(201, AssignedSchema, "recorded as a contribution"),
    errors_=(401, 403, 404, 409, 422),
    parameters=(_IDEMPOTENCY_KEY,),
    request_body=_json_body(AssignInputSchema),
)
def assign_row(row_id: int) -> Response:
    """Record an unmatched line as a gift to a campaign (and a mobilizer, if given)."""
    scope = auth.current_scope()
    scope.require("import")
    body = _load(AssignInputSchema, json_body(), "body")
    _require_campaign(body["campaign"])

    def write(db: Session) -> dict[str, Any]:
        recorded = record_assignment(
            db, settings(), scope, _privacy(), row_id, body["campaign"], body.get("mobilizer")
        )
        return {"row_id": row_id, **recorded.answer()}

    return _idempotent(scope, body, 201, write, _entry_url)


@blp.route("/imports/rows/<index:row_id>/dismiss", methods=["POST"])
@_documented(
    answer=(200, ImportRowSchema, "set aside: nothing is recorded in the log"),
    errors_=(401, 403, 404, 409, 422),
    parameters=(_IDEMPOTENCY_KEY,),
    request_body=_json_body(DismissInputSchema),
)
def dismiss_row(row_id: int) -> Response:
    """Set an unmatched line aside (a refund, an internal transfer), saying why."""
    scope = auth.current_scope()
    scope.require("import")
    body = _load(DismissInputSchema, json_body(), "body")

    def write(db: Session) -> dict[str, Any]:
        return row_document(record_dismissal(db, scope, row_id, body["note"]))

    return _idempotent(scope, body, 200, write)
