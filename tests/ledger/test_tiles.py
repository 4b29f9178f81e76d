"""tlog-tiles: paths as C2SP spells them, and proofs rebuilt from tiles alone."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle, tiles
from ledger.errors import InvalidRequestError, NotFoundError
from ledger.tiles import Tile


def _tree(size: int) -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.hash_leaf(str(i).encode()) for i in range(size))


def _fetcher(tree: merkle.MemoryTree, fetched: list[str] | None = None):  # type: ignore[no-untyped-def]
    def fetch(path: str) -> bytes:
        if fetched is not None:
            fetched.append(path)
        tile = tiles.parse_path(path)
        tiles.check_available(tile, tree.size)
        return tiles.hashes(tile, tree)

    return fetch


@pytest.mark.parametrize(
    ("tile", "path"),
    [
        (Tile(0, 0), "0/000"),
        (Tile(0, 7, 3), "0/007.p/3"),
        (Tile(1, 999), "1/999"),
        (Tile(0, 1000), "0/x001/000"),
        (Tile(2, 1234067, 255), "2/x001/x234/067.p/255"),
        (Tile(tiles.ENTRIES, 5), "entries/005"),
        (Tile(tiles.ENTRIES, 5, 1), "entries/005.p/1"),
    ],
)
def test_paths_are_spelled_as_c2sp_says(tile: Tile, path: str) -> None:
    assert tile.path == path
    assert tiles.parse_path(path) == tile


@given(
    st.one_of(st.integers(0, 63), st.just(tiles.ENTRIES)),
    st.integers(0, 10**12),
    st.integers(1, 256),
)
def test_every_tile_path_reads_back(level: int | str, index: int, width: int) -> None:
    tile = Tile(level, index, width)
    assert tiles.parse_path(tile.path) == tile


@pytest.mark.parametrize(
    "path",
    [
        "0",
        "64/000",
        "00/000",
        "0/0",
        "0/0000",
        "0/x000/001",
        "0/x1/000",
        "0/001.p/0",
        "0/001.p/256",
        "0/001.p/07",
        "0/001.p",
        "0/001/.p/3",
        "0/x001.p/3/000",
        "blobs/000",
    ],
)
def test_a_path_that_is_not_canonical_is_refused(path: str) -> None:
    with pytest.raises(InvalidRequestError):
        tiles.parse_path(path)


def test_a_tile_the_tree_has_not_grown_to_is_not_found() -> None:
    tiles.check_available(Tile(0, 0, 10), 10)
    tiles.check_available(Tile(1, 0, 1), 256)
    with pytest.raises(NotFoundError, match="has 10 there"):
        tiles.check_available(Tile(0, 0), 10)
    with pytest.raises(NotFoundError):
        tiles.check_available(Tile(1, 0, 1), 255)
    with pytest.raises(NotFoundError):
        tiles.check_available(Tile(tiles.ENTRIES, 1, 1), 256)


def test_a_partial_tile_is_the_prefix_of_the_full_one() -> None:
    tree = _tree(256)
    full = tiles.hashes(Tile(0, 0), tree)
    assert len(full) == 256 * 32
    assert tiles.hashes(Tile(0, 0, 17), tree) == full[: 17 * 32]
    assert full[:32] == merkle.hash_leaf(b"0")
    assert tiles.hashes(Tile(1, 0, 1), tree) == tree.root()


def test_bundles_round_trip_and_a_cut_bundle_is_refused() -> None:
    leaves = [b"", b"a", bytes(65_535)]
    data = tiles.bundle(leaves)
    assert data[:2] == b"\x00\x00"
    assert tiles.unbundle(data) == leaves
    for cut in (1, 3, len(data) - 1):
        with pytest.raises(InvalidRequestError):
            tiles.unbundle(data[:cut])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 1300), st.data())
def test_proofs_from_tiles_equal_proofs_from_the_tree(size: int, data: st.DataObject) -> None:
    tree = _tree(size)
    nodes = tiles.TileNodes(size, _fetcher(tree))
    index = data.draw(st.integers(0, size - 1))
    first = data.draw(st.integers(1, size))
    assert merkle.root(size, nodes) == tree.root()
    assert merkle.inclusion_proof(index, size, nodes) == merkle.inclusion_proof(index, size, tree)
    assert merkle.consistency_proof(first, size, nodes) == merkle.consistency_proof(
        first, size, tree
    )


def test_a_tree_past_65536_entries_reads_level_two_tiles_once() -> None:
    size = 70_001
    tree = _tree(size)
    fetched: list[str] = []
    nodes = tiles.TileNodes(size, _fetcher(tree, fetched))
    assert merkle.root(size, nodes) == tree.root()
    assert "2/000.p/1" in fetched
    assert merkle.inclusion_proof(66_000, size, nodes) == merkle.inclusion_proof(66_000, size, tree)
    assert len(fetched) == len(set(fetched))


def test_a_short_tile_is_refused() -> None:
    tree = _tree(300)
    nodes = tiles.TileNodes(300, lambda path: _fetcher(tree)(path)[:-1])
    with pytest.raises(InvalidRequestError, match="bytes"):
        merkle.root(300, nodes)


def test_tile_hashes_are_rfc6962_leaf_hashes() -> None:
    tree = _tree(3)
    assert tiles.hashes(Tile(0, 0, 3), tree)[32:64] == hashlib.sha256(b"\x001").digest()
