"""Public lists (no token): gifts, allocations, disbursements, a leaderboard, statistics.

A donor finds their gift by receipt ID, bank reference, name (without diacritics if
they like), day or amount, instead of reading the bank statement. Lists are paged by
key, newest first (``limit``, then ``after`` = the ``next`` of the page before), and
each answer says the tree size it was read at. With ``format=csv`` every list is a CSV
file of the same rows, the whole filtered list unless ``limit`` caps it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from ledger import log
from ledger.db import Database
from ledger.errors import InvalidRequestError
from ledger.funds import listing, summaries
from ledger.funds.schemas import MAX_AMOUNT, PERSON_TYPES, Code, Day, Text
from ledger.receipts import receipt_url
from public_api import caching, csv_export
from public_api.csv_export import FormatArgsSchema
from public_api.database import database, session, settings
from public_api.schemas import MAX_INDEX, DecimalInteger, ErrorSchema

blp = Blueprint(
    "lists",
    __name__,
    url_prefix="/api/v1",
    description="Gifts, allocations, disbursements, mobilizers' results and statistics "
    "(public, read-only; JSON or CSV)",
)
blp.after_request(caching.conditional)

Headers = dict[str, str]
LIST_MAXIMUM = 500  # items per JSON page; CSV has no page
DEFAULT_LIMIT = 50
CSV_BATCH = 500
CHANNELS = ("bank", "cash", "in_kind")
BAD_ARGUMENTS = "malformed parameters, a limit over the maximum, or to before from"
UNKNOWN_CODE = "a fund, campaign, mobilizer or unit named by a filter does not exist"

GIFT_COLUMNS = (
    "index",
    "receipt_id",
    "received_on",
    "fund",
    "campaign",
    "mobilizer",
    "channel",
    "amount",
    "donor.display",
    "donor.type",
    "donor.anonymous",
    "reference",
    "earmark.purpose",
    "earmark.unit",
    "in_kind.description",
    "in_kind.quantity",
    "in_kind.unit",
    "in_kind.valuation",
    "reversed",
    "receipt_url",
)
ALLOCATION_COLUMNS = (
    "index",
    "date",
    "time",
    "fund",
    "amount",
    "form",
    "purpose",
    "program",
    "beneficiary.display",
    "beneficiary.type",
    "beneficiary.unit",
    "decision_ref",
    "decision.number",
    "decision.date",
    "decision.approver",
    "documents",
    "earmark.purpose",
    "earmark.unit",
    "campaign",
    "disbursed",
    "reversed",
)
DISBURSEMENT_COLUMNS = (
    "index",
    "allocation",
    "fund",
    "amount",
    "paid_on",
    "documents",
    "note",
    "reversed",
)
LEADERBOARD_COLUMNS = (
    "rank",
    "code",
    "name",
    "type",
    "unit",
    "unit_name",
    "amount",
    "in_kind",
    "gifts",
    "donors",
)


class PageLimitError(InvalidRequestError):
    """More items asked for on one page than a page holds."""


# -- query arguments -------------------------------------------------------------------


def _in_order(data: dict[str, Any], low: str, high: str, names: tuple[str, str]) -> None:
    if data.get(low) is not None and data.get(high) is not None and data[high] < data[low]:
        raise ValidationError(f"must not be less than {names[0]}", names[1])


class ListedPageArgsSchema(FormatArgsSchema):
    limit = DecimalInteger(
        validate=validate.Range(min=1),
        metadata={
            "description": f"items per page: {DEFAULT_LIMIT} unless given, at most "
            f"{LIST_MAXIMUM}; with format=csv, the most rows to send (all if not given)"
        },
    )
    after = DecimalInteger(
        validate=validate.Range(min=0, max=MAX_INDEX),
        metadata={"description": "the `next` of the page before: items with smaller indices"},
    )


class ListedGiftArgsSchema(ListedPageArgsSchema):
    receipt_id = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "any case, with or without dashes"},
    )
    reference = Text(max_length=64, metadata={"description": "the bank's transaction reference"})
    donor = Text(
        max_length=200,
        metadata={"description": "part of the name shown, diacritics and case ignored"},
    )
    fund = Code()
    campaign = Code()
    mobilizer = Code()
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    received_from = Day(data_key="from", metadata={"description": "received on or after"})
    received_to = Day(data_key="to", metadata={"description": "received on or before"})
    min_amount = DecimalInteger(validate=validate.Range(min=0, max=MAX_AMOUNT))
    max_amount = DecimalInteger(validate=validate.Range(min=0, max=MAX_AMOUNT))

    @validates_schema
    def _ranges(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _in_order(data, "received_from", "received_to", ("from", "to"))
        _in_order(data, "min_amount", "max_amount", ("min_amount", "max_amount"))


class ListedAllocationArgsSchema(ListedPageArgsSchema):
    fund = Code()
    unit = Code(metadata={"description": "funds held by this unit or a unit below it"})
    beneficiary_unit = Code(metadata={"description": "beneficiaries in this unit or below it"})
    program = Text(max_length=64)
    beneficiary_type = fields.String(validate=validate.OneOf(PERSON_TYPES))
    form = fields.String(validate=validate.OneOf(("cash", "in_kind")))
    campaign = Code()
    recorded_from = Day(data_key="from", metadata={"description": "recorded on or after"})
    recorded_to = Day(data_key="to", metadata={"description": "recorded on or before"})

    @validates_schema
    def _ranges(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _in_order(data, "recorded_from", "recorded_to", ("from", "to"))


class ListedDisbursementArgsSchema(ListedPageArgsSchema):
    fund = Code()
    unit = Code(metadata={"description": "funds held by this unit or a unit below it"})
    allocation = DecimalInteger(validate=validate.Range(min=0, max=MAX_INDEX))
    paid_from = Day(data_key="from", metadata={"description": "paid on or after"})
    paid_to = Day(data_key="to", metadata={"description": "paid on or before"})

    @validates_schema
    def _ranges(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _in_order(data, "paid_from", "paid_to", ("from", "to"))


class ListedLeaderboardArgsSchema(FormatArgsSchema):
    campaign = Code()
    fund = Code()
    type = fields.String(validate=validate.OneOf(("collective", "individual")))
    unit = Code(metadata={"description": "mobilizers of this unit or a unit below it"})
    received_from = Day(data_key="from")
    received_to = Day(data_key="to")

    @validates_schema
    def _ranges(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _in_order(data, "received_from", "received_to", ("from", "to"))


# -- answers ---------------------------------------------------------------------------


class ListedDonorSchema(Schema):
    display = fields.String(required=True, metadata={"description": "as the leaf shows it"})
    type = fields.String(required=True)
    anonymous = fields.Boolean(required=True)


class ListedEarmarkSchema(Schema):
    purpose = fields.String()
    unit = fields.String()


class ListedInKindSchema(Schema):
    description = fields.String(required=True)
    quantity = fields.Raw(required=True, metadata={"description": "an integer or a decimal string"})
    unit = fields.String(required=True)
    valuation = fields.String()


class ListedPageSchema(Schema):
    next = fields.Integer(
        required=True, allow_none=True, metadata={"description": "`after` of the next page"}
    )
    limit = fields.Integer(required=True)
    tree_size = fields.Integer(required=True, metadata={"description": "the list as of this size"})


class ListedGiftSchema(Schema):
    receipt_id = fields.String(required=True)
    index = fields.Integer(required=True)
    fund = fields.String(required=True)
    campaign = fields.String(required=True)
    mobilizer = fields.String(required=True, allow_none=True)
    channel = fields.String(required=True)
    amount = fields.Integer(required=True, metadata={"description": "đồng; goods at their value"})
    received_on = fields.String(required=True)
    donor = fields.Nested(ListedDonorSchema, required=True)
    reference = fields.String(required=True, allow_none=True)
    earmark = fields.Nested(ListedEarmarkSchema, required=True, allow_none=True)
    in_kind = fields.Nested(ListedInKindSchema, required=True, allow_none=True)
    reversed = fields.Boolean(required=True)
    receipt_url = fields.String(required=True)


class ListedGiftPageSchema(ListedPageSchema):
    contributions = fields.List(fields.Nested(ListedGiftSchema), required=True)


class ListedBeneficiarySchema(Schema):
    display = fields.String(required=True, metadata={"description": "a person's name masked"})
    type = fields.String(required=True)
    unit = fields.String(required=True, allow_none=True)


class ListedDecisionSchema(Schema):
    number = fields.String(required=True)
    date = fields.String(required=True)
    approver = fields.String(required=True)


class ListedAllocationSchema(Schema):
    index = fields.Integer(required=True)
    fund = fields.String(required=True)
    amount = fields.Integer(required=True)
    form = fields.String(required=True)
    purpose = fields.String(required=True)
    program = fields.String(required=True, allow_none=True)
    beneficiary = fields.Nested(ListedBeneficiarySchema, required=True)
    decision_ref = fields.String(required=True, allow_none=True)
    decision = fields.Nested(ListedDecisionSchema, required=True, allow_none=True)
    documents = fields.List(fields.String(), required=True, metadata={"description": "SHA-256"})
    earmark = fields.Nested(ListedEarmarkSchema, required=True, allow_none=True)
    campaign = fields.String(required=True, allow_none=True)
    date = fields.String(required=True, metadata={"description": "recorded, Asia/Ho_Chi_Minh"})
    time = fields.String(required=True, metadata={"description": "the entry's time, UTC"})
    disbursed = fields.Integer(required=True, metadata={"description": "standing payments"})
    reversed = fields.Boolean(required=True)


class ListedAllocationPageSchema(ListedPageSchema):
    allocations = fields.List(fields.Nested(ListedAllocationSchema), required=True)


class ListedDisbursementSchema(Schema):
    index = fields.Integer(required=True)
    allocation = fields.Integer(required=True)
    fund = fields.String(required=True)
    amount = fields.Integer(required=True)
    paid_on = fields.String(required=True)
    documents = fields.List(fields.String(), required=True)
    note = fields.String(required=True, allow_none=True)
    reversed = fields.Boolean(required=True)


class ListedDisbursementPageSchema(ListedPageSchema):
    disbursements = fields.List(fields.Nested(ListedDisbursementSchema), required=True)


class ListedLeaderSchema(Schema):
    rank = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True)
    unit = fields.String(required=True)
    unit_name = fields.String(required=True)
    amount = fields.Integer(required=True, metadata={"description": "cash, reversals left out"})
    in_kind = fields.Integer(required=True, metadata={"description": "goods at their value"})
    gifts = fields.Integer(required=True)
    donors = fields.Integer(
        required=True,
        metadata={"description": "named donors by name and type; each anonymous gift one"},
    )


class ListedLeaderboardSchema(Schema):
    mobilizers = fields.List(fields.Nested(ListedLeaderSchema), required=True)
    tree_size = fields.Integer(required=True)


class ListedAmountsSchema(Schema):
    received = fields.Integer(required=True)
    received_in_kind = fields.Integer(required=True)
    allocated = fields.Integer(required=True)
    allocated_in_kind = fields.Integer(required=True)
    committed = fields.Integer(required=True)
    committed_in_kind = fields.Integer(required=True)
    disbursed = fields.Integer(required=True)
    disbursed_in_kind = fields.Integer(required=True)
    available = fields.Integer(required=True)
    available_in_kind = fields.Integer(required=True)


class ListedCountsSchema(Schema):
    gifts = fields.Integer(required=True)
    donors = fields.Integer(required=True)
    allocations = fields.Integer(required=True)
    disbursements = fields.Integer(required=True)
    reversals = fields.Integer(required=True)


class ListedFundStatisticsSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    unit = fields.String(required=True)
    amounts = fields.Nested(ListedAmountsSchema, required=True)
    counts = fields.Nested(ListedCountsSchema, required=True)


class ListedStatisticsSchema(Schema):
    tree_size = fields.Integer(required=True)
    amounts = fields.Nested(ListedAmountsSchema, required=True)
    counts = fields.Nested(ListedCountsSchema, required=True)
    funds = fields.List(fields.Nested(ListedFundStatisticsSchema), required=True)


# -- views -----------------------------------------------------------------------------


def _policy() -> Headers:
    return caching.policy(caching.LATEST)


def _maximum() -> int:
    return min(LIST_MAXIMUM, settings().max_page_size)


def _page_limit(args: dict[str, Any]) -> int:
    maximum = _maximum()
    limit: int = args.get("limit") or min(DEFAULT_LIMIT, maximum)
    if limit > maximum:
        raise PageLimitError(
            f"limit must be at most {maximum}: page on with after=<next>, "
            "or ask for format=csv to have the whole list"
        )
    return limit


def _every(
    data: Database, found: listing.Listing, first: listing.Page, cap: int | None
) -> Iterator[dict[str, Any]]:
    """A CSV list from its first batch on, the rest read a batch at a time as it is sent.

    The request's session is closed once the view returns, before the file is sent, so
    the later batches are read through a session of this generator's own, closed when
    the download ends or is abandoned; between batches it holds no transaction.
    """
    page, sent = first, 0
    with data.session() as own:
        rest = found.on(own)
        while True:
            for item in page.items:
                if cap is not None and sent >= cap:
                    return
                sent += 1
                yield item
            if page.next is None or (cap is not None and sent >= cap):
                return
            own.rollback()
            page = rest.page(CSV_BATCH, page.next)


def _list(
    args: dict[str, Any],
    key: str,
    columns: tuple[str, ...],
    lister: Callable[[Session, int], listing.Listing],
    shown: Callable[[dict[str, Any]], dict[str, Any]] = lambda item: item,
) -> tuple[dict[str, Any], Headers] | Response:
    """A page of the list ``lister`` makes, or with ``format=csv`` all of it as a file."""
    db = session()
    as_of = log.tree_size(db)
    if csv_export.wants_csv(args):
        found = lister(db, as_of)
        # The first batch is read here: a database error is an error, not a cut file.
        first = found.page(CSV_BATCH, args.get("after"))
        rows = map(shown, _every(database(), found, first, args.get("limit")))
        return csv_export.stream(f"{key}.csv", columns, rows, _policy(), as_of)
    limit = _page_limit(args)
    page = lister(db, as_of).page(limit, args.get("after"))
    document = {
        key: [shown(item) for item in page.items],
        "next": page.next,
        "limit": limit,
        "tree_size": as_of,
    }
    return document, _policy()


@blp.route("/contributions")
@blp.arguments(ListedGiftArgsSchema, location="query", error_status_code=400)
@blp.response(200, ListedGiftPageSchema)
@blp.doc(**csv_export.DOC)
@blp.alt_response(400, schema=ErrorSchema, description=BAD_ARGUMENTS)
@blp.alt_response(404, schema=ErrorSchema, description=UNKNOWN_CODE)
def list_contributions(args: dict[str, Any]) -> Any:
    """Gifts, newest first: find one by receipt ID, bank reference, name, day or amount.

    ``donor`` matches part of the name shown, ignoring case, diacritics and punctuation
    ("nguyen v" finds "Nguyễn V. A."); days are inclusive. Reversed gifts are listed
    with ``reversed: true``.
    """
    wanted = listing.filter_from(listing.GiftFilter, args)
    base = settings()

    def lister(db: Session, as_of: int) -> listing.Listing:
        return listing.contributions(db, wanted, as_of=as_of)

    def shown(item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "receipt_url": receipt_url(base, item["receipt_id"])}

    return _list(args, "contributions", GIFT_COLUMNS, lister, shown)


@blp.route("/allocations")
@blp.arguments(ListedAllocationArgsSchema, location="query", error_status_code=400)
@blp.response(200, ListedAllocationPageSchema)
@blp.doc(**csv_export.DOC)
@blp.alt_response(400, schema=ErrorSchema, description=BAD_ARGUMENTS)
@blp.alt_response(404, schema=ErrorSchema, description=UNKNOWN_CODE)
def list_allocations(args: dict[str, Any]) -> Any:
    """Spending decisions, newest first, each with what has been paid under it.

    ``unit`` selects the funds held by that unit and the units below it;
    ``beneficiary_unit`` the beneficiaries there. ``from``/``to`` are the days the
    allocations were recorded, in Vietnam's calendar.
    """
    wanted = listing.filter_from(listing.AllocationFilter, args)

    def lister(db: Session, as_of: int) -> listing.Listing:
        return listing.allocations(db, wanted, as_of=as_of)

    return _list(args, "allocations", ALLOCATION_COLUMNS, lister)


@blp.route("/disbursements")
@blp.arguments(ListedDisbursementArgsSchema, location="query", error_status_code=400)
@blp.response(200, ListedDisbursementPageSchema)
@blp.doc(**csv_export.DOC)
@blp.alt_response(400, schema=ErrorSchema, description=BAD_ARGUMENTS)
@blp.alt_response(404, schema=ErrorSchema, description=UNKNOWN_CODE)
def list_disbursements(args: dict[str, Any]) -> Any:
    """Payments, newest first; ``from``/``to`` are their ``paid_on`` days."""
    wanted = listing.filter_from(listing.DisbursementFilter, args)

    def lister(db: Session, as_of: int) -> listing.Listing:
        return listing.disbursements(db, wanted, as_of=as_of)

    return _list(args, "disbursements", DISBURSEMENT_COLUMNS, lister)


@blp.route("/mobilizers/leaderboard")
@blp.arguments(ListedLeaderboardArgsSchema, location="query", error_status_code=400)
@blp.response(200, ListedLeaderboardSchema)
@blp.doc(**csv_export.DOC)
@blp.alt_response(400, schema=ErrorSchema, description=BAD_ARGUMENTS)
@blp.alt_response(404, schema=ErrorSchema, description=UNKNOWN_CODE)
def leaderboard(args: dict[str, Any]) -> Any:
    """Mobilizers ranked by the cash their standing gifts brought in.

    Ties go to more gifts, then to the smaller code, so every rank is distinct and the
    same every time. ``donors`` counts a named donor once (by name and type) and each
    anonymous gift as one donor. Reversed gifts count for nothing.
    """
    db = session()
    as_of = log.tree_size(db)
    wanted = listing.filter_from(summaries.LeaderboardFilter, args)
    board = summaries.leaderboard(db, wanted, as_of=as_of)
    if csv_export.wants_csv(args):
        return csv_export.document("leaderboard.csv", LEADERBOARD_COLUMNS, board, _policy())
    return {"mobilizers": board, "tree_size": as_of}, _policy()


@blp.route("/statistics")
@blp.response(200, ListedStatisticsSchema)
def statistics() -> tuple[dict[str, Any], Headers]:
    """Totals received, allocated, disbursed and available, and counts, per fund and in all.

    Every figure is as of ``tree_size``: a reader can recompute it from that many
    entries of the log. ``allocated`` = ``committed`` + ``disbursed``.
    """
    db = session()
    return summaries.statistics(db, as_of=log.tree_size(db)), _policy()
