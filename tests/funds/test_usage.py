"""Usage tracing: which allocations used each gift, by the rules of docs/usage.md.

The worked example of docs/usage.md is replayed here entry by entry, so the page and
the code cannot drift apart. Property tests throw random valid logs at the engine
(many, on synthetic entries) and at the real recorder (fewer): every gift's parts
must add up to its amount after every entry, every standing allocation must be fully
attributed to gifts of its own pool, and the unused pieces must add up to the
balances the accounting publishes.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from support.documents import PROOF, add_document

from ledger import log
from ledger.errors import InvalidRequestError, LedgerError, NotFoundError
from ledger.funds import postings as p
from ledger.funds import usage_replay
from ledger.funds.models import PoolRow
from ledger.funds.usage import Attribution, MoneyEntry, attribute
from ledger.funds.usage_replay import usage_of

TIME = "2026-03-01T18:30:00.000000Z"  # 01:30 on 2 March in Vietnam
FRONT_LINE = {"purpose": "Hỗ trợ lực lượng tuyến đầu"}


def gift(index: int, fund: str, amount: int, **extra: Any) -> MoneyEntry:
    body = {"fund": fund, "campaign": f"{fund}-2026", "amount": amount, "currency": "VND"}
    body |= {"channel": "bank", "receipt_id": f"R{index:015d}", **extra}
    return MoneyEntry(index, "contribution", TIME, body)


def grant(index: int, fund: str, amount: int, **extra: Any) -> MoneyEntry:
    body = {
        "fund": fund,
        "amount": amount,
        "currency": "VND",
        "form": "cash",
        "purpose": "Mua vật tư y tế",
        "beneficiary": {"display": "Trung tâm Y tế huyện Cao Lộc", "type": "organization"},
        **extra,
    }
    return MoneyEntry(index, "allocation", TIME, body)


def pay(index: int, allocation: int, amount: int) -> MoneyEntry:
    return MoneyEntry(index, "disbursement", TIME, {"allocation": allocation, "amount": amount})


def send(index: int, source: str, target: str, amount: int, **extra: Any) -> MoneyEntry:
    body = {"from_fund": source, "to_fund": target, "amount": amount, **extra}
    return MoneyEntry(index, "transfer", TIME, body)


def undo(index: int, target: int) -> MoneyEntry:
    return MoneyEntry(index, "reversal", TIME, {"target": target, "reason": "sai"})


def parts(books: Attribution, index: int) -> list[tuple[Any, ...]]:
    """(allocation, amount, disbursed, via, reversal index) of each part of a gift's usage."""
    found = books.usage(index, 100)
    return [
        (u.allocation_index, u.amount, u.disbursed, list(u.via), u.reversal_index)
        for u in found.used
    ]


# docs/usage.md, "A worked example": entries 10 to 22.
WORKED = [
    gift(10, "A", 3_000_000),
    gift(11, "A", 2_000_000, earmark=FRONT_LINE),
    gift(12, "A", 5_000_000),
    grant(13, "A", 4_000_000),
    pay(14, 13, 3_500_000),
    grant(15, "A", 1_500_000, earmark=FRONT_LINE),
    send(16, "A", "B", 2_500_000),
    gift(17, "B", 3_000_000),
    grant(18, "B", 2_000_000),
    gift(19, "A", 4_000_000),
    undo(20, 15),
    undo(21, 10),
    undo(22, 16),
]


