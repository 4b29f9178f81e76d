"""The full audit over a database someone rewrote behind the triggers, and the
consistency proofs between stored checkpoints.

The ledger holds 50 small entries in batches, so checkpoints sit at sizes 1, 4, 8, 9,
17, 33 and 50: index 7 is the last entry of a batch and has its own checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text

from audit.checkpoints_audit import CheckpointChain
from audit.findings import ERROR
from audit.full import audit_database
from audit.report import AuditReport
from ledger.checkpoint import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.db import Database
from ledger.keys import SigningKey
from ledger.merkle import CompactRange, hash_leaf
from ledger.models import APPEND_ONLY_TABLES
from ledger.settings import Settings

AppendNotes = Callable[..., None]
BATCHES = [3, 4, 1, 8, 16, 17]
SIZE = 50
TARGET = 7


@pytest.fixture
def filled(ledger: Database, signer: SigningKey, append_notes: AppendNotes) -> Database:
    for batch in BATCHES:
        append_notes(ledger, signer, batch, batch=batch)
    return ledger


def audit(db: Database, settings: Settings) -> AuditReport:
    with db.session() as session:
        return audit_database(session, settings, rules=False)


def errors(report: AuditReport) -> list[tuple[str, int | None]]:
    return [(f.check, f.index) for f in report.findings if f.severity == ERROR]


def drop_triggers(conn: Connection) -> None:
    for table in APPEND_ONLY_TABLES:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
            conn.execute(text(f"DROP TRIGGER {table}_no_truncate ON {table}"))
        else:
            conn.execute(text(f"DROP TRIGGER {table}_no_update"))
            conn.execute(text(f"DROP TRIGGER {table}_no_delete"))


def tamper(db: Database, statement: str, **values: object) -> None:
    with db.engine.begin() as conn:
        drop_triggers(conn)
        conn.execute(text(statement), values)


def note_of(db: Database, size: int) -> str:
    with db.engine.connect() as conn:
        found = conn.scalar(
            text("SELECT note FROM log_checkpoints WHERE tree_size = :s"), {"s": size}
        )
    return str(found)


def set_note(db: Database, size: int, note: str) -> None:
    tamper(db, "UPDATE log_checkpoints SET note = :n WHERE tree_size = :s", n=note, s=size)


def test_an_untampered_log_of_50_entries_audits_clean(filled: Database, settings: Settings) -> None:
    report = audit(filled, settings)
    assert report.findings == ()
    assert (report.size, report.checkpoints, report.complete) == (SIZE, 7, True)


def test_a_checkpoint_signing_a_forged_root_is_not_consistent_with_the_one_before(
    filled: Database, settings: Settings, signer: SigningKey
) -> None:
    genuine = verify_checkpoint(note_of(filled, TARGET + 1), signer.verifier)
    forged = Checkpoint(genuine.origin, genuine.size, hashlib.sha256(b"forged").digest())
    set_note(filled, TARGET + 1, sign_checkpoint(forged, signer))
    report = audit(filled, settings)
    assert errors(report) == [("checkpoint", TARGET), ("checkpoint_consistency", TARGET)]
    (inconsistent,) = [f for f in report.findings if f.check == "checkpoint_consistency"]
    assert inconsistent.message.startswith(
        "the checkpoint of size 8 is not consistent with the checkpoint of size 4: "
    )
    assert inconsistent.related == (3,)
    # The next checkpoint is proved against the last good one (size 4), and passes.
    assert report.complete and report.size == SIZE


def test_a_checkpoint_whose_signature_was_altered_is_named(
    filled: Database, settings: Settings
) -> None:
    note = note_of(filled, TARGET + 1)
    text_part, _, line = note.rstrip("\n").rpartition("\n")
    name, _, signature = line.rpartition(" ")
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 0x80
    set_note(filled, TARGET + 1, f"{text_part}\n{name} {base64.b64encode(raw).decode()}\n")
    report = audit(filled, settings)
    assert errors(report) == [("checkpoint", TARGET)]
    assert "signature does not verify" in report.errors[0].message


def test_a_rewritten_leaf_ends_the_audit_at_its_index(filled: Database, settings: Settings) -> None:
    with filled.engine.connect() as conn:
        leaf = bytes(
            conn.scalar(text("SELECT leaf FROM log_entries WHERE idx = :i"), {"i": TARGET})
        )
    at = leaf.index(b'"actor":"tester"') + len(b'"actor":"')
    tamper(
        filled,
        "UPDATE log_entries SET leaf = :l WHERE idx = :i",
        l=leaf[:at] + b"T" + leaf[at + 1 :],
        i=TARGET,
    )
    report = audit(filled, settings)
    assert errors(report) == [("chain", TARGET)]
    assert "leaf hash" in report.errors[0].message
    assert "the audit stops here" in report.errors[0].message
    assert (report.complete, report.size) == (False, TARGET)


def test_forged_tree_hashes_stored_with_an_entry_are_named(
    filled: Database, settings: Settings
) -> None:
    forged = hashlib.sha256(b"forged").digest()
    tamper(filled, "UPDATE log_entries SET subtrees = :s WHERE idx = :i", s=forged, i=TARGET)
    report = audit(filled, settings)
    assert errors(report) == [("tree_hashes", TARGET)]
    assert report.complete  # the leaves are sound: the audit goes on


def test_entries_deleted_from_the_end_are_named(filled: Database, settings: Settings) -> None:
    tamper(filled, "DELETE FROM log_entries WHERE idx = :i", i=SIZE - 1)
    report = audit(filled, settings)
    assert ("checkpoint", SIZE - 1) in errors(report)
    assert any("a signed checkpoint covers 50 entries" in f.message for f in report.errors)


def test_a_deleted_entry_in_the_middle_is_named(filled: Database, settings: Settings) -> None:
    tamper(filled, "DELETE FROM log_entries WHERE idx = :i", i=TARGET)
    report = audit(filled, settings)
    assert errors(report) == [("chain", TARGET)]
    assert "expected entry 7 but found entry 8" in report.errors[0].message


# -- consistency proofs between consecutive checkpoints, whatever the batch sizes --------

KEY = SigningKey.generate("audit.example/consistency")


def leaf_hashes(count: int) -> list[bytes]:
    return [hash_leaf(f"leaf {i}".encode()) for i in range(count)]


def note_for(size: int, root: bytes) -> str:
    return sign_checkpoint(Checkpoint(KEY.name, size, root), KEY)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.integers(min_value=1, max_value=40), min_size=2, max_size=12),
    data=st.data(),
)
def test_checkpoint_chain_proves_each_checkpoint_and_names_only_the_forged_one(
    batches: list[int], data: st.DataObject
) -> None:
    forged_at = data.draw(st.integers(min_value=1, max_value=len(batches) - 1))
    chain, tree, hashes = CheckpointChain(), CompactRange(), leaf_hashes(sum(batches))
    found, sizes, done = [], [], 0
    for number, batch in enumerate(batches):
        for leaf in hashes[done : done + batch]:
            chain.add_leaf(leaf)
            tree.push(leaf)
        done += batch
        sizes.append(done)
        root = hashlib.sha256(b"forged").digest() if number == forged_at else tree.root()
        finding = chain.add_checkpoint(done, note_for(done, root))
        if finding is not None:
            found.append(finding)
    (finding,) = found
    assert (finding.check, finding.index) == ("checkpoint_consistency", sizes[forged_at] - 1)
    assert f"consistent with the checkpoint of size {sizes[forged_at - 1]}" in finding.message
