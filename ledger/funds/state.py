"""Reading the fund projections: the unit tree, registries and balances.

Functions take the session explicitly and return plain values. Balances are sums of
postings (see ``ledger.funds.postings``): a fund's are read from the running pool
totals, a campaign's from the postings that name it. Either is exactly what an
auditor gets by replaying the log, and ``ledger verify`` checks that it is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.errors import NotFoundError
from ledger.funds import postings as p
from ledger.funds.models import (
    CampaignRow,
    ContributionRow,
    FundRow,
    MobilizerRow,
    PledgeRow,
    PoolRow,
    PostingRow,
    ReversalRow,
    UnitRow,
)
from ledger.funds.schemas import CODE_PATTERN


@dataclass(frozen=True)
class Balance:
    """What a fund (or a unit's funds, or a campaign) has, in đồng."""

    available: int = 0
    committed: int = 0
    disbursed: int = 0
    in_kind: int = 0
    in_kind_committed: int = 0
    in_kind_disbursed: int = 0
    received: int = 0
    received_in_kind: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "available": self.available,
            "committed": self.committed,
            "disbursed": self.disbursed,
            "in_kind": self.in_kind,
            "in_kind_committed": self.in_kind_committed,
            "in_kind_disbursed": self.in_kind_disbursed,
            "received": self.received,
            "received_in_kind": self.received_in_kind,
        }


def balance_from(sums: dict[str, int]) -> Balance:
    return Balance(
        available=sums.get(p.AVAILABLE, 0),
        committed=sums.get(p.COMMITTED, 0),
        disbursed=sums.get(p.DISBURSED, 0),
        in_kind=sums.get(p.IN_KIND, 0),
        in_kind_committed=sums.get(p.IN_KIND_COMMITTED, 0),
        in_kind_disbursed=sums.get(p.IN_KIND_DISBURSED, 0),
        received=-sums.get(p.DONATIONS, 0),
        received_in_kind=-sums.get(p.DONATIONS_IN_KIND, 0),
    )


@dataclass
class UnitTree:
    """All units, for scope checks and roll-ups (a few thousand rows at most)."""

    parents: dict[str, str | None] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> UnitTree:
        tree = cls()
        for code, parent, name in session.execute(
            select(UnitRow.code, UnitRow.parent, UnitRow.name)
        ):
            tree.parents[code] = parent
            tree.names[code] = name
        return tree

    def __contains__(self, code: object) -> bool:
        return code in self.parents

    def ancestors(self, code: str) -> list[str]:
        """``code`` and every unit above it, nearest first."""
        chain: list[str] = []
        current: str | None = code
        while current is not None and current not in chain:
            chain.append(current)
            current = self.parents.get(current)
        return chain

    def within(self, code: str, scope: str) -> bool:
        return scope in self.ancestors(code)

    def descendants(self, code: str) -> set[str]:
        children: dict[str | None, list[str]] = defaultdict(list)
        for child, parent in self.parents.items():
            children[parent].append(child)
        found, stack = {code}, [code]
        while stack:
            for child in children.get(stack.pop(), []):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found


R = TypeVar("R", UnitRow, FundRow, CampaignRow, MobilizerRow)
_CODE = re.compile(CODE_PATTERN)


def _get(session: Session, model: type[R], label: str, code: str) -> R:
    """The row of that code, or NotFoundError; a string that is no code is not looked up
    (PostgreSQL refuses a NUL in a query outright)."""
    row = session.get(model, code) if _CODE.fullmatch(code) else None
    if row is None:
        raise NotFoundError(f"no {label} with code {code!r}")
    return row


def unit(session: Session, code: str) -> UnitRow:
    return _get(session, UnitRow, "unit", code)


def fund(session: Session, code: str) -> FundRow:
    return _get(session, FundRow, "fund", code)


def campaign(session: Session, code: str) -> CampaignRow:
    return _get(session, CampaignRow, "campaign", code)


def mobilizer(session: Session, code: str) -> MobilizerRow:
    return _get(session, MobilizerRow, "mobilizer", code)


def funds(session: Session) -> Sequence[FundRow]:
    return session.scalars(select(FundRow).order_by(FundRow.code)).all()


def campaigns(session: Session, fund_code: str | None = None) -> Sequence[CampaignRow]:
    query = select(CampaignRow).order_by(CampaignRow.opens, CampaignRow.code)
    if fund_code is not None:
        query = query.where(CampaignRow.fund == fund_code)
    return session.scalars(query).all()


def open_campaigns(session: Session, fund_code: str, day: str) -> Sequence[CampaignRow]:
    return session.scalars(
        select(CampaignRow)
        .where(CampaignRow.fund == fund_code, CampaignRow.opens <= day, CampaignRow.closes >= day)
        .order_by(CampaignRow.code)
    ).all()


