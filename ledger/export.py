"""The export file: the whole log as JSON Lines, verifiable with nothing but a key.

Format (``docs/export.md`` is the reference):

* line 1, a header: ``{"format": "mttq-ledger-export", "version": 1, "origin": ...,
  "tree_size": N}``;
* one line per entry, in index order: ``{"type": "entry", "index": i, "leaf": <standard
  base64 of the leaf bytes>, "leaf_hash": <hex>}``;
* each checkpoint right after the entry that completes it: ``{"type": "checkpoint",
  "tree_size": n, "root": <hex>, "note": <the signed note>}``.

``verify_export`` reads one line at a time and keeps only the verifier's O(log n)
state, so memory stays flat however large the file is.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import log
from ledger.errors import ChainError
from ledger.keys import VerifierKey
from ledger.models import CheckpointRow, EntryRow
from ledger.verify import LogVerifier, Summary

FORMAT = "mttq-ledger-export"
VERSION = 1
CHUNK = 5000
Progress = Callable[[int], None]


def _line(obj: dict[str, Any]) -> str:
    return orjson.dumps(obj).decode("utf-8") + "\n"


def write_export(session: Session, out: IO[str], progress: Progress | None = None) -> int:
    """Write every entry and checkpoint; returns the number of entries written."""
    size = log.tree_size(session)
    origin = log.genesis(session).body["origin"]
    out.write(_line({"format": FORMAT, "version": VERSION, "origin": origin, "tree_size": size}))
    start = 0
    while start < size:
        end = min(start + CHUNK, size)
        rows = session.execute(
            select(EntryRow.index, EntryRow.leaf, EntryRow.leaf_hash)
            .where(EntryRow.index >= start, EntryRow.index < end)
            .order_by(EntryRow.index)
        )
        checkpoints = {
            row.tree_size: row
            for row in session.execute(
                select(CheckpointRow.tree_size, CheckpointRow.root, CheckpointRow.note).where(
                    CheckpointRow.tree_size > start, CheckpointRow.tree_size <= end
                )
            )
        }
        for index, leaf, leaf_hash in rows:
            out.write(
                _line(
                    {
                        "type": "entry",
                        "index": index,
                        "leaf": base64.b64encode(leaf).decode("ascii"),
                        "leaf_hash": leaf_hash.hex(),
                    }
                )
            )
            checkpoint = checkpoints.get(index + 1)
            if checkpoint is not None:
                out.write(
                    _line(
                        {
                            "type": "checkpoint",
                            "tree_size": checkpoint.tree_size,
                            "root": checkpoint.root.hex(),
                            "note": checkpoint.note,
                        }
                    )
                )
        if progress:
            progress(end - start)
        start = end
    return size


def read_export(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each line; malformed JSON raises ChainError."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as err:
                if not _is_utf8(raw):
                    raise ChainError(f"line {number} is not UTF-8") from err
                raise ChainError(f"line {number} is not JSON: {err}") from err
            if not isinstance(obj, dict):
                raise ChainError(f"line {number} is not a JSON object")
            yield number, obj


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def verify_export(
    path: Path, trusted_key: VerifierKey, progress: Progress | None = None
) -> Summary:
    """Verify an export trusting only ``trusted_key`` (the genesis verifier key)."""
    lines = read_export(path)
    first = next(lines, None)
    if first is None:
        raise ChainError("the export file is empty")
    _, header = first
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ChainError(f"not a {FORMAT} version {VERSION} file")
    verifier = LogVerifier(trusted_key)
    try:
        for number, obj in lines:
            _verify_line(verifier, number, obj, progress)
    except ChainError as err:
        if err.index is not None:
            raise
        # A truncated or garbled line: the entry it should have carried is the one missing.
        raise ChainError(err.message, index=verifier.size) from err
    summary = verifier.finish()
    promised = header.get("tree_size")
    if promised != summary.size:
        # Name the first entry the header and the file disagree about.
        fewer = isinstance(promised, int) and 0 <= promised < summary.size
        raise ChainError(
            f"the header promises {promised} entries but the file holds {summary.size}",
            index=promised if fewer else summary.size,
        )
    return summary


def _verify_line(
    verifier: LogVerifier, number: int, obj: dict[str, Any], progress: Progress | None
) -> None:
    try:
        kind = obj["type"]
        if kind == "entry":
            leaf = binascii.a2b_base64(obj["leaf"], strict_mode=True)
            claimed = bytes.fromhex(obj["leaf_hash"]) if "leaf_hash" in obj else None
            verifier.add_entry(obj["index"], leaf, claimed)
            if progress and verifier.size % CHUNK == 0:
                progress(CHUNK)
        elif kind == "checkpoint":
            root = bytes.fromhex(obj["root"]) if "root" in obj else None
            verifier.add_checkpoint(obj["tree_size"], obj["note"], root)
        else:
            raise ChainError(f"line {number}: unknown line type {kind!r}")
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        raise ChainError(f"line {number} is malformed: {err!r}", index=verifier.size) from err
