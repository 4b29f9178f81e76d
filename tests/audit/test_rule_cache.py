"""The rules kept running over a growing log answer exactly as a replay from the start.

Random histories (large cash gifts without reference, allocations to the deciding
unit, to one person twice, after a campaign's deadline, reversals in bursts,
acknowledgements, tokens created after the entries of their name) are asked at random
sizes and moments: ``findings_kept`` must equal ``findings_for_database`` every time.
A log replaced under the same address, threads asking at once, and the public ranking
right after a new gift are checked too.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support.api import API

import audit
from audit.findings import Finding, blocked_gifts
from audit.rules import findings_for_database, findings_kept
from ledger import log
from ledger.db import Database
from ledger.errors import LedgerError
from ledger.funds import tokens
from ledger.funds.access import AUDITOR, FUND_MANAGER, Scope, command_line
from ledger.funds.recorder import Recorded, record
from ledger.genesis import init_ledger
from ledger.settings import Settings

LARGE_CASH = 150_000_000  # over the default threshold of the blocking large_cash_gift rule
RULES = """
[reversal_burst]
count = 2
hours = 1

[idle_money]
days = 30
"""
NATIONAL_ID = "001203004567"
BENEFICIARIES = (
    {"display": "Lý Văn Khánh", "type": "individual", "national_id": NATIONAL_ID},
    {"display": "Huyện Cao Lộc", "type": "organization"},  # the unit holding CL-COVID
    {"display": "Trạm Y tế xã", "type": "organization", "unit": "LS-CL"},  # a token's unit
    {"display": "Trung tâm Y tế huyện Văn Lãng", "type": "organization"},
)
CAMPAIGNS = {
    "LS-COVID": "LS-2026",
    "CL-COVID": "CL-2026",
    "VL-COVID": "VL-2026",
    "VL-2025": "VL-2025",
}
examples = itertools.count()


@pytest.fixture(autouse=True)
def _audit_kinds() -> None:
    audit.load_all()


def documents(findings: list[Finding]) -> list[dict[str, Any]]:
    return [finding.document() for finding in findings]


def day(funds: Any, offset: int) -> str:
    return (date.fromisoformat(funds.today) + timedelta(days=offset)).isoformat()


def both(db: Database, rules: Settings, *, now: datetime, as_of: int | None = None) -> Any:
    """The kept findings and a replay's, at one size and moment."""
    with db.session() as session:
        kept = findings_kept(session, rules, now=now, as_of=as_of)
    with db.session() as session:
        replayed = findings_for_database(session, rules, now=now, as_of=as_of)
    return documents(kept), documents(replayed)


def size_of(db: Database) -> int:
    with db.session() as session:
        return log.tree_size(session)


def set_up(funds: Any) -> None:
    """A campaign of VL-COVID whose money had to be spent 30 days ago, once."""
    with funds.db.session() as session:
        if any(e.body.get("code") == "VL-2025" for e in log.entries(session, 0, 100)):
            return
    funds.record(
        "campaign",
        {
            "code": "VL-2025",
            "fund": funds.other_fund,
            "name": "Hỗ trợ người dân gặp khó khăn",
            "purpose": "Hỗ trợ hộ nghèo",
            "reference": "VL25HO",
            "opens": day(funds, -59),
            "closes": day(funds, -40),
            "distribute_by": day(funds, -30),
            "account": {"bank_bin": "970436", "number": "0011007654321", "holder": "MTTQ VL"},
        },
    )


gifts = st.tuples(
    st.just("give"),
    st.sampled_from(("LS-COVID", "CL-COVID", "VL-COVID", "VL-2025")),
    st.sampled_from((LARGE_CASH, 2_000_000, 500_000)),
    st.sampled_from(("cash", "bank")),
    st.booleans(),  # with a reference
    st.integers(0, 59),  # received, days ago (the campaigns opened 60 days ago)
)
allocations = st.tuples(
    st.just("allocate"),
    st.sampled_from(("LS-COVID", "CL-COVID", "VL-COVID", "VL-2025")),
    st.sampled_from((1_000_000, 3_000_000)),
    st.integers(0, len(BENEFICIARIES) - 1),
    st.booleans(),  # under program NQ68
    st.sampled_from(("tester", "token", "pending")),  # who records it
    st.integers(0, 2),  # which token or pending name
)
operations = st.one_of(
    *[gifts] * 3,
    *[allocations] * 2,
    st.tuples(st.just("reverse"), st.integers(0, 10_000)),
    st.tuples(st.just("acknowledge"), st.integers(0, 10_000)),
    st.tuples(st.just("token"), st.integers(0, 2)),  # a token for a pending name
    *[st.tuples(st.just("ask"), st.integers(0, 1000), st.integers(0, 200))] * 2,
)


