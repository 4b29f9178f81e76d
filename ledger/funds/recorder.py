"""The write path of every fund operation: validate against the ledger, append, project.

A ``Recorder`` lives inside one ``Database.writing()`` transaction, which holds the
append lock. That is what makes the balance rules hold under concurrency: the check
that an allocation leaves the fund's ``available`` balance non-negative reads
balances that no other writer can change until this transaction commits, so two
racing requests can never both spend the last đồng.

Operations are prepared one after another. Since the lock is held, the index each
will get is known in advance; each operation's projection rows (and its postings)
are written at once, inside a savepoint, so later operations of the same batch see
them, and a refused operation leaves no trace. ``commit`` appends all entries in one
batch with one signed checkpoint.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import insert, inspect
from sqlalchemy.orm import Session

from ledger import log, receipt_ids, receipts
from ledger.db import Database
from ledger.entries import Draft
from ledger.errors import BalanceError, ChainError, ValidationError
from ledger.funds import postings as p
from ledger.funds import schemas, state
from ledger.funds.access import Scope
from ledger.funds.models import CampaignRow, PoolRow, PostingRow
from ledger.funds.privacy import PrivacyKey
from ledger.funds.state import UnitTree
from ledger.funds.text import dong
from ledger.keyring import signer_for
from ledger.settings import Settings

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
R = TypeVar("R")
# Postings queued by an optimistic batch before they are written anyway (a statement
# of this many rows is well within every driver's parameter limit).
MAX_UNPOSTED = 512


@dataclass(frozen=True)
class Recorded:
    """One recorded operation, as a writer's answer reports it."""

    index: int
    kind: str
    leaf_hash: str
    body: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def answer(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "leaf_hash": self.leaf_hash, **self.extra}


@dataclass(frozen=True)
class Prepared:
    body: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


Preparer = Callable[["Recorder", dict[str, Any], int], Prepared]
_PREPARERS: dict[str, Preparer] = {}


def operation(kind: str) -> Callable[[Preparer], Preparer]:
    """Register the preparer of one entry kind (see registry, gifts, spending, reversals)."""

    def register(func: Preparer) -> Preparer:
        _PREPARERS[kind] = func
        return func

    return register


def check(kind: str, scope: Scope) -> None:
    """Refuse an unknown operation, or one ``scope`` may not record, before any reading."""
    if kind not in _PREPARERS:
        raise ValidationError(f"unknown operation {kind!r}")
    scope.require(kind)


