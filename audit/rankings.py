"""Mobiliser rankings: who brought in how much, counted so that anyone can check it.

The emulation and rewards board awards on these figures, so each is taken at the size
of a signed checkpoint (``as_of``) and follows from the first ``as_of`` leaves alone:
a gift counts if its entry lies below ``as_of``, no reversal below ``as_of`` names it,
and nobody has left it out (``excluded``: in practice the gifts under a blocking
finding that no acknowledgement has cleared). Figures are read from the projection
tables with grouped queries; ``tests/audit/test_rankings_properties.py`` checks them
against a replay of the leaves.

What is counted, per mobiliser:

* ``net_amount``: the bank and cash gifts that count, in đồng. A reversed gift is left
  out entirely (it is neither a gift nor a donor), so "net" means net of corrections.
* ``in_kind_value``: the assessed value of the in-kind gifts that count, reported apart
  because it is an estimate, not money received.
* ``donors``: distinct donors, by the rule of the public leaderboard
  (``ledger.funds.summaries.count_donors``), so that the two never disagree: a named
  donor is their (display name, type); an anonymous gift cannot be told apart from
  another in the leaves, so each counts as one donor. The leaves' keyed hashes of
  contacts and accounts are not used: they are absent from most gifts (cash, goods)
  and the projections do not hold them.
* ``gifts``: how many gifts count, bank, cash and in kind alike.
* ``gift_indices``: those gifts' log indices, ascending: the evidence.

A gift belongs to the period by ``received_on``, the day the money or goods arrived
(in Vietnam's calendar), and to a unit's ranking by its mobiliser's unit (that unit
or any unit below ``unit``, in the unit tree as it stood at ``as_of``). Collectives
and individuals are never ranked together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, case, cast, func, select
from sqlalchemy.orm import Session

from ledger import log
from ledger.entries import decode_leaf
from ledger.errors import InvalidRequestError, NotFoundError
from ledger.funds import state
from ledger.funds.listing import reversed_before, within
from ledger.funds.models import ContributionRow, MobilizerRow, UnitRow
from ledger.funds.summaries import count_donors
from ledger.models import EntryRow
from ledger.settings import Settings

COLLECTIVE, INDIVIDUAL = "collective", "individual"
TYPES = (COLLECTIVE, INDIVIDUAL)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class RankingQueryError(InvalidRequestError):
    """A ranking asked for with an unknown type or days that are no days."""


@dataclass(frozen=True)
class RankingQuery:
    """Which mobilisers are ranked and which of their gifts count; None leaves a criterion out."""

    type: str  # "collective" | "individual"
    campaign: str | None = None
    unit: str | None = None  # the mobiliser's unit lies in this unit's subtree
    since: str | None = None  # first day, YYYY-MM-DD in Vietnam, inclusive
    until: str | None = None  # last day, inclusive
    excluded: frozenset[int] = frozenset()  # gift indices left out (blocked)


@dataclass(frozen=True)
class Ranked:
    """One mobiliser's place and the figures that earned it."""

    rank: int
    mobilizer: str
    name: str
    type: str
    unit: str
    net_amount: int
    in_kind_value: int
    donors: int
    gifts: int
    gift_indices: tuple[int, ...]  # the gifts counted, ascending: the evidence

    def document(self, *, evidence: bool = False) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "rank": self.rank,
            "mobilizer": self.mobilizer,
            "name": self.name,
            "type": self.type,
            "unit": self.unit,
            "net_amount": self.net_amount,
            "in_kind_value": self.in_kind_value,
            "donors": self.donors,
            "gifts": self.gifts,
        }
        if evidence:
            shown["gift_indices"] = list(self.gift_indices)
        return shown


def order_key(ranked: Ranked) -> tuple[int, int, int, int, int, str]:
    """The ranking order: what sorts first ranks first. See ``rank``."""
    first = ranked.gift_indices[0] if ranked.gift_indices else -1
    return (
        -ranked.net_amount,
        -ranked.donors,
        -ranked.gifts,
        -ranked.in_kind_value,
        first,
        ranked.mobilizer,
    )


