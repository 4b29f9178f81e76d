"""Whatever the recorder accepts, the full audit accepts: no false alarm on any history.

Random sequences of gifts (some earmarked for a district, some carrying bank
references drawn from a small pool, so that reuses are tried), allocations (some
drawing on earmarked money), disbursements, transfers and reversals are thrown at
the recorder. Many are refused; the log of what was accepted must audit without a
single finding, and its replayed balances must be the published ones.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.documents import PROOF, add_document

from audit.full import audit_database
from ledger.errors import LedgerError
from ledger.funds import state

FUNDS = ("LS-COVID", "CL-COVID", "VL-COVID")
CAMPAIGNS = {"LS-COVID": "LS-2026", "CL-COVID": "CL-2026", "VL-COVID": "VL-2026"}
EARMARK = {"unit": "LS-CL", "purpose": "Hỗ trợ huyện Cao Lộc"}
CAO_LOC = {"display": "Trạm Y tế xã Hợp Thành", "type": "organization", "unit": "LS-CL"}

amounts = st.integers(min_value=1, max_value=3_000_000)
fund_codes = st.sampled_from(FUNDS)
references = st.none() | st.sampled_from(["FT1", "FT2", "FT3"])
operations = st.one_of(
    st.tuples(st.just("give"), fund_codes, amounts, st.booleans(), references),
    st.tuples(st.just("allocate"), fund_codes, amounts, st.booleans()),
    st.tuples(st.just("disburse"), st.integers(0, 50), amounts),
    st.tuples(st.just("transfer"), fund_codes, fund_codes, amounts, st.booleans()),
    st.tuples(st.just("reverse"), st.integers(0, 50)),
)


def attempt(funds: Any, op: tuple[Any, ...], done: list[tuple[str, int]]) -> None:
    kind = op[0]
    if kind == "give":
        _, fund, amount, earmarked, reference = op
        extra: dict[str, Any] = {"campaign": CAMPAIGNS[fund]}
        if earmarked:
            extra["earmark"] = EARMARK
        if reference is not None:
            extra.update(channel="bank", reference=reference)
        done.append(("contribution", funds.give(amount, fund=fund, **extra).index))
    elif kind == "allocate":
        _, fund, amount, earmarked = op
        extra = {"earmark": EARMARK, "beneficiary": CAO_LOC} if earmarked else {}
        done.append(("allocation", funds.allocate(amount, fund=fund, **extra).index))
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
        _, source, target, amount, earmarked = op
        body = {"from_fund": source, "to_fund": target, "amount": amount}
        if earmarked:
            body["earmark"] = EARMARK
        done.append(("transfer", funds.record("transfer", body).index))
    elif done:
        target = done[op[1] % len(done)][1]
        reversal = funds.record("reversal", {"target": target, "reason": "sai"})
        done.append(("reversal", reversal.index))


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=st.lists(operations, min_size=8, max_size=30))
def test_any_history_the_recorder_accepts_audits_clean(funds: Any, script: list[Any]) -> None:
    # The fixture's ledger lives across examples: each audit covers the whole history.
    add_document(funds)
    done: list[tuple[str, int]] = []
    for op in script:
        with contextlib.suppress(LedgerError):  # a refused operation writes nothing
            attempt(funds, op, done)
    with funds.db.session() as session:
        report = audit_database(session, funds.settings, rules=False)
        published = state.fund_balances(session)
    assert report.findings == (), report.lines()
    assert report.funds == {code: balance.as_dict() for code, balance in published.items()}
