"""The auditor's API: ``GET /api/v1/audit`` runs the full audit and answers its report.

The same report as ``ledger audit --json`` (or, with ``format=text``, the lines
``ledger audit`` prints), for a token whose role may audit: auditors and admins. The
audit reads the whole log on each request, in a session of its own so that it sees
one snapshot of the database; its answer describes that moment and names private
judgements, so it is never cached (``Cache-Control: no-store``). A report with error
findings is still a 200: the request succeeded, the log did not.
"""

from __future__ import annotations

from flask import Response, request
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate

from audit.findings import SEVERITIES
from audit.full import audit_database
from ledger.errors import PermissionDeniedError
from public_api import auth, writing
from public_api.database import database, settings
from public_api.schemas import ErrorSchema, ValidationErrorSchema

blp = Blueprint(
    "audit",
    __name__,
    url_prefix="/api/v1",
    description="Auditors: the full audit of the log and its balances (Authorization: Bearer)",
)

FORMATS = ("json", "text")
_ANSWER = "the report (format=text: its lines); `ok` is false when a finding is an error"
_FAILURES: dict[int, tuple[type[Schema], str]] = {
    401: (ErrorSchema, "no token, or an unknown, expired or revoked one"),
    403: (ErrorSchema, "the token is neither an auditor's nor an admin's"),
    422: (ValidationErrorSchema, "a parameter is invalid; `fields` names it"),
}
_PARAMETERS = (
    {
        "name": "format",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(FORMATS)},
        "description": "json (default), or text: one line per finding and a summary line",
    },
    {
        "name": "rules",
        "in": "query",
        "required": False,
        "schema": {"type": "boolean"},
        "description": "false leaves the anomaly rules out (default true)",
    },
)


class AuditArgsSchema(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))
    rules = fields.Boolean(load_default=True)


class AuditFindingSchema(Schema):
    id = fields.String(required=True, metadata={"description": "<check>:<index>"})
    check = fields.String(required=True, metadata={"description": "the check's or rule's name"})
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    index = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the entry it is about; null: the log as a whole"},
    )
    message = fields.String(required=True)
    related = fields.List(fields.Integer(), required=True)
    acknowledged_by = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the acknowledgement entry's index, or null"},
    )
    acknowledged_reason = fields.String(required=True, allow_none=True)
    details = fields.Dict(required=True)


class AuditBalanceSchema(Schema):
    available = fields.Integer(required=True)
    committed = fields.Integer(required=True)
    disbursed = fields.Integer(required=True)
    in_kind = fields.Integer(required=True)
    in_kind_committed = fields.Integer(required=True)
    in_kind_disbursed = fields.Integer(required=True)
    received = fields.Integer(required=True)
    received_in_kind = fields.Integer(required=True)


class AuditBalancesSchema(Schema):
    funds = fields.Dict(
        keys=fields.String(), values=fields.Nested(AuditBalanceSchema), required=True
    )
    campaigns = fields.Dict(
        keys=fields.String(), values=fields.Nested(AuditBalanceSchema), required=True
    )


class AuditCountsSchema(Schema):
    error = fields.Integer(required=True)
    blocking = fields.Integer(required=True)
    warning = fields.Integer(required=True)
    info = fields.Integer(required=True)
    acknowledged = fields.Integer(required=True)


class AuditReportSchema(Schema):
    source = fields.String(required=True, metadata={"description": "database"})
    origin = fields.String(required=True)
    size = fields.Integer(required=True, metadata={"description": "entries audited"})
    root = fields.String(required=True, metadata={"description": "the root at that size, hex"})
    checkpoints = fields.Integer(required=True, metadata={"description": "checkpoints verified"})
    keys = fields.List(fields.String(), required=True)
    complete = fields.Boolean(
        required=True, metadata={"description": "false when a broken link ended the audit early"}
    )
    rules = fields.Boolean(required=True, metadata={"description": "whether the rules ran"})
    as_of_now = fields.String(required=True)
    ok = fields.Boolean(required=True, metadata={"description": "no finding is an error"})
    first_error = fields.Integer(
        required=True, allow_none=True, metadata={"description": "the first bad index"}
    )
    counts = fields.Nested(AuditCountsSchema, required=True)
    balances = fields.Nested(AuditBalancesSchema, required=True)
    findings = fields.List(fields.Nested(AuditFindingSchema), required=True)


@blp.route("/audit", methods=["GET"])
@writing.documented(
    blp,
    answer=(200, AuditReportSchema, _ANSWER),
    failures=_FAILURES,
    parameters=_PARAMETERS,
    summary="Run the full audit: the log, its checkpoints, every balance and fund rule",
)
# The answer in both formats; this replaces the JSON-only one ``documented`` writes.
@blp.doc(
    responses={
        "200": {
            "description": _ANSWER,
            "content": {
                "application/json": {"schema": AuditReportSchema},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    }
)
def full_audit() -> Response:
    """Everything `ledger audit` checks, on the database as it is now (see docs/audit.md).

    Only error findings mean the log or its published figures are wrong; anomaly
    findings (info, warning, blocking) are for an auditor to look at.
    """
    scope = auth.current_scope()
    try:
        scope.require("audit")
    except PermissionDeniedError:
        message = f"the role {scope.role} may not read the audit: it is for auditors and admins"
        raise PermissionDeniedError(message) from None
    options = writing.load(AuditArgsSchema, request.args, "parameters")
    with database().session() as audit_session:
        report = audit_database(audit_session, settings(), rules=options["rules"])
    if options["format"] == "text":
        response = Response("\n".join(report.lines()) + "\n", mimetype="text/plain")
        response.headers["Cache-Control"] = writing.NO_STORE
        return response
    return writing.answer(200, report.document())


def register(api: Api) -> None:
    """Register this module's blueprint (after the bearer security scheme exists)."""
    api.register_blueprint(blp)
