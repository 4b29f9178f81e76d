"""The append-only log in the database: appending batches and reading entries and proofs.

Functions take a SQLAlchemy ``Session`` explicitly. ``append`` must run inside
``Database.writing()`` (the append lock); everything else only reads.

An append writes, in one transaction, the new entries, the tree nodes they complete
and one signed checkpoint for the new size: all or nothing. It reads O(log n) rows
(the head and the tree's right frontier), so its cost does not grow with the log.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.entries import (
    GENESIS,
    KEY_ROTATION,
    ZERO_HASH_HEX,
    Draft,
    Entry,
    decode_leaf,
    encode_entry,
)
from ledger.errors import ChainError, ConfigurationError, InvalidRequestError, NotFoundError
from ledger.keys import SigningKey, VerifierKey
from ledger.merkle import NodeId
from ledger.models import KEY_ENTRY_CONDITION, CheckpointRow, EntryRow

MAX_BATCH = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Appended:
    """The outcome of one append: the new entries and the checkpoint that covers them."""

    entries: tuple[Entry, ...]
    checkpoint: str
    tree_size: int
    root: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class KeyPeriod:
    """A signing key and the entry indices whose first checkpoints it signs.

    ``to_index`` is the index of the ``key_rotation`` entry that retired the key (the
    first checkpoint covering a rotation is still signed by the old key), or None
    for the key in force.
    """

    verifier_key: VerifierKey
    from_index: int
    to_index: int | None


@dataclass(frozen=True)
class Head:
    """The log's last entry and the key in force, read together in one statement.

    A writer reads it once, under the append lock, and hands it to ``append``: the
    size, the chain link, the clamp on entry times and the key check all come from it.
    """

    size: int
    last: Entry | None
    key: VerifierKey | None

    def current_key(self) -> VerifierKey:
        """The key in force; NotFoundError for a log without its genesis entry."""
        if self.key is None:
            raise NotFoundError("the log has no genesis entry yet: run `ledger init`")
        return self.key


class DatabaseNodes:
    """Reads perfect subtree hashes from the entries that completed them (see models)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def read_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        owners = {node: ((node.index + 1) << node.level) - 1 for node in ids}
        rows = {
            index: (leaf_hash, subtrees)
            for index, leaf_hash, subtrees in self.session.execute(
                select(EntryRow.index, EntryRow.leaf_hash, EntryRow.subtrees).where(
                    EntryRow.index.in_(set(owners.values()))
                )
            )
        }
        found: dict[NodeId, bytes] = {}
        for node, owner in owners.items():
            if owner not in rows:
                raise ChainError(f"entry {owner}, which holds tree node {node}, is missing")
            leaf_hash, subtrees = rows[owner]
            value = (
                leaf_hash if node.level == 0 else subtrees[(node.level - 1) * 32 : node.level * 32]
            )
            if len(value) != merkle.HASH_SIZE:
                raise ChainError(f"entry {owner} lacks the hash of tree node {node}", index=owner)
            found[node] = value
        return found


def tree_size(session: Session) -> int:
    last = session.scalar(select(EntryRow.index).order_by(EntryRow.index.desc()).limit(1))
    return 0 if last is None else last + 1


def _frontier(session: Session, size: int) -> merkle.CompactRange:
    ids = merkle.range_nodes(0, size)
    nodes = DatabaseNodes(session).read_nodes(ids)
    return merkle.CompactRange(size, [nodes[node] for node in ids])


def genesis(session: Session) -> Entry:
    leaf = session.scalar(select(EntryRow.leaf).where(EntryRow.index == 0))
    if leaf is None:
        raise NotFoundError("the log has no genesis entry yet: run `ledger init`")
    return decode_leaf(leaf)


# The last entry and the last genesis or key_rotation entry (often the same row), in
# index order; built once, as every append reads it.
_HEAD = (
    select(EntryRow.index, EntryRow.leaf, EntryRow.kind)
    .where(
        EntryRow.index.in_(
            [
                select(func.max(EntryRow.index)).scalar_subquery(),
                select(func.max(EntryRow.index)).where(text(KEY_ENTRY_CONDITION)).scalar_subquery(),
            ]
        )
    )
    .order_by(EntryRow.index)
)


