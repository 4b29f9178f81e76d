"""The log in the database: batches, links, all-or-nothing appends, proofs and their cost.

Every proof read from the stored nodes is compared with the same proof from an
in-memory tree over the same leaf hashes, and verified against the signed checkpoints.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from ledger import log, merkle
from ledger.checkpoint import verify_checkpoint
from ledger.db import Database
from ledger.entries import GENESIS, KEY_ROTATION, MAX_LEAF_BYTES, ZERO_HASH_HEX, Draft
from ledger.errors import (
    ConfigurationError,
    EncodingError,
    InvalidRequestError,
    KeyFormatError,
    LedgerError,
    NotFoundError,
)
from ledger.integrity import verify_database
from ledger.keys import SigningKey
from ledger.models import CheckpointRow, EntryRow
from ledger.settings import Settings

AppendNotes = Callable[..., None]
T0 = datetime(2021, 10, 6, 8, 30, tzinfo=UTC)


def note(n: int, **extra: Any) -> Draft:
    return Draft("note", {"n": n, "text": "ủng hộ đồng bào", **extra}, "tester")


def append(db: Database, signer: SigningKey, drafts: list[Draft], **kwargs: Any) -> log.Appended:
    with db.writing() as session:
        return log.append(session, drafts, signer, **kwargs)


def counts(db: Database) -> tuple[int, int, int]:
    """(entries, tree nodes above the leaves, checkpoints) as stored."""
    with db.session() as session:
        subtree_bytes = session.scalar(select(func.sum(func.length(EntryRow.subtrees)))) or 0
        return (
            session.scalar(select(func.count()).select_from(EntryRow)) or 0,
            subtree_bytes // 32,
            session.scalar(select(func.count()).select_from(CheckpointRow)) or 0,
        )


def stored_leaf_hashes(db: Database) -> list[bytes]:
    with db.session() as session:
        return list(session.scalars(select(EntryRow.leaf_hash).order_by(EntryRow.index)))


# --- batches ---------------------------------------------------------------------------


def test_a_batch_of_n_writes_n_entries_and_one_checkpoint_at_the_new_size(
    ledger: Database, signer: SigningKey
) -> None:
    assert counts(ledger) == (1, 0, 1)
    appended = append(ledger, signer, [note(i) for i in range(5)])
    assert [e.index for e in appended.entries] == [1, 2, 3, 4, 5]
    assert appended.tree_size == 6
    entries, nodes, checkpoints = counts(ledger)
    assert (entries, checkpoints) == (6, 2)
    assert nodes == 4  # perfect subtrees of 6 leaves above level 0: [0,2) [2,4) [4,6) [0,4)
    with ledger.session() as session:
        latest = log.latest_checkpoint(session)
        assert latest.tree_size == 6
        assert latest.note == appended.checkpoint
        assert latest.root == appended.root == log.root(session, 6)
        checkpoint = verify_checkpoint(latest.note, signer.verifier)
    assert (checkpoint.size, checkpoint.root) == (6, appended.root)


def test_indices_run_from_zero_with_prev_links(
    ledger: Database, signer: SigningKey, append_notes: AppendNotes
) -> None:
    append_notes(ledger, signer, 3)
    append_notes(ledger, signer, 9, batch=4)
    with ledger.session() as session:
        entries = log.entries(session, 0, 100)
        assert log.tree_size(session) == 13
        assert log.entries(session, 10, 2) == entries[10:12]
        assert log.entry(session, 12) == entries[12]
    assert [e.index for e in entries] == list(range(13))
    assert entries[0].kind == GENESIS
    assert entries[0].prev == ZERO_HASH_HEX
    for previous, current in itertools.pairwise(entries):
        assert current.prev == previous.leaf_hash.hex()
        assert current.time >= previous.time
    assert stored_leaf_hashes(ledger) == [merkle.hash_leaf(e.leaf) for e in entries]


def test_text_is_stored_nfc_normalised(ledger: Database, signer: SigningKey) -> None:
    nfd = "Nguye\u0302\u0303n Va\u0306n A"
    appended = append(ledger, signer, [Draft("note", {"donor": nfd}, "thu-quy\u0309")])
    stored = appended.entries[0]
    assert stored.body["donor"] == "Nguyễn Văn A"
    assert stored.actor == "thu-quỷ"
    assert "Nguyễn Văn A".encode() in stored.leaf


def test_reading_missing_entries_and_sizes(ledger: Database) -> None:
    with ledger.session() as session:
        with pytest.raises(NotFoundError, match="no entry with index 1"):
            log.entry(session, 1)
        with pytest.raises(NotFoundError, match="beyond"):
            log.root(session, 2)
        with pytest.raises(NotFoundError, match="no checkpoint covers index 1"):
            log.checkpoint_covering(session, 1)
        with pytest.raises(InvalidRequestError):
            log.inclusion_proof(session, 1, 1)
        with pytest.raises(InvalidRequestError):
            log.consistency_proof(session, 0, 1)


def test_an_empty_database_has_no_genesis_or_checkpoint(settings: Settings, db: Database) -> None:
    from ledger import migrate

    migrate.upgrade(db.engine)
    with db.session() as session:
        assert log.tree_size(session) == 0
        with pytest.raises(NotFoundError, match="ledger init"):
            log.latest_checkpoint(session)
        with pytest.raises(NotFoundError, match="ledger init"):
            log.current_key(session)
        assert log.read_head(session) == log.Head(0, None, None)
        with pytest.raises(NotFoundError, match="ledger init"):
            log.read_head(session).current_key()
    stranger = SigningKey.generate(settings.origin)
    with pytest.raises(ConfigurationError, match="genesis"):
        append(db, stranger, [note(0)])
    assert counts(db) == (0, 0, 0)


# --- all or nothing --------------------------------------------------------------------

BAD_DRAFTS = [
    pytest.param(note(2, amount=1.5), EncodingError, "floating-point", id="float-in-body"),
    pytest.param(
        note(2, blob="x" * MAX_LEAF_BYTES), EncodingError, "at most 65535", id="leaf-over-65535"
    ),
    pytest.param(Draft("Note", {}, "tester"), EncodingError, "kind", id="bad-kind"),
    pytest.param(Draft("note", {"Bad Key": 1}, "tester"), EncodingError, "member", id="bad-key"),
    pytest.param(note(2, big=2**53), EncodingError, "outside", id="integer-2**53"),
    pytest.param(Draft("note", {}, ""), EncodingError, "actor", id="empty-actor"),
    pytest.param(
        Draft(GENESIS, {"origin": "x", "verifier_key": "x", "name": "x"}, "tester"),
        InvalidRequestError,
        "only index 0",
        id="second-genesis",
    ),
    pytest.param(
        Draft(KEY_ROTATION, {"old_key": "x", "new_key": "y"}, "tester"),
        InvalidRequestError,
        "on its own",
        id="rotation-in-a-batch",
    ),
]


@pytest.mark.parametrize(("bad", "error", "message"), BAD_DRAFTS)
def test_a_bad_draft_in_the_middle_of_a_batch_writes_nothing(
    ledger: Database,
    signer: SigningKey,
    append_notes: AppendNotes,
    bad: Draft,
    error: type[LedgerError],
    message: str,
) -> None:
    append_notes(ledger, signer, 4, batch=2)
    before = counts(ledger)
    with ledger.session() as session:
        checkpoint_before = log.latest_checkpoint(session)
    with pytest.raises(error, match=message):
        append(ledger, signer, [note(10), note(11), bad, note(12)])
    assert counts(ledger) == before
    with ledger.session() as session:
        assert log.latest_checkpoint(session) == checkpoint_before
    # The log carries on from where it was, as if the batch had never been tried.
    appended = append(ledger, signer, [note(13)])
    assert appended.entries[0].index == before[0]
    with ledger.session() as session:
        assert verify_database(session, signer.verifier).size == before[0] + 1


def test_an_empty_or_oversized_batch_is_refused(ledger: Database, signer: SigningKey) -> None:
    with pytest.raises(InvalidRequestError, match="nothing to append"):
        append(ledger, signer, [])
    with pytest.raises(InvalidRequestError, match="at most"):
        append(ledger, signer, [note(0)] * (log.MAX_BATCH + 1))
    assert counts(ledger) == (1, 0, 1)


def test_only_index_0_may_be_genesis(ledger: Database, signer: SigningKey) -> None:
    with ledger.session() as session:
        body = log.genesis(session).body
    with pytest.raises(InvalidRequestError, match="only index 0"):
        append(ledger, signer, [Draft(GENESIS, body, "ledger-init")])
    assert counts(ledger) == (1, 0, 1)


def test_a_key_rotation_must_be_appended_alone(ledger: Database, signer: SigningKey) -> None:
    new = SigningKey.generate(signer.name)
    rotation = Draft(
        KEY_ROTATION, {"old_key": str(signer.verifier), "new_key": str(new.verifier)}, "admin"
    )
    for batch in ([note(1), rotation], [rotation, note(1)], [rotation, rotation]):
        with pytest.raises(InvalidRequestError, match="on its own"):
            append(ledger, signer, batch)
    assert counts(ledger) == (1, 0, 1)
    appended = append(ledger, signer, [rotation])
    assert appended.entries[0].kind == KEY_ROTATION
    # The checkpoint covering the rotation is the old key's; the next one is the new key's.
    verify_checkpoint(appended.checkpoint, signer.verifier)
    with pytest.raises(ConfigurationError, match="current key"):
        append(ledger, signer, [note(2)])
    verify_checkpoint(append(ledger, new, [note(2)]).checkpoint, new.verifier)
    with ledger.session() as session:
        assert verify_database(session, signer.verifier).size == 3


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        pytest.param(
            {"old_key": "OTHER", "new_key": "NEW"}, InvalidRequestError, "old_key", id="old-key"
        ),
        pytest.param(
            {"old_key": "SIGNER", "new_key": "not a key"},
            KeyFormatError,
            "verifier key",
            id="malformed-new-key",
        ),
        pytest.param({"old_key": "SIGNER"}, KeyFormatError, "verifier key", id="no-new-key"),
        pytest.param(
            {"old_key": "SIGNER", "new_key": "FOREIGN"},
            InvalidRequestError,
            "origin",
            id="new-key-of-another-origin",
        ),
    ],
)
def test_a_key_rotation_that_verify_would_reject_is_refused(
    ledger: Database,
    signer: SigningKey,
    body: dict[str, str],
    error: type[LedgerError],
    message: str,
) -> None:
    keys = {
        "SIGNER": str(signer.verifier),
        "OTHER": str(SigningKey.generate(signer.name).verifier),
        "NEW": str(SigningKey.generate(signer.name).verifier),
        "FOREIGN": str(SigningKey.generate("elsewhere.example/log").verifier),
    }
    resolved = {name: keys.get(value, value) for name, value in body.items()}
    with pytest.raises(error, match=message):
        append(ledger, signer, [Draft(KEY_ROTATION, resolved, "admin")])
    assert counts(ledger) == (1, 0, 1)
    append(ledger, signer, [note(1)])  # the log still accepts the key in force


def test_a_signer_that_is_not_the_current_key_is_refused(
    ledger: Database, signer: SigningKey, settings: Settings
) -> None:
    stranger = SigningKey.generate(settings.origin)
    with pytest.raises(ConfigurationError, match="current key"):
        append(ledger, stranger, [note(1)])
    assert counts(ledger) == (1, 0, 1)


# --- time ------------------------------------------------------------------------------


def test_entry_times_never_go_backwards(ledger: Database, signer: SigningKey) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    first = append(ledger, signer, [note(1)], now=later).entries[0]
    assert first.time == later
    clamped = append(ledger, signer, [note(2), note(3)], now=T0).entries
    assert [e.time for e in clamped] == [later, later]
    after = append(ledger, signer, [note(4)], now=later + timedelta(microseconds=1)).entries[0]
    assert after.time == later + timedelta(microseconds=1)
    with ledger.session() as session:
        times = [e.time for e in log.entries(session, 0, 10)]
        verify_database(session, signer.verifier)
    assert times == sorted(times)


# --- proofs from the database equal proofs from memory ---------------------------------

BATCHES = [1, 2, 3, 1, 5, 8, 1, 4, 7, 2, 5]  # with genesis: checkpoints up to size 40


def check_against_memory(
    db: Database, signer: SigningKey, sizes: list[int], firsts: list[int] | None = None
) -> None:
    """Every inclusion proof at each size, and consistency from ``firsts`` (default: all)."""
    leaf_hashes = stored_leaf_hashes(db)
    memory = merkle.MemoryTree(leaf_hashes)
    with db.session() as session:
        checkpoints = {
            row.tree_size: verify_checkpoint(row.note, signer.verifier)
            for row in session.scalars(select(CheckpointRow))
        }
        for size in sizes:
            root = log.root(session, size)
            assert root == merkle.reference_root(leaf_hashes[:size])
            if size in checkpoints:
                assert checkpoints[size].root == root
            for index in range(size):
                proof = log.inclusion_proof(session, index, size)
                assert proof == merkle.inclusion_proof(index, size, memory)
                merkle.verify_inclusion(leaf_hashes[index], index, size, proof, root)
            for first in firsts or range(1, size + 1):
                if first > size:
                    continue
                proof = log.consistency_proof(session, first, size)
                assert proof == merkle.consistency_proof(first, size, memory)
                first_root = merkle.reference_root(leaf_hashes[:first])
                merkle.verify_consistency(first, size, proof, first_root, root)


def test_proofs_equal_memory_tree_proofs_and_verify_against_checkpoints(
    ledger: Database, signer: SigningKey
) -> None:
    sizes = [1]
    for batch in BATCHES:
        size = sizes[-1]
        append(ledger, signer, [note(size + i) for i in range(batch)])
        sizes.append(size + batch)
        check_against_memory(ledger, signer, [sizes[-1]])
    assert sizes[-1] == 40
    # Past sizes that no checkpoint names are proved from the same immutable nodes,
    # consistent with every checkpoint a verifier may hold.
    others = [size for size in range(1, 41) if size not in sizes]
    check_against_memory(ledger, signer, others, firsts=sizes)
    with ledger.session() as session:
        assert [c.tree_size for c in session.scalars(select(CheckpointRow))] == sizes
        for index in range(40):
            covering = log.checkpoint_covering(session, index)
            assert covering.tree_size == min(s for s in sizes if s > index)


# --- a proof costs O(log n) nodes in a constant number of statements -------------------


@contextmanager
def counting_selects(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_proof_reads_log_n_nodes_in_a_constant_number_of_selects(
    ledger: Database, signer: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested: list[int] = []

    class CountingNodes(log.DatabaseNodes):
        def read_nodes(self, ids: Any) -> Any:
            requested.append(len(ids))
            return super().read_nodes(ids)

    for _ in range(8):
        append(ledger, signer, [note(i) for i in range(64)])
    sizes = [2, 3, 64, 100, 257, 385, 513]
    selects: dict[str, set[int]] = {"root": set(), "inclusion": set(), "consistency": set()}
    monkeypatch.setattr(log, "DatabaseNodes", CountingNodes)
    with ledger.session() as session:
        log.tree_size(session)  # opens the transaction outside the counted calls
        for size in sizes:
            bound = 2 * size.bit_length()
            calls: dict[str, Callable[[], object]] = {
                "root": lambda size=size: log.root(session, size),
                "inclusion": lambda size=size: log.inclusion_proof(session, size // 3, size),
                "consistency": lambda size=size: log.consistency_proof(
                    session, max(1, size // 3), size
                ),
            }
            for name, call in calls.items():
                requested.clear()
                with counting_selects(ledger) as statements:
                    call()
                selects[name].add(len(statements))
                assert len(requested) == 1, f"{name} at {size}: one batched node read"
                assert requested[0] <= bound, f"{name} at {size} read {requested[0]} nodes"
    # At every size: the size check, then at most one read of leaf hashes and one of nodes.
    assert all(max(seen) <= 3 for seen in selects.values()), selects