def today_in_vietnam(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(VIETNAM).date()


def receipt_id(origin: str, index: int, prefix: str = "") -> str:
    """The receipt (or, with prefix "P", pledge) ID of the entry at ``index``."""
    return receipt_ids.make(origin, index, prefix)


class Recorder:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        scope: Scope,
        privacy: PrivacyKey,
        *,
        now: datetime | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.scope = scope
        self.privacy = privacy
        self.now = now
        self.today = today_in_vietnam(now)
        # The key in force names the origin; loading it first also refuses an empty log.
        self.head = log.read_head(session)
        self.signer = signer_for(settings.signing_key_file, self.head.current_key())
        self.origin = self.signer.name
        self.size = self.head.size
        self._drafts: list[Draft] = []
        self._prepared: list[Prepared] = []
        self._held: dict[tuple[type[Any], str], Any] = {}
        self._open: dict[tuple[str, str], list[CampaignRow]] = {}
        self._unposted: list[tuple[int, p.Posting]] = []

    @functools.cached_property
    def tree(self) -> UnitTree:
        """Every unit, read when first needed: a writer for the whole ledger never needs it."""
        return UnitTree.load(self.session)

    def within_scope(self, unit: str) -> None:
        """Refuse to act on ``unit`` if it is outside the writer's subtree."""
        if self.scope.unit is not None:
            self.scope.require_unit(unit, self.tree)

    @property
    def next_index(self) -> int:
        return self.size + len(self._drafts)

    def add(self, kind: str, data: Mapping[str, Any], *, scope: Scope | None = None) -> int:
        """Validate and stage one operation; returns its index. Raises and stages nothing.

        ``scope`` records this operation under another writer's authority (the demo
        records each district's gifts as that district's committee); by default the
        recorder's own.
        """
        check(kind, scope or self.scope)
        return self.add_loaded(kind, schemas.load(kind, data), scope=scope)

    def add_loaded(
        self,
        kind: str,
        loaded: dict[str, Any],
        *,
        scope: Scope | None = None,
        savepoint: bool = True,
    ) -> int:
        """Stage an operation already through ``check`` and ``schemas.load``.

        Without ``savepoint`` a refusal may leave part of the operation written: the
        caller must then roll the whole transaction back (``group_commit`` does). In
        return the operation's rows wait to be written with the batch's: its projection
        rows until a later query flushes the session, its postings until one is read or
        a spending needs a balance (``_post``); ``commit`` writes what is left. That
        saves the round trips of a savepoint, a flush and a postings statement for
        each operation of a batch.
        """
        own, self.scope = self.scope, scope or self.scope
        try:
            index = self.next_index
            with self.session.begin_nested() if savepoint else nullcontext():
                prepared = _PREPARERS[kind](self, loaded, index)
                if savepoint:
                    self.session.flush()
                self._post(kind, prepared.body, index, wait=not savepoint)
            self._drafts.append(Draft(kind, prepared.body, self.scope.actor))
        finally:
            self.scope = own
        self._prepared.append(prepared)
        return index

    def commit(self) -> list[Recorded]:
        if not self._drafts:
            return []
        self._write_postings()
        self.session.flush()
        appended = log.append(self.session, self._drafts, self.signer, now=self.now, head=self.head)
        if appended.entries[0].index != self.size:
            raise ChainError("the log grew while the append lock was held", index=self.size)
        return [
            Recorded(entry.index, entry.kind, entry.leaf_hash.hex(), entry.body, prepared.extra)
            for entry, prepared in zip(appended.entries, self._prepared, strict=True)
        ]

    # -- helpers for the preparers -------------------------------------------------

    def open_campaigns(self, fund: str, day: str) -> list[CampaignRow]:
        """The fund's campaigns open on ``day``, asked once per fund and day in a batch."""
        key = (fund, day)
        if key not in self._open:
            self._open[key] = list(state.open_campaigns(self.session, fund, day))
        return self._open[key]

    def forget_open_campaigns(self) -> None:
        """A campaign was recorded: the answers of ``open_campaigns`` may have changed."""
        self._open.clear()

    def registered(self, model: type[R], code: str) -> R | None:
        """A unit, fund, campaign or mobiliser row, held for the rest of the transaction.

        The session's identity map holds rows weakly, so without this every gift would
        read its fund, campaign and mobiliser from the database again.
        """
        key = (model, code)
        row = self._held.get(key)
        if row is None or inspect(row).detached:
            row = self.session.get(model, code)
            if row is None:
                return None
            self._held[key] = row
        held: R = row
        return held

    def postings_of(self, index: int) -> list[p.Posting]:
        self._write_postings()  # the entry may be one of this batch's
        return state.stored_postings(self.session, index)

    def receipt_url(self, receipt: str) -> str:
        return receipts.receipt_url(self.settings, receipt)

    def _post(self, kind: str, body: Mapping[str, Any], index: int, *, wait: bool = False) -> None:
        """Write the entry's postings and pool totals; refuse if a guarded pool went negative.

        With ``wait`` the postings are only queued when no guarded pool goes down (a
        gift, say): nothing needs their totals yet. The next write sends them all.
        """
        legs = p.postings_for(kind, body, self.postings_of)
        if not legs:
            return
        self._unposted += [(index, leg) for leg in legs]
        deltas = _pool_deltas(legs)
        guarded = [pool for pool, d in deltas.items() if d < 0 and pool[1] in p.GUARDED]
        if wait and not guarded and len(self._unposted) < MAX_UNPOSTED:
            return
        totals = self._write_postings()
        for pool in guarded:
            if totals[pool] < 0:
                leg = p.Posting(*pool, campaign=None, amount=deltas[pool])
                raise BalanceError(_shortfall(leg, -deltas[pool], totals[pool] - deltas[pool]))

    def _write_postings(self) -> dict[tuple[str, str, str], int]:
        """Write the queued postings and add them to their pools; the pools' new totals."""
        if not self._unposted:
            return {}
        legs, self._unposted = self._unposted, []
        deltas = _pool_deltas(leg for _index, leg in legs)
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            # One statement of one shape, whatever the count: the postings ride along
            # with the pools' upsert, which adds the deltas and reads each new total.
            columns = [[index, *leg] for index, leg in legs]
            pools = [[*pool, delta] for pool, delta in deltas.items()]
            params = (*zip(*columns, strict=True), *zip(*pools, strict=True))
            rows = connection.exec_driver_sql(_POSTGRESQL_POSTING, tuple(map(list, params)))
        else:
            postings = [{"entry_index": index, **leg._asdict()} for index, leg in legs]
            connection.execute(insert(PostingRow), postings)
            flat = tuple(value for pool, delta in deltas.items() for value in (*pool, delta))
            rows = connection.exec_driver_sql(_pool_upsert(len(deltas)), flat)
        return {(fund, account, earmark): balance for fund, account, earmark, balance in rows}


def _pool_deltas(legs: Iterable[p.Posting]) -> dict[tuple[str, str, str], int]:
    """What ``legs`` add to each pool (fund, account, earmark)."""
    deltas: dict[tuple[str, str, str], int] = {}
    for leg in legs:
        pool = (leg.fund, leg.account, leg.earmark)
        deltas[pool] = deltas.get(pool, 0) + leg.amount
    return deltas


_POSTING_COLUMNS = ("entry_index", *p.Posting._fields)
_BIGINT = {"entry_index": "bigint", "amount": "bigint"}
_POOL_UPDATE = (
    "ON CONFLICT (fund, account, earmark) DO UPDATE "
    f"SET balance = {PoolRow.__tablename__}.balance + excluded.balance "
    "RETURNING fund, account, earmark, balance"
)


def _arrays(*types: str) -> str:
    arrays = ", ".join(f"%s::{kind}[]" for kind in types)
    return f"SELECT * FROM unnest({arrays})"  # noqa: S608 - types are constants


# Arrays rather than a multi-row VALUES: one text for any number of rows, which
# psycopg parses once and PostgreSQL prepares once.
_POSTGRESQL_POSTING = (
    f"WITH posted AS (INSERT INTO {PostingRow.__tablename__} "
    f"({', '.join(_POSTING_COLUMNS)}) "
    f"{_arrays(*(_BIGINT.get(c, 'text') for c in _POSTING_COLUMNS))}) "
    f"INSERT INTO {PoolRow.__tablename__} (fund, account, earmark, balance) "
    f"{_arrays('text', 'text', 'text', 'bigint')} {_POOL_UPDATE}"
)


@functools.cache
def _pool_upsert(pools: int) -> str:
    """SQLite's ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` of ``pools`` pool rows.

    Plain driver SQL, built once per count: SQLAlchemy cannot cache the compiled form of
    a multi-row ``VALUES``, and compiling it cost more than running it. Parameters are
    positional: each pool's fund, account, earmark and delta.
    """
    rows = ", ".join("(?, ?, ?, ?)" for _ in range(pools))
    return (
        f"INSERT INTO {PoolRow.__tablename__} (fund, account, earmark, balance) "  # noqa: S608
        f"VALUES {rows} {_POOL_UPDATE}"
    )


def _shortfall(leg: p.Posting, wanted: int, held: int) -> str:
    pool = f" earmarked {leg.earmark}" if leg.earmark else ""
    return (
        f"fund {leg.fund} holds {dong(held)}{pool} in {leg.account}, "
        f"less than the {dong(wanted)} asked for; nothing was recorded"
    )


def record(
    database: Database,
    settings: Settings,
    scope: Scope,
    operations: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    now: datetime | None = None,
) -> list[Recorded]:
    """Record operations as one batch: all of them, or (on any error) none."""
    privacy = PrivacyKey.load(settings.privacy_key_file)
    with database.writing() as session:
        recorder = Recorder(session, settings, scope, privacy, now=now)
        for kind, data in operations:
            recorder.add(kind, data)
        return recorder.commit()


def load_all() -> None:
    """Import the modules whose preparers register themselves."""
    from ledger.funds import gifts, registry, reversals, spending  # noqa: F401


load_all()
