"""Group commit: concurrent writers of one process share one write transaction.

Every append takes the append lock, reads the head, signs one checkpoint and commits;
on PostgreSQL that fixed part is about two dozen round trips and most of a single
write's cost. When several requests of a process want to write at the same moment,
one of them (the *leader*) takes the lock, records all the operations waiting at that
moment through one ``Recorder`` and commits them as one batch with one checkpoint;
the others sleep until it is done. Under load, batches form by themselves (whatever
arrived while the previous batch held the lock); alone, a write is a batch of one,
with no added wait.

Each operation keeps its own answer. What needs no ledger state (permissions, the
body's schema) is refused in the writer's own thread before it queues. A refusal
inside the batch (a ``LedgerError``: balance, campaign dates, an unknown fund, a
reused ``Idempotency-Key``) is refused alone: batches are staged optimistically
without savepoints (two round trips an operation saved), so a refusal rolls the batch
back and the others are staged again at once, this time each in its savepoint. An
answer is given only once the transaction has committed; if the batch fails (the
database went away, the disk is full), every operation in it gets that error and
none was written. Two operations of one batch with the same actor and key would both
miss each other's answer, so the second waits for the next batch and replays it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.errors import LedgerError
from ledger.funds import idempotency, schemas
from ledger.funds.access import Scope
from ledger.funds.privacy import PrivacyKey
from ledger.funds.recorder import Recorder, check
from ledger.settings import Settings


@dataclass(frozen=True)
class Operation:
    """One writer's operation: what to record, as whom, and its idempotency key."""

    kind: str
    body: dict[str, Any]
    scope: Scope
    key: str | None = None
    fingerprint: str = ""


@dataclass(frozen=True)
class Outcome:
    """The answer to one operation: its HTTP status, document, and whether it is a replay."""

    status: int
    document: dict[str, Any]
    replayed: bool = False


@dataclass(eq=False)
class _Waiter:
    operation: Operation
    loaded: dict[str, Any]
    woken: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    outcome: Outcome | None = None
    error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return self.outcome is not None or self.error is not None

    def result(self) -> Outcome:
        if self.outcome is None:
            raise self.error or RuntimeError("an operation was woken without an answer")
        return self.outcome


Result = Outcome | LedgerError


class GroupCommitter:
    """Records operations for the threads of one process, batching those that overlap."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        privacy: Callable[[], PrivacyKey],
        *,
        status: int = 201,
    ) -> None:
        self.database = database
        self.settings = settings
        self.privacy = privacy
        self.status = status
        self._mutex = threading.Lock()
        self._queue: list[_Waiter] = []
        self._leading = False
        self._careful = False
        self.batches = 0  # committed batches, for the benchmark and the tests
        self.recorded = 0

    @property
    def waiting(self) -> int:
        """Operations queued for the next batch (the leader's included until it takes them)."""
        with self._mutex:
            return len(self._queue)

    def record(self, operation: Operation) -> Outcome:
        """Record ``operation`` (alone or with others); raises its ``LedgerError`` if refused.

        What can be refused without the ledger's state (permissions, the body's schema)
        is refused here, in the writer's own thread, before it waits for anything.
        """
        check(operation.kind, operation.scope)
        loaded = schemas.load(operation.kind, operation.body)
        waiter = _Waiter(operation, loaded)
        with self._mutex:
            self._queue.append(waiter)
            follows = self._leading
            self._leading = True
        if follows:
            waiter.woken.wait()
            if not waiter.leads:
                return waiter.result()
        self._lead(waiter)
        return waiter.result()

    def _lead(self, own: _Waiter) -> None:
        """Run batches until ``own`` is answered, then hand the lead to the next waiter."""
        try:
            while not own.finished:
                self._run_batch()
        finally:
            with self._mutex:
                if self._queue:
                    following = self._queue[0]
                    following.leads = True
                    following.woken.set()
                else:
                    self._leading = False

    def _run_batch(self) -> None:
        batch: list[_Waiter] = []
        careful = self._careful
        try:
            with self.database.writing() as session:
                # Taken only once the lock is held: whatever arrived while waiting joins.
                with self._mutex:
                    batch, self._queue = self._queue, []
                results, deferred = self._record(session, batch, careful)
        except _Refused as refused:  # rolled back whole: the others go again, carefully
            refused.waiter.error = refused.error
            refused.waiter.woken.set()
            with self._mutex:
                self._queue[:0] = [w for w in batch if w is not refused.waiter]
            self._careful = True
            return
        except BaseException as err:  # nothing was committed: every operation gets the error
            with self._mutex:
                if not batch:  # the lock was never had: fail those waiting, not for ever
                    batch, self._queue = self._queue, []
            for waiter in batch:
                waiter.error = err
                waiter.woken.set()
            return
        self._careful = False
        with self._mutex:
            self._queue[:0] = deferred
        self.batches += 1
        for waiter, result in results:
            if isinstance(result, Outcome):
                waiter.outcome = result
                self.recorded += not result.replayed
            else:
                waiter.error = result
            waiter.woken.set()

    def _record(
        self, session: Session, batch: list[_Waiter], careful: bool
    ) -> tuple[list[tuple[_Waiter, Result]], list[_Waiter]]:
        """Stage every operation of ``batch``, commit them as one append, store their keys.

        Optimistically, operations are staged without savepoints; the first refusal
        then aborts the batch (``_Refused``) and the next batch is ``careful``: each
        operation in its savepoint, so that a refused one is refused alone.
        """
        recorder = Recorder(session, self.settings, batch[0].operation.scope, self.privacy())
        results: list[tuple[_Waiter, Result]] = []
        deferred: list[_Waiter] = []
        staged: list[_Waiter] = []
        keys: set[tuple[str, str]] = set()
        for waiter in batch:
            op = waiter.operation
            try:
                if op.key is not None:
                    if (op.scope.actor, op.key) in keys:
                        deferred.append(waiter)
                        continue
                    keys.add((op.scope.actor, op.key))
                    stored = idempotency.replay(session, op.scope.actor, op.key, op.fingerprint)
                    if stored is not None:
                        results.append((waiter, Outcome(*stored, replayed=True)))
                        continue
            except LedgerError as err:  # a key reused for another request: nothing written
                results.append((waiter, err))
                continue
            try:
                recorder.add_loaded(op.kind, waiter.loaded, scope=op.scope, savepoint=careful)
            except LedgerError as err:
                if not careful:
                    raise _Refused(waiter, err) from err
                results.append((waiter, err))
                continue
            staged.append(waiter)
        for waiter, recorded in zip(staged, recorder.commit(), strict=True):
            op = waiter.operation
            document = recorded.answer()
            if op.key is not None:
                idempotency.store(
                    session, op.scope.actor, op.key, op.fingerprint, self.status, document
                )
            results.append((waiter, Outcome(self.status, document)))
        return results, deferred


class _Refused(Exception):
    """An operation of an optimistic batch was refused: the batch must be rolled back."""

    def __init__(self, waiter: _Waiter, error: LedgerError) -> None:
        super().__init__(str(error))
        self.waiter = waiter
        self.error = error
