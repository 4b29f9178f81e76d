"""The head watch: kept answers go without a query until a commit, of any process, moves it.

A second process is a real one (``python -c``), so that a commit it makes reaches this
one only as the database tells it: a change of SQLite's data_version, or a
PostgreSQL notification from the triggers of migration 0005.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text
from support.api import API

from ledger.db import Database
from public_api import head_watch, response_cache
from public_api.head_watch import Generation, HeadWatch, watch_for

LOG = f"{API}/log"
ROOT = Path(__file__).resolve().parents[2]
ADD_WITNESS = """
import sys
from audit import witnesses
from audit.cosignature import WitnessSigner
from ledger.db import Database
db = Database(sys.argv[1])
with db.writing() as session:
    witnesses.add(session, sys.argv[2], str(WitnessSigner.generate(sys.argv[2]).verifier),
                  "https://witness.example/w")
db.dispose()
"""


def add_witness_elsewhere(database_url: str, name: str) -> None:
    """Another process adds a witness: a commit this one hears of only from the database."""
    subprocess.run(
        [sys.executable, "-c", ADD_WITNESS, database_url, name],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )


def eventually(read: Callable[[], Any], wanted: Callable[[Any], bool], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = read()
        if wanted(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


@pytest.fixture
def watch(ledger: Database) -> Iterator[HeadWatch]:
    """A watch over the ledger through an engine of its own, as a web process has."""
    database = Database(ledger.url)
    found = watch_for(database.engine)
    assert found is not None
    yield found
    database.dispose()


def test_the_generation_stands_still_without_commits(watch: HeadWatch) -> None:
    first = watch.generation()
    assert first is not None
    time.sleep(0.05)
    assert watch.generation() == first == watch.generation()


def test_a_commit_of_this_process_moves_the_generation_at_once(
    watch: HeadWatch, funds: Any
) -> None:
    before = watch.generation()
    funds.give(250_000)
    assert watch.generation() != before


def test_a_commit_of_another_process_moves_the_generation(
    watch: HeadWatch, ledger: Database
) -> None:
    before = watch.generation()
    assert before is not None
    add_witness_elsewhere(ledger.url, "witness.elsewhere.example/w1")
    after: Generation | None = eventually(watch.generation, lambda found: found != before)
    assert after is not None and after != before
    assert watch.generation() == after  # and stands still again


def test_kept_answers_of_a_still_head_take_no_connection(
    app: Flask, client: FlaskClient, funds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(response_cache, "TRUST_WATCH_SECONDS", 60.0)  # a slow machine
    gift = funds.give(300_000).answer()
    urls = [f"{LOG}/checkpoint", f"{API}/funds", f"{API}/receipts/{gift['receipt_id']}"]
    for url in urls:
        client.get(url)
    taken: list[object] = []
    pool = app.extensions["ledger.database"].engine.pool
    event.listen(pool, "checkout", lambda *args: taken.append(args))
    for url in urls:
        assert client.get(url).status_code == 200
    assert taken == []

    funds.give(100_000)  # the head moves: the next answer is built, then kept again
    assert client.get(f"{LOG}/checkpoint").status_code == 200
    built = len(taken)
    assert built >= 2  # the head query and the view's session
    client.get(f"{LOG}/checkpoint")
    assert len(taken) == built


def test_another_process_s_commit_shows_in_the_kept_answers(
    client: FlaskClient, ledger: Database
) -> None:
    def names() -> list[str]:
        return [w["name"] for w in client.get(f"{LOG}/witnesses").get_json()["witnesses"]]

    assert names() == names() == []  # built, then kept
    add_witness_elsewhere(ledger.url, "witness.elsewhere.example/w2")
    shown = eventually(names, lambda found: found != [], seconds=5)
    assert shown == ["witness.elsewhere.example/w2"]


@pytest.mark.postgresql_only
def test_a_lost_listening_connection_falls_back_to_the_query_and_listens_again(
    watch: HeadWatch, ledger: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(head_watch, "RECONNECT_AFTER_SECONDS", 0.2)
    before = watch.generation()
    assert before is not None
    with ledger.engine.begin() as connection:
        ended = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query = :listen AND datname = current_database()"
                " AND pid <> pg_backend_pid()"
            ),
            {"listen": f"LISTEN {head_watch.CHANNEL}"},
        ).all()
    assert ended  # the watch's connection, and those of other tests' watches, if any
    assert eventually(watch.generation, lambda found: found is None) is None

    add_witness_elsewhere(ledger.url, "witness.elsewhere.example/w3")  # while deaf
    time.sleep(0.3)
    again = eventually(watch.generation, lambda found: found is not None)
    assert again is not None and again != before  # a new connection counts as a change


@pytest.mark.postgresql_only
def test_a_ledger_without_the_triggers_is_always_queried(
    ledger: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ledger.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER log_checkpoints_head_changed ON log_checkpoints"))
    opened: list[object] = []
    dedicated = head_watch._dedicated

    def counted(*args: Any) -> Any:
        opened.append(args)
        return dedicated(*args)

    monkeypatch.setattr(head_watch, "_dedicated", counted)
    database = Database(ledger.url)
    try:
        watch = watch_for(database.engine)
        assert watch is not None
        assert watch.generation() is None
        time.sleep(head_watch.RECONNECT_AFTER_SECONDS + 0.1)
        assert watch.generation() is None
        assert len(opened) == 1  # a database that cannot notify is not asked every second
    finally:
        database.dispose()


@pytest.mark.sqlite_only
def test_a_sqlite_file_made_again_under_the_same_name_is_another_database(
    watch: HeadWatch, ledger: Database, tmp_path: Path
) -> None:
    before = watch.generation()
    assert before is not None
    path = Path(str(ledger.engine.url.database))
    ledger.dispose()
    moved = tmp_path / "moved.sqlite3"
    path.rename(moved)
    assert watch.generation() is None
    shutil.copyfile(moved, path)  # the same bytes in another file
    assert watch.generation() not in (None, before)


@pytest.mark.sqlite_only
def test_a_file_sqlite_cannot_read_leaves_the_error_to_the_head_query(tmp_path: Path) -> None:
    garbage = tmp_path / "not-a-ledger.sqlite3"
    garbage.write_bytes(b"this is not a SQLite database " * 100)
    database = Database(f"sqlite:///{garbage}")
    try:
        watch = watch_for(database.engine)
        assert watch is not None
        assert watch.generation() is None
    finally:
        database.dispose()
