"""RFC 6962 / RFC 9162 Merkle tree: hashing, proofs from stored nodes, verification.

The ledger stores only *perfect* subtrees. A perfect node never changes once its last
leaf is appended, so it is written once and never updated. Every other hash the RFC
needs (the root, a sibling on the right edge) covers a range whose start is aligned,
and is the right fold of at most log2(n) perfect nodes. Provers collect every node
they need first and fetch them with one ``read_nodes`` call, so a proof costs one
database round trip however large the tree is.

Verification mirrors transparency-dev/merkle ``proof/verify.go`` so that the vectors
copied from it (``shared/vectors/rfc6962``) agree case by case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.errors import InvalidRequestError, ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def hash_leaf(data: bytes) -> bytes:
    """The 0x00 prefix keeps a leaf from passing for an interior node (second preimages)."""
    return hashlib.sha256(b"\x00" + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """The 0x01 prefix keeps an interior node from passing for a leaf."""
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass(frozen=True, order=True)
class NodeId:
    """A perfect subtree over leaves [index << level, (index + 1) << level).

    Perfect nodes are the storage unit because they are immutable once complete.
    """

    level: int
    index: int


class NodeReader(Protocol):
    """Whatever holds the perfect nodes: a database table, or a MemoryTree in tests."""

    def read_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        """A batch lookup, so that a proof costs one round trip; unknown ids are left out."""
        ...


def range_nodes(start: int, end: int) -> list[NodeId]:
    """Perfect nodes of [start, end), largest first, for ``fold_right``.

    Only aligned ranges (start a multiple of a power of two >= end - start) are RFC
    subtrees; for them the binary decomposition of the length, largest part first, is
    exactly the RFC's "largest power of two smaller than n" split applied recursively.
    """
    size = end - start
    if start < 0 or size < 0 or (size and start % (1 << (size - 1).bit_length())):
        raise InvalidRequestError(f"[{start}, {end}) is not an RFC 6962 subtree range")
    ids = []
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            ids.append(NodeId(level, start >> level))
            start += 1 << level
    return ids


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """The RFC hangs each smaller subtree off the right, so a range folds from the right."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = hash_children(left, acc)
    return acc


def _hash_ranges(ranges: Sequence[tuple[int, int]], reader: NodeReader) -> list[bytes]:
    """Hash many ranges from one read: one round trip per proof, not one per level.

    Proof ranges are disjoint, so the ids are distinct without deduplication.
    """
    groups = [range_nodes(start, end) for start, end in ranges]
    wanted = [node for group in groups for node in group]
    found = reader.read_nodes(wanted) if wanted else {}
    for node in wanted:
        value = found.get(node)
        if value is None or len(value) != HASH_SIZE:
            what = "missing" if value is None else f"has {len(value)} bytes"
            raise ProofError(f"tree node ({node.level}, {node.index}) {what}")
    return [fold_right([found[node] for node in group]) for group in groups]


def _path(level: int, index: int, size: int) -> list[tuple[int, int]]:
    """Sibling ranges, bottom-up, from node (level, index) to the root of `size` leaves.

    A sibling that would start at or past `size` does not exist yet: the RFC promotes
    the lone child unchanged, so that level adds nothing to the proof.
    """
    ranges = []
    while 1 << level < size:
        start = (index ^ 1) << level
        if start < size:
            ranges.append((start, min(start + (1 << level), size)))
        level, index = level + 1, index >> 1
    return ranges


def root(size: int, reader: NodeReader) -> bytes:
    """A tree head for any past size comes from the same immutable nodes, in one read."""
    if size < 0:
        raise InvalidRequestError(f"tree size {size} is negative")
    return _hash_ranges([(0, size)], reader)[0]


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 §2.1.3 audit path, bottom-up; at most one read, of O(log n) nodes."""
    if not 0 <= index < size:
        raise InvalidRequestError(f"leaf index {index} is outside a tree of size {size}")
    return _hash_ranges(_path(0, index, size), reader)


def consistency_proof(size1: int, size2: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 §2.1.4 proof, built as in transparency-dev/merkle ``proof.Consistency``.

    The largest perfect subtree ending at size1 plus its path in the size2 tree is all a
    verifier needs to rebuild both roots. The subtree is left out when it *is* the old
    tree (size1 a power of two) because the verifier already holds that root.
    """
    if not 0 <= size1 <= size2:
        raise InvalidRequestError(f"cannot prove size {size1} consistent with size {size2}")
    if size1 in (0, size2):
        return []
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    ranges = _path(level, index, size2)
    if index:
        ranges.insert(0, (index << level, size1))
    return _hash_ranges(ranges, reader)