@dataclass
class History:
    """What an example has recorded, to pick reversal targets and names from."""

    funds: Any
    rules: Settings
    make_token: Any
    example: int
    gifts: list[int]
    reversible: list[int]

    def name(self, kind: str, slot: int) -> str:
        return f"{kind}-{self.example}-{slot}"

    def scope(self, actor: str, slot: int) -> Scope:
        if actor == "token":
            name = self.name("token", slot)
            with self.funds.db.session() as session:
                if not any(row.name == name for row in tokens.list_tokens(session)):
                    self.make_token(FUND_MANAGER, unit="LS-CL", name=name)
            return Scope(name, FUND_MANAGER, "LS-CL")
        if actor == "pending":  # no token yet: one of this name may come later
            return command_line(self.name("pending", slot))
        return command_line("tester")

    def record(self, scope: Scope, kind: str, data: dict[str, Any]) -> Recorded | None:
        try:
            return record(self.funds.db, self.funds.settings, scope, [(kind, data)])[0]
        except LedgerError:  # no money left, already reversed, another unit's fund
            return None


def play(history: History, op: tuple[Any, ...]) -> None:
    funds = history.funds
    if op[0] == "give":
        _, fund, amount, channel, referenced, days_ago = op
        data: dict[str, Any] = {
            "fund": "VL-COVID" if fund == "VL-2025" else fund,
            "amount": amount,
            "channel": channel,
            "donor": {"display": "Công ty TNHH Minh An", "type": "organization"},
            "received_on": day(funds, -45 if fund == "VL-2025" else -days_ago),
        }
        data["campaign"] = CAMPAIGNS[fund]
        if referenced:
            data["reference"] = f"PT-{len(history.gifts)}"
        gift = funds.record("contribution", data)
        history.gifts.append(gift.index)
        history.reversible.append(gift.index)
    elif op[0] == "allocate":
        _, fund, amount, beneficiary, program, actor, slot = op
        scope = history.scope(actor, slot)
        data = {
            "fund": "CL-COVID" if actor == "token" else fund.replace("VL-2025", "VL-COVID"),
            "amount": amount,
            "beneficiary": BENEFICIARIES[beneficiary],
            "purpose": "Hỗ trợ",
        }
        if program:
            data["program"] = "NQ68"
        if fund == "VL-2025" and actor != "token":
            data["campaign"] = "VL-2025"
        allocated = history.record(scope, "allocation", data)
        if allocated is not None:
            history.reversible.append(allocated.index)
    elif op[0] == "reverse" and history.reversible:
        target = history.reversible[op[1] % len(history.reversible)]
        history.record(command_line("tester"), "reversal", {"target": target, "reason": "Sai"})
    elif op[0] == "acknowledge" and history.gifts:
        gift = history.gifts[op[1] % len(history.gifts)]
        acknowledgement = {"finding": f"large_cash_gift:{gift}", "reason": "Đã đối chiếu"}
        history.record(Scope("auditor-1", AUDITOR, None), "acknowledgement", acknowledgement)
    elif op[0] == "token":
        name = history.name("pending", op[1])
        with funds.db.session() as session:
            taken = any(row.name == name for row in tokens.list_tokens(session))
        if not taken:
            history.make_token(FUND_MANAGER, unit="LS-CL", name=name)
    elif op[0] == "ask":
        _, cut, days_ahead = op
        as_of = size_of(funds.db) * cut // 1000
        moment = datetime.now(UTC) + timedelta(days=days_ahead)
        kept, replayed = both(funds.db, history.rules, now=moment, as_of=as_of)
        assert kept == replayed, (as_of, days_ahead)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=st.lists(operations, min_size=4, max_size=30), days_ahead=st.integers(0, 200))
def test_kept_findings_equal_a_replay_at_every_size_and_moment(
    funds: Any, make_token: Any, tmp_path: Path, script: list[tuple[Any, ...]], days_ahead: int
) -> None:
    # The ledger and the kept runner live across examples: the log only grows.
    set_up(funds)
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    rules = replace(funds.settings, audit_rules_file=path)
    history = History(funds, rules, make_token, next(examples), [], [])
    with funds.db.session() as session:
        for entry in log.entries(session, 0, 10_000):
            if entry.kind in ("contribution", "allocation"):
                history.reversible.append(entry.index)
            if entry.kind == "contribution":
                history.gifts.append(entry.index)
    for op in script:
        play(history, op)
    moment = datetime.now(UTC) + timedelta(days=days_ahead)
    kept, replayed = both(funds.db, rules, now=moment)
    assert kept == replayed


