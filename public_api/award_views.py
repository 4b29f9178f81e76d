"""Awards: nominations with their evidence for everyone, decisions for the board.

Reading needs no token: the public sees who is proposed for which form, on what
figures, with what evidence and what the board decided, as the log records it. The
awards board (or an admin) proposes and decides through the writers' one write path
(``public_api.writing``: bearer token, ``Idempotency-Key``, 201, never cached).
Lists change with every decision and are cached briefly; the evidence check reads
every counted gift's proof and is cached a little longer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, redirect, request
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from audit.awards import award_pdf, exports, nominations
from audit.awards.criteria import Criteria
from audit.awards.evidence import verify
from audit.awards.proposing import Outcome, Proposal, ProposalSchema, rank_for, record_nominations
from audit.awards.workflow import StepSchema, next_states
from ledger import log
from ledger.errors import ValidationError
from ledger.funds.recorder import Recorder, today_in_vietnam
from ledger.funds.schemas import Code, Day
from public_api import auth, caching, csv_export, writing
from public_api.csv_export import FormatArgsSchema
from public_api.database import session, settings
from public_api.receipt_pages import FONTS
from public_api.schemas import DecimalInteger, ErrorSchema, ValidationErrorSchema
from public_api.write_views import record_operation

blp = Blueprint(
    "awards",
    __name__,
    url_prefix="/api/v1/awards",
    description="Emulation awards: nominations from the rankings, their evidence, the "
    "board's decisions and the list (reading is public; proposing and deciding take an "
    "awards_board token)",
)
blp.after_request(caching.conditional)

EXPORT_NAME = "danh-sach-de-nghi-khen-thuong"
EVIDENCE_PAGE = 100
EVIDENCE_MAXIMUM = 1000
_BAD_ID = "not a nomination ID"
_NO_SUCH = "no nomination with this ID"
_BAD_ARGUMENTS = "malformed parameters"
_NO_CRITERIA = "the award criteria file cannot be read"


# -- query arguments -------------------------------------------------------------------


class _Filters(Schema):
    campaign = Code()
    state = fields.String(validate=validate.OneOf(nominations.STATES))
    form = fields.String(
        validate=validate.Regexp(r"^[A-Z0-9-]{1,32}$"),
        metadata={"description": "a form's code, e.g. BK-MTTQ-TINH"},
    )


class AwardListArgsSchema(_Filters, FormatArgsSchema):
    pass


class AwardExportArgsSchema(_Filters):
    date = Day(metadata={"description": "the list's date (default: today in Vietnam)"})


class EvidenceArgsSchema(Schema):
    start = DecimalInteger(
        load_default=0,
        validate=validate.Range(min=0, max=2**53 - 1),
        metadata={"description": "the first position in the gift list whose proof is shown"},
    )
    limit = DecimalInteger(
        load_default=EVIDENCE_PAGE,
        validate=validate.Range(min=1, max=EVIDENCE_MAXIMUM),
        metadata={"description": f"how many proofs (at most {EVIDENCE_MAXIMUM})"},
    )


# -- answers ---------------------------------------------------------------------------


class AwardFormSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    decided_by = fields.String(required=True)
    proposed_upward = fields.Boolean(required=True)


class AwardeeSchema(Schema):
    code = fields.String(required=True, metadata={"description": "the mobilizer's code"})
    name = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "collective or individual"})
    unit = fields.String(required=True)


class AwardPeriodSchema(Schema):
    since = fields.String(required=True, allow_none=True)
    until = fields.String(required=True, allow_none=True)


class AwardFiguresSchema(Schema):
    net_amount = fields.Integer(required=True, metadata={"description": "cash and bank, đồng"})
    donors = fields.Integer(required=True)
    gifts = fields.Integer(required=True)
    in_kind_value = fields.Integer(required=True)


class AwardEvidenceSummarySchema(Schema):
    tree_size = fields.Integer(required=True, metadata={"description": "counted at this size"})
    root = fields.String(required=True, metadata={"description": "that tree's root, hex"})
    gift_count = fields.Integer(required=True)
    checkpoint = fields.String(metadata={"description": "the signed note of tree_size"})
    gifts = fields.List(fields.Integer(), metadata={"description": "the gifts counted"})


class AwardDecisionSchema(Schema):
    number = fields.String(required=True)
    date = fields.String(required=True)
    approver = fields.String(required=True)


class AwardTransitionSchema(Schema):
    index = fields.Integer(required=True)
    time = fields.String(required=True)
    actor = fields.String(required=True)
    from_state = fields.String(required=True, data_key="from", attribute="from")
    to = fields.String(required=True)
    reason = fields.String(required=True)
    decision = fields.Nested(AwardDecisionSchema, required=True, allow_none=True)


class NominationSchema(Schema):
    id = fields.String(required=True, metadata={"description": "K and 16 characters"})
    index = fields.Integer(required=True, metadata={"description": "the nomination entry"})
    time = fields.String(required=True)
    actor = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(nominations.STATES))
    form = fields.Nested(AwardFormSchema, required=True)
    awardee = fields.Nested(AwardeeSchema, required=True)
    campaign = fields.String(required=True)
    period = fields.Nested(AwardPeriodSchema, required=True)
    ranked_in = fields.String(required=True, allow_none=True)
    rank = fields.Integer(required=True)
    figures = fields.Nested(AwardFiguresSchema, required=True)
    evidence = fields.Nested(AwardEvidenceSummarySchema, required=True)
    history = fields.List(fields.Nested(AwardTransitionSchema), required=True)


class NominationDetailSchema(NominationSchema):
    next_states = fields.List(fields.String(), required=True)


class NominationListSchema(Schema):
    nominations = fields.List(fields.Nested(NominationSchema), required=True)
    tree_size = fields.Integer(required=True, metadata={"description": "the list as of this size"})


class CountedGiftSchema(Schema):
    index = fields.Integer(required=True)
    leaf_hash = fields.String(required=True, allow_none=True)
    reversed_by = fields.Integer(required=True, allow_none=True)
    inclusion_proof = fields.List(fields.String(), allow_none=True)


class ReversedSinceSchema(Schema):
    gift = fields.Integer(required=True)
    reversal = fields.Integer(required=True)


class EvidenceReportSchema(Schema):
    id = fields.String(required=True)
    verified = fields.Boolean(required=True)
    problems = fields.List(fields.String(), required=True)
    tree_size = fields.Integer(required=True)
    root = fields.String(required=True)
    checkpoint = fields.String(required=True)
    verifier_key = fields.String(required=True, allow_none=True)
    gift_count = fields.Integer(required=True)
    recomputed = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    reversed_since = fields.List(fields.Nested(ReversedSinceSchema), required=True)
    gifts = fields.List(fields.Nested(CountedGiftSchema), required=True)
    next = fields.Integer(required=True, allow_none=True)


class SkippedSchema(Schema):
    mobilizer = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True)
    reason = fields.String(required=True)


class ProposedSchema(Schema):
    id = fields.String(required=True)
    index = fields.Integer(required=True)
    leaf_hash = fields.String(required=True)
    form = fields.String(required=True)
    awardee = fields.Nested(AwardeeSchema, required=True)
    rank = fields.Integer(required=True)
    figures = fields.Nested(AwardFiguresSchema, required=True)


class ProposalAnswerSchema(Schema):
    tree_size = fields.Integer(required=True, metadata={"description": "ranked at this size"})
    nominations = fields.List(fields.Nested(ProposedSchema), required=True)
    skipped = fields.List(fields.Nested(SkippedSchema), required=True)


class TransitionAnswerSchema(Schema):
    index = fields.Integer(required=True)
    kind = fields.String(required=True)
    leaf_hash = fields.String(required=True)
    id = fields.String(required=True, metadata={"description": "the nomination"})
    state = fields.String(required=True, metadata={"description": "its state now"})


# -- reading ---------------------------------------------------------------------------


def _canonical(nomination_id: str) -> Response | None:
    """A permanent redirect to the canonical spelling of the ID, if it is not that."""
    canonical = nominations.normalize_id(nomination_id)
    if canonical == nomination_id:
        return None
    response = redirect(request.path.replace(nomination_id, canonical, 1), code=301)
    response.headers.update(caching.policy(caching.SHORT))
    return response  # type: ignore[return-value]


def _criteria() -> Criteria:
    return Criteria.load(settings().awards_criteria_file)


@blp.route("")
@blp.arguments(AwardListArgsSchema, location="query", error_status_code=400)
@blp.response(200, NominationListSchema)
@blp.doc(**csv_export.DOC)
@blp.alt_response(400, schema=ErrorSchema, description=_BAD_ARGUMENTS)
def list_nominations(args: dict[str, Any]) -> Any:
    """Nominations, oldest first, with state, form, awardee, figures and history.

    ``format=csv`` gives the same list as a CSV file.
    """
    db = session()
    size = log.tree_size(db)
    wanted = {key: args[key] for key in ("campaign", "state", "form") if key in args}
    found = nominations.select_nominations(nominations.load(db), **wanted)
    items = [nomination.document() for nomination in found]
    policy = caching.policy(caching.LATEST)
    if csv_export.wants_csv(args):
        return csv_export.document("nominations.csv", nominations.COLUMNS, items, policy)
    return {"nominations": items, "tree_size": size}, policy


def _export(args: dict[str, Any]) -> exports.AwardList:
    day = args.get("date")
    return exports.listed(
        session(),
        _criteria(),
        day=today_in_vietnam() if day is None else date.fromisoformat(day),
        campaign=args.get("campaign"),
        state=args.get("state"),
        form=args.get("form"),
    )


def _file(content: bytes, mimetype: str, extension: str) -> Response:
    response = Response(content, mimetype=mimetype)
    response.headers.update(caching.policy(caching.SHORT))
    response.headers["Content-Disposition"] = f'attachment; filename="{EXPORT_NAME}.{extension}"'
    return response


def _binary(media_type: str, description: str) -> dict[str, Any]:
    content = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    return {"responses": {"200": {"description": description, "content": content}}}


@blp.route("/export.csv")
@blp.arguments(AwardExportArgsSchema, location="query", error_status_code=400)
@blp.alt_response(503, schema=ErrorSchema, description=_NO_CRITERIA)
@blp.doc(**_binary("text/csv", "the list as CSV (UTF-8 with BOM), one row per nomination"))
@blp.alt_response(400, schema=ErrorSchema, description=_BAD_ARGUMENTS)
def export_csv(args: dict[str, Any]) -> Response:
    """The list "Danh sách đề nghị khen thưởng" as CSV, grouped by form.

    Without ``state``, rejected nominations are left out (they are no longer proposed).
    """
    listed = _export(args)
    items = exports.csv_items(listed)
    policy = caching.policy(caching.SHORT)
    return csv_export.document(f"{EXPORT_NAME}.csv", exports.COLUMNS, items, policy)


@blp.route("/export.xlsx")
@blp.arguments(AwardExportArgsSchema, location="query", error_status_code=400)
@blp.alt_response(503, schema=ErrorSchema, description=_NO_CRITERIA)
@blp.doc(
    **_binary(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "the list as an Excel workbook in the usual layout",
    )
)
@blp.alt_response(400, schema=ErrorSchema, description=_BAD_ARGUMENTS)
def export_xlsx(args: dict[str, Any]) -> Response:
    """The list "Danh sách đề nghị khen thưởng" as an Excel workbook.

    Header block, title, the table grouped by form, the signature block; amounts are
    numbers. Without ``state``, rejected nominations are left out.
    """
    mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _file(exports.xlsx(_export(args)), mimetype, "xlsx")


@blp.route("/export.pdf")
@blp.arguments(AwardExportArgsSchema, location="query", error_status_code=400)
@blp.alt_response(503, schema=ErrorSchema, description=_NO_CRITERIA)
@blp.doc(**_binary("application/pdf", "the list, printable, A4 landscape"))
@blp.alt_response(400, schema=ErrorSchema, description=_BAD_ARGUMENTS)
def export_pdf(args: dict[str, Any]) -> Response:
    """The list "Danh sách đề nghị khen thưởng", printable (A4 landscape).

    Without ``state``, rejected nominations are left out.
    """
    return _file(award_pdf.render(_export(args), FONTS), "application/pdf", "pdf")


@blp.route("/<nomination_id>")
@blp.response(200, NominationDetailSchema)
@blp.alt_response(301, description="the canonical spelling of the nomination ID")
@blp.alt_response(400, schema=ErrorSchema, description=_BAD_ID)
@blp.alt_response(404, schema=ErrorSchema, description=_NO_SUCH)
def show_nomination(nomination_id: str) -> Any:
    """One nomination with every counted gift's index and the checkpoint they are proven in."""
    moved = _canonical(nomination_id)
    if moved is not None:
        return moved
    nomination = nominations.find(session(), nomination_id)
    document = {**nomination.document(gifts=True), "next_states": list(next_states(nomination))}
    return document, caching.policy(caching.LATEST)


