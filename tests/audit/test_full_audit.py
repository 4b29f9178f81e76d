"""The full audit over the database: silent on a ledger the recorder kept, and each fund
rule caught when an entry that breaks it is appended around the recorder.

The crafted entries are written with ``ledger.log.append`` directly, as someone holding
the signing key and the database could: the chain and the checkpoints are sound, so
only the fund checks can tell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from support.documents import add_document

from audit.findings import ERROR, Finding
from audit.full import FullAudit, audit_database
from audit.report import AuditReport
from audit.rules import RuleConfig, RuleRunner
from audit.sources import DatabaseSource
from ledger import log
from ledger.entries import Draft, Entry
from ledger.funds import state
from ledger.keyring import load_signer, rotate_key

INTRUDER = "intruder"


def audit(funds: Any, **options: Any) -> AuditReport:
    with funds.db.session() as session:
        return audit_database(session, funds.settings, **{"rules": False, **options})


def craft(funds: Any, kind: str, body: dict[str, Any]) -> int:
    """Append one entry around the recorder (no checks, no projections); its index."""
    with funds.db.writing() as session:
        signer = load_signer(funds.settings.signing_key_file, session)
        return log.append(session, [Draft(kind, body, INTRUDER)], signer).entries[0].index


def errors(report: AuditReport) -> list[tuple[str, int | None]]:
    return [(f.check, f.index) for f in report.findings if f.severity == ERROR]


def message_of(report: AuditReport, check: str, index: int) -> str:
    (finding,) = [f for f in report.findings if (f.check, f.index) == (check, index)]
    return finding.message


def gift_body(funds: Any, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "fund": funds.fund,
        "campaign": funds.campaign,
        "amount": amount,
        "currency": "VND",
        "channel": "bank",
        "donor": {"display": "Công ty TNHH Minh An", "type": "organization", "anonymous": False},
        "mobilizer": None,
        "receipt_id": f"R-{amount}",
        "received_on": funds.today,
        **extra,
    }


def allocation_body(funds: Any, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "fund": funds.fund,
        "amount": amount,
        "currency": "VND",
        "form": "cash",
        "beneficiary": {"display": "Trạm Y tế xã Tân Thanh", "type": "organization"},
        "purpose": "Mua máy thở",
        **extra,
    }


def disbursement_body(funds: Any, allocation: int, amount: int) -> dict[str, Any]:
    return {
        "allocation": allocation,
        "fund": funds.fund,
        "amount": amount,
        "currency": "VND",
        "documents": [add_document(funds)],
        "paid_on": funds.today,
    }


# -- a ledger kept by the recorder -------------------------------------------------------


def busy_ledger(funds: Any) -> None:
    """Every fund operation the recorder allows, including the corner cases the checks
    must accept: a reused reference after its gift was reversed, a reversed payment
    followed by the reversal of its allocation, earmarks, a key rotation."""
    proof = add_document(funds)
    first = funds.give(5_000_000, channel="bank", reference="FT26001")
    funds.give(1_000_000, earmark={"unit": funds.district, "purpose": "Cao Lộc"})
    funds.give(800_000, channel="cash")
    funds.record("reversal", {"target": first.index, "reason": "Ghi nhầm chiến dịch"})
    funds.give(5_000_000, channel="bank", reference="FT26001", campaign=funds.campaign)
    grant = funds.allocate(2_000_000)
    paid = funds.record(
        "disbursement", {"allocation": grant.index, "amount": 1_500_000, "documents": [proof]}
    )
    funds.record("reversal", {"target": paid.index, "reason": "Chuyển khoản bị trả lại"})
    funds.record("reversal", {"target": grant.index, "reason": "Quyết định bị hủy"})
    funds.allocate(
        600_000,
        earmark={"unit": funds.district, "purpose": "Cao Lộc"},
        beneficiary={"display": "Trạm Y tế xã Hợp Thành", "type": "organization", "unit": "LS-CL"},
    )
    rotate_key(funds.db, funds.settings.signing_key_file, "cli:admin")
    funds.record("transfer", {"from_fund": funds.fund, "to_fund": funds.district_fund, "amount": 1})
    funds.record(
        "pledge", {"fund": funds.fund, "amount": 3, "donor": {"display": "A", "type": "individual"}}
    )


def test_a_ledger_the_recorder_kept_audits_without_a_finding(funds: Any) -> None:
    busy_ledger(funds)
    report = audit(funds)
    assert report.findings == ()
    assert report.failure() is None
    with funds.db.session() as session:
        size = log.tree_size(session)
        assert (report.size, report.root) == (size, log.root(session, size))
        published = state.fund_balances(session)
    assert report.complete and len(report.keys) == 2
    assert report.funds == {code: balance.as_dict() for code, balance in published.items()}
    assert report.funds[funds.fund]["available"] == 5_000_000 + 1_000_000 + 800_000 - 600_000 - 1
    assert report.funds[funds.district_fund]["available"] == 1
    document = report.document()
    assert document["ok"] is True and document["first_error"] is None
    assert document["counts"] == {
        "error": 0,
        "blocking": 0,
        "warning": 0,
        "info": 0,
        "acknowledged": 0,
    }


# -- entries the recorder would have refused ---------------------------------------------


@dataclass(frozen=True)
class Case:
    check: str
    words: tuple[str, ...]
    make: Callable[[Any], int]  # records the case; returns the index the finding names


def overdraw(funds: Any) -> int:
    return craft(funds, "allocation", allocation_body(funds, 1))


def earmark_elsewhere(funds: Any) -> int:
    funds.give(1_000_000, earmark={"unit": funds.district})
    beneficiary = {"display": "UBND xã Tân Mỹ", "type": "organization", "unit": "LS-VL"}
    earmark = {"unit": funds.district}
    return craft(
        funds,
        "allocation",
        allocation_body(funds, 500_000, earmark=earmark, beneficiary=beneficiary),
    )


def earmark_without_unit(funds: Any) -> int:
    funds.give(1_000_000, earmark={"unit": funds.district})
    return craft(funds, "allocation", allocation_body(funds, 500_000, earmark={"unit": "LS-CL"}))


def spend_earmarked_money(funds: Any) -> int:
    funds.give(1_000_000, earmark={"unit": funds.district})
    return craft(funds, "allocation", allocation_body(funds, 400_000))


def reverse_nothing(funds: Any) -> int:
    return craft(funds, "reversal", {"target": 10_000, "reason": "?"})


def reverse_a_unit(funds: Any) -> int:
    return craft(funds, "reversal", {"target": 1, "reason": "Đơn vị sai"})


def reverse_twice(funds: Any) -> int:
    gift = funds.give(700_000)
    funds.record("reversal", {"target": gift.index, "reason": "Ghi trùng"})
    return craft(funds, "reversal", {"target": gift.index, "reason": "Ghi trùng lần nữa"})


def reverse_a_paid_allocation(funds: Any) -> int:
    funds.give(1_000_000)
    grant = funds.allocate(600_000)
    funds.record(
        "disbursement",
        {"allocation": grant.index, "amount": 200_000, "documents": [add_document(funds)]},
    )
    return craft(funds, "reversal", {"target": grant.index, "reason": "Hủy quyết định"})


def transfer_to_itself(funds: Any) -> int:
    funds.give(1_000_000)
    body = {"from_fund": funds.fund, "to_fund": funds.fund, "amount": 1, "currency": "VND"}
    return craft(funds, "transfer", body)


def transfer_to_no_fund(funds: Any) -> int:
    funds.give(1_000_000)
    body = {"from_fund": funds.fund, "to_fund": "BK-COVID", "amount": 5, "currency": "VND"}
    return craft(funds, "transfer", body)


def pay_more_than_allocated(funds: Any) -> int:
    funds.give(1_000_000)
    grant = funds.allocate(500_000)
    funds.record(
        "disbursement",
        {"allocation": grant.index, "amount": 300_000, "documents": [add_document(funds)]},
    )
    return craft(funds, "disbursement", disbursement_body(funds, grant.index, 300_000))


def pay_under_a_gift(funds: Any) -> int:
    gift = funds.give(1_000_000)
    return craft(funds, "disbursement", disbursement_body(funds, gift.index, 100))


def pay_under_a_reversed_allocation(funds: Any) -> int:
    funds.give(1_000_000)
    grant = funds.allocate(500_000)
    funds.record("reversal", {"target": grant.index, "reason": "Hủy"})
    return craft(funds, "disbursement", disbursement_body(funds, grant.index, 100))


def reuse_a_bank_reference(funds: Any) -> int:
    funds.give(2_000_000, channel="bank", reference="FT26111")
    # The district campaign collects into the same account as the province's.
    body = gift_body(funds, 2_000_000, campaign=funds.district_campaign, reference="FT26111")
    return craft(funds, "contribution", {**body, "fund": funds.district_fund})


def unpostable_transfer(funds: Any) -> int:
    return craft(funds, "transfer", {"amount": 5})


CASES = {
    "overdraw": Case(
        "negative_balance", ("allocation", "LS-COVID's available", "-1 đồng"), overdraw
    ),
    "earmark-elsewhere": Case(
        "earmark", ("earmarked for unit LS-CL", "is in LS-VL"), earmark_elsewhere
    ),
    "earmark-no-unit": Case("earmark", ("names no unit",), earmark_without_unit),
    "earmarked-money-spent": Case(
        "earmark", ("400.000 đồng", "earmarked", "LS-CL"), spend_earmarked_money
    ),
    "reverse-nothing": Case("reversal", ("target 10000", "no earlier entry"), reverse_nothing),
    "reverse-a-unit": Case("reversal", ("entry 1, a unit", "cannot be reversed"), reverse_a_unit),
    "reverse-twice": Case("reversal", ("already reversed by entry",), reverse_twice),
    "reverse-paid-allocation": Case(
        "reversal", ("200.000 đồng paid", "still stands"), reverse_a_paid_allocation
    ),
    "transfer-to-itself": Case("transfer", ("LS-COVID to itself",), transfer_to_itself),
    "transfer-to-no-fund": Case(
        "transfer", ("to_fund BK-COVID is not a registered fund",), transfer_to_no_fund
    ),
    "overpay": Case(
        "disbursement", ("pays 300.000 đồng", "had 200.000 đồng left"), pay_more_than_allocated
    ),
    "pay-under-a-gift": Case(
        "disbursement", ("a contribution, not an allocation",), pay_under_a_gift
    ),
    "pay-under-reversed": Case(
        "disbursement", ("which entry", "reversed"), pay_under_a_reversed_allocation
    ),
    "bank-reference-reused": Case(
        "bank_reference_reused",
        ("FT26111", "already recorded", "still stands"),
        reuse_a_bank_reference,
    ),
    "unpostable": Case("unpostable", ("transfer body cannot be posted",), unpostable_transfer),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_fund_check_names_the_entry_that_breaks_it(funds: Any, name: str) -> None:
    case = CASES[name]
    assert audit(funds).findings == ()
    index = case.make(funds)
    report = audit(funds)
    assert (case.check, index) in errors(report)
    message = message_of(report, case.check, index)
    for word in case.words:
        assert word in message, message
    assert report.failure() is not None
    assert report.document()["ok"] is False


def test_the_failure_names_the_first_bad_index(funds: Any) -> None:
    first = overdraw(funds)
    transfer_to_no_fund(funds)
    report = audit(funds)
    assert report.document()["first_error"] == first
    failure = report.failure()
    assert failure is not None
    assert failure.startswith(f"the audit found {len(report.errors)} error(s); the first at index ")
    assert f"index {first}: negative_balance" in failure


def test_spending_earmarked_money_is_also_a_negative_pool(funds: Any) -> None:
    index = spend_earmarked_money(funds)
    report = audit(funds)
    assert ("negative_balance", index) in errors(report)
    assert "available at -400.000 đồng" in message_of(report, "negative_balance", index)


def test_a_reversed_gift_frees_its_reference_only_once_it_is_reversed(funds: Any) -> None:
    gift = funds.give(2_000_000, channel="bank", reference="FT26222")
    funds.record("reversal", {"target": gift.index, "reason": "Ghi nhầm"})
    again = craft(funds, "contribution", gift_body(funds, 2_000_000, reference="FT26222"))
    third = craft(funds, "contribution", gift_body(funds, 2_000_000, reference="FT26222"))
    report = audit(funds)
    # The crafted gifts have no projection rows: the published figures differ too.
    assert [e for e in errors(report) if e[0] != "balance_mismatch"] == [
        ("bank_reference_reused", third)
    ]
    assert f"by entry {again}" in message_of(report, "bank_reference_reused", third)


def test_the_same_reference_on_another_account_is_not_a_reuse(funds: Any) -> None:
    funds.give(2_000_000, channel="bank", reference="FT26333")
    other = {
        "code": "VL-2026B",
        "fund": funds.other_fund,
        "name": "Chiến dịch riêng",
        "purpose": "Hỗ trợ",
        "reference": "VL26B",
        "opens": funds.today,
        "closes": funds.today,
        "distribute_by": funds.today,
        "account": {"bank_bin": "970415", "number": "1020304050", "holder": "UBMTTQ huyện"},
    }
    funds.record("campaign", other)
    funds.give(2_000_000, fund=funds.other_fund, campaign="VL-2026B", reference="FT26333")
    assert audit(funds).findings == ()


# -- the published figures ---------------------------------------------------------------


def test_a_published_balance_edited_behind_the_log_is_named_with_its_last_entry(
    funds: Any,
) -> None:
    funds.give(1_500_000)
    last = funds.allocate(500_000)
    with funds.db.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE fund_pools SET balance = balance + 1000000 "
                "WHERE account = 'available' AND fund = 'LS-COVID'"
            )
        )
    report = audit(funds)
    assert errors(report) == [("balance_mismatch", last.index)]
    (finding,) = report.errors
    assert finding.message == (
        "fund LS-COVID: available is 2000000 in the database but 1000000 from the log"
    )
    assert finding.details == {
        "fund": "LS-COVID",
        "field": "available",
        "published": 2_000_000,
        "from_log": 1_000_000,
    }


def test_campaign_figures_are_compared_too(funds: Any) -> None:
    gift = funds.give(1_500_000)
    with funds.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM fund_postings"))
    report = audit(funds)
    assert ("balance_mismatch", gift.index) in errors(report)
    assert any(
        f.message == "campaign LS-2026: available is 0 in the database but 1500000 from the log"
        for f in report.errors
    )


# -- the anomaly rules ride on the same pass ---------------------------------------------


class Recording:
    """A stand-in for the rules: it keeps what it is fed and reports one finding."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def add(self, entry: Entry) -> None:
        self.seen.append(entry.index)

    def finish(self) -> list[Finding]:
        return [Finding("seen_everything", "warning", self.seen[-1], f"{len(self.seen)} entries")]


