"""Each stored checkpoint proved consistent with the one before it (RFC 6962 §2.1.4).

A monitor that saw checkpoint m and now sees checkpoint n asks for a consistency
proof and checks it against both signed roots: that is what shows the log grew only
by appending. The audit does the same for every pair of consecutive stored
checkpoints, building each proof from the leaves themselves (with ``ledger.merkle``)
and verifying it against the roots the two notes sign.

A checkpoint that fails is reported and the next one is proved against the last
checkpoint that passed, as a monitor keeps the last checkpoint it trusted. Memory:
the tree's right frontier at that checkpoint and the 32-byte leaf hashes since it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from audit.findings import ERROR, Finding
from ledger import merkle
from ledger.checkpoint import Checkpoint, SignedNote
from ledger.errors import LedgerError, ProofError
from ledger.merkle import HASH_SIZE, CompactRange, NodeId

CONSISTENCY = "checkpoint_consistency"


@dataclass(frozen=True)
class _Anchor:
    size: int
    root: bytes
    frontier: dict[NodeId, bytes]  # the perfect nodes that make up [0, size)


class _Nodes:
    """The nodes a proof from the anchor needs: its frontier, and nodes built from the
    leaves appended since (every right sibling lies there)."""

    def __init__(self, anchor: _Anchor, leaves: bytearray) -> None:
        self._anchor = anchor
        self._leaves = leaves

    def read_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        found: dict[NodeId, bytes] = {}
        start, end = self._anchor.size, self._anchor.size + len(self._leaves) // HASH_SIZE
        for node in ids:
            first, last = node.index << node.level, (node.index + 1) << node.level
            if node in self._anchor.frontier:
                found[node] = self._anchor.frontier[node]
            elif start <= first and last <= end:
                found[node] = merkle.reference_root(
                    [
                        bytes(self._leaves[(i - start) * HASH_SIZE : (i - start + 1) * HASH_SIZE])
                        for i in range(first, last)
                    ]
                )
        return found


class CheckpointChain:
    """Fed every leaf hash and every stored checkpoint, in log order."""

    def __init__(self) -> None:
        self._tree = CompactRange()
        self._anchor: _Anchor | None = None
        self._since = bytearray()  # leaf hashes after the anchor, 32 bytes each

    @property
    def size(self) -> int:
        return self._tree.size

    def root(self) -> bytes:
        return self._tree.root()

    def add_leaf(self, leaf_hash: bytes) -> None:
        self._tree.push(leaf_hash)
        self._since += leaf_hash

    def add_checkpoint(self, tree_size: int, note: str) -> Finding | None:
        """A finding when the note's root cannot be proved consistent with the last good one.

        A note that does not parse, or that is not for the current size, is left to the
        log verifier, which names it; without a root there is nothing to prove.
        """
        try:
            signed = Checkpoint.from_text(SignedNote.parse(note).text)
        except LedgerError:
            return None
        if tree_size != self.size or signed.size != tree_size:
            return None
        anchor = self._anchor
        if anchor is None:
            # The first checkpoint has no predecessor: it becomes the anchor once its root
            # is the one the leaves give (the log verifier reports it otherwise).
            if signed.root == self.root():
                self._move_anchor(signed)
            return None
        try:
            proof = merkle.consistency_proof(anchor.size, tree_size, _Nodes(anchor, self._since))
            merkle.verify_consistency(anchor.size, tree_size, proof, anchor.root, signed.root)
        except ProofError as err:
            message = (
                f"the checkpoint of size {tree_size} is not consistent with the checkpoint of "
                f"size {anchor.size}: {err.message}"
            )
            details = {"first": anchor.size, "second": tree_size}
            return Finding(
                CONSISTENCY, ERROR, tree_size - 1, message, (anchor.size - 1,), details=details
            )
        self._move_anchor(signed)
        return None

    def _move_anchor(self, checkpoint: Checkpoint) -> None:
        self._anchor = _Anchor(checkpoint.size, checkpoint.root, dict(self._tree.nodes()))
        self._since = bytearray()
