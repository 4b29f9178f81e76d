"""An attacker with database access drops the triggers and rewrites history.

Each attack changes one thing in a ledger of 50 entries; ``ledger verify`` must fail
and name the index the attack concerns. Checkpoints sit at sizes 1, 4, 8, 9, 17, 33
and 50, so index 7 is the last entry of a batch, completes tree nodes of levels 1 to 3
and has its own checkpoint (size 8).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, text

from ledger import log, merkle
from ledger.checkpoint import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.cli import main
from ledger.db import Database
from ledger.errors import ChainError, ProofError
from ledger.integrity import verify_database
from ledger.keys import SigningKey
from ledger.merkle import hash_leaf, reference_root
from ledger.models import APPEND_ONLY_TABLES

AppendNotes = Callable[..., None]
BATCHES = [3, 4, 1, 8, 16, 17]
SIZE = 50
TARGET = 7


@dataclass(frozen=True)
class Context:
    conn: Connection
    signer: SigningKey


Attack = Callable[[Context], None]


@pytest.fixture
def filled(ledger: Database, signer: SigningKey, append_notes: AppendNotes) -> Database:
    for batch in BATCHES:
        append_notes(ledger, signer, batch, batch=batch)
    return ledger


def drop_triggers(conn: Connection) -> None:
    for table in APPEND_ONLY_TABLES:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
            conn.execute(text(f"DROP TRIGGER {table}_no_truncate ON {table}"))
        else:
            conn.execute(text(f"DROP TRIGGER {table}_no_update"))
            conn.execute(text(f"DROP TRIGGER {table}_no_delete"))


def leaf_of(conn: Connection, index: int) -> bytes:
    return bytes(conn.scalar(text("SELECT leaf FROM log_entries WHERE idx = :i"), {"i": index}))


def set_leaf(conn: Connection, index: int, leaf: bytes, *, fix_hash: bool) -> None:
    conn.execute(text("UPDATE log_entries SET leaf = :l WHERE idx = :i"), {"l": leaf, "i": index})
    if fix_hash:
        conn.execute(
            text("UPDATE log_entries SET leaf_hash = :h WHERE idx = :i"),
            {"h": hash_leaf(leaf), "i": index},
        )


def note_of(conn: Connection, size: int) -> str:
    return str(
        conn.scalar(text("SELECT note FROM log_checkpoints WHERE tree_size = :s"), {"s": size})
    )


def set_note(conn: Connection, size: int, note: str) -> None:
    conn.execute(
        text("UPDATE log_checkpoints SET note = :n WHERE tree_size = :s"), {"n": note, "s": size}
    )


# --- the attacks ------------------------------------------------------------------------


def rename_actor(fix_hash: bool) -> Attack:
    """One byte: "tester" becomes "Tester"; the leaf stays canonical and well-formed."""

    def attack(ctx: Context) -> None:
        leaf = leaf_of(ctx.conn, TARGET)
        at = leaf.index(b'"actor":"tester"') + len(b'"actor":"')
        set_leaf(ctx.conn, TARGET, leaf[:at] + b"T" + leaf[at + 1 :], fix_hash=fix_hash)

    return attack


def flip_bit(fix_hash: bool) -> Attack:
    """One bit of the amount digit: the leaf no longer decodes as the same entry."""

    def attack(ctx: Context) -> None:
        leaf = bytearray(leaf_of(ctx.conn, TARGET))
        at = leaf.index(b'"n":') + len(b'"n":')
        leaf[at] ^= 0x01
        set_leaf(ctx.conn, TARGET, bytes(leaf), fix_hash=fix_hash)

    return attack


def break_json(ctx: Context) -> None:
    leaf = leaf_of(ctx.conn, TARGET)
    set_leaf(ctx.conn, TARGET, b"[" + leaf[1:], fix_hash=True)


def delete_entry(index: int) -> Attack:
    def attack(ctx: Context) -> None:
        ctx.conn.execute(text("DELETE FROM log_entries WHERE idx = :i"), {"i": index})

    return attack


def swap_leaves(with_hashes: bool) -> Attack:
    def attack(ctx: Context) -> None:
        first, second = leaf_of(ctx.conn, TARGET), leaf_of(ctx.conn, TARGET + 1)
        set_leaf(ctx.conn, TARGET, second, fix_hash=with_hashes)
        set_leaf(ctx.conn, TARGET + 1, first, fix_hash=with_hashes)

    return attack


def rewrite_note_root(ctx: Context) -> None:
    note = note_of(ctx.conn, TARGET + 1)
    lines = note.split("\n")
    lines[2] = base64.b64encode(hashlib.sha256(b"forged").digest()).decode()
    set_note(ctx.conn, TARGET + 1, "\n".join(lines))


def rewrite_note_signature(ctx: Context) -> None:
    note = note_of(ctx.conn, TARGET + 1)
    text_part, _, signature_line = note.rstrip("\n").rpartition("\n")
    name, _, signature = signature_line.rpartition(" ")
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 0x80
    set_note(ctx.conn, TARGET + 1, f"{text_part}\n{name} {base64.b64encode(raw).decode()}\n")


def rewrite_root_column(ctx: Context) -> None:
    ctx.conn.execute(
        text("UPDATE log_checkpoints SET root = :r WHERE tree_size = :s"),
        {"r": hashlib.sha256(b"forged").digest(), "s": TARGET + 1},
    )


def resign_with_another_key(ctx: Context) -> None:
    """A note with the true root, validly signed, but by a key the log never named."""
    genuine = verify_checkpoint(note_of(ctx.conn, TARGET + 1), ctx.signer.verifier)
    forger = SigningKey.generate(ctx.signer.name)
    set_note(ctx.conn, TARGET + 1, sign_checkpoint(genuine, forger))
    ctx.conn.execute(
        text("UPDATE log_checkpoints SET key_id = :k WHERE tree_size = :s"),
        {"k": forger.verifier.key_id_hex, "s": TARGET + 1},
    )


def resign_a_forged_root(ctx: Context) -> None:
    """Even the log's own key cannot vouch for a root the entries do not produce."""
    genuine = verify_checkpoint(note_of(ctx.conn, TARGET + 1), ctx.signer.verifier)
    forged = Checkpoint(genuine.origin, genuine.size, hashlib.sha256(b"forged").digest())
    set_note(ctx.conn, TARGET + 1, sign_checkpoint(forged, ctx.signer))


