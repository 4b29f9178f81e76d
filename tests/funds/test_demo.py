"""``ledger demo``: an empty ledger filled with a Lạng Sơn campaign that keeps every rule.

The tests use 300 gifts (enough for every kind of entry, earmarks and in-kind gifts),
and those that only read share one demo ledger.
"""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from ledger import log
from ledger.cli import main
from ledger.db import Database
from ledger.entries import Entry
from ledger.errors import ConflictError
from ledger.funds import state
from ledger.funds.access import command_line
from ledger.funds.demo import DemoResult, run_demo
from ledger.funds.models import BeneficiaryRow, DocumentRow, DonorContactRow
from ledger.funds.postings import GUARDED, Posting, postings_for
from ledger.funds.recorder import record, today_in_vietnam
from ledger.genesis import init_ledger
from ledger.integrity import verify_database
from ledger.models import EntryRow
from ledger.settings import Settings

PG_URL = os.environ.get("LEDGER_TEST_DATABASE_URL")
ORIGIN = "test.mttq.example/covid19"
GIFTS = 300


def fill(db: Database, settings: Settings, seed: int = 7, **kwargs: Any) -> DemoResult:
    return run_demo(db, settings, seed=seed, gifts=kwargs.pop("gifts", GIFTS), **kwargs)


def all_entries(db: Database) -> list[Entry]:
    with db.session() as session:
        return log.entries(session, 0, log.tree_size(session))


