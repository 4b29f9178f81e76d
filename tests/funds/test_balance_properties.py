"""Property tests of the balance logic: whatever writers try, the books stay sound.

Random sequences of gifts, allocations, disbursements, transfers and reversals are
thrown at a real database. Some are refused; whatever is accepted must leave every
guarded balance non-negative, must conserve money (what a fund holds equals what it
received plus what it was sent minus what it sent on), and must be recomputable from
the public log alone.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.documents import PROOF, add_document

from ledger import log
from ledger.errors import LedgerError
from ledger.funds import postings as p
from ledger.funds import state
from ledger.funds.replay import replay

FUNDS = ("LS-COVID", "CL-COVID", "VL-COVID")

amounts = st.integers(min_value=1, max_value=3_000_000)
fund_codes = st.sampled_from(FUNDS)
operations = st.one_of(
    st.tuples(st.just("give"), fund_codes, amounts, st.booleans()),
    st.tuples(st.just("allocate"), fund_codes, amounts, st.booleans()),
    st.tuples(st.just("disburse"), st.integers(0, 50), amounts),
    st.tuples(st.just("transfer"), fund_codes, fund_codes, amounts),
    st.tuples(st.just("reverse"), st.integers(0, 50)),
)


def attempt(funds: Any, op: tuple[Any, ...], done: list[tuple[str, int]]) -> None:
    kind = op[0]
    if kind == "give":
        _, fund, amount, in_kind = op
        goods = {"description": "Gạo", "quantity": 10, "unit": "kg", "valuation": "giá chợ"}
        extra = {"channel": "in_kind", "in_kind": goods} if in_kind else {}
        done.append(("contribution", funds.give(amount, fund=fund, **extra).index))
    elif kind == "allocate":
        _, fund, amount, in_kind = op
        form = "in_kind" if in_kind else "cash"
        done.append(("allocation", funds.allocate(amount, fund=fund, form=form).index))
    elif kind == "disburse":
        grants = [index for what, index in done if what == "allocation"]
        if grants:
            body = {
                "allocation": grants[op[1] % len(grants)],
                "amount": op[2],
                "documents": [PROOF],
            }
            done.append(("disbursement", funds.record("disbursement", body).index))
    elif kind == "transfer":
        _, source, target, amount = op
        if source != target:
            body = {"from_fund": source, "to_fund": target, "amount": amount}
            done.append(("transfer", funds.record("transfer", body).index))
    elif done:
        target = done[op[1] % len(done)][1]
        done.append(
            ("reversal", funds.record("reversal", {"target": target, "reason": "sai"}).index)
        )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=st.lists(operations, min_size=8, max_size=30))
def test_any_sequence_of_writes_keeps_the_books_sound(funds: Any, script: list[Any]) -> None:
    # The fixture's ledger lives across examples: the invariants hold for the whole history.
    add_document(funds)
    done: list[tuple[str, int]] = []
    for op in script:
        with funds.db.session() as session:
            before = log.tree_size(session)
        try:
            attempt(funds, op, done)
        except LedgerError:
            with funds.db.session() as session:
                assert log.tree_size(session) == before  # a refused write leaves nothing
    with funds.db.session() as session:
        books = replay(log.entries(session, 0, 100_000))
        balances = state.fund_balances(session)
    assert books.negative == []
    held = received = everything = 0
    for code, balance in balances.items():
        assert books.fund_balance(code) == balance
        for figure in (balance.available, balance.committed, balance.in_kind):
            assert figure >= 0
        assert balance.in_kind_committed >= 0
        held += balance.available + balance.committed + balance.disbursed
        received += balance.received
        everything += sum(books.accounts.get(code, {}).values())
    assert everything == 0  # double entry: every posting has its counterpart
    assert held == received  # transfers move money between funds, never create it


@given(
    amount=st.integers(1, 10**15),
    channel=st.sampled_from(("bank", "cash", "in_kind")),
    earmark=st.one_of(st.none(), st.fixed_dictionaries({"purpose": st.text(min_size=1)})),
)
def test_every_entry_posts_to_zero(amount: int, channel: str, earmark: Any) -> None:
    body = {"fund": "F", "campaign": "C", "amount": amount, "channel": channel}
    if earmark:
        body["earmark"] = earmark
    gift = p.postings_for("contribution", body, lambda _i: [])
    grant = p.postings_for(
        "allocation", {"fund": "F", "amount": amount, "form": "cash"}, lambda _i: []
    )
    paid = p.postings_for("disbursement", {"allocation": 1, "amount": amount}, lambda _i: grant)
    undo = p.postings_for("reversal", {"target": 1}, lambda _i: gift)
    for legs in (gift, grant, paid, undo):
        assert sum(leg.amount for leg in legs) == 0
    assert [leg.amount for leg in undo] == [-leg.amount for leg in gift]
