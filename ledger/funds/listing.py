"""The public lists: gifts, allocations and disbursements, newest first.

Lists are paged by key, newest first: a page holds the entries with the largest indices
below ``after`` (the last index the client has seen). A gift recorded while a client
pages gets a larger index than any it has seen, so it can neither appear twice nor
push an item off the page it would have been on.

Every read is bounded by a tree size (``as_of``): rows of later entries, and later
reversals and disbursements, are left out. A page, a CSV export read in many batches
and the figures of ``ledger.funds.summaries`` therefore show the ledger exactly as
it stood at that tree size, which a reader can check against the signed checkpoint
of the same size.

What is shown comes from the leaves: gifts from the columns copied out of their leaves
when they were recorded (a list of gifts is the long one), allocations and
disbursements from the leaves themselves, read a page at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from ledger import log, receipt_ids
from ledger.entries import Entry, decode_leaf, format_time
from ledger.errors import InvalidRequestError
from ledger.funds import state
from ledger.funds.models import (
    AllocationRow,
    ContributionRow,
    DisbursementRow,
    FundRow,
    ReversalRow,
)
from ledger.funds.recorder import VIETNAM, today_in_vietnam
from ledger.funds.text import search_key
from ledger.models import EntryRow

Item = dict[str, Any]


# -- filters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GiftFilter:
    """Which gifts a list holds; ``None`` leaves a criterion out. Days are inclusive."""

    receipt_id: str | None = None
    reference: str | None = None
    donor: str | None = None
    fund: str | None = None
    campaign: str | None = None
    mobilizer: str | None = None
    channel: str | None = None
    received_from: str | None = None
    received_to: str | None = None
    min_amount: int | None = None
    max_amount: int | None = None


@dataclass(frozen=True)
class AllocationFilter:
    """``unit``: allocations of funds held by that unit or a unit below it;
    ``beneficiary_unit``: to beneficiaries in that unit or below it; the days are those
    of the allocation entries' times in Vietnam."""

    fund: str | None = None
    unit: str | None = None
    beneficiary_unit: str | None = None
    program: str | None = None
    beneficiary_type: str | None = None
    form: str | None = None
    campaign: str | None = None
    recorded_from: str | None = None
    recorded_to: str | None = None


@dataclass(frozen=True)
class DisbursementFilter:
    fund: str | None = None
    unit: str | None = None
    allocation: int | None = None
    paid_from: str | None = None
    paid_to: str | None = None


def filter_from(cls: type[Any], values: dict[str, Any]) -> Any:
    """The filter of class ``cls`` from a mapping that may hold other keys too."""
    names = {f.name for f in fields(cls)}
    return cls(**{key: value for key, value in values.items() if key in names})


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next: int | None  # the ``after`` of the following page; None on the last page


@dataclass(frozen=True)
class Listing:
    """A filtered list at one tree size, read a page at a time.

    The query is made (and the codes it names checked) once, so that a CSV export read
    in many batches does not do that work again for every batch.
    """

    session: Session
    query: Select[*tuple[Any, ...]]
    key: Any  # the entry index column the pages follow
    items: Callable[[Session, Sequence[Any]], list[Item]]

    def on(self, session: Session) -> Listing:
        """The same list, read through another session."""
        return replace(self, session=session)

    def page(self, limit: int, after: int | None = None) -> Page:
        """Up to ``limit`` items with indices below ``after``, largest first."""
        query = self.query if after is None else self.query.where(self.key < after)
        rows = self.session.execute(query.order_by(self.key.desc()).limit(limit + 1)).all()
        if len(rows) <= limit:
            return Page(self.items(self.session, rows), None)
        rows = rows[:limit]
        return Page(self.items(self.session, rows), int(rows[-1].entry_index))


_LOOKUPS: dict[str, Callable[[Session, str], object]] = {
    "fund": state.fund,
    "campaign": state.campaign,
    "mobilizer": state.mobilizer,
    "unit": state.unit,
    "beneficiary_unit": state.unit,
}


def check_codes(session: Session, **codes: str | None) -> None:
    """A filter naming a fund, campaign, mobiliser or unit that does not exist is a 404."""
    for name, code in codes.items():
        if code is not None:
            _LOOKUPS[name](session, code)


def _reversals_of(model: Any, as_of: int) -> Any:
    """The join to the reversal of a row, if an entry before ``as_of`` reversed it."""
    return and_(ReversalRow.target == model.entry_index, ReversalRow.entry_index < as_of)


_REVERSED = ReversalRow.target.is_not(None).label("reversed")  # with ``_reversals_of``