class Ledgers:
    """Fresh initialised ledgers, each in its own database: a SQLite file or, when the
    suite runs on PostgreSQL, a schema of the test database (dropped at ``close``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[tuple[Database, str | None]] = []
        self.admin = None
        if PG_URL:
            admin_url = Settings.load({"LEDGER_DATABASE_URL": PG_URL}, environ={}).database_url
            self.admin = create_engine(admin_url)

    def make(self, privacy_key_file: Path | None = None) -> tuple[Database, Settings]:
        folder, schema = self.root / f"ledger{len(self.made)}", None
        url = f"sqlite:///{folder / 'ledger.sqlite3'}"
        if self.admin is not None:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            with self.admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            query = {"options": f"-csearch_path={schema}"}
            url = make_url(self.admin.url).update_query_dict(query).render_as_string(False)
        overrides = {
            "LEDGER_INSTANCE_DIR": str(folder),
            "LEDGER_DATABASE_URL": url,
            "LEDGER_ORIGIN": ORIGIN,
            "LEDGER_BASE_URL": "https://quy.example.vn",
        }
        if privacy_key_file is not None:
            overrides["LEDGER_PRIVACY_KEY_FILE"] = str(privacy_key_file)
        settings = Settings.load(overrides, environ={})
        database = Database(settings.database_url)
        self.made.append((database, schema))
        init_ledger(settings, database)
        return database, settings

    def close(self) -> None:
        for database, schema in self.made:
            database.dispose()
            if self.admin is not None and schema is not None:
                with self.admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        if self.admin is not None:
            self.admin.dispose()


Shared = tuple[Database, Settings, DemoResult]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """One demo ledger for the tests that only read it."""
    ledgers = Ledgers(tmp_path_factory.mktemp("demo"))
    try:
        database, settings = ledgers.make()
        yield database, settings, fill(database, settings)
    finally:
        ledgers.close()


@pytest.fixture
def demo(shared: Shared) -> DemoResult:
    return shared[2]


@pytest.fixture
def filled(shared: Shared) -> Database:
    return shared[0]


@pytest.fixture
def ledgers(tmp_path: Path) -> Iterator[Ledgers]:
    made = Ledgers(tmp_path)
    yield made
    made.close()


def test_the_demo_fills_an_empty_ledger_with_a_verifiable_campaign(
    demo: DemoResult, filled: Database
) -> None:
    counts = Counter(demo.counts)
    assert counts["unit"] >= 12 and counts["fund"] >= 14 and counts["mobilizer"] >= 60
    assert counts["contribution"] >= GIFTS
    assert counts["pledge"] >= 24
    assert counts["allocation"] > 20 and counts["disbursement"] > 20
    assert counts["transfer"] > 0 and counts["reversal"] == 1
    assert demo.entries == 1 + sum(counts.values())
    assert demo.received > 0 and demo.received_in_kind > 0
    with filled.session() as session:
        assert verify_database(session).size == demo.entries
        tree = state.UnitTree.load(session)
        districts = [code for code, parent in tree.parents.items() if parent == "LS"]
        assert len(districts) == 11
        assert tree.names["LS"] == "Tỉnh Lạng Sơn"
        assert tree.names["LS-CL-HT"] == "Xã Hợp Thành"
        assert tree.within("LS-CL-TTCL-K3", "LS-CL")
        kinds = {fund.kind for fund in state.funds(session)}
        assert kinds == {"covid19", "poor", "relief"}


def test_gifts_are_dated_within_their_campaign_and_look_real(
    demo: DemoResult, filled: Database
) -> None:
    gifts = [e for e in all_entries(filled) if e.kind == "contribution"]
    with filled.session() as session:
        campaigns = {c.code: c for c in state.campaigns(session)}
    for gift in gifts:
        campaign = campaigns[gift.body["campaign"]]
        assert campaign.opens <= gift.body["received_on"] <= campaign.closes
        assert gift.actor.startswith("demo:mttq-")
    old = [g.body for g in gifts if g.body["campaign"].endswith("-2021")]
    assert all(50_000 <= body["amount"] <= 500_000_000 for body in old)
    channels = Counter(body["channel"] for body in old)
    assert channels["bank"] > channels["cash"] > channels["in_kind"] > 0
    references = [body["reference"] for body in old if body["channel"] == "bank"]
    assert len(set(references)) == len(references)
    assert all(re.fullmatch(r"FT21\d{11}", reference) for reference in references)
    assert all(body["in_kind"]["valuation"] for body in old if body["channel"] == "in_kind")
    anonymous = sum(body["donor"]["anonymous"] for body in old)
    assert 0.03 * len(old) < anonymous < 0.2 * len(old)
    assert sum(body.get("mobilizer") is not None for body in old) > 0.6 * len(old)
    assert any("earmark" in body for body in old)


def test_balances_never_go_negative_and_match_a_replay_of_the_entries(
    demo: DemoResult, filled: Database
) -> None:
    legs: dict[int, list[Posting]] = {}
    sums: dict[str, Counter[str]] = defaultdict(Counter)
    pools: Counter[tuple[str, str, str]] = Counter()
    for entry in all_entries(filled):
        legs[entry.index] = postings_for(entry.kind, entry.body, lambda i: legs[i])
        for leg in legs[entry.index]:
            sums[leg.fund][leg.account] += leg.amount
            pools[leg.fund, leg.account, leg.earmark] += leg.amount
            if leg.account in GUARDED:
                assert pools[leg.fund, leg.account, leg.earmark] >= 0, entry.index
    with filled.session() as session:
        balances = state.fund_balances(session)
    for fund, balance in balances.items():
        assert balance == state.balance_from(dict(sums[fund]))
        assert all(value >= 0 for value in balance.as_dict().values())
    assert sum(b.disbursed for b in balances.values()) > 0
    assert sum(b.committed for b in balances.values()) > 0


def comparable(entry: Entry) -> tuple[str, str, dict[str, Any]]:
    """An entry without what differs between two ledgers filled alike.

    Each ledger signs with its own key from its own genesis entry, so the checkpoint a
    nomination cites as evidence (its root and signature) differs; nothing else may.
    """
    body = entry.body
    if entry.kind == "award_nomination":
        evidence = {k: v for k, v in body["evidence"].items() if k not in ("root", "checkpoint")}
        body = {**body, "evidence": evidence}
    return entry.kind, entry.actor, body


def test_the_same_seed_gives_the_same_entries_and_another_seed_others(ledgers: Ledgers) -> None:
    now = datetime.now(UTC)
    first_db, first_settings = ledgers.make()
    # The privacy key keys the hashes of phone and ID numbers: the same key, the same hashes.
    again_db, again_settings = ledgers.make(first_settings.privacy_key_file)
    other_db, other_settings = ledgers.make(first_settings.privacy_key_file)
    fill(first_db, first_settings, now=now)
    fill(again_db, again_settings, now=now)
    fill(other_db, other_settings, seed=8, now=now)
    first, second, third = (all_entries(db)[1:] for db in (first_db, again_db, other_db))
    kinds = Counter(e.kind for e in first)
    assert kinds["award_nomination"] and kinds["award_transition"] and kinds["acknowledgement"]
    assert [comparable(e) for e in first] == [comparable(e) for e in second]
    assert [e.body for e in first] != [e.body for e in third]


def test_a_campaign_is_open_today_for_every_fund_kind(demo: DemoResult, filled: Database) -> None:
    today = today_in_vietnam().isoformat()
    with filled.session() as session:
        open_kinds = {
            fund.kind
            for fund in state.funds(session)
            if state.open_campaigns(session, fund.code, today)
        }
        assert open_kinds == {"covid19", "poor", "relief"}
        for fund in state.funds(session):
            assert len(state.open_campaigns(session, fund.code, today)) <= 1
        open_now = [c.code for c in state.campaigns(session) if c.opens <= today <= c.closes]
        assert all(state.campaign_balance(session, code).received > 0 for code in open_now)
        pledged = [state.pledged(session, code) for code in open_now]
        assert sum(total for total, _kept in pledged) > sum(kept for _total, kept in pledged) > 0


def test_a_gift_can_be_recorded_right_after_the_demo_without_naming_a_campaign(
    ledger: Database, settings: Settings
) -> None:
    fill(ledger, settings)
    year = today_in_vietnam().year
    for fund in ("LS-COVID", "LS-POOR", "LS-RELIEF"):
        gift = {
            "fund": fund,
            "amount": 500_000,
            "channel": "cash",
            "donor": {"display": "Lăng Văn Tuấn", "type": "individual"},
        }
        (done,) = record(ledger, settings, command_line("manager"), [("contribution", gift)])
        assert done.body["campaign"] == f"{fund}-{year}"


def test_no_leaf_or_document_holds_a_phone_number_id_number_or_beneficiarys_name(
    demo: DemoResult, filled: Database
) -> None:
    phones = [v for v in demo.private_values if len(v) == 10]
    ids = [v for v in demo.private_values if len(v) == 12]
    assert phones and ids
    assert all(re.fullmatch(r"09\d{8}", phone) for phone in phones)
    assert all(re.fullmatch(r"020[0-3]\d{8}", number) for number in ids)
    with filled.session() as session:
        leaves = [leaf.decode() for leaf in session.scalars(select(EntryRow.leaf))]
        documents = [row.decode() for row in session.scalars(select(DocumentRow.content))]
        contacts = set(session.scalars(select(DonorContactRow.contact)))
        names = list(session.scalars(select(BeneficiaryRow.full_name)))
        hidden = session.execute(
            select(DonorContactRow.receipt_id, DonorContactRow.name).where(
                DonorContactRow.name.is_not(None)
            )
        ).all()
    assert set(phones) <= contacts  # the numbers were given, and kept privately
    public = "\n".join(leaves + documents)
    for value in demo.private_values:
        assert value not in public
    allocations = "\n".join(leaf for leaf in leaves if '"kind":"allocation"' in leaf)
    assert names
    for name in names:
        assert name not in allocations
    assert '"id_hash"' in allocations and '"contact_hash"' in "\n".join(leaves)
    assert hidden  # anonymous donors whom the committee knows: the name stays off the leaf
    for receipt, name in hidden:
        (leaf,) = [leaf for leaf in leaves if f'_id":"{receipt}"' in leaf]  # receipt or pledge
        assert name not in leaf and "Nhà hảo tâm ẩn danh" in leaf


def test_the_duplicate_gift_is_reversed_and_pledges_are_kept(
    demo: DemoResult, filled: Database
) -> None:
    entries = all_entries(filled)
    (reversal,) = [e for e in entries if e.kind == "reversal"]
    target = entries[reversal.body["target"]]
    assert target.kind == "contribution"
    same = {k: v for k, v in target.body.items() if k != "receipt_id"}
    twins = [
        e
        for e in entries[: target.index]
        if e.kind == "contribution"
        and {k: v for k, v in e.body.items() if k != "receipt_id"} == same
    ]
    assert twins
    pledges = {e.body["pledge_id"] for e in entries if e.kind == "pledge"}
    kept = [e.body["pledge"] for e in entries if e.kind == "contribution" and "pledge" in e.body]
    assert kept and set(kept) <= pledges
    disbursed = [e for e in entries if e.kind == "disbursement"]
    assert all(e.body["documents"] for e in disbursed)
    with filled.session() as session:
        for e in disbursed[:5]:
            assert session.get(DocumentRow, e.body["documents"][0]) is not None


def test_the_demo_refuses_a_ledger_that_is_not_empty(shared: Shared) -> None:
    database, settings, demo = shared
    with pytest.raises(ConflictError, match="the demo needs an empty ledger"):
        fill(database, settings, gifts=10)
    with database.session() as session:
        assert log.tree_size(session) == demo.entries


def test_ledger_demo_prints_a_summary_and_refuses_to_run_twice(
    ledger: Database, runner: CliRunner
) -> None:
    result = runner.invoke(main, ["demo", "--seed", "7", "--gifts", "300"])
    assert result.exit_code == 0, result.output
    assert "units 20, funds 16" in result.output
    assert re.search(r"gifts 3\d\d, pledges 30; received [\d.]+ đồng in cash", result.output)
    assert "https://quy.example.vn/api/v1/funds" in result.output
    assert re.search(r"https://quy\.example\.vn/r/[0-9A-HJKMNP-TV-Z]{16}\b", result.output)
    assert re.search(r"award nominations [1-9]\d* \(conferred [1-9]", result.output)
    assert re.search(r"findings acknowledged: [a-z_]+:\d+", result.output)
    assert re.search(
        r"witnessed: the checkpoint of tree size \d+ is cosigned by "
        r"nhan-chung\.mttq-langson\.vn/demo, a DEMO witness",
        result.output,
    )
    assert "proves nothing" in result.output and "ledger witness serve --key-file" in result.output
    again = runner.invoke(main, ["demo", "--seed", "7", "--gifts", "300"])
    assert again.exit_code == 1
    assert "error: the demo needs an empty ledger" in again.stderr
    assert "Traceback" not in again.output


def test_ledger_demo_needs_an_initialised_ledger(runner: CliRunner) -> None:
    result = runner.invoke(main, ["demo", "--gifts", "10"])
    assert result.exit_code == 1
    assert "ledger init" in result.stderr
