"""Check that the published balances are the ones the log implies.

Balances are served from projection tables for speed. Those tables are ordinary,
writable tables, so ``ledger verify`` replays the verified log (``replay``) and
compares: a projection edited behind the ledger's back, or a bug in the writer,
shows up as a named fund whose figures differ, before any donor sees them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ledger import log
from ledger.funds import state
from ledger.funds.replay import Books

CHUNK = 2000


@dataclass(frozen=True)
class Mismatch:
    what: str  # "fund LS-COVID", "campaign LS-2021"
    field: str
    published: int
    from_log: int

    def __str__(self) -> str:
        return (
            f"{self.what}: {self.field} is {self.published} in the database "
            f"but {self.from_log} from the log"
        )


@dataclass(frozen=True)
class Overdrawn:
    """An entry after which a guarded pool was negative: the writer never allows that."""

    index: int

    def __str__(self) -> str:
        return f"entry {self.index} leaves a fund's balance negative"


def books_for(session: Session) -> Books:
    """Empty books that re-read old entries from this database when they need them."""
    return Books(fetch=lambda index: log.entry(session, index))


def replay_database(session: Session) -> Books:
    books = books_for(session)
    start = 0
    while batch := log.entries(session, start, CHUNK):
        for entry in batch:
            books.apply(entry)
        start = batch[-1].index + 1
    return books


def check_balances(
    session: Session, books: Books | None = None
) -> tuple[int, list[Mismatch | Overdrawn]]:
    """Compare every fund's and campaign's published balance with the replayed log's.

    Also names every entry after which the log itself shows an overdrawn pool.

    Fund balances are read from the pool totals, campaign balances from the postings,
    so a change to either table shows. ``books``: the log already replayed (``ledger
    verify`` replays it in its one pass), else it is replayed here.
    """
    if books is None:
        books = replay_database(session)
    published = state.fund_balances(session)
    problems: list[Mismatch | Overdrawn] = [Overdrawn(index) for index in books.negative]
    for code in sorted(set(published) | set(books.accounts)):
        ours = published.get(code, state.Balance())
        problems += _differences(f"fund {code}", ours, books.fund_balance(code))
    campaigns = state.campaign_balances(session)
    for campaign in state.campaigns(session):
        ours = campaigns.get(campaign.code, state.Balance())
        theirs = books.campaign_balance(campaign.code)
        problems += _differences(f"campaign {campaign.code}", ours, theirs)
    return len(published), problems


def _differences(what: str, ours: state.Balance, theirs: state.Balance) -> list[Mismatch]:
    mine, log_view = ours.as_dict(), theirs.as_dict()
    return [
        Mismatch(what, name, mine[name], log_view[name])
        for name in mine
        if mine[name] != log_view[name]
    ]
