"""Restoring a ledger from its export into an empty database (``ledger import FILE``).

An export holds the public log and nothing else: every leaf and every signed
checkpoint (``docs/export.md``). A restore writes those rows as the source held them,
recomputing each entry's tree hashes the way ``ledger.log`` does, and rebuilds the
fund projections from the leaves (``ledger.funds.projection``). The result is a
working ledger: the public API answers as the source did and new writes continue the
chain.

Everything is checked before anything is written:

1. the whole file is verified, streaming, trusting the genesis key given, or else the
   one its genesis entry names;
2. the instance can carry the log on: ``LEDGER_ORIGIN`` is the export's origin and the
   signing-key file holds the key in force at the export's end. Without that key no
   checkpoint could ever be signed again, so a restore without it is refused rather
   than leaving a ledger that can never be written to. A privacy key must be present
   too (or a new one explicitly allowed);
3. the database is empty.

Then one write transaction, holding the append lock, reads the file again and
verifies it again as it goes (the file may have changed since step 1): the rows
written are rows verified. A failure rolls the transaction back, leaving the
database as empty as it was.
"""

from __future__ import annotations

import binascii
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import migrate
from ledger.checkpoint import verify_checkpoint
from ledger.db import Database, sqlite_path
from ledger.entries import KEY_ROTATION, Entry, decode_leaf
from ledger.errors import ChainError, ConfigurationError, ConflictError, LedgerError
from ledger.export import read_export, verify_export
from ledger.funds import models as _fund_models  # noqa: F401 - their tables must be empty too
from ledger.funds.privacy import PrivacyKey
from ledger.funds.projection import Projector, Rows
from ledger.keys import SigningKey, VerifierKey
from ledger.models import Base, EntryRow
from ledger.settings import Settings
from ledger.verify import LogVerifier, Summary

CHUNK = 5000
Progress = Callable[[int], None]

# What the source held that no export carries, so no restore can bring back.
NOT_RESTORED = (
    "donors' contact details and the real names of anonymous donors",
    "beneficiaries' full names (the leaves show them masked)",
    "uploaded documents' files (the leaves keep their SHA-256 hashes)",
    "API tokens: create them again with `ledger token create`",
    "idempotency keys of past write requests",
    "bank statement import batches and their unmatched lines",
    "the witnesses asked to cosign checkpoints, and their cosignatures",
)


class DatabaseNotEmptyError(ConflictError):
    """A restore writes a whole log; it never merges into another one."""

    code = "database_not_empty"


@dataclass(frozen=True)
class Restored:
    summary: Summary
    counts: dict[str, int]  # entries per kind
    seconds: float


def _lines(path: Path) -> Generator[tuple[int, dict[str, Any]], None, None]:
    """The export's lines, as a generator whose ``close`` closes the file at once."""
    yield from read_export(path)


def genesis_key(path: Path) -> VerifierKey:
    """The verifier key the export's genesis entry names, read without trusting it."""
    with closing(_lines(path)) as lines:
        for number, obj in lines:
            if number == 1:
                continue  # the header
            try:
                if obj["type"] != "entry":
                    raise ChainError("the first line after the header is not an entry", index=0)
                entry = decode_leaf(binascii.a2b_base64(obj["leaf"], strict_mode=True))
                return VerifierKey.parse(entry.body["verifier_key"])
            except ChainError:
                raise
            except (KeyError, TypeError, ValueError, binascii.Error, LedgerError) as err:
                raise ChainError(f"the genesis entry is malformed: {err}", index=0) from err
    raise ChainError("the export holds no entry", index=0)


def verify_backup(
    path: Path, trusted: VerifierKey | None = None, progress: Progress | None = None
) -> Summary:
    """Verify the whole export, trusting ``trusted`` or else its own genesis key.

    Trusting the file's own key proves only that the file is one consistent log; that
    it is *this instance's* log is proven by the signing-key check that follows.
    """
    claimed = genesis_key(path)
    if trusted is not None and str(trusted) != str(claimed):
        raise ChainError(
            f"the export's genesis key ({claimed.key_id_hex}) is not the key given "
            f"({trusted.key_id_hex})",
            index=0,
        )
    return verify_export(path, trusted or claimed, progress)


