"""Bearer tokens for the writers' API: one role, optionally one unit, shown once.

A token reads ``lt_<id>_<secret>``: ``id`` is 8 lowercase hex digits, public, and the
primary key a request is looked up by; ``secret`` is 256 bits from ``secrets``. Only
the SHA-256 of the whole token is stored. A plain hash is the right tool here, not a
slow password hash: nobody can guess 256 random bits, so there is nothing for key
stretching to protect, and checking a request must stay cheap. A stolen copy of the
table therefore yields no usable token.

Authentication failures never repeat what the client sent: the header may hold a
real token with a typo, and error messages end up in logs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ledger.errors import AuthenticationError, DuplicateError, NotFoundError, ValidationError
from ledger.funds import state
from ledger.funds.access import ROLES, Scope
from ledger.funds.models import TokenRow

PREFIX = "lt_"
NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_TOKEN = re.compile(r"lt_(?P<id>[0-9a-f]{8})_(?P<secret>[A-Za-z0-9_-]{16,128})")
_SCHEME = "bearer"
# What a request is checked against, by the token's id: built once, and read as plain
# columns rather than an ORM object, since every write request runs it.
_BY_ID = select(
    TokenRow.name,
    TokenRow.role,
    TokenRow.unit,
    TokenRow.secret_hash,
    TokenRow.expires_at,
    TokenRow.revoked_at,
).where(TokenRow.id == bindparam("id"))
# Compared against when the id is unknown, so that an unknown id and a wrong secret
# take the same path through the code.
_NO_HASH = bytes(32)


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything the ledger stores is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def _new_id(session: Session) -> str:
    while True:
        candidate = secrets.token_hex(4)
        if session.get(TokenRow, candidate) is None:
            return candidate


def create_token(
    session: Session,
    role: str,
    unit: str | None = None,
    name: str | None = None,
    expires_in: timedelta | None = None,
    now: datetime | None = None,
) -> tuple[TokenRow, str]:
    """Store a new token and return it with its secret form, which exists only here.

    Only SHA-256 of the token is kept: its secret is 256 random bits, which no one can
    guess, so a slow password hash would add cost and no protection.
    """
    if role not in ROLES:
        raise ValidationError.for_field("role", f"must be one of {', '.join(ROLES)}")
    if unit is not None:
        try:
            state.unit(session, unit)
        except NotFoundError as err:
            raise ValidationError.for_field(
                "unit", f"no unit with code {unit!r}: record the unit first"
            ) from err
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValidationError.for_field("expires_in", "must be a positive duration")
    token_id = _new_id(session)
    name = f"{role}-{token_id}" if name is None else name
    if not NAME_PATTERN.fullmatch(name):
        raise ValidationError.for_field("name", "must be 1-64 letters, digits, '.', '_' or '-'")
    if session.scalar(select(TokenRow.id).where(TokenRow.name == name)) is not None:
        raise DuplicateError(f"a token named {name} exists already")
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    created = _now(now)
    row = TokenRow(
        id=token_id,
        name=name,
        role=role,
        unit=unit,
        secret_hash=token_hash(token),
        created_at=created,
        expires_at=created + expires_in if expires_in is not None else None,
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, header_value: str | None, now: datetime | None = None) -> Scope:
    """The scope an ``Authorization: Bearer <token>`` header grants; AuthenticationError if none."""
    if not header_value or not header_value.strip():
        raise AuthenticationError("this request needs a token: send Authorization: Bearer <token>")
    scheme, _, credentials = header_value.strip().partition(" ")
    if scheme.lower() != _SCHEME:
        raise AuthenticationError("only Bearer tokens are accepted: Authorization: Bearer <token>")
    token = credentials.strip()
    parsed = _TOKEN.fullmatch(token)
    if parsed is None:
        raise AuthenticationError("the token is malformed: it reads lt_<id>_<secret>")
    row = session.execute(_BY_ID, {"id": parsed["id"]}).first()
    stored = row.secret_hash if row is not None else _NO_HASH
    matches = hmac.compare_digest(stored, token_hash(token))
    if row is None or not matches:
        raise AuthenticationError("the token is not valid")
    standing = _standing(row.revoked_at, row.expires_at, now)
    if standing == "revoked":
        raise AuthenticationError(f"the token {row.name} was revoked")
    if standing == "expired":
        raise AuthenticationError(f"the token {row.name} has expired")
    return Scope(actor=row.name, role=row.role, unit=row.unit)


def find_token(session: Session, name_or_id: str) -> TokenRow:
    """By name first: a name may look like another token's id."""
    row = session.scalar(select(TokenRow).where(TokenRow.name == name_or_id))
    if row is None:
        row = session.get(TokenRow, name_or_id)
    if row is None:
        raise NotFoundError(f"no token named {name_or_id!r}")
    return row


def revoke_token(session: Session, name_or_id: str, now: datetime | None = None) -> TokenRow:
    """Revoke a token from now on; revoking it again keeps the first revocation time."""
    row = find_token(session, name_or_id)
    if row.revoked_at is None:
        row.revoked_at = _now(now)
        session.flush()
    return row


def list_tokens(session: Session) -> Sequence[TokenRow]:
    return session.scalars(select(TokenRow).order_by(TokenRow.created_at, TokenRow.name)).all()


def status(row: TokenRow, now: datetime | None = None) -> str:
    """``active``, ``revoked`` or ``expired``, as ``authenticate`` would decide."""
    return _standing(row.revoked_at, row.expires_at, now)


def _standing(
    revoked_at: datetime | None, expires_at: datetime | None, now: datetime | None
) -> str:
    moment = _now(now)
    revoked, expires = aware(revoked_at), aware(expires_at)
    if revoked is not None and revoked <= moment:
        return "revoked"
    if expires is not None and expires <= moment:
        return "expired"
    return "active"
