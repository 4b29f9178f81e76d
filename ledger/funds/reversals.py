"""Corrections by appending: a reversal names the entry it undoes and why.

Nothing in the log is ever edited. A reversal's postings are the exact negation of
its target's, so the balance returns to what it was without the mistaken entry, and
both the mistake and its correction stay visible forever. Rules:

* only money entries (contributions, allocations, disbursements, transfers) and
  pledges can be reversed, and each only once;
* an allocation with payments still standing is reversed only after them;
* a reversal that would make a balance negative is refused like any other spending
  (reversing a gift that has already been allocated, for example).
"""

from __future__ import annotations

from typing import Any

from ledger import log
from ledger.errors import ConflictError, DuplicateError, NotFoundError, ValidationError
from ledger.funds import projection
from ledger.funds.models import FundRow, ReversalRow
from ledger.funds.postings import MONEY_KINDS
from ledger.funds.recorder import Prepared, Recorder, operation
from ledger.funds.spending import paid_so_far

REVERSIBLE = MONEY_KINDS | {"pledge"}


def _fund_of(body: dict[str, Any]) -> str | None:
    value = body.get("fund") or body.get("from_fund")
    return str(value) if value is not None else None


@operation("reversal")
def record_reversal(rec: Recorder, data: dict[str, Any], index: int) -> Prepared:
    target = data["target"]
    if target >= rec.size:
        raise ValidationError(
            f"target: entry {target} is not in the log yet", {"target": ["no such entry"]}
        )
    try:
        entry = log.entry(rec.session, target)
    except NotFoundError as err:  # pragma: no cover - every index below size exists
        raise ValidationError(str(err), {"target": ["no such entry"]}) from err
    if entry.kind not in REVERSIBLE:
        raise ConflictError(f"entry {target} is a {entry.kind}, which cannot be reversed")
    fund_code = _fund_of(entry.body)
    fund = rec.registered(FundRow, fund_code) if fund_code else None
    if fund is not None:
        rec.scope.require_unit(fund.unit, rec.tree)
    earlier = rec.session.get(ReversalRow, target)
    if earlier is not None:
        raise DuplicateError(f"entry {target} was already reversed by entry {earlier.entry_index}")
    if entry.kind == "allocation" and paid_so_far(rec, target) > 0:
        raise ConflictError(f"allocation {target} has disbursements standing: reverse them first")
    body = {"target": target, "reason": data["reason"]}
    rec.session.add(ReversalRow(**projection.reversal_values(index, body, entry.kind)))
    return Prepared(body)
