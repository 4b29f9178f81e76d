"""Acknowledging a finding: an entry with a reason; the finding stays, shown acknowledged."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

import audit
from audit.findings import Finding, blocked_gifts
from audit.rules import findings_for_database
from ledger import log
from ledger.errors import PermissionDeniedError, ValidationError
from ledger.funds.access import ADMIN, AUDITOR, AWARDS_BOARD, FUND_MANAGER, Scope
from ledger.funds.recorder import Recorded, record

REASON = "Đã đối chiếu biên lai thu tiền mặt số 0012, quyển 03"


@pytest.fixture(autouse=True)
def _audit_kinds() -> None:
    audit.load_all()


def acknowledge(funds: Any, data: dict[str, Any], role: str = AUDITOR) -> Recorded:
    scope = Scope(f"{role}-1", role, None)
    return record(funds.db, funds.settings, scope, [("acknowledgement", data)])[0]


def run(funds: Any, as_of: int | None = None) -> list[Finding]:
    with funds.db.session() as session:
        return findings_for_database(session, funds.settings, as_of=as_of)


def test_an_acknowledged_finding_is_still_listed_with_its_entry_and_reason(funds: Any) -> None:
    gift = funds.give(200_000_000)
    before = run(funds)
    assert blocked_gifts(before) == {gift.index}

    entry = acknowledge(funds, {"finding": f"large_cash_gift:{gift.index}", "reason": REASON})

    (finding,) = run(funds)
    assert finding.id == f"large_cash_gift:{gift.index}"
    assert (finding.acknowledged_by, finding.acknowledged_reason) == (entry.index, REASON)
    assert finding.severity == "blocking"
    assert blocked_gifts([finding]) == frozenset()
    assert entry.body == {
        "finding": f"large_cash_gift:{gift.index}",
        "check": "large_cash_gift",
        "index": gift.index,
        "reason": REASON,
    }
    with funds.db.session() as session:
        stored = log.entry(session, entry.index)
    assert (stored.kind, stored.actor, stored.body) == ("acknowledgement", "auditor-1", entry.body)
    # Read as of before the acknowledgement, the finding is as it was.
    assert run(funds, as_of=entry.index) == before


def test_the_first_acknowledgement_is_the_one_shown(funds: Any) -> None:
    gift = funds.give(200_000_000)
    finding = f"large_cash_gift:{gift.index}"
    first = acknowledge(funds, {"finding": finding, "reason": REASON})
    acknowledge(funds, {"finding": finding, "reason": "Kiểm tra lại lần hai"}, ADMIN)

    (shown,) = run(funds)

    assert (shown.acknowledged_by, shown.acknowledged_reason) == (first.index, REASON)


def test_check_and_index_may_be_given_if_they_agree_and_the_reason_is_nfc(funds: Any) -> None:
    gift = funds.give(150_000_000)
    decomposed = unicodedata.normalize("NFD", REASON)
    entry = acknowledge(
        funds,
        {
            "finding": f"large_cash_gift:{gift.index}",
            "check": "large_cash_gift",
            "index": gift.index,
            "reason": f"  {decomposed}  ",
        },
    )
    assert entry.body["reason"] == REASON


def test_a_finding_that_does_not_fire_may_still_be_acknowledged(funds: Any) -> None:
    gift = funds.give(1_000_000)
    entry = acknowledge(funds, {"finding": f"large_cash_gift:{gift.index}", "reason": REASON})
    assert entry.index == gift.index + 1
    assert run(funds) == []


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"finding": "large_cash_gift", "reason": REASON}, "finding", "<rule>:<index>"),
        ({"finding": "large_cash_gift:07", "reason": REASON}, "finding", "<rule>:<index>"),
        ({"finding": "Large_cash_gift:7", "reason": REASON}, "finding", "<rule>:<index>"),
        (
            {"finding": "bank_reference_reused:7", "reason": REASON},
            "finding",
            "not an anomaly rule",
        ),
        ({"finding": "large_cash_gift:7"}, "reason", "Missing data"),
        ({"finding": "large_cash_gift:7", "reason": "   "}, "reason", "Length"),
        ({"finding": "large_cash_gift:7", "reason": "x" * 2001}, "reason", "Length"),
        (
            {"finding": "large_cash_gift:7", "check": "idle_money", "reason": "r"},
            "check",
            "must be",
        ),
        ({"finding": "large_cash_gift:7", "index": 8, "reason": "r"}, "index", "must be 7"),
        ({"finding": "large_cash_gift:7", "reason": "r", "note": "x"}, "note", "Unknown"),
    ],
)
def test_malformed_acknowledgements_name_the_field(
    funds: Any, data: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        acknowledge(funds, data)
    assert words in " ".join(raised.value.fields[field])


def test_the_entry_named_must_exist_and_be_of_a_kind_the_rule_reports_on(funds: Any) -> None:
    with funds.db.session() as session:
        size = log.tree_size(session)
    with pytest.raises(ValidationError) as beyond:
        acknowledge(funds, {"finding": f"large_cash_gift:{size}", "reason": REASON})
    assert beyond.value.fields == {
        "finding": [f"entry {size} is not in the log (it holds {size} entries)"]
    }
    with pytest.raises(ValidationError) as wrong_kind:
        acknowledge(funds, {"finding": "large_cash_gift:1", "reason": REASON})  # a unit
    assert "entry 1 is a unit; the rule large_cash_gift reports on contribution entries" in str(
        wrong_kind.value
    )
    with funds.db.session() as session:
        assert log.tree_size(session) == size


@pytest.mark.parametrize("role", [FUND_MANAGER, AWARDS_BOARD])
def test_only_auditors_and_admins_acknowledge(funds: Any, role: str) -> None:
    gift = funds.give(200_000_000)
    data = {"finding": f"large_cash_gift:{gift.index}", "reason": REASON}
    with pytest.raises(PermissionDeniedError):
        acknowledge(funds, data, role)
    assert run(funds)[0].acknowledged is False
    assert acknowledge(funds, data, ADMIN).index == gift.index + 1


def test_an_auditor_of_a_unit_acknowledges_findings_on_its_own_funds_only(funds: Any) -> None:
    province_gift = funds.give(200_000_000)
    district_gift = funds.give(200_000_000, fund=funds.district_fund)
    district = Scope("kttv-cl", AUDITOR, funds.district)

    def by_district(gift: Recorded) -> Recorded:
        data = {"finding": f"large_cash_gift:{gift.index}", "reason": REASON}
        return record(funds.db, funds.settings, district, [("acknowledgement", data)])[0]

    with pytest.raises(PermissionDeniedError, match="not for LS"):
        by_district(province_gift)
    entry = by_district(district_gift)

    acknowledged = {f.index: f.acknowledged_by for f in run(funds)}
    assert acknowledged == {province_gift.index: None, district_gift.index: entry.index}


def test_a_finding_about_a_reversal_belongs_to_the_reversed_entrys_fund(funds: Any) -> None:
    gifts = [funds.give(100_000 + n, fund=funds.district_fund) for n in range(5)]
    reversals = [
        funds.record("reversal", {"target": gift.index, "reason": "Nhập sai"}) for gift in gifts
    ]
    (burst,) = [f for f in run(funds) if f.check == "reversal_burst"]
    assert burst.index == reversals[0].index
    data = {"finding": burst.id, "reason": "Sao kê nhập hai lần"}

    with pytest.raises(PermissionDeniedError):
        record(
            funds.db,
            funds.settings,
            Scope("kttv-vl", AUDITOR, "LS-VL"),
            [("acknowledgement", data)],
        )
    district = Scope("kttv-cl", AUDITOR, funds.district)
    entry = record(funds.db, funds.settings, district, [("acknowledgement", data)])[0]

    assert [f.acknowledged_by for f in run(funds) if f.check == "reversal_burst"] == [entry.index]
