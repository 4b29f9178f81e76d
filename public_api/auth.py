"""Who is writing: the scope of the request's bearer token.

A missing or bad token raises ``AuthenticationError``; ``errors.py`` turns it into a
401 with ``WWW-Authenticate: Bearer``. The token is checked in the request's read
session, before any write transaction: refusing strangers must never wait for, or
hold, the append lock.
"""

from __future__ import annotations

from typing import Any

from flask import request

from ledger.errors import AuthenticationError
from ledger.funds import tokens
from ledger.funds.access import Scope
from public_api import token_throttle
from public_api.database import session

BEARER_SCHEME = "bearerAuth"
SECURITY: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
SECURITY_SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "lt_<id>_<secret>",
    "description": "A token from `ledger token create --role ROLE [--unit CODE]`.",
}


def current_scope() -> Scope:
    """The scope of ``Authorization: Bearer <token>``; AuthenticationError (401) if none.

    An address with too many refused tokens lately gets 429 first (``token_throttle``).
    """
    token_throttle.check()
    try:
        return tokens.authenticate(session(), request.headers.get("Authorization"))
    except AuthenticationError:
        if request.headers.get("Authorization"):
            token_throttle.refused()  # asking without a token is not guessing
        raise
