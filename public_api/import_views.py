"""Bank statement imports over HTTP: upload a sao kê, then settle what no campaign claimed.

The same path as the other writers' endpoints (``public_api.writing``): the bearer
token is checked in the read session, then the import runs in the write transaction
that holds the append lock, where the ``Idempotency-Key`` is looked up and its answer
stored. The statement is parsed before that transaction: reading a 10 MiB workbook
must not hold up every other writer.

Unmatched rows carry what the bank printed about the sender, the memo included. They
are answered only to importers and auditors whose unit covers the unit that imported
them (``ledger.funds.import_settling``), never on a public endpoint, and no answer here may
be cached anywhere: every response is ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from ledger.entries import format_time
from ledger.errors import NotFoundError, ValidationError
from ledger.funds import state, tokens
from ledger.funds.amounts import parse_amount
from ledger.funds.bank_formats import BankFormat, StatementError, load_formats
from ledger.funds.documents import clean_filename
from ledger.funds.import_rows import STATUSES
from ledger.funds.imports import (
    ImportRefused,
    get_batch,
    list_rows,
    record_assignment,
    record_dismissal,
    record_statement,
    row_document,
)
from ledger.funds.models import ImportBatchRow
from ledger.funds.statements import parse_statement
from public_api import auth, errors, writing
from public_api.database import session, settings
from public_api.import_schemas import (
    UPLOAD_BODY,
    UPLOAD_FAILURES,
    UPLOAD_PARAMETERS,
    AssignedSchema,
    AssignInputSchema,
    DismissInputSchema,
    ImportArgsSchema,
    ImportBatchSchema,
    ImportRowListSchema,
    ImportRowSchema,
    RowsArgsSchema,
    failures,
    query,
)
from public_api.schemas import ErrorSchema

MAX_STATEMENT_BYTES = 10 * 1024 * 1024
_BODY_TOO_LARGE = {413: (ErrorSchema, f"the body is larger than {writing.MAX_BODY_BYTES} bytes")}
_MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file
API = "/api/v1"

blp = Blueprint(
    "imports",
    __name__,
    url_prefix=API,
    description="Bank statement imports and their unmatched credits (Authorization: Bearer)",
)


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
    raise ValidationError.for_field("format", message)


def _require_campaign(code: str) -> None:
    """An unknown campaign named in the request is a bad request (422), not a missing page."""
    try:
        state.campaign(session(), code)
    except NotFoundError:
        message = f"no campaign with code {code!r}"
        raise ValidationError.for_field("campaign", message) from None


def _statement_file() -> tuple[bytes, str]:
    """The file as the raw body, or as the multipart form field ``file``, and its name."""
    header = writing.header_filename()
    if request.mimetype != "multipart/form-data":
        data = writing.read_body(MAX_STATEMENT_BYTES, "a statement")
        return data, clean_filename(header, "statement")
    request.max_content_length = MAX_STATEMENT_BYTES + _MULTIPART_SLACK
    upload = request.files.get("file")
    if upload is None:
        message = "send the statement as the form field `file`, or as the whole body"
        raise ValidationError.for_field("file", message)
    data = upload.stream.read(MAX_STATEMENT_BYTES + 1)
    if len(data) > MAX_STATEMENT_BYTES:
        raise RequestEntityTooLarge(f"a statement must be at most {MAX_STATEMENT_BYTES} bytes")
    return data, clean_filename(upload.filename or header, "statement")


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


def _refused(refused: ImportRefused) -> Response:
    """409 in the usual error shape, with the report saying which lines were invalid."""
    error = {"code": refused.code, "message": str(refused), "report": refused.report.as_dict()}
    return writing.answer(409, {"error": error})


# -- views ---------------------------------------------------------------------------


@blp.route("/imports", methods=["POST"])
@writing.documented(
    blp,
    answer=(201, ImportBatchSchema, "imported: the report; check `assertion.ok`"),
    failures=UPLOAD_FAILURES,
    parameters=UPLOAD_PARAMETERS,
    request_body=UPLOAD_BODY,
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
    options = writing.load(ImportArgsSchema, request.args, "parameters")
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
            writing.privacy(),
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
        return writing.idempotent(scope, described, 201, write, _batch_url)
    except ImportRefused as refused:
        return _refused(refused)


@blp.route("/imports/rows", methods=["GET"])
@writing.documented(
    blp,
    answer=(200, ImportRowListSchema, "the rows, oldest first"),
    failures=failures(401, 403, 422),
    parameters=(
        query("status", {"type": "string", "enum": [*STATUSES, "all"]}, "default unmatched"),
    ),
)
def import_rows() -> Response:
    """Credited lines no campaign claimed, within the token's unit (private: memo, sender).

    Fund managers and admins settle them; auditors may read them, since a credit on the
    statement that is not in the ledger is exactly what an audit looks for.
    """
    scope = auth.current_scope()
    status = writing.load(RowsArgsSchema, request.args, "parameters")["status"]
    found = list_rows(session(), scope, None if status == "all" else status)
    return writing.answer(200, {"rows": [row_document(row) for row in found]})


@blp.route("/imports/<index:batch_id>", methods=["GET"])
@writing.documented(
    blp,
    answer=(200, ImportBatchSchema, "the import's stored report"),
    failures=failures(401, 403, 404),
)
def import_batch(batch_id: int) -> Response:
    """One import's report, for importers and auditors whose unit covers the importer's."""
    scope = auth.current_scope()
    return writing.answer(200, batch_document(get_batch(session(), scope, batch_id)))


@blp.route("/imports/rows/<index:row_id>/assign", methods=["POST"])
@writing.documented(
    blp,
    answer=(201, AssignedSchema, "recorded as a contribution"),
    failures=failures(401, 403, 404, 409, 413, 422, described=_BODY_TOO_LARGE),
    parameters=(writing.IDEMPOTENCY_KEY,),
    request_body=writing.json_request(AssignInputSchema),
)
def assign_row(row_id: int) -> Response:
    """Record an unmatched line as a gift to a campaign (and a mobilizer, if given)."""
    scope = auth.current_scope()
    scope.require("import")
    body = writing.load(AssignInputSchema, writing.json_body(), "body")
    _require_campaign(body["campaign"])

    def write(db: Session) -> dict[str, Any]:
        recorded = record_assignment(
            db,
            settings(),
            scope,
            writing.privacy(),
            row_id,
            body["campaign"],
            body.get("mobilizer"),
        )
        return {"row_id": row_id, **recorded.answer()}

    return writing.idempotent(scope, body, 201, write, writing.entry_location)


@blp.route("/imports/rows/<index:row_id>/dismiss", methods=["POST"])
@writing.documented(
    blp,
    answer=(200, ImportRowSchema, "set aside: nothing is recorded in the log"),
    failures=failures(401, 403, 404, 409, 413, 422, described=_BODY_TOO_LARGE),
    parameters=(writing.IDEMPOTENCY_KEY,),
    request_body=writing.json_request(DismissInputSchema),
)
def dismiss_row(row_id: int) -> Response:
    """Set an unmatched line aside (a refund, an internal transfer), saying why."""
    scope = auth.current_scope()
    scope.require("import")
    body = writing.load(DismissInputSchema, writing.json_body(), "body")

    def write(db: Session) -> dict[str, Any]:
        return row_document(record_dismissal(db, scope, row_id, body["note"]))

    return writing.idempotent(scope, body, 200, write)