def reversed_before(as_of: int) -> Select[int]:
    return select(ReversalRow.target).where(ReversalRow.entry_index < as_of)


def within(column: Any, low: Any, high: Any) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if low is not None:
        conditions.append(column >= low)
    if high is not None:
        conditions.append(column <= high)
    return conditions


def _funds_below(session: Session, unit: str) -> Select[str]:
    units = state.UnitTree.load(session).descendants(unit)
    return select(FundRow.code).where(FundRow.unit.in_(units))


# -- gifts -----------------------------------------------------------------------------


def _gift_conditions(session: Session, wanted: GiftFilter, as_of: int) -> list[Any]:
    c = ContributionRow
    check_codes(session, fund=wanted.fund, campaign=wanted.campaign, mobilizer=wanted.mobilizer)
    conditions: list[Any] = [c.entry_index < as_of]
    if wanted.receipt_id is not None:
        conditions.append(c.receipt_id == receipt_ids.normalize(wanted.receipt_id))
    if wanted.donor is not None:
        key = search_key(wanted.donor)
        if not key:
            raise InvalidRequestError("donor: give some letters or digits of the donor's name")
        conditions.append(c.donor_search.contains(key))
    exact = {
        c.reference: wanted.reference,
        c.fund: wanted.fund,
        c.campaign: wanted.campaign,
        c.mobilizer: wanted.mobilizer,
        c.channel: wanted.channel,
    }
    conditions += [column == value for column, value in exact.items() if value is not None]
    conditions += within(c.received_on, wanted.received_from, wanted.received_to)
    conditions += within(c.amount, wanted.min_amount, wanted.max_amount)
    return conditions


def contributions(session: Session, wanted: GiftFilter, *, as_of: int) -> Listing:
    """Gifts newest first, each with whether it was reversed (by tree size ``as_of``)."""
    c = ContributionRow
    query = (
        select(
            c.receipt_id,
            c.entry_index,
            c.fund,
            c.campaign,
            c.mobilizer,
            c.channel,
            c.amount,
            c.received_on,
            c.donor_display,
            c.donor_type,
            c.donor_anonymous,
            c.reference,
            c.earmark,
            c.in_kind,
            _REVERSED,
        )
        .outerjoin(ReversalRow, _reversals_of(c, as_of))
        .where(*_gift_conditions(session, wanted, as_of))
    )
    return Listing(session, query, c.entry_index, lambda _session, rows: list(map(_gift, rows)))


def _gift(row: Any) -> Item:
    return {
        "receipt_id": row.receipt_id,
        "index": row.entry_index,
        "fund": row.fund,
        "campaign": row.campaign,
        "mobilizer": row.mobilizer,
        "channel": row.channel,
        "amount": row.amount,
        "received_on": row.received_on,
        "donor": {
            "display": row.donor_display,
            "type": row.donor_type,
            "anonymous": bool(row.donor_anonymous),
        },
        "reference": row.reference,
        "earmark": orjson.loads(row.earmark) if row.earmark else None,
        "in_kind": orjson.loads(row.in_kind) if row.in_kind else None,
        "reversed": bool(row.reversed),
    }


# -- spending --------------------------------------------------------------------------


def _leaves(session: Session, indices: Sequence[int]) -> dict[int, Entry]:
    rows = session.scalars(select(EntryRow.leaf).where(EntryRow.index.in_(indices)))
    return {entry.index: entry for entry in map(decode_leaf, rows)}


def first_index_from(session: Session, day: str, as_of: int) -> int:
    """The first index recorded on or after ``day`` (Vietnam), or ``as_of`` if none is.

    Entry times never go backwards (``ledger.log.append``), so a binary search over the
    log finds it in about log2(size) reads of single entries.
    """
    moment = datetime.combine(date.fromisoformat(day), time(), tzinfo=VIETNAM)
    low, high = 0, as_of
    while low < high:
        middle = (low + high) // 2
        if log.entry(session, middle).time < moment:
            low = middle + 1
        else:
            high = middle
    return low


def _next_day(day: str) -> str | None:
    """The day after ``day``; None after the last day a date can hold."""
    last = date.fromisoformat(day)
    return None if last == date.max else date.fromordinal(last.toordinal() + 1).isoformat()


