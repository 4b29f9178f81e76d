"""RFC 6962 Merkle tree: the transparency-dev vectors, an independent oracle, properties.

The vectors decide what a verifier must reject; ``reference_root`` (the RFC's recursive
MTH, sharing no code with the node store) decides what the right roots are.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidRequestError, LedgerError, ProofError
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    MemoryTree,
    NodeId,
    NodeReader,
    consistency_proof,
    fold_right,
    hash_children,
    hash_leaf,
    inclusion_proof,
    range_nodes,
    reference_root,
    root,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "rfc6962"
VECTOR_COUNT = 196
VECTOR_FILES = sorted(VECTORS.rglob("*.json")) if VECTORS.is_dir() else []
MISSING = [pytest.param(None, id="vectors-missing")]

REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
REFERENCE_ROOT = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
REFERENCE_HASHES = [hash_leaf(leaf) for leaf in REFERENCE_LEAVES]
REFERENCE_TREE = MemoryTree(REFERENCE_HASHES)

# One tree serves every smaller size too: a prefix's perfect nodes are all in it.
MAX = 300
LEAVES = [hash_leaf(i.to_bytes(4, "big")) for i in range(MAX)]
TREE = MemoryTree(LEAVES)
ROOTS = [reference_root(LEAVES[:n]) for n in range(MAX + 1)]


class CountingReader:
    """Counts round trips and refuses nodes outside the tree a proof is about."""

    def __init__(self, inner: NodeReader, size: int) -> None:
        self.inner, self.size = inner, size
        self.calls: list[list[NodeId]] = []

    def read_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        ids = list(ids)
        self.calls.append(ids)
        assert len(set(ids)) == len(ids), "duplicate ids in one read"
        for node in ids:
            assert node.level >= 0 and node.index >= 0
            assert (node.index + 1) << node.level <= self.size, f"{node} is past {self.size}"
        return self.inner.read_nodes(ids)


class FakeReader:
    """A million-leaf 'tree' without storing it: each node hash is derived from its id."""

    def read_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return {n: hashlib.sha256(f"{n.level}/{n.index}".encode()).digest() for n in ids}


class UniformReader:
    """A consistent tree of identical leaves: every perfect node depends only on its level."""

    def __init__(self) -> None:
        self.by_level = [hash_leaf(b"same")]
        for _ in range(64):
            self.by_level.append(hash_children(self.by_level[-1], self.by_level[-1]))

    def read_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return {n: self.by_level[n.level] for n in ids}

    def mth(self, n: int) -> bytes:
        """The RFC recursion, short-cut because a perfect left half is known by its level."""
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0:
            return self.by_level[n.bit_length() - 1]
        k = 1 << ((n - 1).bit_length() - 1)
        return hash_children(self.by_level[k.bit_length() - 1], self.mth(n - k))


def b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    data["proof"] = [b64(p) for p in data["proof"] or []]
    return data


def vector_id(path: Path) -> str:
    return path.relative_to(VECTORS).as_posix()


def check_vector(data: dict[str, Any]) -> None:
    if "leafIdx" in data:
        verify_inclusion(
            b64(data["leafHash"]),
            data["leafIdx"],
            data["treeSize"],
            data["proof"],
            b64(data["root"]),
        )
    else:
        verify_consistency(
            data["size1"], data["size2"], data["proof"], b64(data["root1"]), b64(data["root2"])
        )


def flip(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def perfect_nodes(size: int) -> set[NodeId]:
    return {
        NodeId(level, index) for level in range(size.bit_length()) for index in range(size >> level)
    }


# --- the transparency-dev vectors ------------------------------------------------------


def test_vectors_are_all_there() -> None:
    assert VECTORS.is_dir(), f"RFC 6962 vectors not found at {VECTORS}"
    assert len(VECTOR_FILES) == VECTOR_COUNT, f"expected {VECTOR_COUNT} vectors in {VECTORS}"


@pytest.mark.parametrize("path", VECTOR_FILES or MISSING, ids=vector_id)
def test_vector(path: Path | None) -> None:
    if path is None:
        pytest.fail(f"RFC 6962 vectors not found at {VECTORS}")
    data = load(path)
    if data["wantErr"]:
        with pytest.raises(ProofError):
            check_vector(data)
    else:
        check_vector(data)


HAPPY = [p for p in VECTOR_FILES if p.name == "happy-path.json"]


@pytest.mark.parametrize("path", HAPPY or MISSING, ids=vector_id)
def test_prover_reproduces_happy_path(path: Path | None) -> None:
    if path is None:
        pytest.fail(f"RFC 6962 vectors not found at {VECTORS}")
    data = load(path)
    reader = CountingReader(REFERENCE_TREE, 8)
    if "leafIdx" in data:
        index, size = data["leafIdx"], data["treeSize"]
        assert b64(data["leafHash"]) == REFERENCE_HASHES[index]
        assert b64(data["root"]) == reference_root(REFERENCE_HASHES[:size])
        assert inclusion_proof(index, size, reader) == data["proof"]
    else:
        size1, size2 = data["size1"], data["size2"]
        assert b64(data["root1"]) == reference_root(REFERENCE_HASHES[:size1])
        assert b64(data["root2"]) == reference_root(REFERENCE_HASHES[:size2])
        assert consistency_proof(size1, size2, reader) == data["proof"]
    assert len(reader.calls) == (1 if data["proof"] else 0)


def test_happy_paths_found() -> None:
    assert len(HAPPY) == 10


def test_reference_leaves_root() -> None:
    assert REFERENCE_TREE.root().hex() == REFERENCE_ROOT
    assert root(8, REFERENCE_TREE).hex() == REFERENCE_ROOT
    assert reference_root(REFERENCE_HASHES).hex() == REFERENCE_ROOT


# --- basics and argument errors --------------------------------------------------------


def test_hash_basics() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert hash_leaf(b"x") == hashlib.sha256(b"\x00x").digest()
    assert hash_children(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert len(EMPTY_ROOT) == HASH_SIZE
    assert fold_right([]) == EMPTY_ROOT
    assert root(0, TREE) == EMPTY_ROOT == reference_root([]) == CompactRange().root()


def test_range_nodes() -> None:
    assert range_nodes(0, 0) == []
    assert range_nodes(0, 7) == [NodeId(2, 0), NodeId(1, 2), NodeId(0, 6)]
    assert range_nodes(8, 11) == [NodeId(1, 4), NodeId(0, 10)]
    for start, end in [(1, 3), (2, 5), (-1, 0), (3, 2), (4, 9)]:
        with pytest.raises(InvalidRequestError):
            range_nodes(start, end)


@given(st.integers(0, 8), st.integers(0, MAX), st.integers(1, MAX))
@settings(max_examples=100, deadline=None)
def test_range_nodes_fold_to_subtree_hash(shift: int, slot: int, length: int) -> None:
    length = min(length, 1 << shift)
    start = (slot >> shift) << shift
    end = min(start + length, MAX)
    ids = range_nodes(start, end)
    levels = [n.level for n in ids]
    assert levels == sorted(levels, reverse=True)
    covered = [leaf for n in ids for leaf in range(n.index << n.level, (n.index + 1) << n.level)]
    assert covered == list(range(start, end))
    hashes = TREE.read_nodes(ids)
    assert fold_right([hashes[n] for n in ids]) == reference_root(LEAVES[start:end])


def test_bad_proof_requests() -> None:
    for index, size in [(0, 0), (5, 5), (6, 5), (-1, 5)]:
        with pytest.raises(InvalidRequestError):
            inclusion_proof(index, size, TREE)
    for size1, size2 in [(6, 5), (1, 0), (-1, 3)]:
        with pytest.raises(InvalidRequestError):
            consistency_proof(size1, size2, TREE)
    with pytest.raises(InvalidRequestError):
        root(-1, TREE)
    assert consistency_proof(0, 5, TREE) == []
    assert consistency_proof(5, 5, TREE) == []


def test_missing_or_bad_node_is_a_proof_error() -> None:
    with pytest.raises(ProofError, match=r"tree node \(0, 300\) missing"):
        root(MAX + 1, TREE)
    with pytest.raises(ProofError, match="missing"):
        inclusion_proof(0, 2, MemoryTree([LEAVES[0]]))

    class Short:
        def read_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
            return dict.fromkeys(ids, b"short")

    with pytest.raises(ProofError, match="5 bytes"):
        root(3, Short())


def test_verifier_rejects_bad_arguments() -> None:
    proof = inclusion_proof(3, 10, TREE)
    for index, size in [(-1, 10), (10, 10), (3, 0), (2**64 - 1, 10)]:
        with pytest.raises(ProofError, match="outside"):
            verify_inclusion(LEAVES[3], index, size, proof, ROOTS[10])
    with pytest.raises(ProofError, match="outside"):
        verify_inclusion(LEAVES[0], 1, 1, [], LEAVES[0])
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[3][:31], 3, 10, proof, ROOTS[10])
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[3], 3, 10, [*proof[:-1], proof[-1] + b"\x00"], ROOTS[10])
    with pytest.raises(ProofError):
        verify_consistency(-1, 5, [], ROOTS[0], ROOTS[5])
    with pytest.raises(ProofError):
        verify_consistency(0, 0, [], b"x", b"x")
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError):
        verify_consistency(3, 5, consistency_proof(3, 5, TREE), ROOTS[3][:31], ROOTS[5])
    assert issubclass(ProofError, LedgerError)


# --- every proof verifies against the oracle --------------------------------------------


@given(st.integers(1, MAX))
@settings(max_examples=40, deadline=None)
def test_every_inclusion_proof_verifies(size: int) -> None:
    expected = ROOTS[size]
    assert root(size, TREE) == expected
    assert CompactRange(size, [TREE.read_nodes([n])[n] for n in range_nodes(0, size)]).root() == (
        expected
    )
    for index in range(size):
        reader = CountingReader(TREE, size)
        proof = inclusion_proof(index, size, reader)
        assert len(reader.calls) == (1 if size > 1 else 0)
        verify_inclusion(LEAVES[index], index, size, proof, expected)
        assert root_from_inclusion_proof(LEAVES[index], index, size, proof) == expected


@given(st.integers(1, MAX))
@settings(max_examples=40, deadline=None)
def test_every_consistency_proof_verifies(size2: int) -> None:
    for size1 in range(1, size2 + 1):
        reader = CountingReader(TREE, size2)
        proof = consistency_proof(size1, size2, reader)
        assert len(reader.calls) == (1 if size1 < size2 else 0)
        verify_consistency(size1, size2, proof, ROOTS[size1], ROOTS[size2])
        assert root_from_consistency_proof(size1, size2, proof, ROOTS[size1]) == ROOTS[size2]


def test_every_pair_up_to_64() -> None:
    for size2 in range(1, 65):
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(size1, size2, TREE)
            verify_consistency(size1, size2, proof, ROOTS[size1], ROOTS[size2])
        for index in range(size2):
            proof = inclusion_proof(index, size2, TREE)
            verify_inclusion(LEAVES[index], index, size2, proof, ROOTS[size2])


# --- tampering is always caught ---------------------------------------------------------


WRONG_LENGTH = "hashes, want"


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX))
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(2, MAX))
    return draw(st.integers(1, size2 - 1)), size2


def rejects(check: Any, *args: Any, match: str = "") -> bool:
    try:
        check(*args)
    except ProofError as error:
        return match in str(error)
    return False


@given(index_and_size(), st.integers(0, 255))
@settings(max_examples=150, deadline=None)
def test_inclusion_bit_flips_fail(case: tuple[int, int], bit: int) -> None:
    index, size = case
    leaf, good, proof = LEAVES[index], ROOTS[size], inclusion_proof(index, size, TREE)
    assert rejects(verify_inclusion, flip(leaf, bit), index, size, proof, good)
    assert rejects(verify_inclusion, leaf, index, size, proof, flip(good, bit))
    for i in range(len(proof)):
        bad = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
        assert rejects(verify_inclusion, leaf, index, size, bad, good)


@given(two_sizes(), st.integers(0, 255))
@settings(max_examples=150, deadline=None)
def test_consistency_bit_flips_fail(case: tuple[int, int], bit: int) -> None:
    size1, size2 = case
    root1, root2, proof = ROOTS[size1], ROOTS[size2], consistency_proof(size1, size2, TREE)
    assert rejects(verify_consistency, size1, size2, proof, flip(root1, bit), root2)
    assert rejects(verify_consistency, size1, size2, proof, root1, flip(root2, bit))
    for i in range(len(proof)):
        bad = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
        assert rejects(verify_consistency, size1, size2, bad, root1, root2)


@given(index_and_size(), st.data())
@settings(max_examples=100, deadline=None)
def test_inclusion_added_or_removed_element_fails(case: tuple[int, int], data: Any) -> None:
    index, size = case
    leaf, good, proof = LEAVES[index], ROOTS[size], inclusion_proof(index, size, TREE)
    extra = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE) | st.sampled_from(LEAVES))
    at = data.draw(st.integers(0, len(proof)))
    longer = [*proof[:at], extra, *proof[at:]]
    assert rejects(verify_inclusion, leaf, index, size, longer, good, match=WRONG_LENGTH)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        shorter = proof[:at] + proof[at + 1 :]
        assert rejects(verify_inclusion, leaf, index, size, shorter, good, match=WRONG_LENGTH)


@given(two_sizes(), st.data())
@settings(max_examples=100, deadline=None)
def test_consistency_added_or_removed_element_fails(case: tuple[int, int], data: Any) -> None:
    size1, size2 = case
    root1, root2, proof = ROOTS[size1], ROOTS[size2], consistency_proof(size1, size2, TREE)
    extra = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE) | st.sampled_from(ROOTS))
    at = data.draw(st.integers(0, len(proof)))
    longer = [*proof[:at], extra, *proof[at:]]
    assert rejects(verify_consistency, size1, size2, longer, root1, root2, match=WRONG_LENGTH)
    at = data.draw(st.integers(0, len(proof) - 1))
    shorter = proof[:at] + proof[at + 1 :]
    assert rejects(verify_consistency, size1, size2, shorter, root1, root2, match=WRONG_LENGTH)


# --- CompactRange and the node store ----------------------------------------------------


def test_compact_range_emits_exactly_the_perfect_nodes() -> None:
    compact, seen = CompactRange(), {}
    for size in range(1, MAX + 1):
        completed = compact.append(LEAVES[size - 1])
        assert completed[0] == (NodeId(0, size - 1), LEAVES[size - 1])
        assert [n.level for n, _ in completed] == list(range(len(completed)))
        for node, value in completed:
            assert node not in seen
            assert (node.index + 1) << node.level == size  # completed by this very leaf
            assert value == reference_root(LEAVES[node.index << node.level : size])
            seen[node] = value
        assert set(seen) == perfect_nodes(size)
        assert compact.size == size
        assert compact.root() == ROOTS[size]
        assert [n for n, _ in compact.nodes()] == range_nodes(0, size)


@given(st.integers(0, MAX), st.integers(0, 40))
@settings(max_examples=60, deadline=None)
def test_compact_range_resumes_from_stored_nodes(size: int, more: int) -> None:
    ids = range_nodes(0, size)
    stored = TREE.read_nodes(ids)
    resumed = CompactRange(size, [stored[n] for n in ids])
    original = CompactRange()
    for leaf in LEAVES[:size]:
        original.append(leaf)
    assert resumed.nodes() == original.nodes()
    for leaf in LEAVES[size : size + more]:
        assert resumed.append(leaf) == original.append(leaf)
        assert resumed.root() == original.root() == ROOTS[resumed.size]


def test_compact_range_validates_its_input() -> None:
    with pytest.raises(InvalidRequestError):
        CompactRange(3, [LEAVES[0]])
    with pytest.raises(InvalidRequestError):
        CompactRange(-1, [LEAVES[0]])
    with pytest.raises(InvalidRequestError):
        CompactRange(1, [b"short"])
    with pytest.raises(InvalidRequestError):
        CompactRange().append(b"short")
    assert CompactRange(2, [hash_children(LEAVES[0], LEAVES[1])]).root() == ROOTS[2]


def test_memory_tree_holds_every_perfect_node() -> None:
    assert TREE.size == MAX
    assert set(TREE.read_nodes(sorted(perfect_nodes(MAX)))) == perfect_nodes(MAX)
    assert TREE.read_nodes([NodeId(0, MAX), NodeId(9, 0)]) == {}
    assert TREE.root() == ROOTS[MAX]


# --- one round trip of O(log n) nodes, even for a million leaves -------------------------

BIG = 1_000_000
ID_BUDGET = 2 * BIG.bit_length() + 2  # 2 * ceil(log2(n)) + 2


@given(st.integers(0, BIG - 1) | st.sampled_from([0, BIG - 1, BIG // 2, 2**19, 2**19 - 1]))
@settings(max_examples=200, deadline=None)
def test_inclusion_proof_reads_once_at_a_million(index: int) -> None:
    reader = CountingReader(FakeReader(), BIG)
    proof = inclusion_proof(index, BIG, reader)
    assert len(reader.calls) == 1
    assert len(reader.calls[0]) <= ID_BUDGET
    assert len(proof) <= BIG.bit_length()


@given(st.integers(1, BIG) | st.sampled_from([1, 2, 2**19, 2**19 + 1, BIG - 1]))
@settings(max_examples=200, deadline=None)
def test_consistency_proof_reads_once_at_a_million(size1: int) -> None:
    reader = CountingReader(FakeReader(), BIG)
    consistency_proof(size1, BIG, reader)
    assert len(reader.calls) == (1 if size1 < BIG else 0)
    assert all(len(ids) <= ID_BUDGET for ids in reader.calls)


@given(st.integers(1, BIG), st.integers(0, BIG))
@settings(max_examples=100, deadline=None)
def test_proofs_verify_in_a_uniform_million_leaf_tree(size: int, other: int) -> None:
    uniform = UniformReader()
    assert root(size, uniform) == uniform.mth(size)
    index = other % size
    proof = inclusion_proof(index, size, uniform)
    verify_inclusion(uniform.by_level[0], index, size, proof, uniform.mth(size))
    size1 = max(1, other % (size + 1))
    proof = consistency_proof(size1, size, uniform)
    verify_consistency(size1, size, proof, uniform.mth(size1), uniform.mth(size))