def test_the_rules_are_fed_every_entry_once_in_order_and_their_findings_reported(
    funds: Any,
) -> None:
    funds.give(1_000_000)
    feed = Recording()
    with funds.db.session() as session:
        size = log.tree_size(session)
        source = DatabaseSource(session)
        found = list(FullAudit(source.fetch, rules=feed).run(source.records()))
    assert feed.seen == list(range(size))
    assert found == [Finding("seen_everything", "warning", size - 1, f"{size} entries")]


def test_whatever_the_anomaly_rules_report_is_in_the_audit(funds: Any) -> None:
    moment = datetime(2030, 1, 1, tzinfo=UTC)  # long after the gifts: money lies idle
    big = funds.give(150_000_000, channel="cash")
    funds.give(120_000_000, channel="cash")
    funds.allocate(1_000_000)
    runner = RuleRunner(RuleConfig.load(funds.settings.audit_rules_file), now=moment)
    with funds.db.session() as session:
        for entry in log.entries(session, 0, 1000):
            runner.add(entry)
    expected = runner.finish()
    report = audit(funds, rules=True, now=moment)
    documents = [f.document() for f in report.findings]
    for finding in expected:
        assert finding.document() in documents
    assert any(f.index == big.index for f in expected)  # the case did trigger the rules
    assert report.errors == []
    assert report.failure() is None  # anomalies alone do not fail an audit


class Fragile(Recording):
    """Rules that cannot read a gift, as a rule might fail on a crafted body."""

    def add(self, entry: Entry) -> None:
        if entry.kind == "contribution":
            raise KeyError("donor")
        super().add(entry)


def test_rules_that_cannot_read_an_entry_stop_but_the_audit_goes_on(funds: Any) -> None:
    gift = funds.give(1_000_000)
    bad = craft(funds, "allocation", allocation_body(funds, 2_000_000))
    feed = Fragile()
    with funds.db.session() as session:
        source = DatabaseSource(session)
        found = list(FullAudit(source.fetch, rules=feed).run(source.records()))
    checks = [(f.check, f.index) for f in found]
    assert ("anomaly_rules", gift.index) in checks
    assert ("negative_balance", bad) in checks  # the fund checks went on past the gift
    assert feed.seen == list(range(gift.index))  # the rules were fed nothing after it
    assert ("seen_everything", gift.index - 1) in checks  # what they found still counts