def check(query: RankingQuery) -> None:
    """Refuse a query whose type or days are malformed (the codes are checked by ``rank``)."""
    if query.type not in TYPES:
        raise RankingQueryError(f"type must be {' or '.join(TYPES)}, not {query.type!r}")
    for name in ("since", "until"):
        value = getattr(query, name)
        if value is None:
            continue
        try:
            if not _DAY.fullmatch(value):
                raise ValueError(value)
            date.fromisoformat(value)
        except ValueError as err:
            raise RankingQueryError(f"{name} must be a day written YYYY-MM-DD") from err
    if query.since is not None and query.until is not None and query.until < query.since:
        raise RankingQueryError(f"until ({query.until}) is before since ({query.since})")


def unit_tree_at(session: Session, as_of: int) -> state.UnitTree:
    """The unit tree as the first ``as_of`` leaves declare it.

    The projection holds the latest declaration of each unit; only when a unit was
    re-declared at or after ``as_of`` (a district merged away, a commune moved) is the
    tree rebuilt from the unit entries below ``as_of``.
    """
    tree = state.UnitTree.load(session)
    later = session.scalar(select(func.count()).where(UnitRow.entry_index >= as_of))
    if not later:
        return tree
    rebuilt = state.UnitTree()
    for leaf in session.scalars(
        select(EntryRow.leaf)
        .where(EntryRow.kind == "unit", EntryRow.index < as_of)
        .order_by(EntryRow.index)
    ):
        body = decode_leaf(leaf).body
        rebuilt.parents[body["code"]] = body["parent"]
        rebuilt.names[body["code"]] = body["name"]
    return rebuilt


def _indices(values: Collection[int], as_of: int) -> Any:
    """Integer indices bound as literals: a long list must not exceed a driver's parameters."""
    wanted = sorted(index for index in values if 0 <= index < as_of)
    return bindparam("indices", wanted, expanding=True, literal_execute=True)


def _selection(session: Session, query: RankingQuery, as_of: int) -> list[ColumnElement[bool]]:
    """The gifts that count for ``query`` before any exclusion; unknown codes are a 404."""
    check(query)
    c, m = ContributionRow, MobilizerRow
    if query.campaign is not None:
        state.campaign(session, query.campaign)
    who = [m.type == query.type]
    if query.unit is not None:
        tree = unit_tree_at(session, as_of)
        if query.unit not in tree:
            state.unit(session, query.unit)  # the usual message for a code never declared
            raise NotFoundError(f"no unit with code {query.unit!r} at tree size {as_of}")
        who.append(m.unit.in_(sorted(tree.descendants(query.unit))))
    conditions = [
        c.entry_index < as_of,
        c.entry_index.not_in(reversed_before(as_of)),
        c.mobilizer.in_(select(m.code).where(*who)),
        *within(c.received_on, query.since, query.until),
    ]
    if query.campaign is not None:
        conditions.append(c.campaign == query.campaign)
    return conditions


def _ranked(session: Session, conditions: list[ColumnElement[bool]]) -> list[Ranked]:
    c, m = ContributionRow, MobilizerRow
    in_kind = c.channel == "in_kind"
    totals = session.execute(
        select(
            c.mobilizer,
            func.sum(case((in_kind, 0), else_=c.amount)),
            func.sum(case((in_kind, c.amount), else_=0)),
            func.count(),
            # The evidence in the same pass: far fewer rows to fetch than one per gift.
            func.aggregate_strings(cast(c.entry_index, String), ","),
        )
        .where(*conditions)
        .group_by(c.mobilizer)
    ).all()
    if not totals:
        return []
    donors = count_donors(session, list(conditions), c.mobilizer)
    codes = [str(row[0]) for row in totals]
    registry = {row.code: row for row in session.scalars(select(m).where(m.code.in_(codes)))}
    unranked = [
        Ranked(
            rank=0,
            mobilizer=code,
            name=registry[code].name,
            type=registry[code].type,
            unit=registry[code].unit,
            net_amount=int(money),
            in_kind_value=int(goods),
            donors=donors.get(code, 0),
            gifts=int(gifts),
            gift_indices=tuple(sorted(map(int, str(indices).split(",")))),
        )
        for code, money, goods, gifts, indices in totals
    ]
    ordered = sorted(unranked, key=order_key)
    return [replace(ranked, rank=place) for place, ranked in enumerate(ordered, start=1)]


