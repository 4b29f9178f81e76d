"""The log as C2SP tlog-tiles: fixed files that any cache or CDN can keep forever.

A tile at level ``L`` and index ``N`` holds the hashes of the Merkle nodes at tree
level ``8·L``, indices ``256·N`` up to ``256·N + W - 1``; an entry bundle holds the
leaves ``256·N`` onward, each behind its length as a two-byte big-endian integer. A
full tile has width 256; a partial one (``.p/W``) is a prefix of the full tile it
will become, so both are immutable: a tile's bytes depend on its path alone. Only
the checkpoint changes.

``TileNodes`` reads any perfect node from tiles, so that a verifier holding only the
tiles (fetched over HTTP, from a mirror or from disk) rebuilds every inclusion and
consistency proof itself with ``ledger.merkle``.

See github.com/C2SP/C2SP ``tlog-tiles.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ledger import merkle
from ledger.errors import InvalidRequestError, NotFoundError
from ledger.merkle import NodeId, NodeReader

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes or entries
MAX_LEVEL = 63
ENTRIES = "entries"

_INDEX_ELEMENT = re.compile(r"x\d{3}")
_LAST_ELEMENT = re.compile(r"(\d{3})(?:\.p)?")


@dataclass(frozen=True)
class Tile:
    """One tile: ``level`` is an int, or ``ENTRIES`` for an entry bundle."""

    level: int | str
    index: int
    width: int = TILE_WIDTH

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        """``<L>/<N>[.p/<W>]`` with N in groups of three digits, all but the last x-prefixed."""
        digits = f"{self.index:03d}"
        digits = "0" * (-len(digits) % 3) + digits
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
        encoded = "/".join([*(f"x{group}" for group in groups[:-1]), groups[-1]])
        partial = f".p/{self.width}" if self.is_partial else ""
        return f"{self.level}/{encoded}{partial}"


def parse_path(path: str) -> Tile:
    """Read ``<L>/<N>[.p/<W>]`` (or ``entries/<N>…``); InvalidRequestError if malformed.

    Only the canonical spelling is accepted (no extra zeros, no empty groups), so that
    one tile has one URL and caches never hold two copies of it.
    """
    parts = path.split("/")
    if len(parts) < 2:
        raise InvalidRequestError(f"tile path {path!r} names no level and index")
    head, rest = parts[0], parts[1:]
    level: int | str
    if head == ENTRIES:
        level = ENTRIES
    elif head.isdigit() and str(int(head)) == head and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        raise InvalidRequestError(f"tile level {head!r} must be 0..{MAX_LEVEL} or 'entries'")
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        raw = rest[-1]
        if not raw.isdigit() or str(int(raw)) != raw or not 1 <= int(raw) < TILE_WIDTH:
            raise InvalidRequestError(f"partial tile width {raw!r} must be 1..255")
        width, rest = int(raw), rest[:-1]
    elif rest[-1].endswith(".p"):
        raise InvalidRequestError("a partial tile path ends in .p/<width>")
    *groups, last = rest
    match = _LAST_ELEMENT.fullmatch(last)
    if (
        not match
        or last.endswith(".p") != (width < TILE_WIDTH)
        or not all(_INDEX_ELEMENT.fullmatch(g) for g in groups)
        or (groups and groups[0] == "x000")
    ):
        raise InvalidRequestError(f"tile index in {path!r} is not canonical")
    index = int("".join(g[1:] for g in groups) + match.group(1))
    return Tile(level, index, width)


def nodes_at(level: int, size: int) -> int:
    """How many perfect nodes of Merkle level ``level`` a tree of ``size`` leaves has."""
    return size >> level


def check_available(tile: Tile, size: int) -> None:
    """NotFoundError for a tile the tree of ``size`` leaves does not have (yet)."""
    level = 0 if tile.level == ENTRIES else int(tile.level) * TILE_HEIGHT
    available = nodes_at(level, size) - tile.index * TILE_WIDTH
    if available < tile.width:
        raise NotFoundError(
            f"tile {tile.path} needs {tile.width} nodes; the tree of {size} entries has "
            f"{max(available, 0)} there"
        )


def hashes(tile: Tile, reader: NodeReader) -> bytes:
    """A hash tile's bytes: its nodes' hashes, concatenated, from one batch read."""
    level = int(tile.level) * TILE_HEIGHT
    first = tile.index * TILE_WIDTH
    ids = [NodeId(level, first + offset) for offset in range(tile.width)]
    found = reader.read_nodes(ids)
    return b"".join(found[node] for node in ids)


def bundle(leaves: Sequence[bytes]) -> bytes:
    """An entry bundle: each leaf behind its length (at most 65,535 bytes, CONTRACT §1)."""
    out = bytearray()
    for leaf in leaves:
        out += len(leaf).to_bytes(2, "big") + leaf
    return bytes(out)


def unbundle(data: bytes) -> list[bytes]:
    """The leaves of an entry bundle; InvalidRequestError if it is cut short."""
    leaves, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise InvalidRequestError("entry bundle ends inside a length")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise InvalidRequestError("entry bundle ends inside an entry")
        leaves.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return leaves


class TileNodes:
    """A ``NodeReader`` over the hash tiles of a tree of ``size`` leaves.

    ``fetch(path)`` returns a tile's bytes (over HTTP, from a mirror, from disk). A node
    at a level between tile levels is hashed from the 2, 4, … 128 nodes below it in its
    tile, so any perfect node costs one tile. Tiles are fetched at the width the tree
    size gives, full ones whenever complete, and kept: proofs share their upper tiles.
    """

    def __init__(self, size: int, fetch: Callable[[str], bytes]) -> None:
        self.size = size
        self._fetch = fetch
        self._tiles: dict[tuple[int, int], bytes] = {}

    def read_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return {node: self._node(node) for node in ids}

    def _node(self, node: NodeId) -> bytes:
        if (node.index + 1) << node.level > self.size:
            raise InvalidRequestError(f"node {node} is not in a tree of {self.size} entries")
        tile_level, height = divmod(node.level, TILE_HEIGHT)
        span = 1 << height  # nodes of the tile's level under this node
        first = node.index * span
        tile_index = first // TILE_WIDTH
        data = self._tile(tile_level, tile_index)
        offset = first % TILE_WIDTH
        chunk = data[offset * merkle.HASH_SIZE : (offset + span) * merkle.HASH_SIZE]
        hashes_below = [chunk[i : i + merkle.HASH_SIZE] for i in range(0, len(chunk), 32)]
        if len(hashes_below) != span:
            raise InvalidRequestError(f"tile {tile_level}/{tile_index} is too short for {node}")
        return _perfect_root(hashes_below)

    def _tile(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self._tiles:
            available = nodes_at(level * TILE_HEIGHT, self.size) - index * TILE_WIDTH
            tile = Tile(level, index, min(available, TILE_WIDTH))
            data = self._fetch(tile.path)
            if len(data) != tile.width * merkle.HASH_SIZE:
                raise InvalidRequestError(
                    f"tile {tile.path} has {len(data)} bytes, not {tile.width * merkle.HASH_SIZE}"
                )
            self._tiles[key] = data
        return self._tiles[key]


def _perfect_root(nodes: Sequence[bytes]) -> bytes:
    """The root over a power-of-two run of sibling nodes, pairing neighbours level by level."""
    level = list(nodes)
    while len(level) > 1:
        level = [merkle.hash_children(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]
