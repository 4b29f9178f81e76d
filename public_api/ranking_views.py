"""Mobiliser rankings (public, no token): ``GET /api/v1/rankings``, JSON or CSV.

The ranking is taken at the latest signed checkpoint, with the gifts under a
blocking finding left out (``audit.rankings.verified_ranking``); the answer names
the checkpoint's size and root, so that anyone can recompute it from the log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response
from flask_smorest import Api, Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from audit import rankings
from ledger.funds.schemas import Code, Day
from ledger.settings import Settings
from public_api import caching, csv_export
from public_api.csv_export import FormatArgsSchema
from public_api.database import session, settings
from public_api.schemas import ErrorSchema

blp = Blueprint(
    "rankings",
    __name__,
    url_prefix="/api/v1",
    description="Mobilizers ranked by verified net mobilised amount (public, read-only)",
)
blp.after_request(caching.conditional)

COLUMNS = (
    "rank",
    "mobilizer",
    "name",
    "type",
    "unit",
    "net_amount",
    "in_kind_value",
    "donors",
    "gifts",
)
BAD_ARGUMENTS = "no or an unknown type, a malformed code or day, or until before since"
UNKNOWN_CODE = "the campaign or unit named does not exist"


class RankingArgsSchema(FormatArgsSchema):
    type = fields.String(
        required=True,
        validate=validate.OneOf(rankings.TYPES),
        metadata={"description": "collectives and individuals are ranked apart"},
    )
    campaign = Code(metadata={"description": "only gifts to this campaign"})
    unit = Code(metadata={"description": "mobilizers of this unit or a unit below it"})
    since = Day(metadata={"description": "gifts received on or after this day (Vietnam)"})
    until = Day(metadata={"description": "gifts received on or before this day"})
    evidence = fields.Boolean(
        load_default=False,
        metadata={
            "description": "1: add each mobilizer's counted gift indices, the withheld "
            "gifts and the signed checkpoint note"
        },
    )

    @validates_schema
    def _days_in_order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and until < since:
            raise ValidationError("must not be before since", "until")


class RankedSchema(Schema):
    rank = fields.Integer(required=True, metadata={"description": "1, 2, 3, …: never shared"})
    mobilizer = fields.String(required=True, metadata={"description": "the mobilizer's code"})
    name = fields.String(required=True)
    type = fields.String(required=True)
    unit = fields.String(required=True, metadata={"description": "the mobilizer's unit"})
    net_amount = fields.Integer(
        required=True, metadata={"description": "bank and cash gifts that count, đồng"}
    )
    in_kind_value = fields.Integer(
        required=True, metadata={"description": "assessed value of in-kind gifts that count"}
    )
    donors = fields.Integer(
        required=True,
        metadata={"description": "named donors by name and type; each anonymous gift one"},
    )
    gifts = fields.Integer(required=True)
    gift_indices = fields.List(
        fields.Integer(),
        metadata={"description": "with evidence=1: the gifts counted, ascending"},
    )


class RankingSchema(Schema):
    type = fields.String(required=True)
    campaign = fields.String(required=True, allow_none=True)
    unit = fields.String(required=True, allow_none=True)
    since = fields.String(required=True, allow_none=True)
    until = fields.String(required=True, allow_none=True)
    tree_size = fields.Integer(
        required=True, metadata={"description": "the signed checkpoint the ranking is taken at"}
    )
    root = fields.String(required=True, metadata={"description": "that checkpoint's root, hex"})
    withheld = fields.Integer(
        required=True,
        metadata={"description": "gifts left out: under a blocking finding not acknowledged"},
    )
    mobilizers = fields.List(fields.Nested(RankedSchema), required=True)
    withheld_gifts = fields.List(
        fields.Integer(), metadata={"description": "with evidence=1: their indices"}
    )
    checkpoint = fields.String(
        metadata={"description": "with evidence=1: the signed note of tree_size"}
    )


def blocked_cache(db: Session, config: Settings) -> Callable[[int], frozenset[int]]:
    """The blocked gifts at a tree size, as the rules find them now; one answer per size.

    The rules are not replayed for each request: ``audit.rankings.blocked_at`` asks the
    runner this process keeps (``audit.rule_cache``), which reads only the entries
    appended since it was last asked. So a new gift, and an acknowledgement, show in
    the very next ranking. A page ranking collectives and individuals at one size asks
    the rules once.
    """
    found: dict[int, frozenset[int]] = {}

    def at(size: int) -> frozenset[int]:
        if size not in found:
            found[size] = rankings.blocked_at(db, config, size)
        return found[size]

    return at


@blp.route("/rankings")
@blp.arguments(RankingArgsSchema, location="query", error_status_code=400)
@blp.response(200, RankingSchema)
@blp.doc(**csv_export.DOC)
@blp.alt_response(400, schema=ErrorSchema, description=BAD_ARGUMENTS)
@blp.alt_response(404, schema=ErrorSchema, description=UNKNOWN_CODE)
def ranking(args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]] | Response:
    """Collectives or individuals ranked by the money their gifts brought in.

    Only gifts that count: recorded before the checkpoint, not reversed, not under a
    blocking finding. Ties go to more donors, then more gifts, then more in-kind value,
    then to whoever's first counted gift came earlier in the log. ``donors`` counts a
    named donor once (by name and type) and each anonymous gift as one.
    """
    query = rankings.RankingQuery(
        type=args["type"],
        campaign=args.get("campaign"),
        unit=args.get("unit"),
        since=args.get("since"),
        until=args.get("until"),
    )
    db, config = session(), settings()
    found = rankings.verified_ranking(db, config, query, blocked=blocked_cache(db, config))
    evidence = bool(args["evidence"])
    policy = caching.policy(caching.LATEST)
    if csv_export.wants_csv(args):
        columns = (*COLUMNS, "gift_indices") if evidence else COLUMNS
        items = [ranked.document(evidence=evidence) for ranked in found.ranked]
        return csv_export.document(f"rankings-{query.type}.csv", columns, items, policy)
    return found.document(evidence=evidence), policy


def register(api: Api) -> None:
    """Register this module's blueprint (after the bearer security scheme exists)."""
    api.register_blueprint(blp)