@blp.route("/<nomination_id>/evidence")
@blp.arguments(EvidenceArgsSchema, location="query", error_status_code=400)
@blp.response(200, EvidenceReportSchema)
@blp.alt_response(301, description="the canonical spelling of the nomination ID")
@blp.alt_response(400, schema=ErrorSchema, description=f"{_BAD_ID}, or malformed parameters")
@blp.alt_response(404, schema=ErrorSchema, description=_NO_SUCH)
def nomination_evidence(args: dict[str, Any], nomination_id: str) -> Any:
    """The evidence checked: checkpoint signature, every gift's inclusion proof, the figures.

    ``verified`` is true when nothing is wrong; ``problems`` says what is. Gifts
    reversed after the checkpoint counted then and are listed in ``reversed_since``.
    ``gifts`` shows the proofs of ``limit`` gifts from position ``start``; ``next`` is
    the ``start`` of the following ones. Anyone can redo each check with the log's
    public endpoints (see docs/awards.md).
    """
    moved = _canonical(nomination_id)
    if moved is not None:
        return moved
    nomination = nominations.find(session(), nomination_id)
    start, limit = args["start"], args["limit"]
    report = verify(
        session(), nomination.body, index=nomination.index, show=range(start, start + limit)
    )
    following = start + limit
    document = {
        "id": nomination.id,
        **report.document(),
        "gifts": [gift.document() for gift in report.shown],
        "next": following if following < report.counted else None,
    }
    return document, caching.policy(caching.SHORT)


