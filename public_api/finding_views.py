"""The auditors' endpoints for anomaly findings and their acknowledgements.

``GET /api/v1/audit/findings`` runs the anomaly rules (``audit.rules``) over the whole
log and answers every finding, acknowledged ones included; ``POST
/api/v1/audit/acknowledgements`` records an ``acknowledgement`` entry through the
writers' one write path (``public_api.writing``: bearer token, ``Idempotency-Key``,
201). Both take an auditor's or an admin's token. Findings are computed from the
latest log on each request, so nothing here may be cached: every answer is
``Cache-Control: no-store``.
"""

from __future__ import annotations

from flask import Response, request
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate

from audit.acknowledgements import ACKNOWLEDGEMENT, AcknowledgementSchema
from audit.rules import ANOMALY_SEVERITIES, findings_for_database, select_findings
from ledger import log
from ledger.errors import PermissionDeniedError
from ledger.funds.access import Scope
from public_api import auth, writing
from public_api.database import session, settings
from public_api.schemas import ErrorSchema, ValidationErrorSchema
from public_api.write_views import RecordedSchema, record_operation

blp = Blueprint(
    "findings",
    __name__,
    url_prefix="/api/v1/audit",
    description="Auditors: anomaly findings and their acknowledgements (Authorization: Bearer)",
)

_ERRORS = {
    401: "no token, or an unknown, expired or revoked one",
    403: "the token is neither an auditor's nor an admin's",
    409: "the Idempotency-Key was used for another request",
    413: "the body is too large",
    422: "a parameter or the body is invalid (an unknown rule, an entry not in the log, "
    "no reason); `fields` names each problem",
}


def _failures(*statuses: int) -> dict[int, tuple[type[Schema], str]]:
    return {
        status: (ValidationErrorSchema if status == 422 else ErrorSchema, _ERRORS[status])
        for status in statuses
    }


class FindingsArgsSchema(Schema):
    severity = fields.String(load_default=None, validate=validate.OneOf(ANOMALY_SEVERITIES))
    unacknowledged = fields.Boolean(load_default=False)


class AnomalyFindingSchema(Schema):
    id = fields.String(required=True, metadata={"description": "<rule>:<index>"})
    check = fields.String(required=True, metadata={"description": "the rule's name"})
    severity = fields.String(required=True, validate=validate.OneOf(ANOMALY_SEVERITIES))
    index = fields.Integer(
        required=True, allow_none=True, metadata={"description": "the entry it is about"}
    )
    message = fields.String(required=True)
    related = fields.List(
        fields.Integer(), required=True, metadata={"description": "other entries involved"}
    )
    acknowledged_by = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the acknowledgement entry's index, or null"},
    )
    acknowledged_reason = fields.String(required=True, allow_none=True)
    details = fields.Dict(required=True, metadata={"description": "the rule's figures"})


class AnomalyFindingsSchema(Schema):
    tree_size = fields.Integer(required=True, metadata={"description": "the log size read"})
    findings = fields.List(fields.Nested(AnomalyFindingSchema), required=True)


def _query(name: str, schema: dict[str, object], description: str) -> dict[str, object]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _auditor(scope: Scope, doing: str) -> None:
    """PermissionDeniedError (403) unless the token is an auditor's or an admin's."""
    try:
        scope.require(ACKNOWLEDGEMENT if doing == "acknowledge" else "audit")
    except PermissionDeniedError:
        raise PermissionDeniedError(
            f"the role {scope.role} may not {doing} anomaly findings: "
            "that takes an auditor's or an admin's token"
        ) from None


@blp.route("/findings", methods=["GET"])
@writing.documented(
    blp,
    answer=(200, AnomalyFindingsSchema, "every finding, by entry index then rule"),
    failures=_failures(401, 403, 422),
    parameters=(
        _query(
            "severity",
            {"type": "string", "enum": list(ANOMALY_SEVERITIES)},
            "only findings of this severity",
        ),
        _query("unacknowledged", {"type": "boolean"}, "true: only findings not acknowledged"),
    ),
    summary="The anomaly rules' findings over the whole log",
)
def list_findings() -> Response:
    """Run every anomaly rule (docs/anomalies.md) over the log as it stands now.

    Acknowledged findings are listed too, with the acknowledgement entry and its
    reason: findings are never deleted.
    """
    scope = auth.current_scope()
    _auditor(scope, "read")
    args = writing.load(FindingsArgsSchema, request.args, "parameters")
    reading = session()
    size = log.tree_size(reading)
    found = findings_for_database(reading, settings(), as_of=size)
    shown = select_findings(found, **args)
    return writing.answer(
        200, {"tree_size": size, "findings": [finding.document() for finding in shown]}
    )


@blp.route("/acknowledgements", methods=["POST"])
@writing.documented(
    blp,
    answer=(201, RecordedSchema, "recorded: the acknowledgement entry's index and leaf hash"),
    failures=_failures(401, 403, 409, 413, 422),
    parameters=(writing.IDEMPOTENCY_KEY,),
    request_body=writing.json_request(AcknowledgementSchema),
    summary="Acknowledge a finding, with the reason",
)
def acknowledge_finding() -> Response:
    """Record an ``acknowledgement`` entry: the finding stays listed, shown acknowledged.

    Whether the finding fires now is not checked (see docs/anomalies.md); that its
    rule exists and the entry it names is in the log, of a kind the rule reports on, is.
    """
    scope = auth.current_scope()
    _auditor(scope, "acknowledge")
    return record_operation(ACKNOWLEDGEMENT, scope, writing.json_body())


def register(api: Api) -> None:
    """Register this module's blueprint (after the bearer security scheme exists)."""
    api.register_blueprint(blp)