def check_instance(settings: Settings, summary: Summary, *, new_privacy_key: bool) -> None:
    """Refuse unless this instance can sign and hash as the source did."""
    if settings.origin != summary.origin:
        raise ConfigurationError(
            f"the export's origin is {summary.origin!r} but LEDGER_ORIGIN is "
            f"{settings.origin!r}: set LEDGER_ORIGIN to the export's origin (a log's "
            "origin never changes)"
        )
    in_force = VerifierKey.parse(summary.keys[-1])
    key_file = settings.signing_key_file
    needed = (
        f"a restore needs the signing key of the log's key in force ({in_force.key_id_hex}): "
        f"copy the original instance's key file to {key_file}"
    )
    try:
        signer = SigningKey.load(key_file, summary.origin)
    except LedgerError as err:
        raise ConfigurationError(f"{err.message}; {needed}") from err
    if str(signer.verifier) != str(in_force):
        raise ConfigurationError(
            f"the key in {key_file} ({signer.verifier.key_id_hex}) is not the log's key in "
            f"force ({in_force.key_id_hex}); {needed}"
        )
    privacy = settings.privacy_key_file
    if privacy.exists():
        PrivacyKey.load(privacy)  # refuse a malformed one now, not at the first write
    elif not new_privacy_key:
        raise ConfigurationError(
            f"no privacy key at {privacy}: copy the original instance's privacy-key file "
            "there, or, if it is lost, allow a new one with --new-privacy-key (hashes of "
            "contacts and national IDs recorded from then on will not match earlier ones)"
        )


def restore(
    settings: Settings,
    path: Path,
    summary: Summary,
    *,
    new_privacy_key: bool = False,
    database: Database | None = None,
    progress: Progress | None = None,
) -> Restored:
    """Write the export verified as ``summary`` into the empty database of ``settings``."""
    started = time.perf_counter()
    check_instance(settings, summary, new_privacy_key=new_privacy_key)
    db_file = sqlite_path(settings.database_url)
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    db = database or Database(settings.database_url)
    try:
        if db.initialised():
            with db.session() as session:
                _require_no_entries(session)  # before a migration touches it
        migrate.upgrade(db.engine)
        with db.writing() as session:
            require_empty(session)
            counts = _load(session, path, summary, progress)
    finally:
        if database is None:
            db.dispose()
    if new_privacy_key:
        PrivacyKey.load_or_create(settings.privacy_key_file)
    return Restored(summary, counts, time.perf_counter() - started)


def _require_no_entries(session: Session) -> None:
    entries = session.scalar(select(func.count()).select_from(EntryRow)) or 0
    if entries:
        raise DatabaseNotEmptyError(
            f"the database already holds a log of {entries} entries; a backup is restored "
            "only into an empty database (one `ledger init` has not been run on)"
        )


def require_empty(session: Session) -> None:
    """Every table of the ledger, log, projections and private data alike, must be empty."""
    _require_no_entries(session)
    for table in Base.metadata.sorted_tables:
        rows = session.scalar(select(func.count()).select_from(table)) or 0
        if rows:
            raise DatabaseNotEmptyError(
                f"the database is not empty: table {table.name} holds {rows} row(s); a "
                "backup is restored only into an empty database"
            )


