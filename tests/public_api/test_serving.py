"""`ledger serve` under gunicorn: JSON log lines that keep private data out, graceful stops."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.db import Database

LEDGER = str(Path(sys.executable).with_name("ledger"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
def served(ledger: Database, env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Any]]:
    port = _free_port()
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [LEDGER, "serve", "--port", str(port), "--workers", "2"],
            env={**os.environ, **env},
            stdout=stdout,
            stderr=stderr,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{base}/healthz") == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ledger serve did not start:\n{err.read_text()[-2000:]}")
            time.sleep(0.2)
        served = {"base": base, "process": process, "stdout": out, "stderr": err}
        try:
            yield served
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def test_access_lines_are_json_without_query_strings(served: dict[str, Any]) -> None:
    base = served["base"]
    assert _get(f"{base}/readyz") == 200
    assert _get(f"{base}/api/v1/contributions?donor=Nguy%E1%BB%85n%20V%C4%83n%20An") == 200
    assert _get(f"{base}/api/v1/log/entries/999") == 404
    served["process"].send_signal(signal.SIGTERM)
    assert served["process"].wait(30) == 0  # a graceful stop, not a kill
    lines = [json.loads(line) for line in served["stdout"].read_text().splitlines()]
    by_path = {line["path"]: line for line in lines if line.get("type") == "access"}
    assert by_path["/api/v1/contributions"]["status"] == 200
    assert by_path["/api/v1/log/entries/999"]["status"] == 404
    assert by_path["/readyz"]["method"] == "GET"
    assert all(line["duration_ms"] >= 0 for line in by_path.values())
    everything = served["stdout"].read_text() + served["stderr"].read_text()
    assert "Nguy" not in everything
    assert "donor=" not in everything


def test_error_lines_are_json_too(served: dict[str, Any]) -> None:
    served["process"].send_signal(signal.SIGTERM)
    served["process"].wait(30)
    errors = [json.loads(line) for line in served["stderr"].read_text().splitlines()]
    assert errors, "gunicorn says nothing on start and stop?"
    assert {"time", "level", "logger", "message"} <= errors[0].keys()
    assert any("Booting worker" in line["message"] for line in errors)


def _parent(stat: Path) -> int | None:
    try:  # the command name in parentheses may hold spaces: the fields after it do not
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):  # a process that ended while listed
        return None


def _socket_owners(server_port: int, client_ports: set[int], pids: list[int]) -> set[int]:
    """Which of ``pids`` hold the server's end of the connections from ``client_ports``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == server_port and (
            int(remote.split(":")[1], 16) in client_ports
        ):
            inodes.add(f"socket:[{inode}]")
    owners = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    owners.add(pid)
            except FileNotFoundError:  # closed while listed
                continue
    return owners


def test_a_burst_of_keep_alive_connections_is_spread_over_the_workers(
    served: dict[str, Any],
) -> None:
    # With one listening socket shared by the workers, the first to wake accepted the
    # whole burst, and that one process served every connection on one core.
    port = int(served["base"].rsplit(":", 1)[1])
    master = served["process"].pid
    workers = [
        int(stat.parent.name)
        for stat in Path("/proc").glob("[0-9]*/stat")
        if _parent(stat) == master
    ]
    assert len(workers) == 2
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
    try:
        for connection in connections:
            connection.connect()
        for connection in connections:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Connection", "keep-alive").lower() != "close"
        ports = {connection.sock.getsockname()[1] for connection in connections}
        # 16 connections hashed over 2 sockets all land on one with odds of 1 in 32,768.
        assert _socket_owners(port, ports, workers) == set(workers)
    finally:
        for connection in connections:
            connection.close()
