"""Each anomaly rule fires on a crafted case and stays silent on a clean one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.anomalies_facts import Facts
from audit.anomalies_gifts import ReversalBurst
from audit.findings import Finding, blocked_gifts
from audit.rules import RuleConfig, RuleRunner, findings_for_database
from ledger import log
from ledger.entries import Draft, Entry
from ledger.errors import ConfigurationError
from ledger.funds.access import FUND_MANAGER, Scope
from ledger.funds.recorder import Recorded, record
from ledger.keys import SigningKey

NATIONAL_ID = "001203004567"


def run(funds: Any, *, now: datetime | None = None, rules: Path | None = None) -> list[Finding]:
    """The findings of the whole log, as the auditors' API computes them."""
    settings = replace(funds.settings, audit_rules_file=rules)
    with funds.db.session() as session:
        return findings_for_database(session, settings, now=now)


def of(findings: list[Finding], check: str) -> list[Finding]:
    return [finding for finding in findings if finding.check == check]


def as_actor(
    funds: Any, scope: Scope, kind: str, data: Mapping[str, Any], now: datetime | None = None
) -> Recorded:
    return record(funds.db, funds.settings, scope, [(kind, data)], now=now)[0]


def days(funds: Any, offset: int) -> str:
    return (date.fromisoformat(funds.today) + timedelta(days=offset)).isoformat()


def person(name: str = "Lý Văn Khánh", **extra: Any) -> dict[str, Any]:
    return {"display": name, "type": "individual", **extra}


