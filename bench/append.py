"""Batch append: ``ledger.log.append`` against the raw baseline, batch by batch.

The raw baseline is the irreducible work of an append without any ledger code: the
same leaf bytes (taken from the entries the ledger just wrote) inserted with
``sqlite3`` ``executemany`` into a fresh database with the same journal settings
(WAL, synchronous=NORMAL), the SHA-256 of each (RFC 6962 leaf hash, 0x00 prefix), and
one Ed25519 signature per batch (over a checkpoint-sized text), in one transaction.

A second, context-only baseline does the same after encoding each entry object with
the C JSON encoder (sorted keys, no whitespace, UTF-8: the leaf bytes themselves),
to show how much of the gap is the canonical encoding every append must do.

Each batch runs once through the ledger and right after through the baselines and
the peer, so that slow phases of the machine hit all of them alike.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from bench import workload
from bench.peer import PeerStore
from bench.report import median
from ledger import log
from ledger.models import EntryRow

_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class RawBaseline:
    """sqlite3 + hashlib + one Ed25519 signature per batch: what an append cannot avoid."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute(
            "CREATE TABLE entries (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, "
            "leaf_hash BLOB NOT NULL)"
        )
        self.connection.execute(
            "CREATE TABLE signatures (tree_size INTEGER PRIMARY KEY, signature BLOB NOT NULL)"
        )
        self.key = Ed25519PrivateKey.generate()
        self.size = 0

    def append(self, leaves: Sequence[bytes]) -> None:
        sha256 = hashlib.sha256
        rows = [
            (self.size + offset, leaf, sha256(b"\x00" + leaf).digest())
            for offset, leaf in enumerate(leaves)
        ]
        self.size += len(rows)
        text = f"{workload.ORIGIN}\n{self.size}\n{base64.b64encode(rows[-1][2]).decode()}\n"
        signature = self.key.sign(text.encode())
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.executemany("INSERT INTO entries VALUES (?, ?, ?)", rows)
        self.connection.execute("INSERT INTO signatures VALUES (?, ?)", (self.size, signature))
        self.connection.execute("COMMIT")

    def append_objects(self, objects: Sequence[dict[str, Any]]) -> list[bytes]:
        """Encode each object to its canonical bytes, then ``append`` them."""
        encode = _ENCODER.encode
        leaves = [encode(obj).encode("utf-8") for obj in objects]
        self.append(leaves)
        return leaves

    def leaves(self, end: int, chunk: int = 50_000) -> list[bytes]:
        """The first ``end`` leaves, to feed in-memory trees (not timed)."""
        out: list[bytes] = []
        for start in range(0, end, chunk):
            rows = self.connection.execute(
                "SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, min(start + chunk, end)),
            )
            out.extend(row[0] for row in rows)
        return out

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class Batch:
    """Seconds spent on one batch by the ledger, the two baselines and the peer."""

    end: int
    count: int
    ours: float
    raw: float
    raw_encode: float
    peer: float


@dataclass
class Build:
    """Grows the ledger to each milestone in batches, timing every batch three ways."""

    ledger: workload.BenchLedger
    raw: RawBaseline
    raw_encode: RawBaseline
    peer: PeerStore
    batch_size: int
    rng: random.Random
    batches: list[Batch] = field(default_factory=list)
    leaf_hashes: list[bytes] = field(default_factory=list)
    wall: float = 0.0

    def __post_init__(self) -> None:
        # The genesis entry, written by init_ledger, starts both other stores untimed.
        with self.ledger.database.session() as session:
            genesis = session.execute(select(EntryRow.leaf, EntryRow.leaf_hash)).one()
        self.raw.append([genesis.leaf])
        self.raw_encode.append([genesis.leaf])
        self.peer.append([genesis.leaf])
        self.leaf_hashes.append(genesis.leaf_hash)

    @property
    def size(self) -> int:
        return len(self.leaf_hashes)

    def grow(self, target: int, progress: Callable[[int], None] | None = None) -> None:
        started = time.perf_counter()
        database, signer = self.ledger.database, self.ledger.signer
        while self.size < target:
            count = min(self.batch_size, target - self.size)
            drafts = workload.contributions(self.rng, self.size, count)
            t0 = time.perf_counter()
            with database.writing() as session:
                appended = log.append(session, drafts, signer)
            t1 = time.perf_counter()
            leaves = [entry.leaf for entry in appended.entries]
            self.raw.append(leaves)
            t2 = time.perf_counter()
            self.peer.append(leaves)
            t3 = time.perf_counter()
            objects = [entry.as_object() for entry in appended.entries]
            t4 = time.perf_counter()
            encoded = self.raw_encode.append_objects(objects)
            t5 = time.perf_counter()
            if encoded != leaves:
                raise RuntimeError("the encoding baseline did not produce the ledger's leaves")
            self.leaf_hashes.extend(entry.leaf_hash for entry in appended.entries)
            self.batches.append(Batch(self.size, count, t1 - t0, t2 - t1, t5 - t4, t3 - t2))
            if progress and len(self.batches) % 100 == 0:
                progress(self.size)
        self.wall += time.perf_counter() - started

    def rates(self, low: int = 0, high: int | None = None) -> dict[str, float]:
        """Median per-batch entries/s of batches ending in (low, high]."""
        chosen = [b for b in self.batches if low < b.end <= (high or b.end)]
        return {
            "batches": len(chosen),
            "ours": median([b.count / b.ours for b in chosen]),
            "raw": median([b.count / b.raw for b in chosen]),
            "raw_encode": median([b.count / b.raw_encode for b in chosen]),
            "peer": median([b.count / b.peer for b in chosen]),
        }

    def totals(self) -> dict[str, float]:
        entries = sum(b.count for b in self.batches)
        ours = sum(b.ours for b in self.batches)
        return {
            "entries": entries,
            "wall_seconds": self.wall,
            "ours_seconds": ours,
            "raw_seconds": sum(b.raw for b in self.batches),
            "raw_encode_seconds": sum(b.raw_encode for b in self.batches),
            "peer_seconds": sum(b.peer for b in self.batches),
            "ours_rate_overall": entries / ours if ours else 0.0,
        }
