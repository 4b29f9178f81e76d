"""Tables of the log itself. Fund operations keep their own tables elsewhere.

The three log tables are append-only: database triggers (see the migrations) refuse
UPDATE and DELETE, so even a bug in our code cannot rewrite history.

The Merkle tree is stored as its perfect subtrees. Level 0 (the leaf hashes) lives in
``log_entries.leaf_hash``; every higher node is a row keyed by ``(leaf_end, level)``,
where ``leaf_end`` is the exclusive end of the leaf range it covers. That key makes a
proof an indexed lookup of O(log n) rows, and it orders nodes in the order appends
create them, so ``ledger verify`` can stream them beside the entries.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class EntryRow(Base):
    __tablename__ = "log_entries"

    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64))
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    __table_args__ = (Index("ix_log_entries_kind_idx", "kind", "idx"),)


class TreeNodeRow(Base):
    __tablename__ = "log_tree_nodes"

    leaf_end: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class CheckpointRow(Base):
    __tablename__ = "log_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(8))


APPEND_ONLY_TABLES = ("log_entries", "log_tree_nodes", "log_checkpoints")
