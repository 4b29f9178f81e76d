"""What receipts prove, kept per app: a rebuilt receipt reads only what can change.

A receipt's entry, first covering checkpoint, inclusion proof and signing key never
change once the receipt exists (see ``ledger.receipts``), yet its JSON answer is built
again after every append, when the kept answers of ``response_cache`` stop matching the
log's head. Keeping the receipt's proof lets that rebuild read only the reversal and
the witnesses' evidence, the two parts that can change. The evidence's consistency
proof, between the receipt's checkpoint and the best-witnessed one, is kept too: it
never changes for the same two sizes, and the best-witnessed size moves only when
witnesses cosign, not at every append.

Only proofs of receipts that exist are kept: an unknown ID may name a gift recorded a
moment later. Everything is kept in one LRU bounded in (estimated) bytes, per ``Flask``
app (``app.extensions``), so tests and tools that build several apps in one process
never share it; each app's settings make its own ``receipt_url``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from cachetools import LRUCache

from ledger.receipts import ReceiptProof
from public_api.per_app import per_app

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
CONFIG_KEY = "RECEIPT_CACHE_MAX_BYTES"
"""A Flask config key: the bound of one process's kept receipt proofs, in bytes."""

LEAF_FACTOR = 6
"""Bytes a kept receipt holds per byte of its leaf: the leaf, its base64 in the document
and the decoded entry's objects."""

HASH_BYTES = 200
"""Bytes a kept hash holds: the 32 bytes, their hex in the document and both objects."""

ENTRY_OVERHEAD = 2048
"""Bytes counted for each kept receipt beyond its leaf, texts and hashes: the objects."""

_EXTENSION = "ledger.receipt_cache"


@dataclass(frozen=True)
class KeptProof:
    """A receipt's proof and its members of the JSON answer, made once."""

    proof: ReceiptProof
    document: Mapping[str, Any]
    size: int


@dataclass(frozen=True)
class KeptConsistency:
    """The consistency proof between two stored checkpoints' sizes."""

    hashes: tuple[bytes, ...]
    size: int


Kept = TypeVar("Kept", KeptProof, KeptConsistency)


def keep_proof(proof: ReceiptProof) -> KeptProof:
    document = proof.document()
    texts = len(proof.checkpoint) + len(proof.receipt_url) + len(document["verifier_key"])
    size = (
        LEAF_FACTOR * len(proof.entry.leaf)
        + 2 * texts
        + HASH_BYTES * len(proof.inclusion_proof)
        + ENTRY_OVERHEAD
    )
    return KeptProof(proof, document, size)


def keep_consistency(hashes: tuple[bytes, ...]) -> KeptConsistency:
    return KeptConsistency(hashes, HASH_BYTES * len(hashes) + ENTRY_OVERHEAD // 4)


class ReceiptCache:
    """One app's kept receipt proofs: an LRU bounded in bytes, safe to share between threads.

    What is missing is made outside the lock: two threads asking for the same new
    receipt may both read it, and both find the same immutable facts.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._kept: LRUCache[str | tuple[int, int], KeptProof | KeptConsistency] = LRUCache(
            maxsize=max_bytes, getsizeof=_size_of
        )
        self._lock = threading.Lock()

    def proof(self, receipt_id: str, prove: Callable[[], ReceiptProof]) -> KeptProof:
        """The kept proof of ``receipt_id`` (canonical), made by ``prove`` when not kept.

        Whatever ``prove`` raises (no such receipt) is raised and nothing is kept.
        """
        return self._get(receipt_id, KeptProof, lambda: keep_proof(prove()))

    def consistency(
        self, first: int, second: int, prove: Callable[[], tuple[bytes, ...]]
    ) -> tuple[bytes, ...]:
        """The kept consistency proof between the stored sizes ``first`` and ``second``."""
        return self._get((first, second), KeptConsistency, lambda: keep_consistency(prove())).hashes

    def _get(self, key: str | tuple[int, int], kind: type[Kept], make: Callable[[], Kept]) -> Kept:
        with self._lock:
            found = self._kept.get(key)
        if isinstance(found, kind):
            return found
        made = make()
        if made.size <= self.max_bytes:
            with self._lock:
                self._kept[key] = made
        return made

    @property
    def bytes_used(self) -> int:
        with self._lock:
            return int(self._kept.currsize)

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)


def _size_of(kept: KeptProof | KeptConsistency) -> int:
    return kept.size


def receipt_cache() -> ReceiptCache:
    """The current app's kept receipt proofs, made on first use."""
    return per_app(
        _EXTENSION, lambda app: ReceiptCache(int(app.config.get(CONFIG_KEY, DEFAULT_MAX_BYTES)))
    )