def set_subtrees(index: int, value: Callable[[bytes], bytes]) -> Attack:
    """Rewrite the tree hashes stored with one entry (those proofs are served from)."""

    def attack(ctx: Context) -> None:
        stored = ctx.conn.execute(
            text("SELECT subtrees FROM log_entries WHERE idx = :i"), {"i": index}
        ).scalar_one()
        ctx.conn.execute(
            text("UPDATE log_entries SET subtrees = :s WHERE idx = :i"),
            {"s": value(bytes(stored)), "i": index},
        )

    return attack


def forge_level(level: int) -> Callable[[bytes], bytes]:
    forged = hashlib.sha256(b"forged").digest()
    return lambda stored: stored[: (level - 1) * 32] + forged + stored[level * 32 :]


def delete_checkpoint(size: int) -> Attack:
    def attack(ctx: Context) -> None:
        ctx.conn.execute(text("DELETE FROM log_checkpoints WHERE tree_size = :s"), {"s": size})

    return attack


ATTACKS = [
    pytest.param(rename_actor(fix_hash=False), TARGET, "leaf hash", id="leaf-byte"),
    pytest.param(rename_actor(fix_hash=True), TARGET, "tree hashes", id="leaf-byte-and-hash"),
    pytest.param(flip_bit(fix_hash=False), TARGET, "leaf hash", id="leaf-bit"),
    pytest.param(flip_bit(fix_hash=True), TARGET, "tree hashes", id="leaf-bit-and-hash"),
    pytest.param(break_json, TARGET, "malformed", id="leaf-not-json"),
    pytest.param(delete_entry(SIZE - 1), SIZE - 1, "missing", id="delete-last-entry"),
    pytest.param(delete_entry(TARGET), TARGET, "expected entry 7", id="delete-middle-entry"),
    pytest.param(delete_entry(0), 0, "expected entry 0", id="delete-genesis"),
    pytest.param(swap_leaves(with_hashes=True), TARGET, "says index 8", id="swap-leaves"),
    pytest.param(swap_leaves(with_hashes=False), TARGET, "leaf hash", id="swap-leaf-bytes"),
    pytest.param(rewrite_note_root, TARGET, "signature", id="checkpoint-note-root"),
    pytest.param(rewrite_note_signature, TARGET, "signature", id="checkpoint-signature"),
    pytest.param(rewrite_root_column, TARGET, "different root", id="checkpoint-root-column"),
    pytest.param(resign_with_another_key, TARGET, "no signature by", id="checkpoint-other-key"),
    pytest.param(resign_a_forged_root, TARGET, "different root", id="checkpoint-forged-root"),
    pytest.param(delete_checkpoint(SIZE), SIZE - 1, "no signed checkpoint", id="drop-last-cp"),
    pytest.param(set_subtrees(TARGET, forge_level(1)), TARGET, "tree hashes", id="node-level-1"),
    pytest.param(set_subtrees(TARGET, forge_level(3)), TARGET, "tree hashes", id="node-level-3"),
    pytest.param(set_subtrees(TARGET, lambda s: s[:32]), TARGET, "tree hashes", id="drop-node"),
    pytest.param(
        set_subtrees(TARGET - 1, lambda s: s + bytes(32)),
        TARGET - 1,
        "tree hashes",
        id="extra-node",
    ),
]