def rank(session: Session, query: RankingQuery, *, as_of: int) -> list[Ranked]:
    """The mobilisers of ``query.type`` with a gift that counts, best first, ranked 1..n.

    Order (each rule only decides between mobilisers equal under all before it):

    1. ``net_amount``, larger first;
    2. ``donors``, more first;
    3. ``gifts``, more first;
    4. ``in_kind_value``, larger first;
    5. the index of the earliest gift that counts, smaller first: who got there first;
    6. the mobiliser's code, in ascending character order.

    Two mobilisers never share a gift, so rule 5 already tells any two apart; rule 6
    only makes the order total by construction. Ranks are 1, 2, 3, … with no two
    equal, because the board awards places, and a shared place would leave it to
    decide by hand what the rules above decide verifiably. Mobilisers without a gift
    that counts are not ranked. An unknown campaign or unit is a ``NotFoundError``;
    a malformed type or day a ``RankingQueryError``.
    """
    conditions = _selection(session, query, as_of)
    if query.excluded:
        conditions.append(ContributionRow.entry_index.not_in(_indices(query.excluded, as_of)))
    return _ranked(session, conditions)


def withheld(session: Session, query: RankingQuery, *, as_of: int) -> list[int]:
    """The gifts of ``query.excluded`` that would otherwise have counted, ascending."""
    if not query.excluded:
        return []
    c = ContributionRow
    conditions = _selection(session, query, as_of)
    return [
        int(index)
        for index in session.scalars(
            select(c.entry_index)
            .where(*conditions, c.entry_index.in_(_indices(query.excluded, as_of)))
            .order_by(c.entry_index)
        )
    ]


@dataclass(frozen=True)
class Ranking:
    """A ranking and the signed checkpoint it can be verified against."""

    query: RankingQuery  # ``excluded``: what the caller left out plus the blocked gifts
    tree_size: int
    root: bytes
    checkpoint: str  # the signed note of ``tree_size``
    ranked: tuple[Ranked, ...]
    withheld: tuple[int, ...]  # gifts that would have counted but were left out

    def document(self, *, evidence: bool = False) -> dict[str, Any]:
        """The ranking for JSON readers; ``evidence`` adds the gift indices and the note."""
        shown: dict[str, Any] = {
            "type": self.query.type,
            "campaign": self.query.campaign,
            "unit": self.query.unit,
            "since": self.query.since,
            "until": self.query.until,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "withheld": len(self.withheld),
            "mobilizers": [ranked.document(evidence=evidence) for ranked in self.ranked],
        }
        if evidence:
            shown["withheld_gifts"] = list(self.withheld)
            shown["checkpoint"] = self.checkpoint
        return shown


def blocked_at(
    session: Session, settings: Settings, as_of: int, *, now: datetime | None = None
) -> frozenset[int]:
    """The gifts under a blocking finding nobody has acknowledged, in the first ``as_of``
    entries: what a verified ranking leaves out.

    The findings come from the rules this process keeps running over the log
    (``audit.rules.findings_kept``): the same as a replay of those entries, at the
    cost of the entries appended since the last ranking.
    """
    from audit.findings import blocked_gifts
    from audit.rules import findings_kept

    return blocked_gifts(findings_kept(session, settings, now=now, as_of=as_of))


def verified_ranking(
    session: Session,
    settings: Settings,
    query: RankingQuery,
    *,
    now: datetime | None = None,
    blocked: Callable[[int], frozenset[int]] | None = None,
) -> Ranking:
    """``rank`` at the latest signed checkpoint, gifts under a blocking finding left out.

    The anomaly rules run over the same entries (those below the checkpoint's size), so
    the ranking, the findings and the checkpoint describe one and the same log.
    ``blocked`` (tree size -> gift indices) stands in for ``blocked_at``, for a caller
    that keeps the rules' answer for a size it has already asked about.
    """
    latest = log.latest_checkpoint(session)
    size = latest.tree_size
    _selection(session, query, size)  # a bad query fails before the rules run
    held = blocked(size) if blocked is not None else blocked_at(session, settings, size, now=now)
    asked = replace(query, excluded=frozenset(query.excluded | held))
    return Ranking(
        query=asked,
        tree_size=size,
        root=latest.root,
        checkpoint=latest.note,
        ranked=tuple(rank(session, asked, as_of=size)),
        withheld=tuple(withheld(session, asked, as_of=size)),
    )
