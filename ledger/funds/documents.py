"""Supporting documents (decisions, hand-over minutes, receipts), stored by content hash.

Entries name documents by SHA-256 only: the log binds exactly which file backs an
allocation or a payment without carrying the file, which may hold personal data.
Storing is idempotent: the same bytes give the same hash and are kept once, with the
first upload's name and uploader.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from ledger.errors import NotFoundError, ValidationError
from ledger.funds.models import DocumentRow
from ledger.funds.text import nfc

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DEFAULT_FILENAME = "document"
DEFAULT_MEDIA_TYPE = "application/octet-stream"
# RFC 6838 allows 127 characters a side; the column holds 100 in all (enough for
# application/vnd.openxmlformats-officedocument.wordprocessingml.document).
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DocumentTooLargeError(ValidationError):
    """The file is over the size limit; the HTTP edge answers 413."""

    code = "too_large"


def clean_filename(filename: str | None, default: str = DEFAULT_FILENAME) -> str:
    """The last path component, NFC, without control characters, at most 255 characters."""
    name = nfc(filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:255] or default


def clean_media_type(media_type: str | None) -> str:
    value = (media_type or "").split(";", 1)[0].strip().lower()
    if not value:
        return DEFAULT_MEDIA_TYPE
    if len(value) > 100 or not _MEDIA_TYPE.fullmatch(value):
        message = "must be a media type such as application/pdf"
        raise ValidationError.for_field("media_type", message)
    return value


def store_document(
    session: Session,
    content: bytes,
    filename: str | None,
    media_type: str | None,
    actor: str,
    now: datetime | None = None,
) -> str:
    """Keep ``content`` and return its lowercase SHA-256 hex; a second upload is a no-op."""
    if not content:
        raise ValidationError("the document is empty", {"content": ["must not be empty"]})
    if len(content) > MAX_DOCUMENT_BYTES:
        message = f"must be at most {MAX_DOCUMENT_BYTES} bytes"
        raise DocumentTooLargeError(f"the document is too large: {message}", {"content": [message]})
    media = clean_media_type(media_type)
    digest = hashlib.sha256(content).hexdigest()
    if session.get(DocumentRow, digest) is None:
        session.add(
            DocumentRow(
                sha256=digest,
                filename=clean_filename(filename),
                media_type=media,
                size=len(content),
                content=content,
                uploaded_by=actor,
                uploaded_at=now or datetime.now(UTC),
            )
        )
        session.flush()
    return digest


def get_document(session: Session, sha256: str) -> DocumentRow:
    row = session.get(DocumentRow, sha256) if _SHA256.fullmatch(sha256) else None
    if row is None:
        raise NotFoundError(f"no document with SHA-256 {sha256[:64]!r}")
    return row
