"""pymerkle 7 on the same leaves: a peer implementation of RFC 6962 trees.

pymerkle's default "security" mode hashes a leaf as SHA-256(0x00 || data) and a node
as SHA-256(0x01 || left || right) and splits at the largest power of two below n, so
its roots are RFC 6962 roots without any configuration; the benchmark checks that
they equal ours at every milestone. Its proofs use a format of its own (the path
starts with the leaf itself and carries direction bits), so only their cost compares.

``SqliteTree`` is the persistent peer of our database log. It opens its file with
SQLite's defaults (rollback journal, synchronous=FULL); we switch its connection to
WAL and synchronous=NORMAL like ours, so the comparison is about the code, not the
durability settings. ``InmemoryTree`` is the peer of our ``MemoryTree``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pymerkle  # type: ignore[import-untyped]

VERSION = pymerkle.__version__


class PeerStore:
    """A pymerkle ``SqliteTree`` appended to in the same batches as the ledger."""

    def __init__(self, path: Path) -> None:
        self.tree = pymerkle.SqliteTree(str(path))
        self.tree.con.execute("PRAGMA journal_mode=WAL")
        self.tree.con.execute("PRAGMA synchronous=NORMAL")

    def append(self, leaves: Sequence[bytes]) -> None:
        """One transaction per batch: ``append_entries`` is pymerkle's bulk insert."""
        self.tree.append_entries(leaves)

    def close(self) -> None:
        self.tree.close()


def inmemory_tree(leaves: Sequence[bytes]) -> tuple[pymerkle.InmemoryTree, float]:
    """An ``InmemoryTree`` of ``leaves`` and the seconds its appends took."""
    tree = pymerkle.InmemoryTree()
    started = time.perf_counter()
    for leaf in leaves:
        tree.append_entry(leaf)
    return tree, time.perf_counter() - started


def root(tree: pymerkle.BaseMerkleTree, size: int) -> bytes:
    value: bytes = tree.get_root(size)
    return value
