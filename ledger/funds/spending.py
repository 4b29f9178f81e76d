"""Recording how money leaves a fund: allocations, disbursements and transfers.

Spending is two steps, as accountable funds do it. An allocation is a decision
(number, date, approver) that reserves money for a beneficiary; a disbursement pays
some or all of it out, with the documents that prove the payment. The balance rules
themselves live in the postings (``ledger.funds.postings``) and are enforced by the
recorder for every operation alike.

An individual beneficiary is shown only by a masked name ("Nguyễn V. A."); the full
name stays in a private table and the national ID number is recorded only as a keyed
hash, so that the same person paid twice under one program can be found without the
number ever being shown.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ledger.errors import BalanceError, ConflictError, ValidationError
from ledger.funds import projection
from ledger.funds.models import (
    AllocationRow,
    BeneficiaryRow,
    CampaignRow,
    DisbursementRow,
    DocumentRow,
    FundRow,
    ReversalRow,
)
from ledger.funds.privacy import mask_name
from ledger.funds.recorder import Prepared, Recorder, operation
from ledger.funds.registry import require_fund, require_unit
from ledger.funds.text import dong


def _documents(rec: Recorder, hashes: list[str], field: str) -> list[str]:
    known = set(
        rec.session.scalars(select(DocumentRow.sha256).where(DocumentRow.sha256.in_(hashes)))
    )
    missing = [h for h in hashes if h not in known]
    if missing:
        raise ValidationError.for_field(
            field, f"upload these documents first: {', '.join(missing)}"
        )
    return sorted(set(hashes))


def _beneficiary(rec: Recorder, data: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"type": data["type"]}
    if data["type"] == "individual":
        body["display"] = mask_name(data["display"])
    else:
        body["display"] = data["display"]
    if data["unit"] is not None:
        require_unit(rec, data["unit"], "beneficiary.unit")
        body["unit"] = data["unit"]
    if data["national_id"]:
        body["id_hash"] = rec.privacy.national_id_hash(data["national_id"])
    return body


def _check_earmark(rec: Recorder, earmark: dict[str, Any] | None, unit: str | None) -> None:
    """Earmarked money goes only where the earmark says."""
    if not earmark or not earmark.get("unit"):
        return
    if unit is None or not rec.tree.within(unit, earmark["unit"]):
        raise ConflictError(
            f"money earmarked for unit {earmark['unit']} may only go to a beneficiary "
            "in that unit: give beneficiary.unit"
        )


@operation("allocation")
def record_allocation(rec: Recorder, data: dict[str, Any], index: int) -> Prepared:
    fund = require_fund(rec, data["fund"], "fund")
    beneficiary = _beneficiary(rec, data["beneficiary"])
    earmark = data["earmark"]
    _check_earmark(rec, earmark, beneficiary.get("unit"))
    campaign = data["campaign"]
    if campaign is not None:
        row = rec.registered(CampaignRow, campaign)
        if row is None or row.fund != fund.code:
            raise ValidationError.for_field(
                "campaign", f"fund {fund.code} has no campaign {campaign!r}"
            )
    decision = data["decision"]
    decision_ref = data["decision_ref"] or (decision["number"] if decision else None)
    body: dict[str, Any] = {
        "fund": fund.code,
        "amount": data["amount"],
        "currency": "VND",
        "form": data["form"],
        "beneficiary": beneficiary,
        "purpose": data["purpose"],
    }
    optional = {
        "program": data["program"],
        "decision_ref": decision_ref,
        "decision": decision,
        "documents": _documents(rec, data["documents"], "documents") or None,
        "earmark": earmark,
        "campaign": campaign,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    rec.session.add(AllocationRow(**projection.allocation_values(index, body)))
    if data["beneficiary"]["type"] == "individual":
        rec.session.add(BeneficiaryRow(entry_index=index, full_name=data["beneficiary"]["display"]))
    return Prepared(body)


def paid_so_far(rec: Recorder, allocation: int) -> int:
    """What has been disbursed under an allocation, net of reversed disbursements."""
    total = rec.session.scalar(
        select(func.coalesce(func.sum(DisbursementRow.amount), 0)).where(
            DisbursementRow.allocation == allocation,
            DisbursementRow.entry_index.not_in(select(ReversalRow.target)),
        )
    )
    return int(total or 0)


@operation("disbursement")
def record_disbursement(rec: Recorder, data: dict[str, Any], index: int) -> Prepared:
    target = data["allocation"]
    allocation = rec.session.get(AllocationRow, target)
    if allocation is None:
        raise ValidationError.for_field("allocation", f"entry {target} is not an allocation")
    fund = rec.registered(FundRow, allocation.fund)
    if fund is not None:
        rec.scope.require_unit(fund.unit, rec.tree)
    if rec.session.get(ReversalRow, target) is not None:
        raise ConflictError(f"allocation {target} was reversed; nothing can be paid under it")
    remaining = allocation.amount - paid_so_far(rec, target)
    if data["amount"] > remaining:
        raise BalanceError(
            f"allocation {target} has {dong(remaining)} left to pay, "
            f"less than {dong(data['amount'])}; nothing was recorded"
        )
    if data["paid_on"] is not None and data["paid_on"] > rec.today.isoformat():
        raise ValidationError.for_field("paid_on", f"{data['paid_on']} is in the future")
    body: dict[str, Any] = {
        "allocation": target,
        "fund": allocation.fund,
        "amount": data["amount"],
        "currency": "VND",
        "documents": _documents(rec, data["documents"], "documents"),
        "paid_on": data["paid_on"] or rec.today.isoformat(),
    }
    if data["note"]:
        body["note"] = data["note"]
    rec.session.add(DisbursementRow(**projection.disbursement_values(index, body)))
    return Prepared(body)


@operation("transfer")
def record_transfer(rec: Recorder, data: dict[str, Any], index: int) -> Prepared:
    """Money remitted from one fund to another (a district to the province): one entry."""
    source = require_fund(rec, data["from_fund"], "from_fund")
    target = rec.registered(FundRow, data["to_fund"])
    if target is None:
        raise ValidationError.for_field("to_fund", f"no fund with code {data['to_fund']!r}")
    earmark = data["earmark"]
    body: dict[str, Any] = {
        "from_fund": source.code,
        "to_fund": target.code,
        "amount": data["amount"],
        "currency": "VND",
    }
    optional = {"earmark": earmark, "purpose": data["purpose"], "reference": data["reference"]}
    body.update({key: value for key, value in optional.items() if value is not None})
    del index
    return Prepared(body)
