"""The client's address and scheme behind trusted reverse proxies or load balancers.

Behind a load balancer every request seems to come from the balancer itself, so
rate limits would count all readers as one. With ``LEDGER_TRUSTED_PROXIES=N`` the
last N hops of ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed. Trust no
more hops than there are proxies: a client may write anything in those headers, and
with too large an N it picks its own address.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask, trusted_proxies: int) -> None:
    if trusted_proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=trusted_proxies, x_proto=trusted_proxies
        )
