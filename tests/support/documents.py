"""Documents stored as a writer's upload would store them: proofs of payment and the like."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from ledger.funds.models import DocumentRow

PROOF_CONTENT = b"%PDF-1.4 uy nhiem chi"
PROOF = hashlib.sha256(PROOF_CONTENT).hexdigest()
"""A disbursement's proof of payment, once ``add_document(funds)`` has stored it."""


def add_document(
    funds: Any, content: bytes = PROOF_CONTENT, filename: str = "uy-nhiem-chi.pdf"
) -> str:
    """Store ``content`` (once) and return its SHA-256, as entries name documents."""
    digest = hashlib.sha256(content).hexdigest()
    with funds.db.writing() as session:
        if session.get(DocumentRow, digest) is None:
            session.add(
                DocumentRow(
                    sha256=digest,
                    filename=filename,
                    media_type="application/pdf",
                    size=len(content),
                    content=content,
                    uploaded_by="tester",
                    uploaded_at=datetime.now(UTC),
                )
            )
    return digest
