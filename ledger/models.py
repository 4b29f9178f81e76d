"""Tables of the log itself. Fund operations keep their own tables elsewhere.

Both log tables are append-only: database triggers (see the migrations) refuse
UPDATE and DELETE, so even a bug in our code cannot rewrite history.

The Merkle tree is stored with the entries. Appending leaf ``i`` completes the
perfect subtrees that end at ``i`` (one per trailing 1 bit of ``i``); their hashes,
level 1 upward, are stored in that entry's ``subtrees`` column and level 0 is its
``leaf_hash``. Any node a proof needs is therefore a primary-key lookup of the entry
that completed it: a proof reads O(log n) rows, an append writes one row per entry,
and ``ledger verify`` checks the stored hashes as it streams the entries.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Entries that change who signs: the only kinds the log core must find quickly.
KEY_ENTRY_CONDITION = "kind IN ('genesis', 'key_rotation')"
# The audit's own entries (acknowledged findings, award nominations and decisions) are
# few among millions of gifts; their states are replayed from these rows alone.
AUDIT_KINDS = ("acknowledgement", "award_nomination", "award_transition")
AUDIT_ENTRY_CONDITION = "kind IN ('acknowledgement', 'award_nomination', 'award_transition')"


class Base(DeclarativeBase):
    pass


class EntryRow(Base):
    __tablename__ = "log_entries"

    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64))
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    subtrees: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        Index(
            "ix_log_entries_key_entries",
            "idx",
            sqlite_where=text(KEY_ENTRY_CONDITION),
            postgresql_where=text(KEY_ENTRY_CONDITION),
        ),
        Index(
            "ix_log_entries_audit_entries",
            "idx",
            sqlite_where=text(AUDIT_ENTRY_CONDITION),
            postgresql_where=text(AUDIT_ENTRY_CONDITION),
        ),
    )


class CheckpointRow(Base):
    __tablename__ = "log_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(8))


class WitnessRow(Base):
    """An independent witness this ledger asks to cosign its checkpoints."""

    __tablename__ = "log_witnesses"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    verifier_key: Mapped[str] = mapped_column(Text)  # C2SP vkey, key type 0x04
    url: Mapped[str] = mapped_column(Text)  # the witness's tlog-witness endpoint prefix


class CosignatureRow(Base):
    """A witness's cosignature line over the checkpoint of one tree size.

    Cosignatures are not part of the signed note's text, so they live beside the
    checkpoint and are appended to it when it is served (signed-note allows any
    number of signature lines).
    """

    __tablename__ = "log_cosignatures"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    line: Mapped[str] = mapped_column(Text)  # "— <name> <base64(key ID || timestamp || sig)>"
    timestamp: Mapped[int] = mapped_column(BigInteger)  # seconds since the epoch, as signed


APPEND_ONLY_TABLES = ("log_entries", "log_checkpoints")
