"""Recording gifts and promises of gifts.

A contribution is dated by the day the money or goods arrived (``received_on``, in
Vietnam's calendar), and must fall within its campaign's open period: Decree
93/2021/NĐ-CP forbids intake after a campaign's published end. A pledge is a
promise; it is tracked against the campaign but never counted in a balance.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ledger.errors import CampaignDateError, DuplicateError, ValidationError
from ledger.funds import projection
from ledger.funds.models import (
    CampaignRow,
    ContributionRow,
    DonorContactRow,
    FundRow,
    MobilizerRow,
    PledgeRow,
    ReversalRow,
)
from ledger.funds.privacy import ANONYMOUS_DONOR
from ledger.funds.recorder import Prepared, Recorder, operation, receipt_id
from ledger.funds.registry import require_fund, require_unit


def choose_campaign(rec: Recorder, fund: FundRow, code: str | None, day: str) -> CampaignRow:
    """The named campaign of this fund, or the fund's one campaign open on ``day``."""
    if code is not None:
        campaign = rec.registered(CampaignRow, code)
        if campaign is None or campaign.fund != fund.code:
            raise ValidationError.for_field(
                "campaign", f"fund {fund.code} has no campaign {code!r}"
            )
    else:
        open_now = rec.open_campaigns(fund.code, day)
        if not open_now:
            raise CampaignDateError(f"fund {fund.code} has no campaign open on {day}")
        if len(open_now) > 1:
            names = ", ".join(c.code for c in open_now)
            raise ValidationError.for_field(
                "campaign", f"several campaigns are open on {day} ({names}): name one"
            )
        campaign = open_now[0]
    if not campaign.opens <= day <= campaign.closes:
        raise CampaignDateError(
            f"campaign {campaign.code} takes gifts from {campaign.opens} to {campaign.closes}, "
            f"not on {day}"
        )
    return campaign


def _day(rec: Recorder, value: str | None, field: str) -> str:
    if value is None:
        return rec.today.isoformat()
    if value > rec.today.isoformat():
        raise ValidationError.for_field(field, f"{value} is in the future")
    return value


def _mobilizer(rec: Recorder, code: str | None) -> str | None:
    if code is not None and rec.registered(MobilizerRow, code) is None:
        raise ValidationError.for_field("mobilizer", f"no mobilizer with code {code!r}")
    return code


def _earmark(rec: Recorder, earmark: dict[str, Any] | None) -> dict[str, Any] | None:
    if not earmark:
        return None
    if earmark.get("unit"):
        require_unit(rec, earmark["unit"], "earmark.unit")
    return earmark


def donor_body(rec: Recorder, donor: dict[str, Any]) -> dict[str, Any]:
    """The public face of a donor: a display name (or the anonymous label) and keyed hashes."""
    body: dict[str, Any] = {
        "display": ANONYMOUS_DONOR if donor["anonymous"] else donor["display"],
        "type": donor["type"],
        "anonymous": donor["anonymous"],
    }
    if donor.get("contact"):
        body["contact_hash"] = rec.privacy.contact_hash(donor["contact"])
    if donor.get("account"):
        body["account_hash"] = rec.privacy.account_hash(donor["account"])
    return body


def _keep_private(rec: Recorder, key: str, donor: dict[str, Any]) -> None:
    real_name = donor["display"] if donor["anonymous"] else None
    if real_name or donor.get("contact") or donor.get("account"):
        rec.session.add(
            DonorContactRow(
                receipt_id=key,
                name=real_name,
                contact=donor.get("contact"),
                account=donor.get("account"),
            )
        )


@operation("contribution")
def record_contribution(rec: Recorder, data: dict[str, Any], index: int) -> Prepared:
    fund = require_fund(rec, data["fund"], "fund")
    day = _day(rec, data["received_on"], "received_on")
    campaign = choose_campaign(rec, fund, data["campaign"], day)
    reference = data["reference"]
    if reference is not None:
        # A bank transaction is one gift, whichever campaign of the account it was put to;
        # a reversed gift frees its reference, so that a misfiled credit can be re-filed.
        same_account = select(CampaignRow.code).where(
            CampaignRow.bank_bin == campaign.bank_bin,
            CampaignRow.account_number == campaign.account_number,
        )
        taken = rec.session.scalar(
            select(ContributionRow.receipt_id).where(
                ContributionRow.campaign.in_(same_account),
                ContributionRow.reference == reference,
                ContributionRow.entry_index.not_in(select(ReversalRow.target)),
            )
        )
        if taken is not None:
            raise DuplicateError(
                f"bank reference {reference} is already recorded for the account of campaign "
                f"{campaign.code} (receipt {taken})"
            )
    pledge = data["pledge"]
    if pledge is not None:
        promised = rec.session.get(PledgeRow, pledge)
        if promised is None or promised.campaign != campaign.code:
            raise ValidationError.for_field(
                "pledge", f"campaign {campaign.code} has no pledge {pledge!r}"
            )
        if rec.session.get(ReversalRow, promised.entry_index) is not None:
            raise ValidationError.for_field("pledge", f"pledge {pledge} was reversed")
    receipt = receipt_id(rec.origin, index)
    body: dict[str, Any] = {
        "fund": fund.code,
        "campaign": campaign.code,
        "amount": data["amount"],
        "currency": "VND",
        "channel": data["channel"],
        "donor": donor_body(rec, data["donor"]),
        "mobilizer": _mobilizer(rec, data["mobilizer"]),
        "receipt_id": receipt,
        "received_on": day,
    }
    optional = {
        "earmark": _earmark(rec, data["earmark"]),
        "reference": reference,
        "in_kind": data["in_kind"],
        "pledge": pledge,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    rec.session.add(ContributionRow(**projection.contribution_values(index, body)))
    _keep_private(rec, receipt, data["donor"])
    return Prepared(body, {"receipt_id": receipt, "receipt_url": rec.receipt_url(receipt)})


@operation("pledge")
def record_pledge(rec: Recorder, data: dict[str, Any], index: int) -> Prepared:
    fund = require_fund(rec, data["fund"], "fund")
    campaign = choose_campaign(rec, fund, data["campaign"], rec.today.isoformat())
    pledge_id = receipt_id(rec.origin, index, prefix="P")
    body: dict[str, Any] = {
        "pledge_id": pledge_id,
        "fund": fund.code,
        "campaign": campaign.code,
        "amount": data["amount"],
        "currency": "VND",
        "donor": donor_body(rec, data["donor"]),
        "mobilizer": _mobilizer(rec, data["mobilizer"]),
    }
    if data["due_on"] is not None:
        body["due_on"] = data["due_on"]
    rec.session.add(PledgeRow(**projection.pledge_values(index, body)))
    _keep_private(rec, pledge_id, data["donor"])
    return Prepared(body, {"pledge_id": pledge_id})
