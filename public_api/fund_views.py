"""Public fund pages (CONTRACT.md §4): funds, units, campaigns and mobilizers with balances.

No token is needed: all of it can be recomputed from the public log. Balances move
with every write, so answers are cached for a few seconds only, like the latest
checkpoint. A campaign's bank account is the committee's collection account, which
the committee publishes for donors; no private data is read here.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from ledger.funds import queries, state
from ledger.funds.models import CampaignRow, FundRow, MobilizerRow, UnitRow
from ledger.funds.recorder import today_in_vietnam
from ledger.funds.schemas import CODE_PATTERN
from public_api import caching, csv_export
from public_api.csv_export import FormatArgsSchema
from public_api.database import session, settings
from public_api.response_cache import cached
from public_api.schemas import ErrorSchema

blp = Blueprint(
    "funds",
    __name__,
    url_prefix="/api/v1",
    description="Funds, units, campaigns and mobilizers (public, read-only)",
)
blp.after_request(caching.conditional)

Headers = dict[str, str]
OPEN, CLOSED = "open", "closed"


class BalanceSchema(Schema):
    available = fields.Integer(required=True, metadata={"description": "cash not yet allocated"})
    committed = fields.Integer(required=True, metadata={"description": "allocated, not yet paid"})
    disbursed = fields.Integer(required=True, metadata={"description": "paid out"})
    in_kind = fields.Integer(required=True, metadata={"description": "goods not yet allocated"})
    in_kind_committed = fields.Integer(required=True)
    in_kind_disbursed = fields.Integer(required=True)
    received = fields.Integer(required=True, metadata={"description": "cash gifts received"})
    received_in_kind = fields.Integer(required=True)


class PublicFundSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    unit = fields.String(required=True)
    unit_name = fields.String(required=True)
    kind = fields.String(required=True)
    kind_name = fields.String(required=True)
    entry_index = fields.Integer(required=True, metadata={"description": "where it was recorded"})
    balance = fields.Nested(BalanceSchema, required=True)


class FundCampaignSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    opens = fields.String(required=True)
    closes = fields.String(required=True)
    status = fields.String(required=True)


class FundDetailSchema(PublicFundSchema):
    campaigns = fields.List(fields.Nested(FundCampaignSchema), required=True)


class FundListSchema(Schema):
    funds = fields.List(fields.Nested(PublicFundSchema), required=True)


class PublicUnitSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    parent = fields.String(required=True, allow_none=True)
    level = fields.String(required=True)
    entry_index = fields.Integer(required=True)


class UnitListSchema(Schema):
    units = fields.List(
        fields.Nested(PublicUnitSchema),
        required=True,
        metadata={"description": "every unit, each followed by the units below it"},
    )


class UnitDetailSchema(PublicUnitSchema):
    ancestors = fields.List(
        fields.String(), required=True, metadata={"description": "nearest first"}
    )
    children = fields.List(fields.String(), required=True)
    funds = fields.List(fields.String(), required=True, metadata={"description": "of this unit"})
    balance = fields.Nested(
        BalanceSchema,
        required=True,
        metadata={"description": "the funds of this unit and of every unit below it"},
    )


class BankAccountSchema(Schema):
    bank_bin = fields.String(required=True)
    bank_name = fields.String(required=True)
    number = fields.String(required=True)
    holder = fields.String(required=True)


class PledgedSchema(Schema):
    total = fields.Integer(required=True)
    fulfilled = fields.Integer(required=True)


class PublicCampaignSchema(Schema):
    code = fields.String(required=True)
    fund = fields.String(required=True)
    name = fields.String(required=True)
    purpose = fields.String(required=True)
    reference = fields.String(required=True, metadata={"description": "the transfer memo code"})
    opens = fields.String(required=True)
    closes = fields.String(required=True)
    distribute_by = fields.String(required=True)
    account = fields.Nested(BankAccountSchema, required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf((OPEN, CLOSED)),
        metadata={"description": "open: takes gifts today (Asia/Ho_Chi_Minh)"},
    )
    entry_index = fields.Integer(required=True)
    balance = fields.Nested(BalanceSchema, required=True)
    pledged = fields.Nested(PledgedSchema, required=True)


class CampaignListSchema(Schema):
    campaigns = fields.List(fields.Nested(PublicCampaignSchema), required=True)


class CampaignArgsSchema(FormatArgsSchema):
    fund = fields.String(
        validate=validate.Regexp(CODE_PATTERN), metadata={"description": "only this fund's"}
    )


class PublicMobilizerSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True)
    unit = fields.String(required=True)
    unit_name = fields.String(required=True)
    reference = fields.String(required=True, metadata={"description": "the transfer memo code"})
    entry_index = fields.Integer(required=True)


class MobilizerListSchema(Schema):
    mobilizers = fields.List(fields.Nested(PublicMobilizerSchema), required=True)


def _cached(document: dict[str, Any]) -> tuple[dict[str, Any], Headers]:
    return document, caching.policy(caching.LATEST)


BALANCE_COLUMNS = tuple(f"balance.{account}" for account in state.Balance().as_dict())
FUND_COLUMNS = (
    *("code", "name", "unit", "unit_name", "kind", "kind_name", "entry_index"),
    *BALANCE_COLUMNS,
)
UNIT_COLUMNS = ("code", "name", "parent", "level", "entry_index")
CAMPAIGN_COLUMNS = (
    *("code", "fund", "name", "purpose", "reference", "opens", "closes", "distribute_by"),
    *("account.bank_bin", "account.bank_name", "account.number", "account.holder"),
    *("status", "entry_index", *BALANCE_COLUMNS, "pledged.total", "pledged.fulfilled"),
)
MOBILIZER_COLUMNS = ("code", "name", "type", "unit", "unit_name", "reference", "entry_index")


def _listed(args: dict[str, str], key: str, columns: tuple[str, ...], items: list[Any]) -> Any:
    """``{key: items}``, or with ``format=csv`` the same items as a CSV file."""
    if csv_export.wants_csv(args):
        policy = caching.policy(caching.LATEST)
        return csv_export.document(f"{key}.csv", columns, items, policy)
    return _cached({key: items})


def fund_document(
    row: FundRow, balance: state.Balance, tree: state.UnitTree, kinds: dict[str, str]
) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "unit": row.unit,
        "unit_name": tree.names.get(row.unit, ""),
        "kind": row.kind,
        "kind_name": kinds.get(row.kind, row.kind),
        "entry_index": row.entry_index,
        "balance": balance.as_dict(),
    }


def campaign_status(row: CampaignRow, today: str) -> str:
    return OPEN if row.opens <= today <= row.closes else CLOSED


def campaign_document(
    row: CampaignRow, today: str, balance: state.Balance, pledged: tuple[int, int]
) -> dict[str, Any]:
    return {
        "code": row.code,
        "fund": row.fund,
        "name": row.name,
        "purpose": row.purpose,
        "reference": row.reference,
        "opens": row.opens,
        "closes": row.closes,
        "distribute_by": row.distribute_by,
        "account": row.account(),
        "status": campaign_status(row, today),
        "entry_index": row.entry_index,
        "balance": balance.as_dict(),
        "pledged": {"total": pledged[0], "fulfilled": pledged[1]},
    }


def unit_document(row: UnitRow) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "parent": row.parent,
        "level": row.level,
        "entry_index": row.entry_index,
    }


def _kinds() -> dict[str, str]:
    return dict(settings().fund_kinds)


@blp.route("/funds")
@cached()
@blp.arguments(FormatArgsSchema, location="query", error_status_code=400)
@blp.response(200, FundListSchema)
@blp.doc(**csv_export.DOC)
def list_funds(args: dict[str, str]) -> Any:
    """Every fund with its balance in đồng."""
    db = session()
    balances, tree, kinds = state.fund_balances(db), state.UnitTree.load(db), _kinds()
    rows = state.funds(db)
    funds = [
        fund_document(row, balances.get(row.code, state.Balance()), tree, kinds) for row in rows
    ]
    return _listed(args, "funds", FUND_COLUMNS, funds)


@blp.route("/funds/<code>")
@blp.response(200, FundDetailSchema)
@blp.alt_response(404, schema=ErrorSchema, description="no fund with this code")
def get_fund(code: str) -> tuple[dict[str, Any], Headers]:
    """One fund with its balance and its campaigns."""
    db = session()
    row = state.fund(db, code)
    balance = state.balance_of_funds(db, [row.code])
    document = fund_document(row, balance, state.UnitTree.load(db), _kinds())
    today = today_in_vietnam().isoformat()
    document["campaigns"] = [
        {
            "code": campaign.code,
            "name": campaign.name,
            "opens": campaign.opens,
            "closes": campaign.closes,
            "status": campaign_status(campaign, today),
        }
        for campaign in state.campaigns(db, row.code)
    ]
    return _cached(document)


@blp.route("/units")
@cached()
@blp.arguments(FormatArgsSchema, location="query", error_status_code=400)
@blp.response(200, UnitListSchema)
@blp.doc(**csv_export.DOC)
def list_units(args: dict[str, str]) -> Any:
    """The unit tree: each unit with its parent and level, parents before children."""
    units = [unit_document(row) for row in queries.units_in_tree_order(session())]
    return _listed(args, "units", UNIT_COLUMNS, units)


@blp.route("/units/<code>")
@blp.response(200, UnitDetailSchema)
@blp.alt_response(404, schema=ErrorSchema, description="no unit with this code")
def get_unit(code: str) -> tuple[dict[str, Any], Headers]:
    """One unit, and the balance of its funds together with those of the units below it."""
    db = session()
    row = state.unit(db, code)
    tree = state.UnitTree.load(db)
    document = unit_document(row)
    document["ancestors"] = tree.ancestors(row.code)[1:]
    document["children"] = sorted(c for c, parent in tree.parents.items() if parent == row.code)
    document["funds"] = [fund.code for fund in queries.funds_of_units(db, {row.code})]
    document["balance"] = state.unit_balance(db, row.code, tree).as_dict()
    return _cached(document)


def _campaigns(db: Session, rows: list[CampaignRow]) -> list[dict[str, Any]]:
    today = today_in_vietnam().isoformat()
    balances, pledged = state.campaign_balances(db), state.pledged_by_campaign(db)
    return [
        campaign_document(
            row, today, balances.get(row.code, state.Balance()), pledged.get(row.code, (0, 0))
        )
        for row in rows
    ]


@blp.route("/campaigns")
@blp.arguments(CampaignArgsSchema, location="query", error_status_code=400)
@blp.response(200, CampaignListSchema)
@blp.doc(**csv_export.DOC)
@blp.alt_response(400, schema=ErrorSchema, description="a malformed fund code")
def list_campaigns(args: dict[str, str]) -> Any:
    """Campaigns (of one fund, with ``fund``) by opening date, with what they raised."""
    db = session()
    campaigns = _campaigns(db, list(state.campaigns(db, args.get("fund"))))
    return _listed(args, "campaigns", CAMPAIGN_COLUMNS, campaigns)


@blp.route("/campaigns/<code>")
@blp.response(200, PublicCampaignSchema)
@blp.alt_response(404, schema=ErrorSchema, description="no campaign with this code")
def get_campaign(code: str) -> tuple[dict[str, Any], Headers]:
    """One campaign: its period, collection account, status, balance and pledges."""
    db = session()
    row = state.campaign(db, code)
    balance = state.campaign_balance(db, row.code)
    document = campaign_document(
        row, today_in_vietnam().isoformat(), balance, state.pledged(db, row.code)
    )
    return _cached(document)


def mobilizer_document(row: MobilizerRow, tree: state.UnitTree) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "type": row.type,
        "unit": row.unit,
        "unit_name": tree.names.get(row.unit, ""),
        "reference": row.reference,
        "entry_index": row.entry_index,
    }


@blp.route("/mobilizers")
@cached()
@blp.arguments(FormatArgsSchema, location="query", error_status_code=400)
@blp.response(200, MobilizerListSchema)
@blp.doc(**csv_export.DOC)
def list_mobilizers(args: dict[str, str]) -> Any:
    """Registered mobilizers: who collects gifts, for which unit, under which memo code."""
    db = session()
    tree = state.UnitTree.load(db)
    mobilizers = [mobilizer_document(row, tree) for row in queries.mobilizers(db)]
    return _listed(args, "mobilizers", MOBILIZER_COLUMNS, mobilizers)