def override(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_ledger_of_ordinary_gifts_and_spending_has_no_findings(funds: Any) -> None:
    funds.give(5_000_000)
    funds.give(2_000_000, reference="PT-0001")
    funds.give(3_000_000, fund=funds.district_fund, mobilizer=funds.mobilizer)
    funds.allocate(4_000_000, program="NQ68", beneficiary=person(national_id=NATIONAL_ID))
    funds.record("reversal", {"target": funds.give(1_000_000).index, "reason": "Nhập trùng"})
    assert run(funds) == []


# -- the same beneficiary twice under one program ----------------------------------------


def test_a_person_supported_twice_under_one_program_is_found(funds: Any) -> None:
    funds.give(20_000_000)
    first = funds.allocate(
        2_000_000, program="NQ68-LDTD", beneficiary=person(national_id=NATIONAL_ID)
    )
    other = funds.allocate(
        2_000_000,
        program="NQ68-LDTD",
        beneficiary=person("Lý Văn Khang", national_id="001203009999"),
    )
    funds.allocate(2_000_000, program="NQ42", beneficiary=person(national_id=NATIONAL_ID))
    funds.allocate(2_000_000, beneficiary=person(national_id=NATIONAL_ID))
    second = funds.allocate(
        1_500_000, program="NQ68-LDTD", beneficiary=person(national_id="001 203 004 567")
    )

    (finding,) = of(run(funds), "duplicate_beneficiary")

    assert finding.id == f"duplicate_beneficiary:{second.index}"
    assert finding.severity == "warning"
    assert finding.related == (first.index,)
    assert other.index not in finding.related
    assert "NQ68-LDTD" in finding.message and "1.500.000 đồng" in finding.message


def test_a_reversed_first_support_leaves_the_second_alone(funds: Any) -> None:
    funds.give(20_000_000)
    first = funds.allocate(2_000_000, program="NQ68", beneficiary=person(national_id=NATIONAL_ID))
    funds.allocate(2_000_000, program="NQ68", beneficiary=person(national_id=NATIONAL_ID))
    assert len(of(run(funds), "duplicate_beneficiary")) == 1

    funds.record("reversal", {"target": first.index, "reason": "Quyết định bị hủy"})

    assert of(run(funds), "duplicate_beneficiary") == []


# -- an allocation to the unit or mobiliser that decided it ---------------------------------


def test_an_allocation_to_the_unit_holding_the_fund_is_found_online_and_offline(
    funds: Any, make_token: Any
) -> None:
    make_token(FUND_MANAGER, unit=funds.district, name="cl-manager")
    manager = Scope("cl-manager", FUND_MANAGER, funds.district)
    funds.give(10_000_000, fund=funds.district_fund)
    beneficiary = {"display": "huyện  Cao Lộc", "type": "organization"}
    data = {
        "fund": funds.district_fund,
        "amount": 1_000_000,
        "beneficiary": beneficiary,
        "purpose": "Chi hoạt động",
    }
    allocation = as_actor(funds, manager, "allocation", data)

    (finding,) = of(run(funds), "self_allocation")

    assert finding.index == allocation.index
    assert finding.details["evidence"] == "unit_name"
    assert finding.details["unit"] == funds.district
    assert "unit LS-CL itself" in finding.message
    # The export alone names the fund's unit too: the finding needs no token table.
    offline = replay(funds, actor_units={})
    assert [f.id for f in of(offline, "self_allocation")] == [finding.id]


def test_an_allocation_to_the_recording_tokens_own_unit_needs_the_tokens_table(
    funds: Any, make_token: Any
) -> None:
    make_token(FUND_MANAGER, unit=funds.province, name="ls-manager")
    manager = Scope("ls-manager", FUND_MANAGER, funds.province)
    funds.give(10_000_000, fund=funds.district_fund)
    data = {
        "fund": funds.district_fund,
        "amount": 1_000_000,
        "beneficiary": {"display": "Tỉnh Lạng Sơn", "type": "organization"},
        "purpose": "Hoàn ứng",
    }
    allocation = as_actor(funds, manager, "allocation", data)

    (finding,) = of(run(funds), "self_allocation")

    assert finding.index == allocation.index
    assert finding.details == {"evidence": "unit_name", "unit": "LS"}
    assert "ls-manager" in finding.message
    assert of(replay(funds, actor_units={}), "self_allocation") == []


def test_allocations_to_the_units_own_mobilisers_are_found(funds: Any) -> None:
    funds.record(
        "mobilizer",
        {"code": "CL-NVA", "name": "Nguyễn Văn An", "type": "individual", "unit": funds.district},
    )
    funds.give(10_000_000)
    funds.give(10_000_000, fund=funds.district_fund)
    funds.give(10_000_000, fund=funds.other_fund)
    collective = funds.allocate(
        1_000_000, beneficiary={"display": "Hội LHPN tỉnh", "type": "organization"}
    )
    individual = funds.allocate(
        1_000_000,
        fund=funds.district_fund,
        beneficiary=person("Nguyễn Văn An", unit=funds.district),
    )
    # The same masked name elsewhere is another person: Nguyễn V. A. is a common name.
    funds.allocate(
        1_000_000, fund=funds.other_fund, beneficiary=person("Nguyễn Văn Anh", unit="LS-VL")
    )
    funds.allocate(1_000_000, fund=funds.district_fund, beneficiary=person("Nguyễn Văn An"))

    found = of(run(funds), "self_allocation")

    assert [(f.index, f.details.get("mobilizer")) for f in found] == [
        (collective.index, "LS-HLHPN"),
        (individual.index, "CL-NVA"),
    ]
    assert all(f.details["evidence"] == "mobilizer" for f in found)


def test_an_organisation_of_the_tokens_own_unit_is_found_only_for_that_token(
    funds: Any, make_token: Any
) -> None:
    make_token(FUND_MANAGER, unit=funds.district, name="cl-manager")
    manager = Scope("cl-manager", FUND_MANAGER, funds.district)
    funds.give(10_000_000, fund=funds.district_fund)
    clinic = {"display": "Trạm Y tế xã Hợp Thành", "type": "organization", "unit": funds.district}
    base = {"fund": funds.district_fund, "amount": 1_000_000, "purpose": "Mua vật tư y tế"}
    by_token = as_actor(funds, manager, "allocation", {**base, "beneficiary": clinic})
    as_actor(funds, manager, "allocation", {**base, "beneficiary": person(unit=funds.district)})
    funds.record("allocation", {**base, "beneficiary": clinic})  # from the command line

    (finding,) = of(run(funds), "self_allocation")

    assert finding.index == by_token.index
    assert finding.details == {"evidence": "actor_unit", "unit": funds.district}


def replay(funds: Any, actor_units: Mapping[str, str | None]) -> list[Finding]:
    """The rules over the log's entries alone, as over an export."""
    runner = RuleRunner(RuleConfig.load(None), now=datetime.now(UTC), actor_units=actor_units)
    with funds.db.session() as session:
        for entry in log.entries(session, 0, 10_000):
            runner.add(entry)
    return runner.finish()


# -- large cash gifts with no reference ------------------------------------------------------


def test_a_large_cash_gift_without_reference_is_blocking(funds: Any) -> None:
    large = funds.give(100_000_000)
    funds.give(150_000_000, reference="PT-0012")
    funds.give(99_999_999)
    funds.give(300_000_000, channel="bank", reference="FT26001")
    reversed_gift = funds.give(120_000_000)
    funds.record("reversal", {"target": reversed_gift.index, "reason": "Ghi nhầm"})

    findings = run(funds)
    (finding,) = of(findings, "large_cash_gift")

    assert finding.id == f"large_cash_gift:{large.index}"
    assert finding.severity == "blocking"
    assert "100.000.000 đồng" in finding.message
    assert blocked_gifts(findings) == {large.index}


def test_the_cash_threshold_and_severity_come_from_the_override_file(
    funds: Any, tmp_path: Path
) -> None:
    gift = funds.give(60_000_000)
    assert of(run(funds), "large_cash_gift") == []
    path = override(tmp_path, '[large_cash_gift]\nthreshold = 50_000_000\nseverity = "warning"\n')

    (finding,) = of(run(funds, rules=path), "large_cash_gift")

    assert (finding.index, finding.severity) == (gift.index, "warning")
    assert "50.000.000 đồng" in finding.message


# -- money idle beyond a number of days --------------------------------------------------


def test_money_left_unallocated_too_long_is_found_per_fund(funds: Any) -> None:
    funds.give(5_000_000)
    funds.allocate(5_000_000)  # LS-COVID spent everything it received
    old = funds.give(2_000_000, fund=funds.district_fund)
    funds.give(1_000_000, fund=funds.district_fund)
    later = datetime.now(UTC) + timedelta(days=120)

    (finding,) = of(run(funds, now=later), "idle_money")

    assert finding.index == old.index
    assert finding.details["fund"] == funds.district_fund
    assert finding.details["idle"] == finding.details["available"] == 3_000_000
    assert finding.details["days"] == 120
    assert of(run(funds, now=datetime.now(UTC) + timedelta(days=80)), "idle_money") == []


def test_idle_money_counts_from_the_day_a_gift_was_received(funds: Any, tmp_path: Path) -> None:
    path = override(tmp_path, "[idle_money]\ndays = 30\n")
    config = RuleConfig.load(path)
    old = funds.give(4_000_000, received_on=days(funds, -45))
    funds.give(1_000_000)
    funds.give(700_000, received_on=days(funds, -20))

    found = of(runner_findings(funds, config), "idle_money")

    (finding,) = found
    assert finding.index == old.index
    assert finding.details["idle"] == 4_000_000
    assert finding.details["available"] == 5_700_000
    assert finding.details["since"] == days(funds, -45)
    funds.allocate(4_000_000)  # first in, first out: the old gift is spent
    assert of(runner_findings(funds, config), "idle_money") == []


def test_earmarked_money_is_idle_in_its_own_pool(funds: Any) -> None:
    funds.give(1_000_000)
    earmarked = funds.give(2_000_000, earmark={"purpose": "Mua vắc xin", "unit": funds.district})
    funds.allocate(1_000_000)

    (finding,) = of(run(funds, now=datetime.now(UTC) + timedelta(days=91)), "idle_money")

    assert finding.index == earmarked.index
    assert "2.000.000 đồng earmarked for unit LS-CL, for “Mua vắc xin”" in finding.message
    assert finding.details["earmark"] == {"purpose": "Mua vắc xin", "unit": "LS-CL"}


def test_money_moved_to_another_fund_is_idle_from_the_transfer(funds: Any) -> None:
    gift = funds.give(3_000_000)
    moved = funds.record(
        "transfer", {"from_fund": funds.fund, "to_fund": funds.other_fund, "amount": 3_000_000}
    )

    (finding,) = of(run(funds, now=datetime.now(UTC) + timedelta(days=91)), "idle_money")

    assert (finding.index, finding.related) == (moved.index, (gift.index,))
    assert finding.details["fund"] == funds.other_fund


def runner_findings(funds: Any, config: RuleConfig) -> list[Finding]:
    runner = RuleRunner(config, now=datetime.now(UTC))
    with funds.db.session() as session:
        for entry in log.entries(session, 0, 10_000):
            runner.add(entry)
    return runner.finish()


# -- allocations after their campaign's distribution deadline --------------------------------


def closed_campaign(funds: Any) -> Recorded:
    """A campaign of VL-COVID that closed 40 days ago and had to be spent 30 days ago."""
    return funds.record(
        "campaign",
        {
            "code": "VL-2025",
            "fund": funds.other_fund,
            "name": "Hỗ trợ người dân gặp khó khăn",
            "purpose": "Hỗ trợ hộ nghèo",
            "reference": "VL25HO",
            "opens": days(funds, -59),
            "closes": days(funds, -40),
            "distribute_by": days(funds, -30),
            "account": {"bank_bin": "970436", "number": "0011007654321", "holder": "MTTQ Văn Lãng"},
        },
    )


def test_an_allocation_after_the_distribution_deadline_is_found(funds: Any) -> None:
    campaign = closed_campaign(funds)
    funds.give(2_000_000, fund=funds.other_fund, campaign="VL-2025", received_on=days(funds, -45))
    funds.give(5_000_000, fund=funds.other_fund, campaign=funds.other_campaign)
    named = funds.allocate(500_000, fund=funds.other_fund, campaign="VL-2025")
    fifo = funds.allocate(1_000_000, fund=funds.other_fund)  # the 2025 money comes first
    funds.allocate(2_000_000, fund=funds.other_fund, campaign=funds.other_campaign)
    funds.allocate(2_000_000, fund=funds.other_fund)  # the 2025 money is spent by now

    found = of(run(funds), "late_allocation")

    assert [f.index for f in found] == [named.index, fifo.index]
    assert all(f.related == (campaign.index,) for f in found)
    assert f"VL-2025 by {days(funds, -30)}" in found[0].message
    assert "first in, first out" in found[1].message
    assert found[0].details == {
        "day": funds.today,
        "recorded": funds.today,
        "campaigns": ["VL-2025"],
    }


def test_a_decision_taken_in_time_is_not_late_however_late_it_is_entered(funds: Any) -> None:
    closed_campaign(funds)
    funds.give(2_000_000, fund=funds.other_fund, campaign="VL-2025", received_on=days(funds, -45))

    def decided(offset: int, number: str) -> Recorded:
        decision = {"number": number, "date": days(funds, offset), "approver": "Ban Thường trực"}
        return funds.allocate(500_000, fund=funds.other_fund, decision=decision)

    decided(-31, "12/QĐ-BTT")
    late = decided(-29, "13/QĐ-BTT")

    (finding,) = of(run(funds), "late_allocation")

    assert finding.index == late.index
    assert f"was decided on {days(funds, -29)}, after" in finding.message
    assert finding.details["recorded"] == funds.today


def test_a_grace_period_and_reversal_silence_a_late_allocation(funds: Any, tmp_path: Path) -> None:
    closed_campaign(funds)
    funds.give(2_000_000, fund=funds.other_fund, campaign="VL-2025", received_on=days(funds, -45))
    late = funds.allocate(500_000, fund=funds.other_fund, campaign="VL-2025")
    assert len(of(run(funds), "late_allocation")) == 1

    graceful = RuleConfig.load(override(tmp_path, "[late_allocation]\ngrace_days = 30\n"))
    assert of(runner_findings(funds, graceful), "late_allocation") == []
    funds.record("reversal", {"target": late.index, "reason": "Hủy quyết định"})
    assert of(run(funds), "late_allocation") == []


# -- a gift reversed after it counted for an award -------------------------------------------


def nominate(funds: Any, signer: SigningKey, gifts: list[int]) -> int:
    body = {"evidence": {"gifts": gifts, "tree_size": 1, "root": "0" * 64, "checkpoint": "-"}}
    with funds.db.writing() as session:
        appended = log.append(session, [Draft("award_nomination", body, "awards-board")], signer)
    return appended.entries[0].index


def test_a_gift_reversed_after_a_nomination_counted_it_is_found(
    funds: Any, signer: SigningKey
) -> None:
    counted = funds.give(3_000_000, mobilizer=funds.mobilizer)
    not_counted = funds.give(1_000_000, mobilizer=funds.mobilizer)
    early = funds.give(2_000_000, mobilizer=funds.mobilizer)
    funds.record("reversal", {"target": early.index, "reason": "Trả lại"})
    nomination = nominate(funds, signer, [early.index, counted.index])
    reversal = funds.record("reversal", {"target": counted.index, "reason": "Chuyển nhầm"})
    funds.record("reversal", {"target": not_counted.index, "reason": "Chuyển nhầm"})

    (finding,) = of(run(funds), "reversed_award_gift")

    assert finding.id == f"reversed_award_gift:{reversal.index}"
    assert finding.related == (counted.index, nomination)
    assert finding.details == {"gift": counted.index, "nomination": nomination}


# -- bursts of reversals ----------------------------------------------------------------


def test_a_burst_of_reversals_by_one_token_is_found(funds: Any, make_token: Any) -> None:
    make_token(FUND_MANAGER, unit=funds.district, name="cl-manager")
    manager = Scope("cl-manager", FUND_MANAGER, funds.district)
    gifts = [funds.give(100_000 + n, fund=funds.district_fund) for n in range(10)]
    start = datetime.now(UTC)

    def reverse(gift: Recorded, hours: int) -> int:
        data = {"target": gift.index, "reason": "Nhập sai"}
        return as_actor(funds, manager, "reversal", data, now=start + timedelta(hours=hours)).index

    for n, gift in enumerate(gifts[:5]):  # five in 28 hours: corrections, not a burst
        reverse(gift, 7 * n)
    assert of(run(funds), "reversal_burst") == []
    burst = [reverse(gift, 60 + n) for n, gift in enumerate(gifts[5:])]  # five in 4 hours

    (finding,) = of(run(funds), "reversal_burst")

    assert finding.id == f"reversal_burst:{burst[0]}"
    assert finding.related == tuple(burst[1:])
    assert finding.details == {"actor": "cl-manager", "reversals": 5}
    assert "cl-manager recorded 5 reversals in 4 hours" in finding.message


def reversals(actor_times: list[tuple[str, int]]) -> list[Entry]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Entry(index, "reversal", start + timedelta(minutes=minutes), "", actor, {}, b"", b"")
        for index, (actor, minutes) in enumerate(actor_times, start=1)
    ]


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.integers(min_value=0, max_value=600)),
        max_size=25,
    ),
    st.integers(min_value=2, max_value=5),
    st.integers(min_value=1, max_value=4),
)
def test_bursts_are_the_unions_of_overlapping_runs(
    steps: list[tuple[str, int]], count: int, hours: int
) -> None:
    clock = 0
    timed = []
    for actor, gap in steps:
        clock += gap
        timed.append((actor, clock))
    entries = reversals(timed)
    rule = ReversalBurst({"count": count, "hours": hours})
    facts = Facts(now=datetime.now(UTC), actor_units={})
    for entry in entries:
        rule.add(entry, facts)
    found = list(rule.finish(facts))

    expected: list[set[int]] = []
    for actor in ("a", "b"):  # by brute force: every qualifying run, overlapping ones merged
        mine = [entry for entry in entries if entry.actor == actor]
        merged: list[set[int]] = []
        for i in range(len(mine) - count + 1):
            if mine[i + count - 1].time - mine[i].time > timedelta(hours=hours):
                continue
            run_ = {entry.index for entry in mine[i : i + count]}
            if merged and merged[-1] & run_:
                merged[-1] |= run_
            else:
                merged.append(run_)
        expected += merged
    assert [{hit.index, *hit.related} for hit in found] == expected
    assert all(hit.index < min(hit.related) for hit in found)  # about the burst's first