def allocations(session: Session, wanted: AllocationFilter, *, as_of: int) -> Listing:
    """Allocations newest first, with what was disbursed under each (by ``as_of``)."""
    a = AllocationRow
    check_codes(
        session,
        fund=wanted.fund,
        campaign=wanted.campaign,
        unit=wanted.unit,
        beneficiary_unit=wanted.beneficiary_unit,
    )
    conditions: list[Any] = [a.entry_index < as_of]
    exact = {
        a.fund: wanted.fund,
        a.program: wanted.program,
        a.beneficiary_type: wanted.beneficiary_type,
        a.form: wanted.form,
        a.campaign: wanted.campaign,
    }
    conditions += [column == value for column, value in exact.items() if value is not None]
    if wanted.unit is not None:
        conditions.append(a.fund.in_(_funds_below(session, wanted.unit)))
    if wanted.beneficiary_unit is not None:
        below = state.UnitTree.load(session).descendants(wanted.beneficiary_unit)
        conditions.append(a.beneficiary_unit.in_(below))
    if wanted.recorded_from is not None:
        conditions.append(a.entry_index >= first_index_from(session, wanted.recorded_from, as_of))
    day_after = _next_day(wanted.recorded_to) if wanted.recorded_to is not None else None
    if day_after is not None:
        conditions.append(a.entry_index < first_index_from(session, day_after, as_of))
    query = (
        select(a.entry_index, _REVERSED)
        .outerjoin(ReversalRow, _reversals_of(a, as_of))
        .where(*conditions)
    )

    def items(session: Session, rows: Sequence[Any]) -> list[Item]:
        indices = [row.entry_index for row in rows]
        leaves, paid = _leaves(session, indices), disbursed(session, indices, as_of)
        return [
            _allocation(leaves[row.entry_index], paid.get(row.entry_index, 0), bool(row.reversed))
            for row in rows
        ]

    return Listing(session, query, a.entry_index, items)


def disbursed(session: Session, allocations: Sequence[int], as_of: int) -> dict[int, int]:
    """What was paid under each allocation by ``as_of``, reversed payments left out."""
    if not allocations:
        return {}
    d = DisbursementRow
    rows = session.execute(
        select(d.allocation, func.sum(d.amount))
        .where(
            d.allocation.in_(allocations),
            d.entry_index < as_of,
            d.entry_index.not_in(reversed_before(as_of)),
        )
        .group_by(d.allocation)
    )
    return {int(allocation): int(total) for allocation, total in rows}


def _allocation(entry: Entry, paid: int, is_reversed: bool) -> Item:
    body = entry.body
    beneficiary = body["beneficiary"]
    return {
        "index": entry.index,
        "fund": body["fund"],
        "amount": body["amount"],
        "form": body.get("form", "cash"),
        "purpose": body.get("purpose"),
        "program": body.get("program"),
        "beneficiary": {
            "display": beneficiary["display"],
            "type": beneficiary["type"],
            "unit": beneficiary.get("unit"),
        },
        "decision_ref": body.get("decision_ref"),
        "decision": body.get("decision"),
        "documents": body.get("documents", []),
        "earmark": body.get("earmark"),
        "campaign": body.get("campaign"),
        "date": today_in_vietnam(entry.time).isoformat(),
        "time": format_time(entry.time),
        "disbursed": paid,
        "reversed": is_reversed,
    }


def disbursements(session: Session, wanted: DisbursementFilter, *, as_of: int) -> Listing:
    """Payments newest first (by entry index, not by ``paid_on``)."""
    d = DisbursementRow
    check_codes(session, fund=wanted.fund, unit=wanted.unit)
    conditions: list[Any] = [d.entry_index < as_of]
    if wanted.fund is not None:
        conditions.append(d.fund == wanted.fund)
    if wanted.unit is not None:
        conditions.append(d.fund.in_(_funds_below(session, wanted.unit)))
    if wanted.allocation is not None:
        conditions.append(d.allocation == wanted.allocation)
    conditions += within(d.paid_on, wanted.paid_from, wanted.paid_to)
    query = (
        select(d.entry_index, _REVERSED)
        .outerjoin(ReversalRow, _reversals_of(d, as_of))
        .where(*conditions)
    )
    return Listing(session, query, d.entry_index, _payments)


def _payments(session: Session, rows: Sequence[Any]) -> list[Item]:
    leaves = _leaves(session, [row.entry_index for row in rows])
    items = []
    for row in rows:
        entry = leaves[row.entry_index]
        body = entry.body
        items.append(
            {
                "index": entry.index,
                "allocation": body["allocation"],
                "fund": body["fund"],
                "amount": body["amount"],
                "paid_on": body["paid_on"],
                "documents": body.get("documents", []),
                "note": body.get("note"),
                "reversed": bool(row.reversed),
            }
        )
    return items


def standing(model: Any, as_of: int) -> list[Any]:
    """Rows of entries before ``as_of`` that no entry before ``as_of`` reversed."""
    return [model.entry_index < as_of, model.entry_index.not_in(reversed_before(as_of))]