def _check_hashes(proof: Sequence[bytes]) -> None:
    if any(len(h) != HASH_SIZE for h in proof):
        raise ProofError(f"every proof hash must be {HASH_SIZE} bytes")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split a path into levels below the fork with the right edge, and left siblings above.

    Below the fork siblings may sit on either side; above it the path runs along the
    right edge, where only left siblings exist, one per set bit of the index.
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def _chain(
    seed: bytes, proof: Sequence[bytes], inner: int, index: int, *, right_only: bool = False
) -> bytes:
    """Climb from seed: index bits place the first `inner` siblings, the rest are on the left.

    With right_only, siblings on the right are skipped: they lie past the old tree's end,
    so leaving them out rebuilds the old root from the same proof.
    """
    for level, sibling in enumerate(proof):
        if level >= inner or index >> level & 1:
            seed = hash_children(sibling, seed)
        elif not right_only:
            seed = hash_children(seed, sibling)
    return seed


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Lets a caller hold the computed root (e.g. to pick a checkpoint) before comparing."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash has {len(leaf_hash)} bytes, want {HASH_SIZE}")
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"inclusion proof has {len(proof)} hashes, want {inner + border}")
    _check_hashes(proof)
    return _chain(leaf_hash, proof, inner, index)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raises rather than returning a bool, so a forgotten check cannot pass silently."""
    if root_from_inclusion_proof(leaf_hash, index, size, proof) != root:
        raise ProofError("inclusion proof does not lead to the expected root")


def root_from_consistency_proof(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> bytes:
    """Checks root1 against the proof and returns the size2 root that the proof implies.

    Equal sizes need no proof: the roots must simply match, and an empty tree's root is
    fixed, so a claimed size-0 root other than EMPTY_ROOT is rejected.
    """
    if not 0 <= size1 <= size2:
        raise ProofError(f"size1 {size1} and size2 {size2} are not 0 <= size1 <= size2")
    if size1 == size2:
        if proof:
            raise ProofError("size1 == size2, but the proof is not empty")
        if size1 == 0 and root1 != EMPTY_ROOT:
            raise ProofError("the root of an empty tree must be EMPTY_ROOT")
        return root1
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if len(root1) != HASH_SIZE:
        raise ProofError(f"root1 has {len(root1)} bytes, want {HASH_SIZE}")
    if not proof:
        raise ProofError("consistency proof has 0 hashes, want at least 1")
    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    # Unless size1 is a power of two, the proof opens with the old tree's largest
    # perfect subtree (ending at size1); the rest is its path in the new tree.
    seed, rest = (root1, proof) if size1 == 1 << shift else (proof[0], proof[1:])
    if len(rest) != inner + border:
        want = len(proof) - len(rest) + inner + border
        raise ProofError(f"consistency proof has {len(proof)} hashes, want {want}")
    _check_hashes(proof)
    mask = (size1 - 1) >> shift
    if _chain(seed, rest, inner, mask, right_only=True) != root1:
        raise ProofError("consistency proof does not lead to root1")
    return _chain(seed, rest, inner, mask)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raises rather than returning a bool, so a forgotten check cannot pass silently."""
    if root_from_consistency_proof(size1, size2, proof, root1) != root2:
        raise ProofError("consistency proof does not lead to root2")


class CompactRange:
    """The right frontier of the tree ([0, size) as its range_nodes hashes).

    It is enough to append and to compute the root in O(log n) memory, and it names every
    perfect node an append completes, which is exactly what the store must write.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            want = max(size, 0).bit_count()
            raise InvalidRequestError(
                f"size {size} needs {want} frontier hashes, not {len(hashes)}"
            )
        if any(len(h) != HASH_SIZE for h in hashes):
            raise InvalidRequestError(f"frontier hashes must be {HASH_SIZE} bytes")
        self._size = size
        self._hashes = list(hashes)

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> list[tuple[NodeId, bytes]]:
        """Returns the new leaf node, then each parent it completes, lowest first.

        The node at level L is a right child exactly when bit L of the old size is set;
        its left sibling is then the smallest frontier node, so the two merge.
        """
        index = self._size
        completed = [(NodeId(0, index), leaf_hash)]
        for level, value in enumerate(self.push(leaf_hash), start=1):
            completed.append((NodeId(level, index >> level), value))
        return completed

    def push(self, leaf_hash: bytes) -> list[bytes]:
        """Append a leaf; returns the hashes of the parents it completes, level 1 upward.

        The same as ``append`` without naming the nodes: the hot path of appends and of
        verification, where node names are implied by the leaf index.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise InvalidRequestError(f"leaf hash has {len(leaf_hash)} bytes, want {HASH_SIZE}")
        index, value, parents = self._size, leaf_hash, []
        while index & 1:
            value = hash_children(self._hashes.pop(), value)
            parents.append(value)
            index >>= 1
        self._hashes.append(value)
        self._size += 1
        return parents

    def root(self) -> bytes:
        return fold_right(self._hashes)

    def nodes(self) -> list[tuple[NodeId, bytes]]:
        """What to persist so that ``CompactRange(size, hashes)`` can resume later."""
        return list(zip(range_nodes(0, self._size), self._hashes, strict=True))


class MemoryTree(NodeReader):
    """A dict of every perfect node: the store for tests, benchmarks and offline checks."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._range = CompactRange()
        self._nodes: dict[NodeId, bytes] = {}
        for leaf_hash in leaf_hashes:
            self.append(leaf_hash)

    @property
    def size(self) -> int:
        return self._range.size

    def append(self, leaf_hash: bytes) -> None:
        self._nodes.update(self._range.append(leaf_hash))

    def root(self) -> bytes:
        return self._range.root()

    def read_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return {node: self._nodes[node] for node in ids if node in self._nodes}


def reference_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH exactly as RFC 6962 §2.1 writes it: a naive, independent oracle for tests."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return hash_children(reference_root(leaf_hashes[:k]), reference_root(leaf_hashes[k:]))
