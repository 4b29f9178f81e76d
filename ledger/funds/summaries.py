"""Figures over the public lists: the mobilisers' leaderboard and the ledger's statistics.

Like the lists (``ledger.funds.listing``), every figure is taken at one tree size
(``as_of``), so it can be checked against the signed checkpoint of that size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ledger.funds import state
from ledger.funds.listing import Item, check_codes, standing, within
from ledger.funds.models import (
    AllocationRow,
    ContributionRow,
    DisbursementRow,
    MobilizerRow,
    PostingRow,
    ReversalRow,
)


@dataclass(frozen=True)
class LeaderboardFilter:
    """Gifts by their campaign, fund and day; mobilisers by type and unit (with units below)."""

    campaign: str | None = None
    fund: str | None = None
    type: str | None = None
    unit: str | None = None
    received_from: str | None = None
    received_to: str | None = None


COUNTS = ("gifts", "donors", "allocations", "disbursements", "reversals")


def count_donors(session: Session, conditions: list[Any], group: Any = None) -> dict[Any, int]:
    """Distinct donors of the gifts meeting ``conditions``, per ``group`` (None: all).

    The rule: a named donor is their (display, type), so one who gives twice counts
    once; anonymous gifts cannot be told apart from the leaves, so each anonymous gift
    counts as one donor.
    """
    c = ContributionRow
    key = group if group is not None else c.donor_type.is_not(None)  # one group: True
    named = (
        select(key.label("g"), c.donor_display, c.donor_type)
        .where(*conditions, c.donor_anonymous.is_(False))
        .distinct()
        .subquery()
    )
    anonymous = select(key.label("g"), func.count()).where(*conditions, c.donor_anonymous.is_(True))
    totals: dict[Any, int] = {}
    for query in (
        select(named.c.g, func.count()).group_by(named.c.g),
        anonymous.group_by(key),
    ):
        for found, number in session.execute(query):
            totals[found] = totals.get(found, 0) + int(number)
    return totals if group is not None else {None: sum(totals.values())}


def leaderboard(session: Session, wanted: LeaderboardFilter, *, as_of: int) -> list[Item]:
    """Mobilisers by what their standing gifts brought in, ranked 1, 2, 3, … without ties.

    ``amount`` is cash (bank and cash gifts), ``in_kind`` the assessed value of goods;
    reversed gifts count for nothing. Order: ``amount`` descending, then ``gifts``
    descending, then ``code`` ascending, so equal figures still get distinct, stable
    ranks. ``donors`` follows ``count_donors``. Mobilisers without a standing gift
    under the filter are not listed.
    """
    c, m = ContributionRow, MobilizerRow
    check_codes(session, fund=wanted.fund, campaign=wanted.campaign, unit=wanted.unit)
    conditions = [*standing(c, as_of), c.mobilizer.is_not(None)]
    exact = {c.campaign: wanted.campaign, c.fund: wanted.fund}
    conditions += [column == value for column, value in exact.items() if value is not None]
    conditions += within(c.received_on, wanted.received_from, wanted.received_to)
    tree = state.UnitTree.load(session)
    if wanted.type is not None or wanted.unit is not None:
        who = select(m.code)
        if wanted.type is not None:
            who = who.where(m.type == wanted.type)
        if wanted.unit is not None:
            who = who.where(m.unit.in_(tree.descendants(wanted.unit)))
        conditions.append(c.mobilizer.in_(who))
    in_kind = c.channel == "in_kind"
    totals = session.execute(
        select(
            c.mobilizer,
            func.sum(case((in_kind, 0), else_=c.amount)),
            func.sum(case((in_kind, c.amount), else_=0)),
            func.count(),
        )
        .where(*conditions)
        .group_by(c.mobilizer)
    ).all()
    donors = count_donors(session, conditions, c.mobilizer)
    codes = [str(row[0]) for row in totals]
    registry = {row.code: row for row in session.scalars(select(m).where(m.code.in_(codes)))}
    ranked = sorted(totals, key=lambda row: (-int(row[1]), -int(row[3]), str(row[0])))
    board = []
    for rank, (code, amount, goods, gifts) in enumerate(ranked, start=1):
        row = registry.get(code)
        unit = row.unit if row else ""
        board.append(
            {
                "rank": rank,
                "code": code,
                "name": row.name if row else "",
                "type": row.type if row else "",
                "unit": unit,
                "unit_name": tree.names.get(unit, ""),
                "amount": int(amount),
                "in_kind": int(goods),
                "gifts": int(gifts),
                "donors": donors.get(code, 0),
            }
        )
    return board


def _amounts(balance: state.Balance) -> dict[str, int]:
    return {
        "received": balance.received,
        "received_in_kind": balance.received_in_kind,
        "allocated": balance.committed + balance.disbursed,
        "allocated_in_kind": balance.in_kind_committed + balance.in_kind_disbursed,
        "committed": balance.committed,
        "committed_in_kind": balance.in_kind_committed,
        "disbursed": balance.disbursed,
        "disbursed_in_kind": balance.in_kind_disbursed,
        "available": balance.available,
        "available_in_kind": balance.in_kind,
    }


def _counts_by_fund(session: Session, as_of: int) -> dict[str, dict[str, int]]:
    c, a, d, p = ContributionRow, AllocationRow, DisbursementRow, PostingRow
    counts: dict[str, dict[str, int]] = {}

    def add(name: str, rows: Any) -> None:
        for fund, number in rows:
            counts.setdefault(fund, {})[name] = int(number)

    gifts = standing(c, as_of)
    add("gifts", session.execute(select(c.fund, func.count()).where(*gifts).group_by(c.fund)))
    add("donors", count_donors(session, gifts, c.fund).items())
    for name, model in (("allocations", a), ("disbursements", d)):
        query = select(model.fund, func.count()).where(*standing(model, as_of))
        add(name, session.execute(query.group_by(model.fund)))
    # A reversal counts for each fund its postings touch (both funds of a transfer).
    reversals = select(ReversalRow.entry_index).where(ReversalRow.entry_index < as_of)
    add(
        "reversals",
        session.execute(
            select(p.fund, func.count(p.entry_index.distinct()))
            .where(p.entry_index.in_(reversals))
            .group_by(p.fund)
        ),
    )
    return counts


def statistics(session: Session, *, as_of: int) -> Item:
    """Totals and counts of the whole ledger and of each fund, at tree size ``as_of``.

    Amounts come from the postings, as balances do: ``allocated`` is what standing
    allocations reserved (``committed`` plus ``disbursed``), ``available`` what is left
    to allocate. Donors follow ``count_donors``, so the ledger's count may be less than
    the sum of its funds' (one donor who gave to two funds). A reversal is counted once
    for the ledger and once for each fund it moved money in.
    """
    p = PostingRow
    sums: dict[str, dict[str, int]] = {}
    for fund, account, total in session.execute(
        select(p.fund, p.account, func.sum(p.amount))
        .where(p.entry_index < as_of)
        .group_by(p.fund, p.account)
    ):
        sums.setdefault(fund, {})[account] = int(total)
    everything: dict[str, int] = {}
    for accounts in sums.values():
        for account, total in accounts.items():
            everything[account] = everything.get(account, 0) + total
    by_fund = _counts_by_fund(session, as_of)
    whole = {name: sum(counts.get(name, 0) for counts in by_fund.values()) for name in COUNTS}
    whole["donors"] = count_donors(session, standing(ContributionRow, as_of))[None]
    whole["reversals"] = int(
        session.scalar(select(func.count()).where(ReversalRow.entry_index < as_of)) or 0
    )
    return {
        "tree_size": as_of,
        "amounts": _amounts(state.balance_from(everything)),
        "counts": whole,
        "funds": [
            {
                "code": row.code,
                "name": row.name,
                "unit": row.unit,
                "amounts": _amounts(state.balance_from(sums.get(row.code, {}))),
                "counts": {name: by_fund.get(row.code, {}).get(name, 0) for name in COUNTS},
            }
            for row in state.funds(session)
            if row.entry_index < as_of
        ],
    }
