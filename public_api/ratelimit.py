"""Rate limits per client address: one budget for reading, another for writing.

Reads (GET, HEAD, OPTIONS) and writes (every other method) are counted separately
over the whole app, per client address (see ``public_api.proxies`` for the address
behind a load balancer). A client over its budget gets a 429 in the usual JSON error
shape with ``Retry-After`` in seconds.

Counters live in memory by default, which gives every gunicorn worker its own; with
``LEDGER_RATELIMIT_STORAGE_URL=redis://…`` all workers and hosts share them. If that
storage stops answering, counting goes on in memory until it is back: a broken
counter must not take the ledger down with it.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.exceptions import HTTPException

from ledger.errors import ConfigurationError
from ledger.settings import Settings
from public_api import errors

READ_METHODS = ("GET", "HEAD", "OPTIONS")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# A Redis that does not answer must not hold a request for long before counting
# falls back to memory.
_REDIS_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 1}


def _checked(text: str, variable: str) -> str:
    try:
        if parse_many(text):
            return text
    except ValueError:
        pass
    raise ConfigurationError(
        f"{variable} {text!r} must read like '600 per minute' or '20 per second; 600 per minute'"
    )


def _limit(text: str, variable: str, scope: str, methods: tuple[str, ...]) -> ApplicationLimit:
    return ApplicationLimit(
        _checked(text, variable),
        scope=scope,
        methods=methods,
        error_message=f"too many requests from your address (at most {text})",
    )


def _endpoint() -> str:
    """The view a request reaches; paths that reach none are counted too (scanners)."""
    return request.endpoint or "unrouted"


def make_limiter(settings: Settings) -> Limiter:
    storage = settings.ratelimit_storage_url
    _checked(settings.ratelimit_bad_tokens, "LEDGER_RATELIMIT_BAD_TOKENS")  # token_throttle
    return Limiter(
        get_remote_address,
        application_limits=[
            _limit(settings.ratelimit_public, "LEDGER_RATELIMIT_PUBLIC", "read", READ_METHODS),
            _limit(settings.ratelimit_write, "LEDGER_RATELIMIT_WRITE", "write", WRITE_METHODS),
        ],
        storage_uri=storage,
        storage_options=dict(_REDIS_TIMEOUTS) if storage.startswith("redis") else {},
        strategy="fixed-window",
        # Two ledgers may share one Redis; their readers are counted apart.
        key_prefix=f"ledger/{settings.origin}",
        in_memory_fallback_enabled=True,
        headers_enabled=False,  # per-client headers would end up in shared caches
        request_identifier=_endpoint,
        enabled=settings.ratelimit_enabled,
    )


def retry_after(limiter: Limiter, error: RateLimitExceeded) -> int:
    """Whole seconds until the breached window resets (at least 1)."""
    window = max(1, int(error.limit.limit.get_expiry()))
    breached = limiter.current_limit
    if breached is None:
        return window
    try:
        reset_at = breached.reset_at
    except Exception:  # the storage failed just now: the window's length will do
        return window
    return max(1, min(window, math.ceil(reset_at - time.time())))


def init_app(app: Flask, settings: Settings) -> Limiter:
    limiter = make_limiter(settings)
    limiter.init_app(app)

    def too_many_requests(error: RateLimitExceeded) -> Response | HTTPException:
        seconds = retry_after(limiter, error)
        error.retry_after = seconds  # werkzeug writes it as the Retry-After header
        error.description = f"{error.description}; try again in {seconds} s"
        return errors.handle_http_exception(error)

    app.register_error_handler(RateLimitExceeded, too_many_requests)
    app.extensions["ledger.limiter"] = limiter
    return limiter
