"""A donor's receipt: one contribution with everything needed to verify it alone.

The receipt carries the leaf bytes, the first signed checkpoint whose tree contains
the entry, and the RFC 6962 inclusion proof to that checkpoint's root. Anyone holding
it and the log's verifier key can check, offline and years later, that the gift was
logged exactly so; ``tlog_proof`` writes the same facts as a C2SP ``tlog-proof@v1``
file. The first covering checkpoint never changes, so neither does what a receipt
proves; only ``reversal_index`` (a later correction of the gift) can appear after
the receipt was issued.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import log, receipt_ids
from ledger.entries import Entry
from ledger.errors import ChainError, NotFoundError
from ledger.funds.models import ContributionRow, ReversalRow
from ledger.keys import VerifierKey
from ledger.settings import Settings
from ledger.tlog_proof import TlogProof


@dataclass(frozen=True)
class Receipt:
    receipt_id: str
    entry: Entry
    checkpoint: str
    tree_size: int
    root: bytes
    inclusion_proof: list[bytes]
    receipt_url: str
    verifier_key: VerifierKey
    reversal_index: int | None

    def tlog_proof(self) -> str:
        """The receipt as a C2SP ``tlog-proof@v1`` file, the leaf bytes as its extra data."""
        return TlogProof(
            self.entry.index, tuple(self.inclusion_proof), self.checkpoint, self.entry.leaf
        ).render()

    def document(self) -> dict[str, Any]:
        """The JSON of ``GET /api/v1/receipts/{id}`` (CONTRACT.md §4), hashes in hex."""
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
            "reversal_index": self.reversal_index,
        }


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


def find(session: Session, settings: Settings, text: str) -> Receipt:
    """The receipt with ID ``text`` as a donor typed it (see ``receipt_ids.normalize``)."""
    receipt_id = receipt_ids.normalize(text)
    index = session.scalar(
        select(ContributionRow.entry_index).where(ContributionRow.receipt_id == receipt_id)
    )
    if index is None:
        raise NotFoundError(f"no receipt with ID {receipt_id}")
    entry = log.entry(session, index)
    checkpoint = log.checkpoint_covering(session, index)
    reversal = session.scalar(select(ReversalRow.entry_index).where(ReversalRow.target == index))
    return Receipt(
        receipt_id=receipt_id,
        entry=entry,
        checkpoint=checkpoint.note,
        tree_size=checkpoint.tree_size,
        root=checkpoint.root,
        inclusion_proof=log.inclusion_proof(session, index, checkpoint.tree_size),
        receipt_url=receipt_url(settings, receipt_id),
        verifier_key=signing_key(session, checkpoint.tree_size),
        reversal_index=reversal,
    )
