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
import multiprocessing
import os
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import log
from ledger.errors import ChainError
from ledger.keys import VerifierKey
from ledger.models import CheckpointRow, EntryRow
from ledger.verify import KEY_KINDS, LogVerifier, Summary, check_leaf

FORMAT = "mttq-ledger-export"
VERSION = 1
CHUNK = 5000
CHUNK_LINES = 2000
MAX_WORKERS = 2
# Below this size, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
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


def _unreadable(raw: bytes, err: Exception) -> str:
    """Why a line could not be parsed, in the words a person fixing the file needs."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8"
    return f"is not JSON: {err}"


# What one line of an export says, checked as far as it can be without the lines before:
#   ("entry", line, index, kind, prev, leaf_hash, body or None)
#   ("checkpoint", line, tree_size, note, root or None)
#   ("error", line, claimed index or None, message, index the error names or None)
# Errors are values, so that the first problem in file order is the one reported even
# when lines are read in several processes.
Item = tuple[Any, ...]


def _read_line(number: int, raw: bytes) -> Item:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        return ("error", number, None, f"line {number} {_unreadable(raw, err)}", None)
    if not isinstance(obj, dict):
        return ("error", number, None, f"line {number} is not a JSON object", None)
    try:
        kind = obj["type"]
        if kind == "entry":
            index = obj["index"]
            leaf = binascii.a2b_base64(obj["leaf"], strict_mode=True)
            claimed = bytes.fromhex(obj["leaf_hash"]) if "leaf_hash" in obj else None
            try:
                entry = check_leaf(index, leaf, claimed)
            except ChainError as err:
                return ("error", number, index, err.message, err.index)
            body = entry.body if entry.kind in KEY_KINDS else None
            return ("entry", number, entry.index, entry.kind, entry.prev, entry.leaf_hash, body)
        if kind == "checkpoint":
            root = bytes.fromhex(obj["root"]) if "root" in obj else None
            return ("checkpoint", number, obj["tree_size"], obj["note"], root)
        return ("error", number, None, f"line {number}: unknown line type {kind!r}", None)
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        return ("error", number, None, f"line {number} is malformed: {err!r}", None)


def _read_chunk(chunk: tuple[int, list[bytes]]) -> list[Item]:
    first, lines = chunk
    return [_read_line(number, raw) for number, raw in enumerate(lines, start=first)]


def _chunks(handle: IO[bytes], first: int) -> Iterator[tuple[int, list[bytes]]]:
    while lines := list(islice(handle, CHUNK_LINES)):
        yield first, lines
        first += len(lines)


def _items(handle: IO[bytes], workers: int) -> Iterator[Item]:
    """Every line after the header, checked on its own, in file order."""
    if workers <= 1:
        for number, raw in enumerate(handle, start=2):
            yield _read_line(number, raw)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(workers) as pool:
        for items in pool.imap(_read_chunk, _chunks(handle, 2)):
            yield from items


def _apply(verifier: LogVerifier, item: Item, progress: Progress | None) -> None:
    tag, number = item[0], item[1]
    if tag == "entry":
        verifier.add_checked(*item[2:])
        if progress and verifier.size % CHUNK == 0:
            progress(CHUNK)
    elif tag == "checkpoint":
        try:
            verifier.add_checkpoint(*item[2:])
        except (TypeError, ValueError) as err:
            raise ChainError(f"line {number} is malformed: {err!r}", index=verifier.size) from err
    else:
        claimed, message, index = item[2:]
        if claimed is not None:
            verifier.expect(claimed)  # an entry out of order is named as such first
        # A line that carries no entry: the entry it should have carried is the one missing.
        raise ChainError(message, index=verifier.size if index is None else index)


def default_workers(path: Path) -> int:
    """One reading process per core, up to MAX_WORKERS, for files that repay them."""
    if path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    return min(os.cpu_count() or 1, MAX_WORKERS)


def verify_export(
    path: Path,
    trusted_key: VerifierKey,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
) -> Summary:
    """Verify an export trusting only ``trusted_key`` (the genesis verifier key).

    Lines are decoded and checked on their own in ``workers`` processes (by default one
    per core, for files large enough to repay starting them), while this process
    follows the chain, the tree, the keys and the checkpoints in file order.
    """
    if workers is None:
        workers = default_workers(path)
    with path.open("rb") as handle:
        first = handle.readline()
        if not first:
            raise ChainError("the export file is empty")
        header = _read_header(first)
        verifier = LogVerifier(trusted_key)
        for item in _items(handle, workers):
            _apply(verifier, item, progress)
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


def _read_header(raw: bytes) -> dict[str, Any]:
    try:
        header = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ChainError(f"line 1 {_unreadable(raw, err)}") from err
    if not isinstance(header, dict):
        raise ChainError("line 1 is not a JSON object")
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ChainError(f"not a {FORMAT} version {VERSION} file")
    return header
