"""The read path of usage tracing: the log replayed into ``usage.Attribution``, kept.

The attribution at a tree size is a function of the log's prefix and can never
change, so each process replays the money entries of a database once and then only
the entries appended since. A kept replay is dropped when the entry it ended with is
no longer in the log (a database made afresh at the same address).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import log, receipt_ids
from ledger.errors import NotFoundError
from ledger.funds.models import ContributionRow
from ledger.funds.usage import USAGE_KINDS, Attribution, GiftUsage, MoneyEntry, attribute
from ledger.models import EntryRow

PAGE = 2000


def read_entries(session: Session, start: int, stop: int) -> Iterator[MoneyEntry]:
    """The money entries of the log from ``start`` up to ``stop``, decoded from their leaves.

    Read in pages by index rather than through a server-side cursor, which PostgreSQL
    allows only inside a transaction (web requests read without one).
    """
    while start < stop:
        page = session.execute(
            select(EntryRow.index, EntryRow.kind, EntryRow.leaf)
            .where(EntryRow.index >= start, EntryRow.index < stop, EntryRow.kind.in_(USAGE_KINDS))
            .order_by(EntryRow.index)
            .limit(PAGE)
        ).all()
        for index, kind, leaf in page:
            entry = orjson.loads(leaf)
            yield MoneyEntry(index, kind, entry["time"], entry["body"])
        if len(page) < PAGE:
            return
        start = int(page[-1][0]) + 1


@dataclass
class _Replayed:
    books: Attribution
    size: int
    last_hash: bytes | None


KEPT_DATABASES = 4
_replayed: dict[str, _Replayed] = {}
_lock = threading.Lock()


def _last_hash(session: Session, size: int) -> bytes | None:
    if size == 0:
        return None
    return session.scalar(select(EntryRow.leaf_hash).where(EntryRow.index == size - 1))


def _books(session: Session, size: int) -> Attribution:
    """The attribution at ``size``: the replay kept for this database, brought up to date.

    Call it holding ``_lock``. A kept replay is trusted only if the log still holds the
    entry it ended with (a database made afresh at the same address does not).
    """
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    kept = _replayed.pop(url, None)
    if kept is not None and kept.size > size:  # an older snapshot: answer it, keep the newer
        _replayed[url] = kept
        return attribute(read_entries(session, 0, size))
    if kept is None or _last_hash(session, kept.size) != kept.last_hash:
        kept = _Replayed(Attribution(), 0, None)
    if kept.size < size:
        for entry in read_entries(session, kept.size, size):
            kept.books.apply(entry)  # raising here drops the half-applied replay
        kept.size, kept.last_hash = size, _last_hash(session, size)
    _replayed[url] = kept  # the most recently used last
    while len(_replayed) > KEPT_DATABASES:
        del _replayed[next(iter(_replayed))]
    return kept.books


def usage_of(session: Session, receipt_id: str) -> GiftUsage:
    """Where the gift with this receipt ID went, at the session's tree size."""
    receipt = receipt_ids.normalize(receipt_id)
    index = session.scalar(
        select(ContributionRow.entry_index).where(ContributionRow.receipt_id == receipt)
    )
    if index is None:
        raise NotFoundError(f"no gift with receipt ID {receipt_ids.grouped(receipt)}")
    size = log.tree_size(session)
    with _lock:
        return _books(session, size).usage(index, size)
