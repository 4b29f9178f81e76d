"""Group commit: writers that arrive together share one transaction and one checkpoint.

To make a batch form for certain, each test holds the append lock from outside (as a
writer on another host would) while its threads submit, waits until all of them are
queued, then lets go: the leader then records every one of them in one batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from ledger import log
from ledger.errors import BalanceError, LedgerError, ValidationError
from ledger.funds import idempotency, state
from ledger.funds.access import command_line
from ledger.funds.consistency import check_balances
from ledger.funds.group_commit import GroupCommitter, Operation, Outcome
from ledger.funds.models import ContributionRow
from ledger.funds.privacy import PrivacyKey
from ledger.models import CheckpointRow
from tests.conftest import Funds

SCOPE = command_line("counter")


@pytest.fixture
def committer(funds: Funds) -> GroupCommitter:
    privacy = PrivacyKey.load(funds.settings.privacy_key_file)
    return GroupCommitter(funds.db, funds.settings, lambda: privacy)


def gift(amount: int, fund: str = "LS-COVID", **extra: Any) -> dict[str, Any]:
    donor = {"display": "Nhà hảo tâm", "type": "individual"}
    return {"fund": fund, "amount": amount, "channel": "cash", "donor": donor, **extra}


def allocation(amount: int) -> dict[str, Any]:
    beneficiary = {"display": "Trạm Y tế xã Hợp Thành", "type": "organization"}
    return {"fund": "LS-COVID", "amount": amount, "beneficiary": beneficiary, "purpose": "Ô-xy"}


@contextmanager
def lock_held(funds: Funds) -> Iterator[None]:
    """Hold the append lock from another connection until the block ends."""
    with funds.db.writing():
        yield


def together(
    committer: GroupCommitter, funds: Funds, operations: list[Operation]
) -> list[Outcome | BaseException]:
    """Submit ``operations`` from one thread each while the lock is held; their results.

    Each thread starts once the one before it has queued, so the batch holds the
    operations in the order given.
    """
    results: list[Outcome | BaseException | None] = [None] * len(operations)

    def submit(n: int) -> None:
        try:
            results[n] = committer.record(operations[n])
        except BaseException as err:
            results[n] = err

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(operations))]
    with lock_held(funds):
        for queued, thread in enumerate(threads, start=1):
            thread.start()
            wait_until(lambda queued=queued: committer.waiting == queued)  # type: ignore[misc]
    for thread in threads:
        thread.join(30)
    assert all(r is not None for r in results), results
    return [r for r in results if r is not None]


def wait_until(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(500):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("the operations never all queued")


def available(funds: Funds) -> int:
    """The fund's available money as published, after checking it against a replay."""
    with funds.db.session() as session:
        _count, problems = check_balances(session)
        assert problems == []
        return state.fund_balances(session)[funds.fund].available


def checkpoints(funds: Funds) -> int:
    with funds.db.session() as session:
        return session.scalar(select(func.count()).select_from(CheckpointRow)) or 0


def test_writers_arriving_together_share_one_checkpoint(
    committer: GroupCommitter, funds: Funds
) -> None:
    before = checkpoints(funds)
    gifts = [Operation("contribution", gift(1_000 * (n + 1)), SCOPE) for n in range(6)]
    outcomes = together(committer, funds, gifts)

    assert all(isinstance(o, Outcome) and o.status == 201 for o in outcomes)
    indices = sorted(o.document["index"] for o in outcomes if isinstance(o, Outcome))
    assert indices == list(range(indices[0], indices[0] + 6))
    assert checkpoints(funds) == before + 1  # one batch, one signed checkpoint
    assert committer.batches == 1 and committer.recorded == 6
    with funds.db.session() as session:
        for index in indices:
            assert log.entry(session, index).body["amount"] in range(1_000, 7_000, 1_000)
    assert available(funds) == 21_000