# -- the board's writes ------------------------------------------------------------------

_WRITE_ERRORS = {
    401: (ErrorSchema, "no token, or an unknown, expired or revoked one"),
    403: (ErrorSchema, "the token is not the awards board's (or an admin's), or not its unit"),
    404: (ErrorSchema, "no such campaign, unit or nomination"),
    409: (ErrorSchema, "the nomination's state does not allow it, or a reused key"),
    413: (ErrorSchema, "the body is too large"),
    422: (ValidationErrorSchema, "the body is invalid; `fields` names each problem"),
}


@blp.route("/nominations", methods=["POST"])
@writing.documented(
    blp,
    answer=(201, ProposalAnswerSchema, "the nominations recorded, and who was skipped and why"),
    failures={
        **_WRITE_ERRORS,
        503: (ErrorSchema, _NO_CRITERIA),
    },
    parameters=(writing.IDEMPOTENCY_KEY,),
    request_body=writing.json_request(ProposalSchema),
    summary="Propose nominations from a campaign's rankings",
)
def propose_nominations() -> Response:
    """Rank the campaign's mobilisers and record a nomination for each the criteria reward.

    Each nomination carries its evidence (the gifts counted, the checkpoint). A
    mobiliser already standing nominated for the same form, campaign and period is
    skipped, not nominated twice; ``skipped`` says so.
    """
    scope = auth.current_scope()
    scope.require(nominations.NOMINATION)
    body = writing.json_body()
    proposal = Proposal.load(body)
    criteria = _criteria()
    ranked = rank_for(session(), settings(), scope, proposal)

    def write(db: Session) -> dict[str, Any]:
        recorder = Recorder(db, settings(), scope, writing.privacy())
        _staged, skipped = record_nominations(recorder, criteria, ranked)
        outcome = Outcome(ranked.checkpoint.tree_size, tuple(recorder.commit()), tuple(skipped))
        return outcome.document()

    return writing.idempotent(scope, body, 201, write)


@blp.route("/<nomination_id>/transitions", methods=["POST"])
@writing.documented(
    blp,
    answer=(201, TransitionAnswerSchema, "recorded"),
    failures=_WRITE_ERRORS,
    parameters=(writing.IDEMPOTENCY_KEY,),
    request_body=writing.json_request(StepSchema),
    summary="Move a nomination on: review, approve, reject, confer or forward",
)
def transition_nomination(nomination_id: str) -> Response:
    """Record the board's step with its reason (and the decision, where there is one).

    Legal steps: proposed → under_review → approved or rejected; approved → conferred
    (a form decided at this level) or forwarded (a form only proposed upward). Any
    other answers 409 and records nothing.
    """
    scope = auth.current_scope()
    scope.require(nominations.TRANSITION)
    body = writing.json_body()
    if "nomination" in body:
        raise ValidationError.for_field("nomination", "is the one in the path; leave it out")
    return record_operation(nominations.TRANSITION, scope, {**body, "nomination": nomination_id})


def register(api: Api) -> None:
    """Register this module's blueprint (after the bearer security scheme exists)."""
    api.register_blueprint(blp)