# -- the configuration -------------------------------------------------------------------


def test_the_shipped_defaults_cover_every_rule() -> None:
    config = RuleConfig.load(None)
    assert config.severities == {
        "duplicate_beneficiary": "warning",
        "self_allocation": "warning",
        "large_cash_gift": "blocking",
        "idle_money": "warning",
        "late_allocation": "warning",
        "reversed_award_gift": "warning",
        "reversal_burst": "warning",
    }
    assert config.limits["large_cash_gift"] == {"threshold": 100_000_000}
    assert config.limits["idle_money"] == {"days": 90}
    assert config.limits["reversal_burst"] == {"count": 5, "hours": 24}


def test_an_override_changes_only_what_it_names(tmp_path: Path) -> None:
    config = RuleConfig.load(
        override(tmp_path, '[reversal_burst]\ncount = 3\n[idle_money]\nseverity = "info"\n')
    )
    assert config.limits["reversal_burst"] == {"count": 3, "hours": 24}
    assert config.severities["idle_money"] == "info"
    assert config.limits["idle_money"] == {"days": 90}


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("[idle_mony]\ndays = 3\n", "idle_mony is not an anomaly rule"),
        ("[idle_money]\nday = 3\n", "idle_money.day is not a setting"),
        ('[idle_money]\ndays = "30"\n', "idle_money.days must be a whole number from 1"),
        ("[idle_money]\ndays = 0\n", "idle_money.days must be a whole number from 1"),
        ("[idle_money]\ndays = 2.5\n", "idle_money.days"),
        ("[reversal_burst]\ncount = 1\n", "reversal_burst.count must be a whole number from 2"),
        ("[large_cash_gift]\nthreshold = true\n", "large_cash_gift.threshold"),
        ('[large_cash_gift]\nseverity = "error"\n', "large_cash_gift.severity must be one of"),
        ("idle_money = 3\n", "idle_money must be a table"),
        ("[idle_money\n", "not valid TOML"),
    ],
)
def test_a_bad_override_names_the_key(tmp_path: Path, text: str, mentions: str) -> None:
    path = override(tmp_path, text)
    with pytest.raises(ConfigurationError) as raised:
        RuleConfig.load(path)
    assert mentions in str(raised.value)
    assert str(path) in str(raised.value)


def test_a_missing_override_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        RuleConfig.load(tmp_path / "absent.toml")