class _Loader:
    """One pass over the file: verify each line, gather its rows, write them in chunks."""

    def __init__(self, session: Session, genesis: VerifierKey) -> None:
        self.session = session
        self.projector = Projector(session)
        self.verifier = LogVerifier(genesis, self._seen)
        self.entries: list[tuple[int, str, bytes, bytes, bytes]] = []
        self.checkpoints: list[tuple[int, bytes, str, str]] = []
        self._entry: Entry | None = None
        self._key = genesis  # the key signing the next checkpoint
        self._rotated: VerifierKey | None = None

    def _seen(self, entry: Entry) -> None:
        self._entry = entry

    def entry(self, index: int, leaf: bytes, leaf_hash: bytes | None) -> None:
        parents = self.verifier.add_entry(index, leaf, leaf_hash)
        entry = self._entry
        if entry is None or entry.index != index:  # never: add_entry has just seen it
            raise ChainError("the verifier did not hand the entry over", index=index)
        self.entries.append((index, entry.kind, entry.leaf, entry.leaf_hash, b"".join(parents)))
        self.projector.add(entry)
        if entry.kind == KEY_ROTATION:
            self._rotated = VerifierKey.parse(entry.body["new_key"])

    def checkpoint(self, tree_size: int, note: str, root: bytes | None) -> None:
        self.verifier.add_checkpoint(tree_size, note, root)
        if root is None:
            root = verify_checkpoint(note, self._key).root
        self.checkpoints.append((tree_size, root, note, self._key.key_id_hex))
        if self._rotated is not None:  # the first checkpoint covering a rotation is the old key's
            self._key, self._rotated = self._rotated, None

    def flush(self) -> None:
        """Write the log rows gathered, then their projections (which may read them)."""
        _insert(self.session, "log_entries", _ENTRY_COLUMNS, self.entries)
        _insert(self.session, "log_checkpoints", _CHECKPOINT_COLUMNS, self.checkpoints)
        self.entries, self.checkpoints = [], []
        _insert_all(self.session, self.projector.take())

    def finish(self) -> None:
        self.flush()
        _insert_all(self.session, self.projector.finish())


def _load(
    session: Session, path: Path, summary: Summary, progress: Progress | None
) -> dict[str, int]:
    loader = _Loader(session, VerifierKey.parse(summary.keys[0]))
    with closing(_lines(path)) as lines:
        next(lines, None)  # the header, checked by the first pass
        for number, obj in lines:
            _load_line(loader, number, obj)
            if len(loader.entries) >= CHUNK:
                done = len(loader.entries)
                loader.flush()
                if progress:
                    progress(done)
    done = len(loader.entries)
    loader.finish()
    if progress:
        progress(done)
    final = loader.verifier.finish()
    if (final.size, final.root, final.keys) != (summary.size, summary.root, summary.keys):
        raise ChainError(
            f"the export changed while it was being restored (it now ends at size {final.size})",
            index=min(final.size, summary.size),
        )
    return dict(loader.projector.counts)


def _load_line(loader: _Loader, number: int, obj: dict[str, Any]) -> None:
    try:
        kind = obj["type"]
        if kind == "entry":
            leaf = binascii.a2b_base64(obj["leaf"], strict_mode=True)
            claimed = bytes.fromhex(obj["leaf_hash"]) if "leaf_hash" in obj else None
            loader.entry(obj["index"], leaf, claimed)
        elif kind == "checkpoint":
            root = bytes.fromhex(obj["root"]) if "root" in obj else None
            loader.checkpoint(obj["tree_size"], obj["note"], root)
        else:
            raise ChainError(
                f"line {number}: unknown line type {kind!r}", index=loader.verifier.size
            )
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        raise ChainError(
            f"line {number} is malformed: {err!r}", index=loader.verifier.size
        ) from err


_ENTRY_COLUMNS = ("idx", "kind", "leaf", "leaf_hash", "subtrees")
_CHECKPOINT_COLUMNS = ("tree_size", "root", "note", "key_id")
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _insert_all(session: Session, tables: Rows) -> None:
    for table, rows in tables.items():
        if rows:
            _insert(session, table, tuple(rows[0]), [tuple(row.values()) for row in rows])


def _insert(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[tuple[object, ...]]
) -> None:
    """Straight to the driver: ``COPY`` on PostgreSQL, one executemany elsewhere.

    The values are ints, text, booleans and bytes that every driver binds natively;
    going around SQLAlchemy's per-value processing (as ``ledger.log`` appends do) and,
    on PostgreSQL, around per-row statements makes a restore several times faster.
    """
    if not rows:
        return
    connection = session.connection()
    names = ", ".join(columns)
    if connection.dialect.driver == "psycopg":
        driver: Any = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    mark = _PLACEHOLDER[connection.dialect.paramstyle]
    statement = (
        f"INSERT INTO {table} ({names}) "  # noqa: S608 - names are constants
        f"VALUES ({', '.join(mark for _ in columns)})"
    )
    connection.exec_driver_sql(statement, list(rows))
