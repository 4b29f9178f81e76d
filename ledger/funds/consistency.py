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
    fund: str
    field: str
    published: int
    from_log: int

    def __str__(self) -> str:
        return (
            f"fund {self.fund}: {self.field} is {self.published} in the database "
            f"but {self.from_log} from the log"
        )


def replay_database(session: Session) -> Books:
    books = Books()
    start = 0
    while batch := log.entries(session, start, CHUNK):
        for entry in batch:
            books.apply(entry)
        start = batch[-1].index + 1
    return books


def check_balances(session: Session) -> tuple[int, list[Mismatch]]:
    """Compare every fund's published balance with the replayed log's."""
    books = replay_database(session)
    published = state.fund_balances(session)
    problems: list[Mismatch] = []
    for code in sorted(set(published) | set(books.accounts)):
        ours = published.get(code, state.Balance()).as_dict()
        theirs = books.fund_balance(code).as_dict()
        problems += [
            Mismatch(code, name, ours[name], theirs[name])
            for name in ours
            if ours[name] != theirs[name]
        ]
    return len(published), problems
