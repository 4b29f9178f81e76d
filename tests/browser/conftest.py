"""Pages in a real browser: Debian's Chromium, driven by Playwright, against a live server.

The app is served on a loopback port by werkzeug from a thread, on the same test
database as every other test (SQLite, or PostgreSQL under ``scripts/with-postgres``).
Chromium is a system package that ``make test`` installs; a machine without it fails
these tests rather than skipping them, so that a verifier nobody ran never passes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Playwright, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package (`make browser`)",
            pytrace=False,
        )
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


class OneRequestPerConnection(WSGIRequestHandler):
    """HTTP/1.0: a connection carries one request, so its thread ends with the answer."""

    protocol_version = "HTTP/1.0"


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app on 127.0.0.1 at a free port; yields its base URL.

    A page's script may still be fetching when its test ends. Closing the server waits
    for every request in flight, so none reaches the test database after it is gone.
    """
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=OneRequestPerConnection
    )
    server.daemon_threads = False  # tracked, so that server_close() joins them
    server.block_on_close = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (``test-artifacts/``, ignored by git), for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
