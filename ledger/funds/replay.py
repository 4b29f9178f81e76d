"""Recompute every balance from the public log alone, as an outside auditor would.

This reads entries and nothing else: no projection table, no private data. It applies
the same postings as the writer (``ledger.funds.postings``), so its figures must
equal the service's; a difference means the projections and the log disagree. It
also reports any entry after which a guarded account went negative, which the writer
never allows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ledger.entries import Entry
from ledger.errors import ChainError
from ledger.funds import postings as p
from ledger.funds.state import Balance, UnitTree, balance_from

# Postings of this many recent money entries are kept; older ones are recomputed from
# their entries when a reversal or disbursement names them (see ``Books.fetch``).
RECENT_LEGS = 50_000


@dataclass
class Books:
    """Running totals per (fund, account), per pool and per campaign.

    A reversal needs its target's postings and a disbursement its allocation's. Keeping
    every entry's postings would make memory grow with the log, so only allocations
    (few, and named by disbursements for months) and the most recent entries are kept;
    with ``fetch`` (index → entry) any other is recomputed from the log on demand.
    """

    fetch: Callable[[int], Entry] | None = None
    accounts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    pools: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    campaigns: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    legs: dict[int, list[p.Posting]] = field(default_factory=dict)
    funds: dict[str, str] = field(default_factory=dict)  # fund code -> unit
    units: UnitTree = field(default_factory=UnitTree)
    negative: list[int] = field(default_factory=list)
    _allocations: dict[int, list[p.Posting]] = field(default_factory=dict)

    def apply(self, entry: Entry) -> None:
        """Post one entry; a fund entry whose body lacks what its kind needs is a ChainError."""
        try:
            legs = self._legs(entry)
        except (KeyError, TypeError, ValueError, StopIteration) as err:
            message = f"the {entry.kind} body cannot be posted ({err!r})"
            raise ChainError(message, index=entry.index) from err
        if not legs:
            return
        self._keep(entry.index, entry.kind, legs)
        for leg in legs:
            sums = self.accounts[leg.fund]
            sums[leg.account] = sums.get(leg.account, 0) + leg.amount
            self.pools[(leg.fund, leg.account, leg.earmark)] += leg.amount
            if leg.campaign is not None:
                by_campaign = self.campaigns[leg.campaign]
                by_campaign[leg.account] = by_campaign.get(leg.account, 0) + leg.amount
        if any(
            leg.account in p.GUARDED and self.pools[(leg.fund, leg.account, leg.earmark)] < 0
            for leg in legs
        ):
            self.negative.append(entry.index)

    def _legs(self, entry: Entry) -> list[p.Posting]:
        if entry.kind == "unit":
            self.units.parents[entry.body["code"]] = entry.body.get("parent")
        elif entry.kind == "fund":
            self.funds[entry.body["code"]] = entry.body["unit"]
        return p.postings_for(entry.kind, entry.body, self.postings_of)

    def postings_of(self, index: int) -> list[p.Posting]:
        kept = self.legs.get(index) or self._allocations.get(index)
        if kept is not None or self.fetch is None:
            return kept or []
        earlier = self.fetch(index)
        return p.postings_for(earlier.kind, earlier.body, self.postings_of)

    def _keep(self, index: int, kind: str, legs: list[p.Posting]) -> None:
        if kind == p.ALLOCATION:
            self._allocations[index] = legs
            return
        self.legs[index] = legs
        if self.fetch is not None and len(self.legs) > RECENT_LEGS:
            del self.legs[next(iter(self.legs))]  # the oldest: dicts keep insertion order

    def fund_balance(self, code: str) -> Balance:
        return balance_from(self.accounts.get(code, {}))

    def campaign_balance(self, code: str) -> Balance:
        return balance_from(self.campaigns.get(code, {}))

    def unit_balance(self, code: str) -> Balance:
        """The unit's funds and those of every unit below it."""
        totals: dict[str, int] = defaultdict(int)
        for fund_code, unit in self.funds.items():
            if self.units.within(unit, code):
                for account, amount in self.accounts.get(fund_code, {}).items():
                    totals[account] += amount
        return balance_from(totals)


def replay(entries: Iterable[Entry]) -> Books:
    books = Books()
    for entry in entries:
        books.apply(entry)
    return books