def test_the_worked_example_of_the_documentation() -> None:
    before = attribute(WORKED[:10])  # up to entry 19, before any reversal
    assert parts(before, 10) == [(13, 3_000_000, 3_000_000, [], None)]
    assert parts(before, 11) == [(15, 1_500_000, 0, [], None)]
    assert parts(before, 12) == [(13, 1_000_000, 500_000, [], None), (18, 2_000_000, 0, [16], None)]
    assert before.usage(12, 20).unused_in == (("A", (), 1_500_000), ("B", (16,), 500_000))

    books = attribute(WORKED)
    assert books.shortfalls == []
    first = books.usage(10, 23)
    assert (first.reversed, first.reversal_index, first.unused, first.used_total) == (
        True,
        21,
        0,
        0,
    )
    assert parts(books, 10) == [(13, 3_000_000, 3_000_000, [], 21)]
    assert parts(books, 11) == [(15, 1_500_000, 0, [], 20)]
    assert books.usage(11, 23).unused_in == (("A", (), 2_000_000),)
    assert parts(books, 12) == [(13, 2_500_000, 2_000_000, [], None), (18, 2_000_000, 0, [16], 22)]
    assert books.usage(12, 23).unused_in == (("A", (), 2_500_000),)
    assert parts(books, 17) == [(18, 2_000_000, 0, [], None)]
    assert books.usage(17, 23).unused == 1_000_000
    assert parts(books, 19) == [(13, 1_500_000, 1_500_000, [], None)]
    assert books.usage(19, 23).unused == 2_500_000


def test_the_document_shows_the_allocation_as_the_log_has_it() -> None:
    decision = {"number": "12/QĐ-MTTQ", "date": "2026-03-01", "approver": "Ban Thường trực"}
    books = attribute(
        [
            gift(1, "A", 700_000),
            grant(2, "A", 500_000, program="NQ68", decision_ref="12/QĐ-MTTQ", decision=decision),
            pay(3, 2, 200_000),
        ]
    )
    document = books.usage(1, 4).document()
    assert document["used"] == [
        {
            "allocation_index": 2,
            "fund": "A",
            "form": "cash",
            "amount": 500_000,
            "disbursed": 200_000,
            "purpose": "Mua vật tư y tế",
            "beneficiary": {
                "display": "Trung tâm Y tế huyện Cao Lộc",
                "type": "organization",
                "unit": None,
            },
            "program": "NQ68",
            "decision_ref": "12/QĐ-MTTQ",
            "decision": decision,
            "date": "2026-03-02",
            "via": [],
            "reversed": False,
            "reversal_index": None,
        }
    ]
    assert (document["unused"], document["used_total"], document["disbursed_total"]) == (
        200_000,
        500_000,
        200_000,
    )
    assert document["tree_size"] == 4
    assert document["receipt_id"] == "R000000000000001"


def test_allocations_use_gifts_first_in_first_out() -> None:
    books = attribute([gift(1, "A", 100), gift(2, "A", 100), grant(3, "A", 150), grant(4, "A", 30)])
    assert parts(books, 1) == [(3, 100, 0, [], None)]
    assert parts(books, 2) == [(3, 50, 0, [], None), (4, 30, 0, [], None)]
    assert books.usage(2, 5).unused == 20


def test_earmarked_money_is_used_only_by_allocations_with_that_earmark() -> None:
    books = attribute(
        [
            gift(1, "A", 100, earmark=FRONT_LINE),
            gift(2, "A", 100),
            grant(3, "A", 60),  # free money: skips the earmarked gift before it
            grant(4, "A", 80, earmark=FRONT_LINE),
        ]
    )
    assert parts(books, 1) == [(4, 80, 0, [], None)]
    assert parts(books, 2) == [(3, 60, 0, [], None)]


def test_gifts_in_kind_are_used_only_by_allocations_of_goods() -> None:
    books = attribute(
        [
            gift(1, "A", 100, channel="in_kind"),
            gift(2, "A", 100),
            grant(3, "A", 70, form="in_kind"),
            grant(4, "A", 50),
        ]
    )
    assert parts(books, 1) == [(3, 70, 0, [], None)]
    assert parts(books, 2) == [(4, 50, 0, [], None)]


def test_disbursements_pay_an_allocations_parts_in_order_and_reversals_unpay() -> None:
    entries = [gift(1, "A", 100), gift(2, "A", 100), grant(3, "A", 150), pay(4, 3, 120)]
    books = attribute(entries)
    assert parts(books, 1) == [(3, 100, 100, [], None)]
    assert parts(books, 2) == [(3, 50, 20, [], None)]
    books.apply(undo(5, 4))
    assert parts(books, 1) == [(3, 100, 0, [], None)]


