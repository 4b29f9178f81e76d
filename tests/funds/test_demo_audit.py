"""``ledger demo``'s audit layer: acknowledged findings, the board's nominations, a witness.

One demo ledger of 1,000 gifts (seed 6: large cash gifts with and without their
receipt number, and nominations in every final state) is filled and witnessed once
per backend, and only read afterwards, except by the last test, which appends.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from funds.test_demo import Ledgers, all_entries

from audit import rankings, rules
from audit.awards import nominations as n
from audit.awards.evidence import gift_indices, verify
from audit.cosignature import WitnessKey, WitnessSigner
from audit.findings import BLOCKING, blocked_gifts
from audit.witness import StateFile
from ledger import log
from ledger.checkpoint import SignedNote, verify_checkpoint
from ledger.cli import main
from ledger.db import Database
from ledger.funds.access import command_line
from ledger.funds.demo import DemoResult, run_demo
from ledger.funds.demo_audit import (
    AUDITOR_SCOPE,
    BOARD_SCOPE,
    DEMO_WITNESS,
    REJECTION,
    WITNESS_URL,
    DemoWitness,
    witness_demo,
)
from ledger.funds.documents import get_document
from ledger.funds.recorder import record
from ledger.settings import Settings
from public_api import create_app

SEED, GIFTS = 6, 1_000


class Audited:
    """The shared ledger, and what the demo and its witness reported of it."""

    def __init__(self, ledgers: Ledgers) -> None:
        self.db, self.settings = ledgers.make()
        self.result: DemoResult = run_demo(self.db, self.settings, seed=SEED, gifts=GIFTS)
        self.witnessed: DemoWitness = witness_demo(self.db, self.settings)

    def env(self) -> dict[str, str]:
        s = self.settings
        return {
            "LEDGER_INSTANCE_DIR": str(s.instance_dir),
            "LEDGER_DATABASE_URL": s.database_url,
            "LEDGER_ORIGIN": s.origin,
            "LEDGER_BASE_URL": s.base_url,
        }

    @contextmanager
    def client(self) -> Iterator[FlaskClient]:
        app = create_app({**self.env(), "TESTING": True})
        try:
            yield app.test_client()
        finally:
            app.extensions["ledger.database"].dispose()


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    ledgers = Ledgers(tmp_path_factory.mktemp("demo-audit"))
    try:
        yield Audited(ledgers)
    finally:
        ledgers.close()


def test_the_board_nominates_from_the_rankings_and_takes_them_through_its_workflow(
    audited: Audited,
) -> None:
    with audited.db.session() as session:
        found = n.load(session)
        states = Counter(nomination.state for nomination in found)
        assert dict(states) == audited.result.nominations
        assert {n.PROPOSED, n.UNDER_REVIEW, n.REJECTED, n.CONFERRED, n.FORWARDED} <= set(states)
        assert states[n.REJECTED] == 1
        for nomination in found:
            assert nomination.actor == BOARD_SCOPE.actor
            report = verify(session, nomination.body, index=nomination.index)
            assert report.ok, (nomination.id, report.problems)
            campaign, size = nomination.body["campaign"], nomination.body["evidence"]["tree_size"]
            query = rankings.RankingQuery(nomination.body["awardee"]["type"], campaign)
            ranked = {r.mobilizer: r for r in rankings.rank(session, query, as_of=size)}
            assert nomination.body["awardee"]["code"] in ranked
    for nomination in found:
        steps = [(step.source, step.target) for step in nomination.history]
        assert all(step.actor == BOARD_SCOPE.actor for step in nomination.history)
        if nomination.state == n.REJECTED:
            assert steps == [(n.PROPOSED, n.UNDER_REVIEW), (n.UNDER_REVIEW, n.REJECTED)]
            assert nomination.history[-1].reason == REJECTION
        if nomination.state in (n.CONFERRED, n.FORWARDED):
            assert steps[:2] == [(n.PROPOSED, n.UNDER_REVIEW), (n.UNDER_REVIEW, n.APPROVED)]
            assert nomination.state == nomination.final_state  # by its form
            decision = nomination.history[-1].decision
            assert decision is not None and decision["approver"].startswith("Ban Thường trực")
            assert ("TTr" in decision["number"]) == (nomination.state == n.FORWARDED)
    province = [x for x in found if x.body["campaign"] == "LS-COVID-2021"]
    assert province and all(x.state != n.PROPOSED for x in province)  # decided first


def test_about_half_the_blocked_cash_gifts_are_acknowledged_and_count_again(
    audited: Audited,
) -> None:
    with audited.db.session() as session:
        findings = rules.findings_for_database(session, audited.settings)
        every = all_entries(audited.db)
        entries = {e.index: e for e in every if e.kind == "acknowledgement"}
        gifts = {e.index: e for e in every if e.kind == "contribution"}
        counted = {gift for x in n.load(session) for gift in gift_indices(x.body)}
    cash = [f for f in findings if f.check == "large_cash_gift"]
    acknowledged = [f for f in findings if f.acknowledged]
    assert tuple(f.id for f in acknowledged) == audited.result.acknowledged
    assert acknowledged and all(f.check == "large_cash_gift" for f in acknowledged)
    assert len(acknowledged) == min(2, (len(cash) + 1) // 2) < len(cash)
    for finding in acknowledged:
        assert finding.acknowledged_by is not None
        entry = entries[finding.acknowledged_by]
        assert entry.actor == AUDITOR_SCOPE.actor
        assert finding.acknowledged_reason == entry.body["reason"]
        assert "biên lai" in entry.body["reason"]
    blocked = blocked_gifts(findings)
    assert len(blocked) == audited.result.still_blocked > 0
    assert all(f.severity == BLOCKING for f in cash)
    assert {f.index for f in cash if not f.acknowledged} == blocked
    assert not blocked & counted  # a blocked gift earns no award
    with audited.db.session() as session:  # an acknowledged one counts in the rankings again
        size = log.tree_size(session)
        ranked = {
            gift
            for kind in ("collective", "individual")
            for row in rankings.rank(
                session, rankings.RankingQuery(kind, excluded=blocked), as_of=size
            )
            for gift in row.gift_indices
        }
    credited = {f.index for f in acknowledged if gifts[f.index].body.get("mobilizer")}
    assert credited and credited <= ranked
    assert not blocked & ranked
    # Most larger cash gifts carry their receipt book's number; the rule sees only those without.
    receipted = [
        e.body for e in gifts.values() if e.body["channel"] == "cash" and "reference" in e.body
    ]
    assert len(receipted) > 5 * len(cash)
    assert all(body["reference"].startswith("BL") for body in receipted)


def test_the_final_checkpoint_carries_a_cosignature_by_the_demo_witness(
    audited: Audited,
) -> None:
    witnessed, settings = audited.witnessed, audited.settings
    assert witnessed.answer.cosigned and witnessed.url == WITNESS_URL
    assert witnessed.key_file == settings.instance_dir / "demo-witness.key"
    signer = WitnessSigner.load(witnessed.key_file)
    key = WitnessKey.parse(witnessed.verifier_key)
    assert signer.verifier == key and key.name == DEMO_WITNESS
    with audited.client() as client:
        answer = client.get("/api/v1/log/checkpoint")
        receipt = client.get(f"/api/v1/receipts/{audited.result.sample_receipt}").get_json()
        (listed,) = client.get("/api/v1/log/witnesses").get_json()["witnesses"]
    assert answer.status_code == 200
    note = SignedNote.parse(answer.get_data(as_text=True))
    with audited.db.session() as session:
        size = log.tree_size(session)
        ledger_key = log.current_key(session)
    assert witnessed.answer.tree_size == size == verify_checkpoint(note.render(), ledger_key).size
    (cosignature,) = key.cosignatures_in(note)  # verified under the demo witness's key
    assert cosignature.timestamp == witnessed.answer.timestamp
    assert StateFile(witnessed.state_file).read()[settings.origin].size == size
    assert [w["name"] for w in receipt["witnessed"]["witnesses"]] == [DEMO_WITNESS]
    assert receipt["witnessed"]["tree_size"] == size
    assert listed["name"] == DEMO_WITNESS and listed["cosigned_size"] == size
    assert listed["verifier_key"] == witnessed.verifier_key


def test_every_document_an_allocation_or_payment_names_is_stored_as_a_pdf(
    audited: Audited,
) -> None:
    spending = [e for e in all_entries(audited.db) if e.kind in ("allocation", "disbursement")]
    named = [digest for e in spending for digest in e.body.get("documents", ())]
    assert all(e.body["documents"] for e in spending if e.kind == "disbursement")
    assert len(set(named)) == len(named) == audited.result.documents
    with audited.db.session() as session:
        for digest in named:
            document = get_document(session, digest)
            assert hashlib.sha256(document.content).hexdigest() == digest
            assert document.media_type == "application/pdf"
            assert document.filename.endswith(".pdf")
            assert document.content.startswith(b"%PDF-1.4\n")
            assert document.content.endswith(b"%%EOF\n")


def test_ledger_verify_and_audit_pass_on_the_demo(audited: Audited) -> None:
    runner = CliRunner(env=audited.env())
    verified = runner.invoke(main, ["verify"])
    assert verified.exit_code == 0, verified.output
    audit = runner.invoke(main, ["audit"])
    assert audit.exit_code == 0, audit.output
    summary = audit.output.strip().splitlines()[-1]
    assert "error: 0" in summary
    assert f"acknowledged: {len(audited.result.acknowledged)}" in summary


def test_the_demo_witness_cosigns_a_later_checkpoint_with_the_same_key(
    audited: Audited,
) -> None:
    gift = {
        "fund": "LS-COVID",
        "amount": 500_000,
        "channel": "cash",
        "donor": {"display": "Lăng Văn Tuấn", "type": "individual"},
    }
    db: Database = audited.db
    settings: Settings = audited.settings
    record(db, settings, command_line("manager"), [("contribution", gift)])
    again = witness_demo(db, settings)
    with db.session() as session:
        size = log.tree_size(session)
    assert again.answer.cosigned and again.answer.tree_size == size
    assert again.verifier_key == audited.witnessed.verifier_key  # the same key, kept
    assert StateFile(again.state_file).read()[settings.origin].size == size