def test_the_random_histories_reach_every_rule_they_aim_at(
    funds: Any, make_token: Any, tmp_path: Path
) -> None:
    """One scripted history of the kinds above: the comparisons compare real findings."""
    set_up(funds)
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    rules = replace(funds.settings, audit_rules_file=path)
    history = History(funds, rules, make_token, next(examples), [], [])
    script: list[tuple[Any, ...]] = [
        ("give", "LS-COVID", LARGE_CASH, "cash", False, 50),
        ("give", "CL-COVID", LARGE_CASH, "cash", True, 0),
        ("give", "VL-2025", 2_000_000, "bank", True, 0),
        ("allocate", "LS-COVID", 1_000_000, 0, True, "tester", 0),
        ("allocate", "LS-COVID", 1_000_000, 0, True, "tester", 0),
        ("allocate", "CL-COVID", 1_000_000, 1, False, "tester", 0),
        ("allocate", "CL-COVID", 1_000_000, 2, False, "pending", 0),
        ("allocate", "VL-2025", 1_000_000, 3, False, "tester", 0),
        ("give", "LS-COVID", 500_000, "bank", True, 0),
        ("give", "LS-COVID", 500_000, "bank", True, 0),
        ("ask", 1000, 0),
        ("token", 0),  # the pending allocation's actor now acts for LS-CL
        ("reverse", 8),
        ("reverse", 9),
        ("acknowledge", 0),
    ]
    for op in script:
        play(history, op)

    kept, replayed = both(funds.db, rules, now=datetime.now(UTC))

    assert kept == replayed
    assert sorted({finding["check"] for finding in kept}) == [
        "duplicate_beneficiary",
        "idle_money",
        "large_cash_gift",
        "late_allocation",
        "reversal_burst",
        "self_allocation",
    ]
    mine = [f for f in kept if f["check"] == "self_allocation"]
    assert [f["details"]["evidence"] for f in mine] == ["unit_name", "actor_unit"]
    (cash,) = [f for f in kept if f["check"] == "large_cash_gift"]
    assert (cash["index"], cash["acknowledged_by"]) == (history.gifts[0], size_of(funds.db) - 1)


# -- one process, several logs and readers ---------------------------------------------------