def stored_postings(session: Session, index: int) -> list[p.Posting]:
    """The postings recorded for the entry at ``index``, in the order they were written.

    A reversal negates them and a disbursement needs its allocation's; reading them
    back, instead of recomputing from the entry, keeps writer and projection in step.
    """
    rows = session.execute(
        select(
            PostingRow.fund,
            PostingRow.account,
            PostingRow.earmark,
            PostingRow.campaign,
            PostingRow.amount,
        )
        .where(PostingRow.entry_index == index)
        .order_by(PostingRow.id)
    )
    return [p.Posting(*row) for row in rows]


def _account_sums(session: Session, *conditions: object) -> dict[str, int]:
    rows = session.execute(
        select(PostingRow.account, func.sum(PostingRow.amount))
        .where(*conditions)  # type: ignore[arg-type]
        .group_by(PostingRow.account)
    )
    return {account: int(total) for account, total in rows}


def fund_balances(session: Session) -> dict[str, Balance]:
    """Every fund's balance in one grouped query."""
    sums: dict[str, dict[str, int]] = defaultdict(dict)
    for fund_code, account, total in session.execute(
        select(PoolRow.fund, PoolRow.account, func.sum(PoolRow.balance)).group_by(
            PoolRow.fund, PoolRow.account
        )
    ):
        sums[fund_code][account] = int(total)
    return {
        code: balance_from(sums.get(code, {})) for code in session.scalars(select(FundRow.code))
    }


def balance_of_funds(session: Session, codes: Iterable[str]) -> Balance:
    wanted = set(codes)
    if not wanted:
        return Balance()
    rows = session.execute(
        select(PoolRow.account, func.sum(PoolRow.balance))
        .where(PoolRow.fund.in_(wanted))
        .group_by(PoolRow.account)
    )
    return balance_from({account: int(total) for account, total in rows})


def unit_balance(session: Session, code: str, tree: UnitTree | None = None) -> Balance:
    """A unit's funds and those of every unit below it."""
    unit(session, code)
    units = (tree or UnitTree.load(session)).descendants(code)
    codes = session.scalars(select(FundRow.code).where(FundRow.unit.in_(units)))
    return balance_of_funds(session, codes)


def campaign_balances(session: Session, codes: Collection[str] | None = None) -> dict[str, Balance]:
    """The balances of campaigns (all, or those in ``codes``), in one grouped query.

    A campaign's balance sums the postings that name it; a campaign nothing was posted
    to yet has none here (read it as ``Balance()``).
    """
    query = select(PostingRow.campaign, PostingRow.account, func.sum(PostingRow.amount))
    query = query.where(
        PostingRow.campaign.is_not(None) if codes is None else PostingRow.campaign.in_(codes)
    )
    sums: dict[str, dict[str, int]] = defaultdict(dict)
    for code, account, total in session.execute(
        query.group_by(PostingRow.campaign, PostingRow.account)
    ):
        if code is not None:  # the WHERE leaves none out; the column type allows them
            sums[code][account] = int(total)
    return {code: balance_from(accounts) for code, accounts in sums.items()}


def campaign_balance(session: Session, code: str) -> Balance:
    campaign(session, code)
    return campaign_balances(session, [code]).get(code, Balance())


def pledged_by_campaign(
    session: Session, codes: Collection[str] | None = None
) -> dict[str, tuple[int, int]]:
    """Per campaign: pledged total and the part received, reversed entries left out."""
    reversed_ = select(ReversalRow.target)
    pledges = select(PledgeRow.campaign, func.sum(PledgeRow.amount)).where(
        PledgeRow.entry_index.not_in(reversed_)
    )
    received = select(ContributionRow.campaign, func.sum(ContributionRow.amount)).where(
        ContributionRow.pledge.is_not(None), ContributionRow.entry_index.not_in(reversed_)
    )
    if codes is not None:
        pledges = pledges.where(PledgeRow.campaign.in_(codes))
        received = received.where(ContributionRow.campaign.in_(codes))
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for code, total in session.execute(pledges.group_by(PledgeRow.campaign)):
        totals[code][0] = int(total)
    for code, total in session.execute(received.group_by(ContributionRow.campaign)):
        totals[code][1] = int(total)
    return {code: (pair[0], pair[1]) for code, pair in totals.items()}


def pledged(session: Session, campaign_code: str) -> tuple[int, int]:
    """Pledged total and the part of it already received, for a campaign."""
    return pledged_by_campaign(session, [campaign_code]).get(campaign_code, (0, 0))