def test_a_transfer_carries_the_gifts_into_the_receiving_fund() -> None:
    books = attribute(
        [
            gift(1, "A", 100, earmark=FRONT_LINE),
            gift(2, "B", 100),
            send(3, "A", "B", 80, earmark=FRONT_LINE),
            grant(4, "B", 50),  # B's free money: its own gift
            grant(5, "B", 50, earmark=FRONT_LINE),  # the earmarked money that came from A
        ]
    )
    assert parts(books, 1) == [(5, 50, 0, [3], None)]
    assert books.usage(1, 6).unused_in == (("A", (), 20), ("B", (3,), 30))
    assert parts(books, 2) == [(4, 50, 0, [], None)]


def test_money_arriving_by_transfer_waits_behind_the_money_already_there() -> None:
    books = attribute(
        [gift(1, "B", 100), gift(2, "A", 100), send(3, "A", "B", 100), grant(4, "B", 150)]
    )
    assert parts(books, 1) == [(4, 100, 0, [], None)]
    assert parts(books, 2) == [(4, 50, 0, [3], None)]


def test_a_reversed_allocation_gives_its_parts_back_in_their_place() -> None:
    books = attribute(
        [gift(1, "A", 100), gift(2, "A", 100), grant(3, "A", 120), undo(4, 3), grant(5, "A", 30)]
    )
    assert parts(books, 1) == [(3, 100, 0, [], 4), (5, 30, 0, [], None)]
    assert parts(books, 2) == [(3, 20, 0, [], 4)]
    assert books.usage(2, 6).unused == 100


def test_a_reversed_gift_is_replaced_in_its_allocations_by_the_money_next_in_line() -> None:
    books = attribute(
        [
            gift(1, "A", 100),
            grant(2, "A", 80),
            pay(3, 2, 80),
            gift(4, "A", 50),
            gift(5, "A", 50),
            undo(6, 1),
        ]
    )
    first = books.usage(1, 7)
    assert (first.reversed, first.unused, first.used_total) == (True, 0, 0)
    assert parts(books, 1) == [(2, 80, 80, [], 6)]
    # the unused 20 of gift 1 went with it; 80 more came from the front of the queue
    assert parts(books, 4) == [(2, 50, 50, [], None)]
    assert parts(books, 5) == [(2, 30, 30, [], None)]
    assert books.usage(5, 7).unused == 20


def test_a_reversed_gift_is_replaced_in_the_funds_its_money_went_to() -> None:
    books = attribute(
        [
            gift(1, "A", 100),
            send(2, "A", "B", 60),
            grant(3, "B", 40),
            gift(4, "A", 200),
            gift(5, "B", 10),
            undo(6, 1),
        ]
    )
    assert parts(books, 4) == [(3, 40, 0, [2], None)]
    assert books.usage(4, 7).unused_in == (("A", (), 140), ("B", (2,), 20))
    assert parts(books, 1) == [(3, 40, 0, [2], 6)]


def test_a_reversed_transfer_sends_the_gifts_back_and_replaces_them_where_used() -> None:
    books = attribute(
        [
            gift(1, "A", 100),
            gift(2, "B", 100),
            send(3, "A", "B", 100),
            grant(4, "B", 150),  # gift 2's 100, then 50 of gift 1 through 3
            gift(5, "B", 100),
            undo(6, 3),
        ]
    )
    assert parts(books, 1) == [(4, 50, 0, [3], 6)]
    assert books.usage(1, 7).unused_in == (("A", (), 100),)
    assert parts(books, 5) == [(4, 50, 0, [], None)]
    assert books.usage(5, 7).unused == 50


def test_money_a_log_never_held_is_reported_as_a_shortfall() -> None:
    books = attribute([gift(1, "A", 100), grant(2, "A", 150), undo(3, 1)])
    assert [(s.entry, s.amount) for s in books.shortfalls] == [(2, 50), (3, 100)]
    assert books.usage(1, 4).reversed


def test_an_unknown_gift_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        attribute([gift(1, "A", 100), grant(2, "A", 50)]).usage(2, 3)


# --- properties ------------------------------------------------------------------------

FUNDS = ("A", "B", "C")
EARMARKS = (None, FRONT_LINE)

