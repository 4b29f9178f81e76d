"""Verifying a whole log from its entries and checkpoints, streaming, in O(log n) memory.

``LogVerifier`` is fed entries in index order and checkpoints right after the entry
that completes their tree size. It trusts nothing but (optionally) the genesis key:

* every leaf must be canonical, carry its own index, and link to the previous leaf hash;
* the genesis entry names the origin and the first verifier key;
* each checkpoint must be signed by the key in force and commit to the root the
  verifier recomputes at that size;
* a ``key_rotation`` entry must name the key in force as ``old_key``; the first
  checkpoint that covers it is signed by the old key, later ones by the new key.

The first problem raises ``ChainError`` naming the index it concerns. Both
``ledger verify`` (database) and ``ledger verify-export`` (file) use this class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ledger.checkpoint import verify_checkpoint
from ledger.entries import GENESIS, KEY_ROTATION, ZERO_HASH_HEX, Entry, decode_leaf
from ledger.errors import ChainError, LedgerError
from ledger.keys import VerifierKey
from ledger.merkle import CompactRange


@dataclass
class Summary:
    """What a successful verification saw."""

    size: int = 0
    root: bytes = b""
    checkpoints: int = 0
    keys: list[str] = field(default_factory=list)
    origin: str = ""


class LogVerifier:
    def __init__(
        self,
        trusted_key: VerifierKey | None = None,
        on_entry: Callable[[Entry], None] | None = None,
    ) -> None:
        """``on_entry`` sees each entry once it has been checked, so that other checks
        (the fund balances) can ride on the same pass instead of decoding the log again."""
        self._trusted = trusted_key
        self._on_entry = on_entry
        self._tree = CompactRange()
        self._prev = ZERO_HASH_HEX
        self._key: VerifierKey | None = None
        self._pending: list[VerifierKey] = []
        self._last_checkpoint = 0
        self.summary = Summary()

    @property
    def size(self) -> int:
        return self._tree.size

    def add_entry(self, index: int, leaf: bytes, leaf_hash: bytes | None = None) -> list[bytes]:
        """Check the next entry; returns the hashes of the subtrees it completes.

        Those are the hashes a store keeps with the entry (level 1 upward), so the
        caller can compare them with what it stored.
        """
        if index != self.size:
            raise ChainError(f"expected entry {self.size} but found entry {index}", index=self.size)
        try:
            entry = decode_leaf(leaf)
        except LedgerError as err:
            raise ChainError(f"leaf is malformed: {err.message}", index=index) from err
        if leaf_hash is not None and leaf_hash != entry.leaf_hash:
            raise ChainError("stored leaf hash does not match the leaf bytes", index=index)
        if entry.index != index:
            raise ChainError(f"leaf says index {entry.index}", index=index)
        if entry.prev != self._prev:
            raise ChainError("prev does not match the previous entry's leaf hash", index=index)
        self._check_kind(entry)
        self._prev = entry.leaf_hash.hex()
        if self._on_entry is not None:
            self._on_entry(entry)
        return self._tree.push(entry.leaf_hash)

    def _check_kind(self, entry: Entry) -> None:
        index = entry.index
        if (index == 0) != (entry.kind == GENESIS):
            raise ChainError("the genesis entry must be index 0, and only index 0", index=index)
        try:
            if entry.kind == GENESIS:
                key = VerifierKey.parse(entry.body["verifier_key"])
                origin = entry.body["origin"]
                if key.name != origin:
                    raise ChainError("genesis key name differs from its origin", index=0)
                if self._trusted is not None and str(key) != str(self._trusted):
                    raise ChainError("genesis verifier key is not the trusted key", index=0)
                self._key = key
                self.summary.origin = origin
                self.summary.keys.append(str(key))
            elif entry.kind == KEY_ROTATION:
                latest = self._pending[-1] if self._pending else self._key
                if str(latest) != entry.body["old_key"]:
                    raise ChainError("key rotation's old_key is not the key in force", index=index)
                new_key = VerifierKey.parse(entry.body["new_key"])
                if new_key.name != self.summary.origin:
                    raise ChainError("rotated key's name differs from the origin", index=index)
                self._pending.append(new_key)
                self.summary.keys.append(str(new_key))
        except (KeyError, TypeError) as err:
            raise ChainError(f"{entry.kind} body lacks {err}", index=index) from err
        except ChainError:
            raise
        except LedgerError as err:
            raise ChainError(f"{entry.kind}: {err.message}", index=index) from err

    def add_checkpoint(self, tree_size: int, note: str, root: bytes | None = None) -> None:
        """Check a checkpoint for the current size (fed right after its last entry)."""
        where = tree_size - 1
        if tree_size != self.size:
            raise ChainError(
                f"checkpoint for size {tree_size} arrived at size {self.size}", index=where
            )
        if tree_size <= self._last_checkpoint:
            raise ChainError(f"checkpoint for size {tree_size} is out of order", index=where)
        if self._key is None:
            raise ChainError("checkpoint before the genesis entry", index=where)
        try:
            checkpoint = verify_checkpoint(note, self._key)
        except LedgerError as err:
            raise ChainError(f"checkpoint of size {tree_size}: {err.message}", index=where) from err
        computed = self._tree.root()
        if checkpoint.size != tree_size:
            raise ChainError(f"checkpoint note says size {checkpoint.size}", index=where)
        if checkpoint.root != computed or (root is not None and root != computed):
            raise ChainError(
                f"checkpoint of size {tree_size} commits to a different root", index=where
            )
        if checkpoint.origin != self.summary.origin:
            raise ChainError("checkpoint origin differs from the genesis origin", index=where)
        if self._pending:
            self._key = self._pending[-1]
            self._pending.clear()
        self._last_checkpoint = tree_size
        self.summary.checkpoints += 1

    def finish(self) -> Summary:
        if self.size == 0:
            raise ChainError("the log is empty: no genesis entry", index=0)
        if self._last_checkpoint != self.size:
            raise ChainError(
                f"no signed checkpoint covers the last entries (latest covers size "
                f"{self._last_checkpoint})",
                index=self.size - 1,
            )
        self.summary.size = self.size
        self.summary.root = self._tree.root()
        return self.summary