def read_head(session: Session) -> Head:
    """The last entry and the key in force, in one statement."""
    rows = session.execute(_HEAD).all()
    if not rows:
        return Head(0, None, None)
    index, leaf, kind = rows[-1]
    key = None
    if kind in (GENESIS, KEY_ROTATION) or len(rows) > 1:
        key = _key_of(*rows[0][:2])
    return Head(int(index) + 1, decode_leaf(leaf), key)


@functools.lru_cache(maxsize=16)
def _key_of(index: int, leaf: bytes) -> VerifierKey:
    """The key a genesis or key_rotation leaf puts in force (kept: they rarely change)."""
    body = decode_leaf(leaf).body
    return VerifierKey.parse(body["verifier_key"] if index == 0 else body["new_key"])


def key_periods(session: Session) -> list[KeyPeriod]:
    """Every signing key in order, from the genesis entry and the key rotations."""
    rows = session.execute(
        select(EntryRow.index, EntryRow.leaf)
        .where(text(KEY_ENTRY_CONDITION))  # literally the partial index's condition
        .order_by(EntryRow.index)
    )
    periods: list[KeyPeriod] = []
    for index, leaf in rows:
        body = decode_leaf(leaf).body
        if index == 0:
            periods.append(KeyPeriod(VerifierKey.parse(body["verifier_key"]), 0, None))
        elif periods:
            last = periods[-1]
            periods[-1] = KeyPeriod(last.verifier_key, last.from_index, index)
            periods.append(KeyPeriod(VerifierKey.parse(body["new_key"]), index + 1, None))
    return periods


def current_key(session: Session) -> VerifierKey:
    periods = key_periods(session)
    if not periods:
        raise NotFoundError("the log has no genesis entry yet: run `ledger init`")
    return periods[-1].verifier_key


def append(
    session: Session,
    drafts: Sequence[Draft],
    signer: SigningKey,
    *,
    now: datetime | None = None,
    head: Head | None = None,
) -> Appended:
    """Append ``drafts`` as consecutive entries and sign one checkpoint covering them.

    Entry times never go backwards: a clock behind the head is clamped to the head's
    time, so the log's times are ordered like its indices. A batch shares one time.
    ``head``: what ``read_head`` gave in this transaction, if the caller already has it.
    """
    if not drafts:
        raise InvalidRequestError("nothing to append")
    if len(drafts) > MAX_BATCH:
        raise InvalidRequestError(f"a batch holds at most {MAX_BATCH} entries")
    if head is None:
        head = read_head(session)
    size = head.size
    if head.last is None:
        if drafts[0].kind != GENESIS or str(signer.verifier) != drafts[0].body.get("verifier_key"):
            raise ConfigurationError("the first entry must be the genesis entry of this key")
        origin = str(drafts[0].body["origin"])
        prev, last_time = ZERO_HASH_HEX, None
    else:
        prev, last_time = head.last.leaf_hash.hex(), head.last.time
        current = head.current_key()
        if current != signer.verifier:
            raise ConfigurationError(
                "the signing key is not the log's current key; "
                "check LEDGER_SIGNING_KEY_FILE or finish the key rotation"
            )
        # Every key of a log is named by its origin (genesis and rotations are checked
        # for it), so the key in force names the origin without reading genesis again.
        origin = current.name
    _check_kinds(drafts, size, signer, origin)
    moment = max(now or datetime.now(UTC), last_time or _EPOCH)
    tree = _frontier(session, size)
    entries: list[Entry] = []
    rows: list[tuple[int, str, bytes, bytes, bytes]] = []
    for offset, draft in enumerate(drafts):
        entry = encode_entry(
            index=size + offset,
            kind=draft.kind,
            time=moment,
            prev=prev,
            actor=draft.actor,
            body=draft.body,
        )
        entries.append(entry)
        subtrees = b"".join(tree.push(entry.leaf_hash))
        rows.append((entry.index, entry.kind, entry.leaf, entry.leaf_hash, subtrees))
        prev = entry.leaf_hash.hex()
    new_size = size + len(drafts)
    root = tree.root()
    note = sign_checkpoint(Checkpoint(origin, new_size, root), signer)
    _insert_rows(session, "log_entries", ("idx", "kind", "leaf", "leaf_hash", "subtrees"), rows)
    _insert_rows(
        session,
        "log_checkpoints",
        ("tree_size", "root", "note", "key_id"),
        [(new_size, root, note, signer.verifier.key_id_hex)],
    )
    return Appended(tuple(entries), note, new_size, root)


PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}
"""The positional placeholder of each driver's parameter style, for ``exec_driver_sql``."""


def _insert_rows(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[tuple[object, ...]]
) -> None:
    """One executemany straight to the driver.

    The values are ints, text and bytes that every driver binds natively; going around
    SQLAlchemy's per-value type processing makes an append several times cheaper.
    """
    connection = session.connection()
    mark = PLACEHOLDER[connection.dialect.paramstyle]
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names are constants
        f"VALUES ({', '.join(mark for _ in columns)})"
    )
    connection.exec_driver_sql(statement, list(rows))


def _check_kinds(drafts: Sequence[Draft], size: int, signer: SigningKey, origin: str) -> None:
    for offset, draft in enumerate(drafts):
        if draft.kind == GENESIS and size + offset != 0:
            raise InvalidRequestError("only index 0 may be a genesis entry")
        if draft.kind == KEY_ROTATION:
            if len(drafts) != 1:
                raise InvalidRequestError("a key rotation must be appended on its own")
            _check_rotation(draft.body, signer, origin)


def _check_rotation(body: Mapping[str, object], signer: SigningKey, origin: str) -> None:
    """Refuse a rotation that ``ledger verify`` would reject: it could never be undone."""
    if body.get("old_key") != str(signer.verifier):
        raise InvalidRequestError("a key rotation's old_key must be the key in force")
    if VerifierKey.parse(str(body.get("new_key"))).name != origin:
        raise InvalidRequestError("a key rotation's new_key must be named by the log's origin")


def entry(session: Session, index: int) -> Entry:
    leaf = session.scalar(select(EntryRow.leaf).where(EntryRow.index == index))
    if leaf is None:
        raise NotFoundError(f"no entry with index {index}")
    return decode_leaf(leaf)


def entries(session: Session, start: int, limit: int) -> list[Entry]:
    rows = session.scalars(
        select(EntryRow.leaf).where(EntryRow.index >= start).order_by(EntryRow.index).limit(limit)
    )
    return [decode_leaf(leaf) for leaf in rows]


def latest_checkpoint(session: Session) -> StoredCheckpoint:
    row = session.scalars(
        select(CheckpointRow).order_by(CheckpointRow.tree_size.desc()).limit(1)
    ).first()
    if row is None:
        raise NotFoundError("no checkpoint yet: run `ledger init`")
    return StoredCheckpoint(row.tree_size, row.root, row.note)


def checkpoint_covering(session: Session, index: int) -> StoredCheckpoint:
    """The first checkpoint whose tree contains entry ``index``."""
    row = session.scalars(
        select(CheckpointRow)
        .where(CheckpointRow.tree_size > index)
        .order_by(CheckpointRow.tree_size)
        .limit(1)
    ).first()
    if row is None:
        raise NotFoundError(f"no checkpoint covers index {index} yet")
    return StoredCheckpoint(row.tree_size, row.root, row.note)


def _check_size(session: Session, size: int) -> None:
    current = tree_size(session)
    if size > current:
        raise NotFoundError(f"tree size {size} is beyond the log's size {current}")


def root(session: Session, size: int) -> bytes:
    _check_size(session, size)
    return merkle.root(size, DatabaseNodes(session))


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    if not 0 <= index < size:
        raise InvalidRequestError(f"index {index} is not below tree size {size}")
    _check_size(session, size)
    return merkle.inclusion_proof(index, size, DatabaseNodes(session))


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    if not 0 < first <= second:
        raise InvalidRequestError("consistency needs 0 < first <= second")
    _check_size(session, second)
    return merkle.consistency_proof(first, second, DatabaseNodes(session))
