"""Where an audit reads the log from: the database, or an export file with no database.

Both give the same stream: each stored entry (its leaf bytes and what the store claims
its hashes are), and each stored checkpoint right after the entry that completes it.
A problem that ends the stream (a line that is not JSON, a row that cannot be read)
raises ``ChainError`` naming the index it concerns; a problem only visible once the
stream is over (a checkpoint beyond the last entry, a header promising another
size) comes out as a ``Finding`` at the end of the stream.

Each source also fetches an earlier entry by index, for the replay that needs a
reversed entry's postings long after it streamed past (``Books.fetch``): the database
by primary key, the export through the offsets of its entry lines, found with one
extra pass over the file the first time such an entry is needed.
"""

from __future__ import annotations

import binascii
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.findings import ERROR, Finding
from ledger import log
from ledger.entries import Entry, decode_leaf
from ledger.errors import ChainError, NotFoundError
from ledger.export import FORMAT, VERSION, read_export
from ledger.models import CheckpointRow, EntryRow

CHUNK = 5000

# The names of the checks a source reports under.
CHECKPOINT = "checkpoint"
EXPORT = "export"


@dataclass(frozen=True)
class StoredLeaf:
    """An entry as stored: its bytes and the hashes the store keeps beside them."""

    index: int
    leaf: bytes
    leaf_hash: bytes | None  # what the store claims; None when it claims nothing
    subtrees: bytes | None = None  # the tree hashes stored with the entry (database only)


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root: bytes | None  # the root stored beside the note, if the store keeps one
    note: str


Record = StoredLeaf | StoredCheckpoint | Finding


class DatabaseSource:
    """The log in the database, read in index ranges so that no cursor stays open."""

    name = "database"

    def __init__(self, session: Session) -> None:
        self.session = session

    def records(self) -> Iterator[Record]:
        start = 0
        while True:
            rows = self.session.execute(
                select(EntryRow.index, EntryRow.leaf, EntryRow.leaf_hash, EntryRow.subtrees)
                .where(EntryRow.index >= start)
                .order_by(EntryRow.index)
                .limit(CHUNK)
            ).all()
            if not rows:
                break
            end = rows[-1][0] + 1
            checkpoints = {
                row.tree_size: StoredCheckpoint(row.tree_size, bytes(row.root), row.note)
                for row in self.session.execute(
                    select(CheckpointRow.tree_size, CheckpointRow.root, CheckpointRow.note).where(
                        CheckpointRow.tree_size > start, CheckpointRow.tree_size <= end
                    )
                )
            }
            for index, leaf, leaf_hash, subtrees in rows:
                yield StoredLeaf(index, bytes(leaf), bytes(leaf_hash), bytes(subtrees))
                if index + 1 in checkpoints:
                    yield checkpoints.pop(index + 1)
            # A checkpoint of a size whose last entry is missing is never fed: the
            # verifier names the missing entry when the next one arrives out of place.
            start = end
        yield from self._beyond(start)

    def _beyond(self, size: int) -> Iterator[Finding]:
        """A checkpoint past the last entry means entries were deleted from the end."""
        beyond = self.session.scalar(
            select(CheckpointRow.tree_size)
            .where(CheckpointRow.tree_size > size)
            .order_by(CheckpointRow.tree_size.desc())
            .limit(1)
        )
        if beyond is not None:
            message = f"entry {size} is missing: a signed checkpoint covers {beyond} entries"
            yield Finding(CHECKPOINT, ERROR, size, message)

    def fetch(self, index: int) -> Entry:
        return log.entry(self.session, index)


class ExportSource:
    """A ``ledger export`` file, read one line at a time (``ledger.export.read_export``)."""

    name = "export"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.origin: str | None = None
        self._offsets: array[int] | None = None

    def records(self) -> Iterator[Record]:
        lines = read_export(self.path)
        first = next(lines, None)
        if first is None:
            raise ChainError("the export file is empty", index=0)
        _, header = first
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise ChainError(f"not a {FORMAT} version {VERSION} file", index=0)
        origin = header.get("origin")
        self.origin = origin if isinstance(origin, str) else None
        count = 0
        try:
            for number, obj in lines:
                record = _record(number, obj, count)
                count += isinstance(record, StoredLeaf)
                yield record
        except ChainError as err:
            if err.index is not None:
                raise
            # A truncated or garbled line: the entry it should have carried is missing.
            raise ChainError(err.message, index=count) from err
        promised = header.get("tree_size")
        if promised != count:
            fewer = isinstance(promised, int) and 0 <= promised < count
            message = f"the header promises {promised} entries but the file holds {count}"
            yield Finding(EXPORT, ERROR, promised if fewer else count, message)

    def fetch(self, index: int) -> Entry:
        """An earlier entry of the file, by the offset of its line."""
        if self._offsets is None:
            self._offsets = self._entry_offsets()
        if not 0 <= index < len(self._offsets):
            raise NotFoundError(f"no entry with index {index} in the export")
        with self.path.open("rb") as handle:
            handle.seek(self._offsets[index])
            obj = orjson.loads(handle.readline())
        return decode_leaf(binascii.a2b_base64(obj["leaf"], strict_mode=True))

    def _entry_offsets(self) -> array[int]:
        """Where each entry's line starts: 8 bytes per entry, however large the file."""
        offsets: array[int] = array("q")
        position = 0
        with self.path.open("rb") as handle:
            for raw in handle:
                if b'"entry"' in raw:
                    try:
                        obj = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        break  # the audit stops at this line too
                    if (
                        isinstance(obj, dict)
                        and obj.get("type") == "entry"
                        and obj.get("index") == len(offsets)
                    ):
                        offsets.append(position)
                position += len(raw)
        return offsets


def _record(number: int, obj: dict[str, Any], count: int) -> StoredLeaf | StoredCheckpoint:
    """One line of the export as a record; a malformed line names the entry it should be."""
    try:
        kind = obj["type"]
        if kind == "entry":
            leaf = binascii.a2b_base64(obj["leaf"], strict_mode=True)
            claimed = bytes.fromhex(obj["leaf_hash"]) if "leaf_hash" in obj else None
            index = obj["index"]
            if not isinstance(index, int):
                raise TypeError(f"index {index!r} is not an integer")
            return StoredLeaf(index, leaf, claimed)
        if kind == "checkpoint":
            root = bytes.fromhex(obj["root"]) if "root" in obj else None
            size, note = obj["tree_size"], obj["note"]
            if not isinstance(size, int) or not isinstance(note, str):
                raise TypeError("tree_size must be an integer and note a string")
            return StoredCheckpoint(size, root, note)
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        raise ChainError(f"line {number} is malformed: {err!r}", index=count) from err
    raise ChainError(f"line {number}: unknown line type {kind!r}", index=count)
