"""The public web pages: server-rendered, Vietnamese first, read-only.

One module per page family, each with its blueprint. Every page shares the same
headers (``common.page_headers``): a Content-Security-Policy that allows only this
site's own stylesheet, images and scripts, and caching like the API's.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from public_api.pages import explorer, find, funds, home, standings, verifying

    for module in (home, funds, find, standings, explorer, verifying):
        app.register_blueprint(module.blp)
