"""What the statement-import endpoints (``import_views``) take and answer, for OpenAPI.

Request schemas check query arguments and bodies; response schemas describe the
documents the views build (``ImportReport.as_dict``, ``row_document``), so that the
published description says what an importer gets back, the private fields included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, validate

from ledger.funds.import_rows import STATUSES, UNMATCHED
from ledger.funds.schemas import CODE_PATTERN
from public_api.schemas import ErrorSchema, ValidationErrorSchema
from public_api.write_views import RecordedSchema
from public_api.writing import IDEMPOTENCY_KEY, filename_header

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    report = fields.Nested(
        ImportReportSchema, metadata={"description": "all or nothing refused: which lines"}
    )


class ImportRefusedSchema(Schema):
    error = fields.Nested(ImportRefusedBodySchema, required=True)


# -- the rest of the OpenAPI description --------------------------------------------

ERRORS = {
    401: "no token, or an unknown, expired or revoked one",
    403: "the token's role or unit does not cover this",
    404: "no such import batch or row",
    409: "already settled, or the key was used for another request",
    413: "the statement is larger than 10 MiB",
    422: "a parameter, the body or the file is invalid; `fields` names each problem",
}


def query(
    name: str, schema: dict[str, Any], description: str, *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


UPLOAD_PARAMETERS = (
    query("format", {"type": "string"}, "the bank's layout: vietcombank, …", required=True),
    query("campaign", {"type": "string"}, "the statement is of this campaign's account"),
    query("all_or_nothing", {"type": "boolean"}, "record nothing if any line is invalid"),
    query("closing_balance", {"type": "string"}, "the closing balance the statement must show"),
    filename_header("the file's name, percent-encoded UTF-8 (raw bodies only)"),
    IDEMPOTENCY_KEY,
)
_FILE = {"type": "string", "format": "binary"}
UPLOAD_BODY = {
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


def failures(
    *statuses: int, described: Mapping[int, tuple[type[Schema], str]] | None = None
) -> dict[int, tuple[type[Schema], str]]:
    """What a view may fail with: the usual error shape and reason, unless ``described``."""
    usual: dict[int, tuple[type[Schema], str]] = {
        status: (ErrorSchema, why) for status, why in ERRORS.items()
    }
    usual[422] = (ValidationErrorSchema, ERRORS[422])
    return {status: (described or {}).get(status, usual[status]) for status in statuses}


UPLOAD_FAILURES = failures(
    401,
    403,
    409,
    413,
    422,
    described={
        409: (
            ImportRefusedSchema,
            "all or nothing was asked and a line is invalid (`error.report` says which); "
            "or the Idempotency-Key was used for another request (no `report`)",
        )
    },
)
