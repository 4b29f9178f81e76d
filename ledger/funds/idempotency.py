"""Idempotency keys: a retried write returns its first answer instead of writing twice.

A writer whose connection dropped cannot tell whether its contribution was recorded;
with an ``Idempotency-Key`` it simply sends the same request again. Keys belong to
one actor (two tokens may use the same key for different things) and remember a hash
of the request, so that a key reused for a different request is refused rather than
answered with an unrelated result.

Every function here runs inside the write transaction of the operation itself, which
holds the append lock: two concurrent retries with one key are serialised, the
second finds the first one's answer, and the answer is stored if and only if the
operation commits.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from ledger.errors import ConflictError, ValidationError
from ledger.funds.models import IdempotencyRow

MAX_KEY_LENGTH = 255


class IdempotencyKeyReusedError(ConflictError):
    """The key was used before for a different request."""

    code = "idempotency_key_reused"


def check_key(key: str) -> str:
    """A key is 1-255 printable ASCII characters (what an HTTP header carries safely)."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        message = f"must be 1-{MAX_KEY_LENGTH} printable ASCII characters"
        raise ValidationError(f"Idempotency-Key: {message}", {"Idempotency-Key": [message]})
    return key


def request_hash(method: str, path: str, body: Any) -> str:
    """SHA-256 of the canonical JSON of the request: the same request, the same hash."""
    canonical = json.dumps(
        [method.upper(), path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def find(session: Session, actor: str, key: str) -> IdempotencyRow | None:
    return session.get(IdempotencyRow, (actor, key))


def replay(session: Session, actor: str, key: str, fingerprint: str) -> tuple[int, Any] | None:
    """The stored status and answer of this request, None if the key is new.

    Raises IdempotencyKeyReusedError if the key was used for another request.
    """
    row = find(session, actor, key)
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was already used for a different request; "
            "use a new key for a new request"
        )
    return row.status, json.loads(row.response)


def store(
    session: Session,
    actor: str,
    key: str,
    fingerprint: str,
    status: int,
    response: Any,
    now: datetime | None = None,
) -> None:
    session.add(
        IdempotencyRow(
            actor=actor,
            key=key,
            request_hash=fingerprint,
            status=status,
            response=json.dumps(response, ensure_ascii=False),
            created_at=now or datetime.now(UTC),
        )
    )
    session.flush()