@pytest.fixture
def other_url(tmp_path: Path) -> Iterator[str]:
    """A second database, on the backend the suite runs on."""
    server = os.environ.get("LEDGER_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'other.sqlite3'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(Settings.load({"LEDGER_DATABASE_URL": server}, environ={}).database_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(admin.url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def other(funds: Any, other_url: str, tmp_path: Path) -> Iterator[tuple[Database, Settings]]:
    """Another ledger of the same origin: a fund, then ``gifts`` large cash gifts."""
    config = replace(
        funds.settings,
        database_url=other_url,
        instance_dir=tmp_path / "other",
        signing_key_file=tmp_path / "other" / "signing-key.pem",
        privacy_key_file=tmp_path / "other" / "privacy-key",
    )
    database = Database(other_url)
    init_ledger(config, database)
    operations = [
        ("unit", {"code": "LS", "name": "Tỉnh Lạng Sơn", "level": "province"}),
        ("fund", {"code": "LS-COVID", "unit": "LS", "kind": "covid19"}),
        (
            "campaign",
            {
                "code": "LS-2026",
                "fund": "LS-COVID",
                "name": "Chung sức phòng, chống dịch COVID-19",
                "purpose": "Mua vật tư y tế",
                "reference": "LS26COVID",
                "opens": day(funds, -10),
                "closes": day(funds, 10),
                "distribute_by": day(funds, 10),
                "account": {"bank_bin": "970436", "number": "0011001234567", "holder": "MTTQ"},
            },
        ),
    ]
    record(database, config, command_line("setup"), operations)
    yield database, config
    database.dispose()


def large_cash_gifts(db: Database, config: Settings, count: int) -> list[int]:
    gift = {
        "fund": "LS-COVID",
        "amount": LARGE_CASH,
        "channel": "cash",
        "donor": {"display": "Công ty TNHH Đại Phát", "type": "organization"},
    }
    done = record(db, config, command_line("tester"), [("contribution", gift)] * count)
    return [recorded.index for recorded in done]


def test_a_log_replaced_at_the_same_address_is_read_afresh(
    funds: Any, other: tuple[Database, Settings]
) -> None:
    ours = funds.give(LARGE_CASH)
    now = datetime.now(UTC)
    with funds.db.session() as session:
        assert blocked_gifts(findings_kept(session, funds.settings, now=now)) == {ours.index}
    read = size_of(funds.db)
    database, config = other
    theirs = large_cash_gifts(database, config, read + 2 - size_of(database))
    assert size_of(database) == read + 2

    # The same address (funds.settings) now leads to the other log: at the size already
    # read, where only the last leaf's hash tells them apart, and beyond it.
    for as_of in (read, read + 2):
        with database.session() as session:
            kept = findings_kept(session, funds.settings, now=now, as_of=as_of)
            replayed = findings_for_database(session, config, now=now, as_of=as_of)
        assert documents(kept) == documents(replayed)
        assert blocked_gifts(kept) == {index for index in theirs if index < as_of}

    # And back: a shorter log than the one read last.
    with funds.db.session() as session:
        back = findings_kept(session, funds.settings, now=now)
        assert documents(back) == documents(findings_for_database(session, funds.settings, now=now))
    assert blocked_gifts(back) == {ours.index}


def test_a_smaller_size_than_was_read_is_answered_as_of_that_size(funds: Any) -> None:
    first = funds.give(LARGE_CASH)
    second = funds.give(LARGE_CASH)
    now = datetime.now(UTC)
    with funds.db.session() as session:
        assert blocked_gifts(findings_kept(session, funds.settings, now=now)) == {
            first.index,
            second.index,
        }
        earlier = findings_kept(session, funds.settings, now=now, as_of=second.index)
        assert blocked_gifts(earlier) == {first.index}
        assert documents(earlier) == documents(
            findings_for_database(session, funds.settings, now=now, as_of=second.index)
        )


def test_idle_money_is_measured_to_the_moment_asked(funds: Any) -> None:
    gift = funds.give(5_000_000, reference="PT-1")
    now = datetime.now(UTC)
    with funds.db.session() as session:
        assert findings_kept(session, funds.settings, now=now) == []
        (idle,) = findings_kept(session, funds.settings, now=now + timedelta(days=120))
        assert findings_kept(session, funds.settings, now=now) == []
    assert (idle.check, idle.index, idle.details["idle"]) == ("idle_money", gift.index, 5_000_000)


def test_only_the_entries_appended_since_are_read(
    funds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    funds.give(LARGE_CASH)
    with funds.db.session() as session:
        findings_kept(session, funds.settings)
    read: list[int] = []
    entries = log.entries

    def counted(session: Any, start: int, limit: int) -> Any:
        found = entries(session, start, limit)
        read.extend(entry.index for entry in found)
        return found

    monkeypatch.setattr(log, "entries", counted)
    new = funds.give(LARGE_CASH)
    with funds.db.session() as session:
        assert new.index in blocked_gifts(findings_kept(session, funds.settings))
        assert read == [new.index]
        findings_kept(session, funds.settings)
    assert read == [new.index]


def test_readers_asking_at_once_get_one_answer(funds: Any, tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[idle_money]\ndays = 1\n", encoding="utf-8")  # a runner of its own
    rules = replace(funds.settings, audit_rules_file=path)
    now = datetime.now(UTC) + timedelta(days=10)

    def at_once(readers: int) -> list[list[dict[str, Any]]]:
        start = threading.Barrier(readers)
        answers: list[list[dict[str, Any]]] = []
        failures: list[BaseException] = []

        def read() -> None:
            try:
                with funds.db.session() as session:
                    start.wait()
                    answers.append(documents(findings_kept(session, rules, now=now)))
            except BaseException as err:  # reported below, not lost in the thread
                failures.append(err)

        threads = [threading.Thread(target=read) for _ in range(readers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        return answers

    for round_ in range(3):
        for amount in (LARGE_CASH, 3_000_000 + round_):
            funds.give(amount)
        answers = at_once(6)
        with funds.db.session() as session:
            replayed = documents(findings_for_database(session, rules, now=now))
        assert len(answers) == 6
        assert all(answer == replayed for answer in answers)
        assert {finding["check"] for finding in replayed} == {"idle_money", "large_cash_gift"}


# -- the public ranking ------------------------------------------------------------------


def test_a_gift_recorded_after_a_ranking_is_withheld_in_the_very_next_one(
    client: FlaskClient, funds: Any
) -> None:
    donor = {"display": "Công ty Đại Phát", "type": "organization"}
    funds.give(1_000_000, mobilizer=funds.mobilizer, donor=donor, reference="PT-1")
    before = client.get(f"{API}/rankings?type=collective").get_json()
    assert before["withheld"] == 0

    big = funds.give(LARGE_CASH, mobilizer=funds.mobilizer, donor=donor)
    after = client.get(f"{API}/rankings?type=collective&evidence=1").get_json()

    assert after["tree_size"] == before["tree_size"] + 1
    assert (after["withheld"], after["withheld_gifts"]) == (1, [big.index])
    assert [(m["mobilizer"], m["net_amount"]) for m in after["mobilizers"]] == [
        (funds.mobilizer, 1_000_000)
    ]
