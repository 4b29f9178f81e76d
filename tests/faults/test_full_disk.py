"""A full disk under a SQLite ledger: a clear refusal, a consistent log, and writing resumes.

The database lives on a tmpfs of a few megabytes; a ballast file takes all but a little
of it, as logs or backups do on a real disk, and writers fill the rest. Once the disk is
full, a write answers 507 ``insufficient_storage`` with a message that says so, the
command line says so in one line, reads go on, and the log verifies: the transaction
that met the full disk was rolled back whole. Once space is freed, the log still
verifies and the refused write, sent again with its Idempotency-Key, is recorded once.

PostgreSQL's disk cannot be filled from a test; what it says when full (SQLSTATE
53100, disk_full) is answered the same way.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from psycopg.errors import DiskFull
from sqlalchemy.exc import OperationalError
from support.cli import error_line, ok
from support.serving import (
    Answer,
    Server,
    Write,
    assert_acknowledged_in_log,
    assert_nothing_half_written,
    call,
    gift,
    gift_references,
    public_log,
    serving,
)

from ledger.cli import main
from public_api import errors

DISK_SIZE = "4m"
LEFT_FREE = 1024 * 1024  # what the ballast leaves for the writers to fill: a dozen gifts
MOST_WRITES = 200


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``DISK_SIZE`` (the tests run as root), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (root needed): {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        # A killed threaded worker's leader shows as a zombie while its other threads
        # are still being torn down, files open: give the kernel a few seconds.
        for _ in range(50):
            unmounted = subprocess.run(["umount", str(mount)], capture_output=True, text=True)
            if unmounted.returncode == 0:
                break
            time.sleep(0.1)
        if unmounted.returncode != 0:  # something still holds a file open: never leave it
            subprocess.run(["umount", "--lazy", str(mount)], check=True)
            pytest.fail(f"the tmpfs was still in use: {unmounted.stderr.strip()}")


@pytest.fixture
def database_url(disk: Path) -> str:
    """The ledger's SQLite file (and its WAL) on the tiny disk."""
    return f"sqlite:///{disk / 'ledger.sqlite3'}"


def fill(disk: Path, leave: int) -> Path:
    """A ballast file taking all the free space of ``disk`` but ``leave`` bytes."""
    ballast = disk / "ballast"
    stats = os.statvfs(disk)
    size = stats.f_bavail * stats.f_frsize - leave
    with ballast.open("wb") as out:
        out.write(bytes(size))
    return ballast


def assert_disk_full(answer: Answer) -> None:
    assert answer.status == 507, answer
    assert answer.headers["Cache-Control"] == "no-store"
    error = answer.body["error"]
    assert error["code"] == "insufficient_storage"
    assert "disk is full" in error["message"] and "nothing was recorded" in error["message"]


def write(server: Server, token: str, fund: str, number: int) -> Write:
    reference = f"disk-{number}"
    sent = Write(f"{reference}-key", gift(fund, reference, 100_000 + number))
    sent.answer = call(server.url("contributions"), sent.body, token=token, key=sent.key)
    return sent


@pytest.mark.sqlite_only
def test_a_full_disk_refuses_writes_clearly_and_the_log_stays_whole(
    disk: Path, funds: Any, admin: str, env: dict[str, str], tmp_path: Path, runner: CliRunner
) -> None:
    with serving(env, tmp_path / "server") as server:
        size_before = len(public_log(server))
        ballast = fill(disk, LEFT_FREE)
        writes: list[Write] = []
        while len(writes) < MOST_WRITES:
            writes.append(write(server, admin, funds.fund, len(writes)))
            if not writes[-1].acknowledged:
                break
        *acknowledged, refused = writes
        assert acknowledged, "the writers had room for a few gifts"
        assert all(w.acknowledged for w in acknowledged)
        assert refused.answer is not None
        assert_disk_full(refused.answer)

        # While the disk is full: the same answer again, reads go on, the CLI says why.
        again = call(server.url("contributions"), refused.body, token=admin, key=refused.key)
        assert_disk_full(again)
        entries = public_log(server)
        assert len(entries) == size_before + len(acknowledged)
        assert call(server.url("log/checkpoint")).status == 200
        assert call(f"{server.base}/readyz").status == 200  # the host still serves readers
        contribute = ["contribute", "--fund", funds.fund, "--amount", "50000", "--channel", "cash"]
        message = error_line(runner.invoke(main, [*contribute, "--donor", "Lê Văn Bình"]))
        assert message == (
            "error: the database's disk is full: nothing was recorded; free space, then retry"
        )
        ok(runner.invoke(main, ["verify"]))

        ballast.unlink()
        ok(runner.invoke(main, ["verify"]))
        retried = call(server.url("contributions"), refused.body, token=admin, key=refused.key)
        assert retried.status == 201 and not retried.replayed
        refused.answer = retried
        writes += [write(server, admin, funds.fund, len(writes) + n) for n in range(3)]
        assert all(w.acknowledged for w in writes)

        entries = public_log(server)
        assert len(entries) == size_before + len(writes)
        assert_acknowledged_in_log(entries, writes)
        assert_nothing_half_written(funds.db, entries)
        recorded = gift_references(entries)
        assert all(recorded[w.reference] == 1 for w in writes)
    output = ok(runner.invoke(main, ["verify"]))
    assert "balances of 3 fund(s) agree with the log" in output


def test_postgresql_out_of_disk_answers_507_as_well(app: Flask) -> None:
    full = OperationalError("INSERT INTO log_entries", {}, DiskFull("could not extend file"))
    with app.test_request_context("/api/v1/contributions", method="POST"):
        response = errors.handle_database_error(full)
    assert response.status_code == 507
    assert response.get_json()["error"]["code"] == "insufficient_storage"
