"""Slowing down whoever keeps presenting bad tokens.

Tokens are long random secrets, so guessing one is hopeless; but an address that
sends refused token after refused token is probing, and answering it at full speed
helps nobody. Past ``LEDGER_RATELIMIT_BAD_TOKENS`` refusals in the window, every
request from that address that carries a token gets 429 with ``Retry-After`` before
its token is looked at, a good one included: the address waits out the window.
Counting shares the rate limiter's storage (memory, or Redis across hosts). If that
storage fails, requests go on unthrottled: a broken counter must not lock writers out.
"""

from __future__ import annotations

import contextlib
import math
import time

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from werkzeug.exceptions import TooManyRequests

from public_api.database import settings

SCOPE = "bad-token"


def _counter() -> tuple[Limiter, RateLimitItem] | None:
    limiter: Limiter | None = current_app.extensions.get("ledger.limiter")
    if limiter is None or not limiter.enabled:
        return None
    return limiter, parse(settings().ratelimit_bad_tokens)


def check() -> None:
    """TooManyRequests (429) if this address has had too many tokens refused lately."""
    counter = _counter()
    if counter is None:
        return
    limiter, item = counter
    address = get_remote_address()
    try:
        if limiter.limiter.test(item, SCOPE, address):
            return
        reset_at = limiter.limiter.get_window_stats(item, SCOPE, address).reset_time
    except Exception:  # the shared storage is down: do not lock writers out
        return
    seconds = max(1, math.ceil(reset_at - time.time()))
    raise TooManyRequests(
        f"too many refused tokens from your address; try again in {seconds} s",
        retry_after=seconds,
    )


def refused() -> None:
    """Count one refused token against this address."""
    counter = _counter()
    if counter is None:
        return
    limiter, item = counter
    with contextlib.suppress(Exception):  # see check(): counting is best effort
        limiter.limiter.hit(item, SCOPE, get_remote_address())
