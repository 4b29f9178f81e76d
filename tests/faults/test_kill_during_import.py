"""kill -9 of the whole server in the middle of a large statement import: all of it, or none.

A statement of ``LINES`` credits is uploaded to ``ledger serve``. The import records
every line in one write transaction holding the append lock; once the lock is seen
held for a moment, the master and its workers get SIGKILL. After a restart the log
verifies and holds nothing of the statement: no entry, no batch, no gift row, no
stored answer. The importer, left without an answer, uploads again with the same
Idempotency-Key: every line is recorded once, and a third upload with that key gets
the same report back.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select, text
from support.cli import ok
from support.serving import Answer, assert_nothing_half_written, call, public_log, serving
from support.statements import GENERIC, Sheet

from ledger.cli import main
from ledger.db import APPEND_LOCK_KEY, Database, sqlite_path
from ledger.funds.models import ContributionRow, IdempotencyRow, ImportBatchRow, ImportRowRow

LINES = 1000
KEY = "sao-ke-thang-3"
IMPORT = "imports?format=generic&campaign=LS-2026"


def statement(funds: Any) -> bytes:
    sheet = Sheet(funds.today, GENERIC)
    for line in range(LINES):
        sheet.credit(line % 50 + 1, f"FT26{line:06d}", 100_000 + line, "LS26COVID ung ho", "AN")
    return sheet.csv()


def append_lock_held(db: Database) -> bool:
    """Whether some writer holds the append lock now (this probe never waits for it)."""
    path = sqlite_path(db.url)
    if path is not None:
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        except sqlite3.OperationalError as err:
            assert "locked" in str(err), err
            return True
        finally:
            probe.close()
        return False
    with db.engine.begin() as conn:
        taken = conn.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY}
        )
    return not taken


def count(db: Database, table: Any) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_killed_import_records_nothing_and_its_retry_records_every_line_once(
    funds: Any, admin: str, env: dict[str, str], tmp_path: Path, runner: CliRunner
) -> None:
    data = statement(funds)
    gifts_before = count(funds.db, ContributionRow)
    answers: list[Answer] = []

    with serving(env, tmp_path / "before") as server:
        size_before = len(public_log(server))

        def upload() -> None:
            answers.append(
                call(server.url(IMPORT), data=data, content_type="text/csv", token=admin, key=KEY)
            )

        uploading = threading.Thread(target=upload, daemon=True)
        uploading.start()
        deadline = time.monotonic() + 60
        while not append_lock_held(funds.db):
            assert uploading.is_alive(), answers
            assert time.monotonic() < deadline, "the import never took the append lock"
            time.sleep(0.02)
        time.sleep(0.1)  # into the lines, well before the commit
        server.kill()
        uploading.join(30)

    assert [answer.answered for answer in answers] == [False]
    ok(runner.invoke(main, ["verify"]))
    assert count(funds.db, ImportBatchRow) == 0
    assert count(funds.db, ImportRowRow) == 0
    assert count(funds.db, ContributionRow) == gifts_before
    assert count(funds.db, IdempotencyRow) == 0

    with serving(env, tmp_path / "after") as server:
        entries = public_log(server)
        assert len(entries) == size_before
        assert_nothing_half_written(funds.db, entries)

        retried = call(server.url(IMPORT), data=data, content_type="text/csv", token=admin, key=KEY)
        assert retried.status == 201, retried
        assert not retried.replayed
        report = retried.body
        assert [c["index"] for c in report["created"]] == list(
            range(size_before, size_before + LINES)
        )
        assert report["duplicates"] == [] and report["unmatched"] == []
        assert report["totals"]["created"] == sum(100_000 + line for line in range(LINES))

        again = call(server.url(IMPORT), data=data, content_type="text/csv", token=admin, key=KEY)
        assert again.status == 201 and again.replayed
        assert again.body == report

        entries = public_log(server)
        assert len(entries) == size_before + LINES
        assert_nothing_half_written(funds.db, entries)
        for created in report["created"]:
            held = entries[created["index"]]["entry"]["body"]
            assert held["receipt_id"] == created["receipt_id"]
            assert held["amount"] == created["amount"]
    ok(runner.invoke(main, ["verify"]))
