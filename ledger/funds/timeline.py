"""Money in and out over time, for the whole ledger, a fund, a unit's funds or a campaign.

The public pages chart what came in (cash gifts by the day the money arrived) and what
went out (cash paid to beneficiaries, by the day it was paid), per week, month or year.
Both are read with one grouped query each, by day, and gathered into periods here, so a
ledger of any size costs one row per day with money in it. Reversed gifts and payments
count for nothing, as in balances: over all periods, money in adds up to a scope's
``received`` balance and money out to its ``disbursed`` one (goods are left out of both).

Also here: the gifts to a set of funds (a unit's and those of the units below it),
which ``ledger.funds.listing`` can filter by one fund only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.funds import listing, state
from ledger.funds.models import AllocationRow, ContributionRow, DisbursementRow, FundRow

Step = Literal["week", "month", "year"]
WEEKS_UP_TO_MONTHS = 3  # money spread over at most this many calendar months: weekly
MONTHS_UP_TO = 36  # over at most this many months: monthly; beyond, yearly


@dataclass(frozen=True)
class Scope:
    """Whose money: ``funds`` (None: every fund) and, within them, one ``campaign``."""

    funds: frozenset[str] | None = None
    campaign: str | None = None


@dataclass(frozen=True)
class Period:
    """One week (from its Monday), month (from its 1st) or year, with what moved in it."""

    starts: date
    money_in: int
    money_out: int


@dataclass(frozen=True)
class Timeline:
    step: Step
    periods: tuple[Period, ...]

    @property
    def money_in(self) -> int:
        return sum(period.money_in for period in self.periods)

    @property
    def money_out(self) -> int:
        return sum(period.money_out for period in self.periods)


def unit_scope(session: Session, code: str, tree: state.UnitTree | None = None) -> Scope:
    """The funds of unit ``code`` and of every unit below it (NotFoundError if none)."""
    state.unit(session, code)
    units = (tree or state.UnitTree.load(session)).descendants(code)
    funds = session.scalars(select(FundRow.code).where(FundRow.unit.in_(units)))
    return Scope(funds=frozenset(funds))


def _days_in(session: Session, scope: Scope, as_of: int) -> dict[str, int]:
    c = ContributionRow
    conditions: list[Any] = [*listing.standing(c, as_of), c.channel != "in_kind"]
    if scope.funds is not None:
        conditions.append(c.fund.in_(scope.funds))
    if scope.campaign is not None:
        conditions.append(c.campaign == scope.campaign)
    rows = session.execute(
        select(c.received_on, func.sum(c.amount)).where(*conditions).group_by(c.received_on)
    )
    return {str(day): int(total) for day, total in rows}


def _days_out(session: Session, scope: Scope, as_of: int) -> dict[str, int]:
    """Cash paid by day: payments under cash allocations (goods handed over are not money)."""
    d, a = DisbursementRow, AllocationRow
    conditions: list[Any] = [*listing.standing(d, as_of), a.form == "cash"]
    if scope.funds is not None:
        conditions.append(d.fund.in_(scope.funds))
    if scope.campaign is not None:
        conditions.append(a.campaign == scope.campaign)
    rows = session.execute(
        select(d.paid_on, func.sum(d.amount))
        .join(a, a.entry_index == d.allocation)
        .where(*conditions)
        .group_by(d.paid_on)
    )
    return {str(day): int(total) for day, total in rows}


def flows(session: Session, scope: Scope | None = None, *, as_of: int) -> Timeline:
    """Money in and out of ``scope`` (None: the whole ledger) per period, as of tree size
    ``as_of``, oldest first."""
    scope = scope or Scope()
    if scope.funds is not None and not scope.funds:
        return Timeline("month", ())
    return gather(_days_in(session, scope, as_of), _days_out(session, scope, as_of))


def step_for(first: date, last: date) -> Step:
    """Weeks for money within three calendar months, months up to three years, else years."""
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months <= WEEKS_UP_TO_MONTHS:
        return "week"
    return "month" if months <= MONTHS_UP_TO else "year"


def period_start(day: date, step: Step) -> date:
    if step == "week":
        return day - timedelta(days=day.weekday())
    if step == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def following(start: date, step: Step) -> date:
    if step == "week":
        return start + timedelta(days=7)
    if step == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date(start.year + 1, 1, 1)


def gather(days_in: dict[str, int], days_out: dict[str, int]) -> Timeline:
    """Day totals (``YYYY-MM-DD`` → đồng) into consecutive periods, empty ones included,
    so that the gaps of a chart are true gaps in time."""
    days = {date.fromisoformat(day) for day in (*days_in, *days_out)}
    if not days:
        return Timeline("month", ())
    step = step_for(min(days), max(days))
    totals: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for side, amounts in enumerate((days_in, days_out)):
        for day, amount in amounts.items():
            totals[period_start(date.fromisoformat(day), step)][side] += amount
    periods = []
    current, last = period_start(min(days), step), period_start(max(days), step)
    while current <= last:
        money_in, money_out = totals.get(current, (0, 0))
        periods.append(Period(current, money_in, money_out))
        current = following(current, step)
    return Timeline(step, tuple(periods))


def gifts_to(session: Session, funds: Iterable[str], *, as_of: int) -> listing.Listing:
    """The gifts to any of ``funds``, newest first, paged like every public list."""
    codes: Collection[str] = frozenset(funds)
    found = listing.contributions(session, listing.GiftFilter(), as_of=as_of)
    return replace(found, query=found.query.where(ContributionRow.fund.in_(codes)))
