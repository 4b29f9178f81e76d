"""A donor's receipt: one contribution with everything needed to verify it alone.

The receipt carries the leaf bytes, the first signed checkpoint whose tree contains
the entry, and the RFC 6962 inclusion proof to that checkpoint's root. Anyone holding
it and the log's verifier key can check, offline and years later, that the gift was
logged exactly so; ``tlog_proof`` writes the same facts as a C2SP ``tlog-proof@v1``
file. The first covering checkpoint never changes, so neither does what a receipt
proves (``ReceiptProof``, from ``prove``); only ``reversal_index`` (a later correction
of the gift, from ``reversal``) can appear after the receipt was issued. A reader that
serves many receipts may therefore keep the proofs and read only the reversals again.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlalchemy.orm import Session

from ledger import log, merkle, receipt_ids
from ledger.entries import Entry, decode_leaf
from ledger.errors import ChainError, NotFoundError
from ledger.keys import VerifierKey
from ledger.settings import Settings
from ledger.tlog_proof import TlogProof

# The gift's entry index, its leaf and the first checkpoint containing it, in one
# statement; the outer joins tell a missing entry or checkpoint from an unknown ID.
_ISSUED = sqlalchemy.text(
    "SELECT c.entry_index, e.leaf, k.tree_size, k.root, k.note"
    " FROM fund_contributions AS c"
    " LEFT JOIN log_entries AS e ON e.idx = c.entry_index"
    " LEFT JOIN log_checkpoints AS k ON k.tree_size ="
    "  (SELECT min(tree_size) FROM log_checkpoints WHERE tree_size > c.entry_index)"
    " WHERE c.receipt_id = :receipt_id"
)

_REVERSAL = sqlalchemy.text("SELECT entry_index FROM fund_reversals WHERE target = :target")


@dataclass(frozen=True)
class ReceiptProof:
    """What a receipt proves: every part of it but the reversal, fixed once it exists."""

    receipt_id: str
    entry: Entry
    checkpoint: str
    tree_size: int
    root: bytes
    inclusion_proof: tuple[bytes, ...]
    receipt_url: str
    verifier_key: VerifierKey

    def tlog_proof(self) -> str:
        """The receipt as a C2SP ``tlog-proof@v1`` file, the leaf bytes as its extra data."""
        return TlogProof(
            self.entry.index, self.inclusion_proof, self.checkpoint, self.entry.leaf
        ).render()

    def document(self) -> dict[str, Any]:
        """The members of the receipt's JSON (CONTRACT.md §4) that never change, in order."""
        return {
            "receipt_id": self.receipt_id,
            "index": self.entry.index,
            "leaf": base64.b64encode(self.entry.leaf).decode("ascii"),
            "leaf_hash": self.entry.leaf_hash.hex(),
            "entry": self.entry.as_object(),
            "checkpoint": self.checkpoint,
            "tree_size": self.tree_size,
            "inclusion_proof": [h.hex() for h in self.inclusion_proof],
            "receipt_url": self.receipt_url,
            "verifier_key": str(self.verifier_key),
            "key_id": self.verifier_key.key_id_hex,
        }

    def with_reversal(self, reversal_index: int | None) -> Receipt:
        return Receipt(
            receipt_id=self.receipt_id,
            entry=self.entry,
            checkpoint=self.checkpoint,
            tree_size=self.tree_size,
            root=self.root,
            inclusion_proof=self.inclusion_proof,
            receipt_url=self.receipt_url,
            verifier_key=self.verifier_key,
            reversal_index=reversal_index,
        )


@dataclass(frozen=True)
class Receipt(ReceiptProof):
    """A receipt as it stands now: its proof and the entry that reversed the gift, if any."""

    reversal_index: int | None

    def document(self) -> dict[str, Any]:
        """The JSON of ``GET /api/v1/receipts/{id}`` (CONTRACT.md §4), hashes in hex."""
        return {**super().document(), "reversal_index": self.reversal_index}


def receipt_url(settings: Settings, receipt_id: str) -> str:
    return f"{settings.base_url}/r/{receipt_id}"


def signing_key(session: Session, tree_size: int) -> VerifierKey:
    """The key that signed the checkpoint of ``tree_size``.

    Each stored checkpoint is the first to cover its last entry, ``tree_size - 1``, and
    a key signs the first checkpoints covering its period's indices.
    """
    last = tree_size - 1
    for period in log.key_periods(session):
        if period.from_index <= last and (period.to_index is None or last <= period.to_index):
            return period.verifier_key
    raise ChainError(f"no key period covers the checkpoint of tree size {tree_size}")


def prove(session: Session, settings: Settings, text: str) -> ReceiptProof:
    """What the receipt with ID ``text`` (as a donor typed it) proves; three statements.

    The checkpoint is a stored one, so the entries of its tree exist: the proof reads
    the tree's nodes without checking the log's size first.
    """
    receipt_id = receipt_ids.normalize(text)
    row = session.connection().execute(_ISSUED, {"receipt_id": receipt_id}).first()
    if row is None:
        raise NotFoundError(f"no receipt with ID {receipt_id}")
    index, leaf, size, root, note = row
    if leaf is None:
        raise NotFoundError(f"no entry with index {index}")
    if size is None:
        raise NotFoundError(f"no checkpoint covers index {index} yet")
    proof = merkle.inclusion_proof(index, size, log.DatabaseNodes(session))
    return ReceiptProof(
        receipt_id=receipt_id,
        entry=decode_leaf(bytes(leaf)),
        checkpoint=note,
        tree_size=size,
        root=bytes(root),
        inclusion_proof=tuple(proof),
        receipt_url=receipt_url(settings, receipt_id),
        verifier_key=signing_key(session, size),
    )


def reversal(session: Session, index: int) -> int | None:
    """The index of the entry that reversed entry ``index``, or None: it may appear later."""
    found: int | None = session.connection().execute(_REVERSAL, {"target": index}).scalar()
    return found


def find(session: Session, settings: Settings, text: str) -> Receipt:
    """The receipt with ID ``text`` as a donor typed it (see ``receipt_ids.normalize``)."""
    proof = prove(session, settings, text)
    return proof.with_reversal(reversal(session, proof.entry.index))
