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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, inspect
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
from ledger.keyring import load_signer
from ledger.settings import Settings

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
R = TypeVar("R")


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
        self.signer = load_signer(settings.signing_key_file, session)
        self.origin = self.signer.name
        self.size = log.tree_size(session)
        self.tree = UnitTree.load(session)
        self._drafts: list[Draft] = []
        self._prepared: list[Prepared] = []
        self._held: dict[tuple[type[Any], str], Any] = {}
        self._add_to_pool = self._pool_upsert()
        self._open: dict[tuple[str, str], list[CampaignRow]] = {}

    @property
    def next_index(self) -> int:
        return self.size + len(self._drafts)

    def add(self, kind: str, data: Mapping[str, Any], *, scope: Scope | None = None) -> int:
        """Validate and stage one operation; returns its index. Raises and stages nothing.

        ``scope`` records this operation under another writer's authority (the demo
        records each district's gifts as that district's committee); by default the
        recorder's own.
        """
        if kind not in _PREPARERS:
            raise ValidationError(f"unknown operation {kind!r}")
        own, self.scope = self.scope, scope or self.scope
        try:
            self.scope.require(kind)
            loaded = schemas.load(kind, data)
            index = self.next_index
            with self.session.begin_nested():
                prepared = _PREPARERS[kind](self, loaded, index)
                self.session.flush()
                self._post(kind, prepared.body, index)
            self._drafts.append(Draft(kind, prepared.body, self.scope.actor))
        finally:
            self.scope = own
        self._prepared.append(prepared)
        return index

    def commit(self) -> list[Recorded]:
        if not self._drafts:
            return []
        appended = log.append(self.session, self._drafts, self.signer, now=self.now)
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
        return state.stored_postings(self.session, index)

    def receipt_url(self, receipt: str) -> str:
        return receipts.receipt_url(self.settings, receipt)

    def _post(self, kind: str, body: Mapping[str, Any], index: int) -> None:
        """Write the entry's postings and pool totals; refuse if a guarded pool went negative."""
        legs = p.postings_for(kind, body, self.postings_of)
        if not legs:
            return
        connection = self.session.connection()
        connection.execute(
            insert(PostingRow), [{"entry_index": index, **leg._asdict()} for leg in legs]
        )
        for leg in legs:
            total = connection.execute(
                self._add_to_pool,  # one statement per leg: adds, then reads the total
                {"fund": leg.fund, "account": leg.account, "earmark": leg.earmark, "d": leg.amount},
            ).scalar_one()
            if leg.amount < 0 and leg.account in p.GUARDED and total < 0:
                raise BalanceError(_shortfall(leg, -leg.amount, total - leg.amount))

    def _pool_upsert(self) -> Any:
        """``INSERT … ON CONFLICT DO UPDATE … RETURNING balance`` in this database's dialect."""
        dialect = self.session.get_bind().dialect.name
        upsert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = upsert(PoolRow).values(
            fund=bindparam("fund"),
            account=bindparam("account"),
            earmark=bindparam("earmark"),
            balance=bindparam("d"),
        )
        return statement.on_conflict_do_update(
            index_elements=["fund", "account", "earmark"],
            set_={"balance": PoolRow.balance + statement.excluded.balance},
        ).returning(PoolRow.balance)


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