@pytest.mark.parametrize(("attack", "index", "reason"), ATTACKS)
def test_ledger_verify_names_the_tampered_index(
    filled: Database,
    signer: SigningKey,
    runner: CliRunner,
    attack: Attack,
    index: int,
    reason: str,
) -> None:
    assert runner.invoke(main, ["verify"]).exit_code == 0
    with filled.engine.begin() as conn:
        drop_triggers(conn)
        attack(Context(conn, signer))

    result = runner.invoke(main, ["verify"])

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    message = result.stderr.strip()
    assert message.startswith(f"error: index {index}: "), message
    assert reason in message
    assert "\n" not in message
    assert "OK" not in result.stdout
    with filled.session() as session, pytest.raises(ChainError) as caught:
        verify_database(session, signer.verifier)
    assert caught.value.index == index


def test_an_untampered_ledger_of_50_entries_verifies(
    filled: Database, signer: SigningKey, runner: CliRunner
) -> None:
    with filled.engine.connect() as conn:
        leaf_hashes = [
            bytes(h) for h in conn.scalars(text("SELECT leaf_hash FROM log_entries ORDER BY idx"))
        ]
    assert len(leaf_hashes) == SIZE
    root = reference_root(leaf_hashes).hex()

    result = runner.invoke(main, ["verify", "--key", str(signer.verifier)])

    assert result.exit_code == 0, result.output
    assert f"{SIZE} entries, {len(BATCHES) + 1} checkpoints, 1 key(s)" in result.stdout
    assert f"root {root} at size {SIZE}" in result.stdout


def test_ledger_verify_with_another_trusted_key_names_index_0(
    filled: Database, signer: SigningKey, runner: CliRunner
) -> None:
    stranger = SigningKey.generate(signer.name).verifier
    result = runner.invoke(main, ["verify", "--key", str(stranger)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: index 0: genesis verifier key is not the trusted key")


def test_ledger_verify_with_a_malformed_key_fails_in_one_line(
    filled: Database, runner: CliRunner
) -> None:
    result = runner.invoke(main, ["verify", "--key", "not-a-key"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("error: verifier key must be")
    assert result.stderr.count("\n") == 1


def test_proofs_from_a_tampered_tree_never_verify(filled: Database, signer: SigningKey) -> None:
    """Index 0's audit path at size 50 uses the level-2 node over leaves [4, 8).

    Entry 7 completes that node, so its hash is stored with entry 7.
    """
    with filled.session() as session:
        signed_root = verify_checkpoint(log.latest_checkpoint(session).note, signer.verifier).root
        leaf_hash = log.entry(session, 0).leaf_hash
        merkle.verify_inclusion(
            leaf_hash, 0, SIZE, log.inclusion_proof(session, 0, SIZE), signed_root
        )
    with filled.engine.begin() as conn:
        drop_triggers(conn)
        set_subtrees(7, forge_level(2))(Context(conn, signer))
    with filled.session() as session:
        proof = log.inclusion_proof(session, 0, SIZE)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf_hash, 0, SIZE, proof, signed_root)
    with filled.engine.begin() as conn:
        set_subtrees(7, lambda stored: stored[:32])(Context(conn, signer))
    with filled.session() as session, pytest.raises(ChainError, match="lacks the hash"):
        log.inclusion_proof(session, 0, SIZE)
