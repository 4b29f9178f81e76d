"""README's set-up, as a new user runs it: `make run` in a fresh copy of the repository.

The copy holds what git would hand a new user (tracked files plus new files that are
not ignored): no .venv, no instance folder. `make run` creates the venv, installs,
runs `ledger init` and serves; the test reads the checkpoint over HTTP like anyone
would, stops the whole process group, and runs `make run` again to see that
`ledger init` leaves the existing ledger alone.

Slow (it installs into a new venv, once per test run) and SQLite only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.checkpoint import verify_checkpoint
from ledger.keys import VerifierKey

pytestmark = pytest.mark.setup_commands

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ORIGIN = "localhost/mttq-ledger"
READY_TIMEOUT = 240.0
STOP_TIMEOUT = 30.0


def require(program: str) -> str:
    found = shutil.which(program, path=clean_env()["PATH"])
    if found is None:
        pytest.fail(f"`{program}` is not installed: the README's set-up needs it", pytrace=False)
    return found


def clean_env() -> dict[str, str]:
    """What a new user's shell has: PATH and HOME, no LEDGER_* settings, no active venv."""
    venv_bin = str(Path(sys.prefix) / "bin")
    path = os.pathsep.join(
        entry
        for entry in os.environ.get("PATH", os.defpath).split(os.pathsep)
        if entry and (sys.prefix == sys.base_prefix or entry != venv_bin)
    )
    return {"PATH": path, "HOME": os.environ.get("HOME", str(Path.home()))}


def git_files() -> list[str]:
    git = shutil.which("git")
    if git is None:
        pytest.fail("git is needed to list the repository's files", pytrace=False)
    listed: list[str] = []
    for extra in ([], ["--others", "--exclude-standard"]):
        out = subprocess.run(
            [git, "ls-files", "-z", *extra], cwd=REPO, check=True, capture_output=True
        ).stdout
        listed += [name for name in out.decode("utf-8").split("\0") if name]
    return listed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - http://127.0.0.1
        return response.status, response.read().decode("utf-8")


@dataclass(frozen=True)
class Run:
    """What one `make run` did before it was stopped."""

    output: str
    checkpoint: str
    keys: str
    entries_status: int
    openapi_status: int
    port: int


def make_run(copy: Path, log_name: str) -> Run:
    """Start `make run`, wait for the checkpoint, read a few URLs, then stop everything."""
    make = require("make")
    port = free_port()
    log_file = copy / log_name
    base = f"http://127.0.0.1:{port}/api/v1"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [make, "run", "HOST=127.0.0.1", f"PORT={port}"],
            cwd=copy,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            checkpoint = wait_for_checkpoint(process, f"{base}/log/checkpoint", log_file)
            _, keys = fetch(f"{base}/log/keys")
            entries_status, _ = fetch(f"{base}/log/entries")
            openapi_status, _ = fetch(f"{base}/openapi.json")
        finally:
            stop_group(process)
    assert not listening(port), f"something still listens on port {port} after the stop"
    return Run(
        log_file.read_text(encoding="utf-8", errors="replace"),
        checkpoint,
        keys,
        entries_status,
        openapi_status,
        port,
    )


def wait_for_checkpoint(process: subprocess.Popen[bytes], url: str, log_file: Path) -> str:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_file.read_text(encoding="utf-8", errors="replace")[-3000:]
            pytest.fail(f"`make run` exited with {process.returncode}:\n{tail}", pytrace=False)
        try:
            status, body = fetch(url)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
            continue
        if status == 200:
            return body
    tail = log_file.read_text(encoding="utf-8", errors="replace")[-3000:]
    pytest.fail(f"{url} did not answer within {READY_TIMEOUT:.0f} s:\n{tail}", pytrace=False)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to make, gunicorn and its workers; SIGKILL whatever is left after a while."""
    group = process.pid
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and group_alive(group):
        process.poll()
        time.sleep(0.2)
    if group_alive(group):
        os.killpg(group, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT)


def group_alive(group: int) -> bool:
    """Whether a process of the group still runs (zombies waiting to be reaped do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state != "Z":
            return True
    return False


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("python3")
    require("make")
    target = tmp_path_factory.mktemp("fresh-checkout")
    for name in git_files():
        source = REPO / name
        if not source.is_file():
            continue  # deleted in the work tree but still in the index
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)
    assert (target / "Makefile").is_file() and (target / "README.md").is_file()
    assert not (target / ".venv").exists() and not (target / "instance").exists()
    return target


@pytest.fixture(scope="module")
def first_run(copy: Path) -> Iterator[Run]:
    yield make_run(copy, "make-run-1.log")


def verifier_key(keys_json: str) -> VerifierKey:
    (only,) = json.loads(keys_json)["keys"]
    return VerifierKey.parse(only["verifier_key"])


def test_make_run_serves_a_fresh_ledger(first_run: Run, copy: Path) -> None:
    origin, size, *_ = first_run.checkpoint.split("\n")
    assert (origin, size) == (DEFAULT_ORIGIN, "1")
    checkpoint = verify_checkpoint(first_run.checkpoint, verifier_key(first_run.keys))
    assert checkpoint.size == 1

    assert f"genesis created: origin {DEFAULT_ORIGIN}" in first_run.output
    for path in ("/api/v1/log/checkpoint", "/api/v1/log/entries", "/api/v1/openapi.json"):
        assert f"http://127.0.0.1:{first_run.port}{path}" in first_run.output
    assert first_run.entries_status == first_run.openapi_status == 200

    assert (copy / "instance" / "ledger.sqlite3").is_file()
    assert (copy / "instance" / "signing-key.pem").is_file()
    assert (copy / ".venv" / "bin" / "ledger").is_file()


def test_make_run_again_keeps_the_ledger(first_run: Run, copy: Path) -> None:
    venv_stamp = (copy / ".venv" / ".installed-stamp").stat().st_mtime
    key_file = (copy / "instance" / "signing-key.pem").read_bytes()

    second = make_run(copy, "make-run-2.log")

    assert f"genesis already present: origin {DEFAULT_ORIGIN}" in second.output
    assert "genesis created" not in second.output
    assert second.keys == first_run.keys
    assert second.checkpoint.split("\n")[:3] == first_run.checkpoint.split("\n")[:3]
    assert (copy / "instance" / "signing-key.pem").read_bytes() == key_file
    assert (copy / ".venv" / ".installed-stamp").stat().st_mtime == venv_stamp
