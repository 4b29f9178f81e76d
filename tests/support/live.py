"""A ledger served over real HTTP, servers that lie on purpose, and copies that grow apart.

``serve`` runs a WSGI app on a loopback port in a thread, as ``tests/browser`` does;
``Tamper`` wraps an app so that a test can make the server fail or rewrite an answer;
``cloned`` copies a ledger (its database rows, signing key and instance folder) so
that two copies can grow apart from a common prefix, on SQLite or PostgreSQL alike.
``outsider`` and ``monitor`` run ``ledger monitor`` as someone without the database.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.engine import make_url
from werkzeug.serving import WSGIRequestHandler, make_server

from ledger import log, migrate
from ledger.cli import main
from ledger.db import Database
from ledger.merkle import hash_leaf
from ledger.models import APPEND_ONLY_TABLES
from ledger.settings import Settings
from public_api import create_app

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OneRequestPerConnection(WSGIRequestHandler):
    """HTTP/1.0: a connection carries one request, so its thread ends with the answer."""

    protocol_version = "HTTP/1.0"

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Quiet: the tests read the monitor's output, not the server's access log."""


@contextmanager
def serve(app: WSGIApp) -> Iterator[str]:
    """The app on 127.0.0.1 at a free port; yields its base URL.

    Closing waits for every request in flight, so none reaches a test database after
    it is gone.
    """
    server = make_server(
        "127.0.0.1",
        0,
        app,  # type: ignore[arg-type]
        threaded=True,
        request_handler=OneRequestPerConnection,
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


class Tamper:
    """Wraps an app: ``failing`` answers the next requests with 503, ``rewrites`` maps a
    path to a function of the answer's body, so a test can make an honest server lie."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.failing = 0
        self.rewrites: dict[str, Callable[[bytes], bytes]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.failing > 0:
            self.failing -= 1
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"error": {"code": "unavailable", "message": "down for maintenance"}}']
        rewrite = self.rewrites.get(environ["PATH_INFO"])
        if rewrite is None:
            return self.app(environ, start_response)
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], _exc: Any = None) -> Any:
            answer.update(status=status, headers=headers)
            return lambda _data: None

        chunks = self.app(environ, capture)
        try:
            body = rewrite(b"".join(chunks))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers = [
            (name, value)
            for name, value in answer["headers"]
            if name.lower() not in ("content-length", "etag")
        ]
        start_response(answer["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]


def environment(settings: Settings) -> dict[str, str]:
    return {
        "LEDGER_INSTANCE_DIR": str(settings.instance_dir),
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_ORIGIN": settings.origin,
        "LEDGER_BASE_URL": settings.base_url,
    }


@contextmanager
def served(settings: Settings, **config: str) -> Iterator[tuple[str, Tamper]]:
    """The ledger of ``settings`` on a live server: its URL and the ``Tamper`` around it."""
    app: Flask = create_app({**environment(settings), **config, "TESTING": True})
    tamper = Tamper(app)
    try:
        with serve(tamper) as url:
            yield url, tamper
    finally:
        app.extensions["ledger.database"].dispose()


@contextmanager
def cloned(settings: Settings, folder: Path) -> Iterator[Settings]:
    """A copy of the ledger (rows, signing key, instance folder) that can grow apart.

    On SQLite the copy is a new file; on PostgreSQL a new schema of the test database,
    dropped afterwards. Either way the migrations build the copy's tables, triggers
    included, and the rows are copied in foreign-key order.
    """
    folder.mkdir(parents=True)
    instance = folder / "instance"
    shutil.copytree(settings.instance_dir, instance)
    source = make_url(settings.database_url)
    schema = None
    if source.get_backend_name() == "sqlite":
        target_url = f"sqlite:///{folder / 'ledger.sqlite3'}"
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        target = source.update_query_dict({"options": f"-csearch_path={schema}"})
        target_url = target.render_as_string(hide_password=False)
        _execute(settings.database_url, f'CREATE SCHEMA "{schema}"')
    try:
        _copy_rows(settings.database_url, target_url)
        yield Settings.load(
            {
                **environment(settings),
                "LEDGER_INSTANCE_DIR": str(instance),
                "LEDGER_DATABASE_URL": target_url,
            },
            environ={},
        )
    finally:
        if schema is not None:
            _execute(settings.database_url, f'DROP SCHEMA "{schema}" CASCADE')


def _execute(url: str, statement: str) -> None:
    database = Database(url)
    try:
        with database.engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        database.dispose()


def _copy_rows(source_url: str, target_url: str) -> None:
    source, target = Database(source_url), Database(target_url)
    try:
        migrate.upgrade(target.engine)
        metadata = MetaData()
        metadata.reflect(bind=source.engine)
        with source.engine.connect() as reading, target.engine.begin() as writing:
            for table in metadata.sorted_tables:
                if table.name == "alembic_version":
                    continue
                rows = [dict(row) for row in reading.execute(table.select()).mappings()]
                if rows:
                    writing.execute(table.insert(), rows)
            if writing.dialect.name == "postgresql":
                _restart_sequences(writing, metadata)
    finally:
        source.dispose()
        target.dispose()


def _restart_sequences(conn: Connection, metadata: MetaData) -> None:
    """Serial keys go on after the copied rows, so the copy can be written to."""
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            sequence = conn.scalar(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            )
            if sequence:
                conn.execute(
                    text(
                        f'SELECT setval(:s, (SELECT COALESCE(MAX("{column.name}"), 0) + 1 '
                        f'FROM "{table.name}"), false)'
                    ),
                    {"s": sequence},
                )


# --- lies a server can tell about its entries (for ``Tamper.rewrites``) -------------------


def rewrite_entry(index: int, change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    def rewrite(body: bytes) -> bytes:
        page = json.loads(body)
        for item in page["entries"]:
            if item["index"] == index:
                change(item)
        return json.dumps(page).encode()

    return rewrite


def wrong_hash(item: dict[str, Any]) -> None:
    item["leaf_hash"] = hash_leaf(b"something else").hex()


def wrong_display(item: dict[str, Any]) -> None:
    item["entry"]["body"]["text"] = "sửa rồi"


def other_leaf(item: dict[str, Any]) -> None:
    leaf = base64.b64decode(item["leaf"]).replace(b'"tester"', b'"Tester"')
    item["leaf"], item["leaf_hash"] = base64.b64encode(leaf).decode(), hash_leaf(leaf).hex()
    item["entry"]["actor"] = "Tester"


def skip_entry(index: int) -> Callable[[bytes], bytes]:
    def rewrite(body: bytes) -> bytes:
        page = json.loads(body)
        page["entries"] = [item for item in page["entries"] if item["index"] != index]
        return json.dumps(page).encode()

    return rewrite


def drop_append_only_triggers(conn: Connection) -> None:
    """What an attacker with database access does first, to rewrite history."""
    for table in APPEND_ONLY_TABLES:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
            conn.execute(text(f"DROP TRIGGER {table}_no_truncate ON {table}"))
        else:
            conn.execute(text(f"DROP TRIGGER {table}_no_update"))
            conn.execute(text(f"DROP TRIGGER {table}_no_delete"))


def outsider(folder: Path) -> CliRunner:
    """A command line on another machine: its settings name no database that exists."""
    nowhere = folder / "no-ledger-here"
    return CliRunner(
        env={
            "LEDGER_DATABASE_URL": f"sqlite:///{nowhere / 'ledger.sqlite3'}",
            "LEDGER_INSTANCE_DIR": str(nowhere),
            "XDG_STATE_HOME": str(folder / "xdg-state"),
        }
    )


def monitor(runner: CliRunner, url: str, key: object, state: Path, *options: str) -> Result:
    """``ledger monitor URL --key KEY --state STATE OPTIONS…``"""
    return runner.invoke(main, ["monitor", url, "--key", str(key), "--state", str(state), *options])


def alarm(result: Result, code: int, kind: str, *mentions: str) -> str:
    """Exit status ``code`` and one ``ALARM <kind>:`` line on stderr, nothing on stdout."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    line = result.stderr.strip()
    assert line.startswith(f"ALARM {kind}: "), line
    assert "\n" not in line, line
    for word in mentions:
        assert word in line, line
    return line


def head(db: Database) -> tuple[int, str]:
    """The latest checkpoint's size and root (hex), as the database has them."""
    with db.session() as session:
        latest = log.latest_checkpoint(session)
    return latest.tree_size, latest.root.hex()


def saved(state: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(state.read_text(encoding="utf-8"))
    return document
