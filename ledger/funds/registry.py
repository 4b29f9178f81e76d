"""Recording the structure money flows through: units, funds, campaigns, mobilisers.

Each is an entry of the log, so the public can tell which committee held which fund
and which account a campaign collected into, and when that was declared.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from ledger.errors import DuplicateError, PermissionDeniedError, ValidationError
from ledger.funds import projection
from ledger.funds.models import CampaignRow, FundRow, MobilizerRow, UnitRow
from ledger.funds.recorder import Prepared, Recorder, operation


def require_unit(rec: Recorder, code: str, field: str) -> UnitRow:
    row = rec.registered(UnitRow, code)
    if row is None:
        raise ValidationError.for_field(field, f"no unit with code {code!r}")
    return row


def require_fund(rec: Recorder, code: str, field: str) -> FundRow:
    row = rec.registered(FundRow, code)
    if row is None:
        raise ValidationError.for_field(field, f"no fund with code {code!r}")
    rec.within_scope(row.unit)
    return row


def _reference_taken(rec: Recorder, reference: str) -> bool:
    """Memo references of campaigns and mobilisers share one namespace: one memo, one meaning."""
    return (
        rec.session.scalar(select(CampaignRow.code).where(CampaignRow.reference == reference))
        is not None
        or rec.session.scalar(select(MobilizerRow.code).where(MobilizerRow.reference == reference))
        is not None
    )


@operation("unit")
def record_unit(rec: Recorder, data: dict[str, Any], index: int) -> Prepared:
    """Register a unit, or re-record one whose name, level or parent changed.

    The 2025 reorganisation merged districts away and moved communes under the
    province: a changed parent is recorded, never edited in place.
    """
    code, parent = data["code"], data["parent"]
    if parent is not None:
        require_unit(rec, parent, "parent")
        rec.within_scope(parent)
        if code in rec.tree.ancestors(parent):
            raise ValidationError.for_field(
                "parent", f"{parent} lies below {code}: units cannot form a loop"
            )
    elif rec.scope.unit is not None:
        raise PermissionDeniedError("only an admin may register a unit at the top of the tree")
    body = {"code": code, "name": data["name"], "parent": parent, "level": data["level"]}
    existing = rec.registered(UnitRow, code)
    if existing is None:
        rec.session.add(UnitRow(**projection.unit_values(index, body)))
    else:
        rec.within_scope(code)
        if (existing.name, existing.parent, existing.level) == (
            data["name"],
            parent,
            body["level"],
        ):
            raise DuplicateError(f"unit {code} is already recorded with the same details")
        existing.name, existing.parent, existing.level = body["name"], parent, body["level"]
        existing.entry_index = index
    rec.tree.parents[code] = parent
    rec.tree.names[code] = body["name"]
    return Prepared(body, {"code": code})


@operation("fund")
def record_fund(rec: Recorder, data: dict[str, Any], index: int) -> Prepared:
    code, kind = data["code"], data["kind"]
    if rec.registered(FundRow, code) is not None:
        raise DuplicateError(f"a fund with code {code} exists already")
    unit = require_unit(rec, data["unit"], "unit")
    rec.within_scope(unit.code)
    kinds = rec.settings.fund_kinds
    if kind not in kinds:
        raise ValidationError.for_field("kind", f"must be one of {', '.join(sorted(kinds))}")
    # "Quỹ Cứu trợ" + "Huyện Cao Lộc" → "Quỹ Cứu trợ huyện Cao Lộc"
    name = data["name"] or f"{kinds[kind]} {unit.name[:1].lower()}{unit.name[1:]}"
    body = {"code": code, "unit": unit.code, "kind": kind, "name": name}
    rec.session.add(FundRow(**projection.fund_values(index, body)))
    return Prepared(body, {"code": code})


@operation("campaign")
def record_campaign(rec: Recorder, data: dict[str, Any], index: int) -> Prepared:
    from ledger.funds.vietqr import bank_by_bin

    code = data["code"]
    if rec.registered(CampaignRow, code) is not None:
        raise DuplicateError(f"a campaign with code {code} exists already")
    fund = require_fund(rec, data["fund"], "fund")
    if _reference_taken(rec, data["reference"]):
        raise DuplicateError(f"the memo reference {data['reference']} is taken")
    account = dict(data["account"])
    if not account.get("bank_name"):
        bank = bank_by_bin(account["bank_bin"])
        if bank is None:
            raise ValidationError.for_field(
                "account.bank_name", "unknown bank BIN: give the bank's name"
            )
        account["bank_name"] = bank.name
    body = {
        "code": code,
        "fund": fund.code,
        "name": data["name"],
        "purpose": data["purpose"],
        "reference": data["reference"],
        "opens": data["opens"],
        "closes": data["closes"],
        "distribute_by": data["distribute_by"],
        "account": account,
    }
    rec.forget_open_campaigns()
    rec.session.add(CampaignRow(**projection.campaign_values(index, body)))
    return Prepared(body, {"code": code})


def default_reference(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", code).upper()[:12]


@operation("mobilizer")
def record_mobilizer(rec: Recorder, data: dict[str, Any], index: int) -> Prepared:
    code = data["code"]
    if rec.registered(MobilizerRow, code) is not None:
        raise DuplicateError(f"a mobilizer with code {code} exists already")
    unit = require_unit(rec, data["unit"], "unit")
    rec.within_scope(unit.code)
    reference = data["reference"] or default_reference(code)
    if len(reference) < 3:
        raise ValidationError.for_field(
            "reference", "give a memo reference of 3-12 capital letters or digits"
        )
    if _reference_taken(rec, reference):
        raise DuplicateError(f"the memo reference {reference} is taken")
    body = {
        "code": code,
        "name": data["name"],
        "type": data["type"],
        "unit": unit.code,
        "reference": reference,
    }
    rec.session.add(MobilizerRow(**projection.mobilizer_values(index, body)))
    return Prepared(body, {"code": code})