KINDS = ("give", "give", "give", "allocate", "allocate", "disburse", "transfer", "transfer")
KINDS += ("reverse", "reverse")

# Each step: what to do, two funds, earmark, in kind, an amount (for a gift) or a
# share in percent of what the pool holds (for spending), and which earlier entry.
steps = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.sampled_from(FUNDS),
        st.sampled_from(FUNDS),
        st.sampled_from(EARMARKS),
        st.booleans(),
        st.integers(1, 1000),
        st.integers(0, 99),
    ),
    min_size=5,
    max_size=60,
)


class ValidLog:
    """Turns random steps into a log the writer would have accepted, as plain entries."""

    def __init__(self) -> None:
        self.entries: list[MoneyEntry] = []
        self.legs: dict[int, list[p.Posting]] = {}
        self.pools: dict[tuple[str, str, str], int] = defaultdict(int)
        self.kinds: dict[int, str] = {}
        self.reversed: set[int] = set()
        self.paid: dict[int, list[int]] = defaultdict(list)  # allocation -> disbursements

    def offer(self, kind: str, body: dict[str, Any]) -> bool:
        index = len(self.entries)
        legs = p.postings_for(kind, body, lambda i: self.legs[i])
        totals = dict(self.pools)
        for leg in legs:
            totals[leg.fund, leg.account, leg.earmark] = (
                totals.get((leg.fund, leg.account, leg.earmark), 0) + leg.amount
            )
        if any(leg.account in p.GUARDED and totals[leg[:3]] < 0 for leg in legs):
            return False
        self.pools.update(totals)
        self.legs[index], self.kinds[index] = legs, kind
        self.entries.append(MoneyEntry(index, kind, TIME, body))
        return True

    def step(self, op: tuple[Any, ...]) -> None:
        kind, fund, other, earmark, in_kind, amount, pick = op
        if kind == "give":
            body = {"fund": fund, "amount": amount, "channel": "in_kind" if in_kind else "bank"}
            self.offer("contribution", body | ({"earmark": earmark} if earmark else {}))
        elif kind in ("allocate", "transfer"):
            # Spend 1 to 100 percent of a pool that holds something (picked by ``pick``).
            accounts = (p.AVAILABLE,) if kind == "transfer" else (p.AVAILABLE, p.IN_KIND)
            held = sorted(key for key, total in self.pools.items() if total and key[1] in accounts)
            if not held:
                return
            source, account, key = held[pick % len(held)]
            share = max(1, self.pools[source, account, key] * (amount % 100 + 1) // 100)
            marked = {"earmark": orjson.loads(key)} if key else {}
            if kind == "allocate":
                form = "in_kind" if account == p.IN_KIND else "cash"
                self.offer("allocation", {"fund": source, "amount": share, "form": form} | marked)
            else:
                target = other if other != source else FUNDS[FUNDS.index(source) - 1]
                body = {"from_fund": source, "to_fund": target, "amount": share}
                self.offer("transfer", body | marked)
        elif kind == "disburse":
            grants = [i for i, k in self.kinds.items() if k == "allocation"]
            grants = [i for i in grants if i not in self.reversed]
            if grants:
                target = grants[pick % len(grants)]
                left = self.entries[target].body["amount"] - self.standing(target)
                body = {"allocation": target, "amount": min(amount, left)}
                if left and self.offer("disbursement", body):
                    self.paid[target].append(len(self.entries) - 1)
        elif kind == "reverse":
            targets = [
                i for i, k in self.kinds.items() if k != "reversal" and i not in self.reversed
            ]
            if targets:
                target = targets[pick % len(targets)]
                blocked = self.kinds[target] == "allocation" and self.standing(target) > 0
                if not blocked and self.offer("reversal", {"target": target}):
                    self.reversed.add(target)

    def standing(self, allocation: int) -> int:
        return sum(
            self.entries[d].body["amount"] for d in self.paid[allocation] if d not in self.reversed
        )


def fund_of_path(books: Attribution, start: str, via: Iterable[int]) -> str:
    """The fund a piece is in, followed from its gift's fund along its via (checked)."""
    fund = start
    for hop in via:
        if hop in books.transfers:
            moved = books.transfers[hop]
            assert moved.source[0] == fund
            fund = moved.target[0]
        else:  # a reversed transfer sending money back
            moved = next(t for t in books.transfers.values() if t.reversal == hop)
            assert moved.target[0] == fund
            fund = moved.source[0]
    return fund


def check(books: Attribution, pools: dict[tuple[str, str, str], int], size: int) -> None:
    """Every gift adds up, every allocation is attributed, the queues hold the balances."""
    assert books.shortfalls == []
    for index, found in books.gifts.items():
        gift_usage = books.usage(index, size)
        amount = found.amount
        if gift_usage.reversed:
            assert (gift_usage.used_total, gift_usage.unused) == (0, 0)
        else:
            assert gift_usage.used_total + gift_usage.unused == amount
        for fund, via, part in gift_usage.unused_in:
            assert part > 0
            assert fund_of_path(books, found.pool[0], via) == fund
    for allocation in books.allocations.values():
        attributed = sum(piece.amount for piece in allocation.parts)
        if allocation.reversal is not None:
            assert attributed == 0
            continue
        assert attributed == allocation.body["amount"]
        for piece in allocation.parts:
            owner = books.gifts[piece.gift]
            assert owner.reversal is None
            assert owner.pool[1:] == allocation.pool[1:]  # same form and earmark
            assert fund_of_path(books, owner.pool[0], piece.via) == allocation.pool[0]
    held: dict[tuple[str, str, str], int] = defaultdict(int)
    for (fund, form, earmark), queue in books.queues.items():
        assert queue.total == sum(piece.amount for piece in queue.live())
        account = p.IN_KIND if form == "in_kind" else p.AVAILABLE
        held[fund, account, earmark] += queue.total
        keys = [piece.key() for piece in queue.live()]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for (fund, account, earmark), balance in pools.items():
        if account in (p.AVAILABLE, p.IN_KIND):
            assert held[fund, account, earmark] == balance, (fund, account, earmark)


@settings(max_examples=300, deadline=None)
@given(script=steps)
def test_every_gifts_parts_add_up_after_every_entry(script: list[tuple[Any, ...]]) -> None:
    valid = ValidLog()
    books = Attribution()
    for op in script:
        before = len(valid.entries)
        valid.step(op)
        for entry in valid.entries[before:]:
            books.apply(entry)
            check(books, valid.pools, entry.index + 1)
    # The attribution is a function of the log: replaying from scratch agrees.
    again = attribute(valid.entries)
    for index in books.gifts:
        assert again.usage(index, 0) == books.usage(index, 0)


# --- through the recorder and the database ---------------------------------------------

RECORDED = {"A": "LS-COVID", "B": "CL-COVID", "C": "VL-COVID"}
GOODS = {"description": "Gạo", "quantity": 10, "unit": "kg", "valuation": "giá chợ"}


def attempt(funds: Any, op: tuple[Any, ...], done: list[int]) -> None:
    """One step of ``steps`` as a writer would send it; the recorder may refuse it."""
    kind, fund, other, earmark, in_kind, amount, pick = op
    fund, other = RECORDED[fund], RECORDED[other]
    marked = {"earmark": earmark} if earmark else {}
    if kind == "give":
        goods = {"channel": "in_kind", "in_kind": GOODS} if in_kind else {}
        done.append(funds.give(amount * 1000, fund=fund, **goods, **marked).index)
    elif kind in ("allocate", "transfer"):
        accounts = (p.AVAILABLE,) if kind == "transfer" else (p.AVAILABLE, p.IN_KIND)
        with funds.db.session() as session:
            held = session.execute(
                select(PoolRow.fund, PoolRow.account, PoolRow.earmark, PoolRow.balance)
                .where(PoolRow.balance > 0, PoolRow.account.in_(accounts))
                .order_by(PoolRow.fund, PoolRow.account, PoolRow.earmark)
            ).all()
        if not held:
            return
        source, account, key, balance = held[pick % len(held)]
        share = max(1, balance * (amount % 100 + 1) // 100)
        marked = {"earmark": orjson.loads(key)} if key else {}
        if kind == "allocate":
            form = "in_kind" if account == p.IN_KIND else "cash"
            done.append(funds.allocate(share, fund=source, form=form, **marked).index)
        else:
            target = other if other != source else fund if fund != source else RECORDED["A"]
            body = {"from_fund": source, "to_fund": target, "amount": share}
            if target != source:
                done.append(funds.record("transfer", body | marked).index)
    elif kind == "disburse":
        with funds.db.session() as session:
            grants = [i for i in done if log.entry(session, i).kind == "allocation"]
        if grants:
            body = {"allocation": grants[pick % len(grants)], "amount": amount * 1000}
            done.append(funds.record("disbursement", body | {"documents": [PROOF]}).index)
    elif kind == "reverse" and done:
        target = done[pick % len(done)]
        done.append(funds.record("reversal", {"target": target, "reason": "sai"}).index)


def pools_from_log(entries: list[Any]) -> dict[tuple[str, str, str], int]:
    legs: dict[int, list[p.Posting]] = {}
    pools: dict[tuple[str, str, str], int] = defaultdict(int)
    for entry in entries:
        legs[entry.index] = p.postings_for(entry.kind, entry.body, lambda i: legs[i])
        for leg in legs[entry.index]:
            pools[leg.fund, leg.account, leg.earmark] += leg.amount
    return pools


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=steps.map(lambda script: script[:25]))
def test_recorded_gifts_add_up_and_match_the_balances(funds: Any, script: list[Any]) -> None:
    # The fixture's ledger lives across examples: the invariants hold for the whole history.
    add_document(funds)
    done: list[int] = []
    for op in script:
        with contextlib.suppress(LedgerError):  # refused writes leave nothing behind
            attempt(funds, op, done)
    with funds.db.session() as session:
        size = log.tree_size(session)
        entries = log.entries(session, 0, size)
        gifts = [e for e in entries if e.kind == "contribution"]
        answers = {e.index: usage_of(session, e.body["receipt_id"]) for e in gifts}
        books = attribute(usage_replay.read_entries(session, 0, size))
        pools = pools_from_log(entries)
    check(books, pools, size)
    replayed = attribute(
        MoneyEntry(e.index, e.kind, e.as_object()["time"], e.body) for e in entries
    )
    for index, answer in answers.items():
        assert answer.tree_size == size
        assert answer == replayed.usage(index, size)


def test_usage_of_follows_the_log_as_it_grows(funds: Any) -> None:
    first = funds.give(1_000_000).extra["receipt_id"]
    with funds.db.session() as session:
        assert usage_of(session, first).unused == 1_000_000
    grant_index = funds.allocate(400_000).index
    with funds.db.session() as session:
        found = usage_of(session, first.lower())  # as a donor may type it
    assert [(u.allocation_index, u.amount) for u in found.used] == [(grant_index, 400_000)]
    assert found.unused == 600_000


def test_a_kept_replay_that_no_longer_matches_the_log_is_not_trusted(funds: Any) -> None:
    receipt = funds.give(1_000_000).extra["receipt_id"]
    with funds.db.session() as session:
        usage_of(session, receipt)
    for kept in usage_replay._replayed.values():
        kept.last_hash = bytes(32)  # as if the database had been made afresh at this address
        kept.books = Attribution()
    funds.allocate(300_000)
    with funds.db.session() as session:
        assert usage_of(session, receipt).unused == 700_000


def test_an_older_snapshot_is_answered_at_its_own_size(funds: Any) -> None:
    first = funds.give(1_000_000)
    later = funds.give(500_000)
    with funds.db.session() as session:
        usage_of(session, later.extra["receipt_id"])  # the kept replay is at the newest size
        older = usage_replay._books(session, later.index)
        assert later.index not in older.gifts and first.index in older.gifts


def test_usage_of_an_unknown_or_malformed_receipt(funds: Any) -> None:
    with funds.db.session() as session:
        with pytest.raises(NotFoundError, match="no gift with receipt ID"):
            usage_of(session, "7KQ2-9XHM-4T0V-PJ3R")
        with pytest.raises(InvalidRequestError):
            usage_of(session, "not a receipt")