def test_a_refused_operation_is_refused_alone(committer: GroupCommitter, funds: Funds) -> None:
    funds.give(50_000)
    operations = [
        Operation("contribution", gift(10_000), SCOPE),
        Operation("allocation", allocation(900_000), SCOPE),  # more than the fund holds
        Operation("contribution", gift(20_000), SCOPE),
        Operation("contribution", gift(5_000, fund="NO-SUCH-FUND"), SCOPE),
    ]
    outcomes = together(committer, funds, operations)

    assert isinstance(outcomes[0], Outcome) and isinstance(outcomes[2], Outcome)
    assert isinstance(outcomes[1], BalanceError)
    assert "nothing was recorded" in str(outcomes[1])
    assert isinstance(outcomes[3], LedgerError)
    assert "NO-SUCH-FUND" in str(outcomes[3])
    assert available(funds) == 80_000
    with funds.db.session() as session:  # the two gifts, and nothing of the refused two
        kinds = [e.kind for e in log.entries(session, log.tree_size(session) - 3, 3)]
    assert kinds == ["contribution"] * 3


def test_a_batch_spends_what_its_own_gifts_brought(committer: GroupCommitter, funds: Funds) -> None:
    # The gifts' postings wait to be written with the batch; the allocation after them
    # needs the fund's balance, so it must see them.
    before = checkpoints(funds)
    operations = [
        Operation("contribution", gift(30_000), SCOPE),
        Operation("contribution", gift(20_000), SCOPE),
        Operation("allocation", allocation(45_000), SCOPE),
        Operation("allocation", allocation(6_000), SCOPE),  # 1,000 more than is left
    ]
    outcomes = together(committer, funds, operations)

    assert [type(o) for o in outcomes] == [Outcome, Outcome, Outcome, BalanceError]
    assert "holds 5.000 đồng" in str(outcomes[3])
    assert available(funds) == 5_000
    assert checkpoints(funds) == before + 1


def test_an_invalid_body_is_refused_before_it_waits(
    committer: GroupCommitter, funds: Funds
) -> None:
    with lock_held(funds), pytest.raises(ValidationError) as refused:
        # The lock is held: had it queued, this would wait; it is refused at once.
        committer.record(Operation("contribution", {"fund": "LS-COVID", "amount": -5}, SCOPE))
    assert "amount" in refused.value.fields
    assert committer.waiting == 0


def test_one_key_twice_in_a_batch_records_once(committer: GroupCommitter, funds: Funds) -> None:
    body = gift(7_000)
    fingerprint = idempotency.request_hash("POST", "/api/v1/contributions", body)
    same = Operation("contribution", body, SCOPE, key="retry-1", fingerprint=fingerprint)
    outcomes = together(committer, funds, [same, same, Operation("contribution", gift(1), SCOPE)])

    first, second = outcomes[0], outcomes[1]
    assert isinstance(first, Outcome) and isinstance(second, Outcome)
    assert first.document == second.document
    assert sorted([first.replayed, second.replayed]) == [False, True]
    assert available(funds) == 7_001


def test_a_failed_batch_fails_every_operation_and_writes_nothing(
    committer: GroupCommitter, funds: Funds, monkeypatch: pytest.MonkeyPatch
) -> None:
    with funds.db.session() as session:
        size = log.tree_size(session)
    real_append = log.append
    failures = iter([OperationalError("INSERT", {}, Exception("connection lost"))])

    def failing_append(*args: Any, **kwargs: Any) -> Any:
        for failure in failures:
            raise failure
        return real_append(*args, **kwargs)

    monkeypatch.setattr(log, "append", failing_append)
    gifts = [Operation("contribution", gift(n + 1), SCOPE) for n in range(3)]
    outcomes = together(committer, funds, gifts)

    assert all(isinstance(o, OperationalError) for o in outcomes)
    with funds.db.session() as session:
        assert log.tree_size(session) == size
        assert session.scalar(select(func.count()).select_from(ContributionRow)) == 0
    # The committer is not stuck: the next write goes through.
    assert committer.record(Operation("contribution", gift(9), SCOPE)).document["index"] == size


def test_a_writer_alone_waits_for_nobody(committer: GroupCommitter, funds: Funds) -> None:
    for n in range(3):
        outcome = committer.record(Operation("contribution", gift(n + 1), SCOPE))
        assert outcome.status == 201
    assert committer.batches == 3
    with pytest.raises(ValidationError, match="not in the log"):
        committer.record(Operation("reversal", {"target": 10**9, "reason": "nhầm"}, SCOPE))
    assert committer.batches == 3  # a refused write commits nothing
