"""The full audit of an export file, with no database and only the genesis key trusted."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from audit.findings import ERROR
from audit.full import audit_database, audit_export
from audit.report import AuditReport
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.entries import GENESIS, KEY_ROTATION, ZERO_HASH_HEX, encode_entry
from ledger.export import write_export
from ledger.keys import SigningKey, VerifierKey
from ledger.merkle import CompactRange

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
CASES: dict[str, Any] = json.loads((EXPORTS / "cases.json").read_text(encoding="utf-8"))
GOLDEN_KEY = VerifierKey.parse(CASES["genesis_key"])


def errors(report: AuditReport) -> list[tuple[str, int | None]]:
    return [(f.check, f.index) for f in report.findings if f.severity == ERROR]


def export(funds: Any, path: Path) -> Path:
    with funds.db.session() as session, path.open("w", encoding="utf-8") as out:
        write_export(session, out)
    return path


def genesis_key(funds: Any) -> VerifierKey:
    return SigningKey.load(funds.settings.signing_key_file, funds.settings.origin).verifier


def test_an_export_audits_exactly_as_its_database_does(funds: Any, tmp_path: Path) -> None:
    funds.give(3_000_000, channel="bank", reference="FT26401")
    gift = funds.give(2_000_000, channel="bank", reference="FT26402")
    funds.give(1_000_000, earmark={"unit": funds.district})
    funds.allocate(1_500_000)
    funds.record("transfer", {"from_fund": funds.fund, "to_fund": funds.other_fund, "amount": 7})
    key = genesis_key(funds)
    funds.record("reversal", {"target": gift.index, "reason": "Ghi nhầm"})
    path = export(funds, tmp_path / "ledger.jsonl")

    offline = audit_export(path, key, funds.settings, rules=False)
    with funds.db.session() as session:
        online = audit_database(session, funds.settings, rules=False)

    assert offline.findings == online.findings == ()
    assert (offline.size, offline.root, offline.checkpoints) == (
        online.size,
        online.root,
        online.checkpoints,
    )
    assert offline.funds == online.funds and offline.campaigns == online.campaigns
    assert offline.funds[funds.fund]["available"] == 3_000_000 + 1_000_000 - 1_500_000 - 7
    assert offline.document()["source"] == "export"


def test_a_reversal_of_a_long_gone_gift_is_read_back_from_the_file(
    funds: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keep the postings of one recent entry only: the reversed gift must be re-read.
    monkeypatch.setattr("ledger.funds.replay.RECENT_LEGS", 1)
    gift = funds.give(1_500_000, channel="bank", reference="FT26402")
    for amount in (100_000, 200_000, 300_000):
        funds.give(amount)
    funds.record("reversal", {"target": gift.index, "reason": "Ghi trùng"})
    funds.give(1_500_000, channel="bank", reference="FT26402")  # the reference is free again
    report = audit_export(export(funds, tmp_path / "e.jsonl"), genesis_key(funds), rules=False)
    assert report.findings == ()
    assert report.funds[funds.fund]["available"] == 600_000 + 1_500_000


def test_the_golden_export_breaks_only_the_fund_rules_it_never_meant_to_keep() -> None:
    """The golden log is a format fixture: it moves money between funds it never registered."""
    report = audit_export(EXPORTS / "golden.jsonl", GOLDEN_KEY, rules=False)
    assert errors(report) == [("transfer", 6), ("transfer", 6)]
    assert (report.size, report.root.hex(), report.checkpoints) == (
        CASES["tree_size"],
        CASES["root"],
        CASES["checkpoints"],
    )
    assert list(report.keys) == CASES["keys"]


@pytest.mark.parametrize("name", sorted(CASES["tampered"]))
def test_each_tampered_golden_export_is_named_at_its_index(name: str) -> None:
    case = CASES["tampered"][name]
    report = audit_export(EXPORTS / name, GOLDEN_KEY, rules=False)
    named = [f for f in report.errors if f.index == case["index"]]
    assert any(case["reason"] in f.message for f in named), report.lines()
    assert report.failure() is not None


def test_an_export_starting_with_another_key_fails_at_its_genesis() -> None:
    other = SigningKey.generate(CASES["origin"]).verifier
    report = audit_export(EXPORTS / "golden.jsonl", other, rules=False)
    assert errors(report) == [("genesis", 0)]
    assert "not the trusted key" in report.errors[0].message
    assert not report.complete


# -- an export written by hand, with a rotation that is not valid -------------------------


Batch = tuple[list[tuple[str, dict[str, Any]]], SigningKey]


def write_log(path: Path, batches: list[Batch]) -> None:
    """An export whose leaves and links are sound; each batch's checkpoint signed by its key."""
    tree, prev, index = CompactRange(), ZERO_HASH_HEX, 0
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    lines: list[dict[str, Any]] = []
    for batch, key in batches:
        for kind, body in batch:
            entry = encode_entry(
                index=index, kind=kind, time=moment, prev=prev, actor="ke-toan", body=body
            )
            lines.append(
                {
                    "type": "entry",
                    "index": index,
                    "leaf": base64.b64encode(entry.leaf).decode(),
                    "leaf_hash": entry.leaf_hash.hex(),
                }
            )
            tree.push(entry.leaf_hash)
            prev, index = entry.leaf_hash.hex(), index + 1
            moment += timedelta(minutes=1)
        note = sign_checkpoint(Checkpoint(key.name, index, tree.root()), key)
        lines.append(
            {"type": "checkpoint", "tree_size": index, "root": tree.root().hex(), "note": note}
        )
    origin = batches[0][1].name
    header = {"format": "mttq-ledger-export", "version": 1, "origin": origin, "tree_size": index}
    path.write_text(
        "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in [header, *lines]),
        encoding="utf-8",
    )


def test_a_key_rotation_that_does_not_name_the_key_in_force_is_named(tmp_path: Path) -> None:
    key = SigningKey.generate("quy.example.vn/covid19")
    stranger, successor = (SigningKey.generate(key.name) for _ in range(2))
    genesis = {"origin": key.name, "verifier_key": str(key.verifier), "name": "Quỹ thử"}
    rotation = {"old_key": str(stranger.verifier), "new_key": str(successor.verifier)}
    path = tmp_path / "rotation.jsonl"
    write_log(
        path,
        [
            ([(GENESIS, genesis)], key),
            ([("note", {"n": 1})], key),
            ([(KEY_ROTATION, rotation)], key),
        ],
    )
    report = audit_export(path, key.verifier, rules=False)
    assert errors(report) == [("key_rotation", 2)]
    assert "old_key is not the key in force" in report.errors[0].message


def test_a_valid_rotation_in_a_hand_written_export_audits_clean(tmp_path: Path) -> None:
    key = SigningKey.generate("quy.example.vn/covid19")
    successor = SigningKey.generate(key.name)
    genesis = {"origin": key.name, "verifier_key": str(key.verifier), "name": "Quỹ thử"}
    rotation = {"old_key": str(key.verifier), "new_key": str(successor.verifier)}
    path = tmp_path / "rotation.jsonl"
    notes = [("note", {"n": 1}), ("note", {"n": 2})]
    # The checkpoint covering the rotation is the old key's; the next, the new key's.
    write_log(
        path, [([(GENESIS, genesis)], key), ([(KEY_ROTATION, rotation)], key), (notes, successor)]
    )
    report = audit_export(path, key.verifier, rules=False)
    assert report.findings == ()
    assert list(report.keys) == [str(key.verifier), str(successor.verifier)]
