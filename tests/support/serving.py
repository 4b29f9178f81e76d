"""`ledger serve` as production runs it (gunicorn, several workers), and clients that write to it.

``Server.start`` runs ``ledger serve`` in a process group of its own, so that
``kill()`` can SIGKILL the master and every worker at once, as the OOM killer or a
crashing container does: no worker gets to finish its request.
``call`` is one HTTP request that reports an answer, or why there was none.
``WriteStream`` is several writers recording gifts at once, each request with its
own ``Idempotency-Key``, remembering which were acknowledged with which index.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ledger.db import Database
from ledger.funds.models import ContributionRow, IdempotencyRow, PostingRow

LEDGER = str(Path(sys.executable).with_name("ledger"))
API = "/api/v1"
START_SECONDS = 60  # a loaded machine takes several seconds to import the app twice


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- one request -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What came back: a status and a JSON body, or ``failure`` naming why nothing did."""

    status: int | None
    headers: Mapping[str, str]
    body: Any
    seconds: float
    failure: str | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def replayed(self) -> bool:
        return self.headers.get("Idempotency-Replayed") == "true"


def call(
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    key: str | None = None,
    data: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 30,
) -> Answer:
    """GET ``url``, or POST ``body`` as JSON (or ``data`` as is) to it."""
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
    if data is not None:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url, data=data, headers=headers, method="GET" if data is None else "POST"
    )
    started = time.monotonic()
    try:
        status, answer_headers, raw = _send(request, timeout)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        # Refused, reset, cut off mid-answer or timed out: no answer to rely on.
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        return Answer(None, {}, None, time.monotonic() - started, type(reason).__name__)
    seconds = time.monotonic() - started
    content_type = answer_headers.get("Content-Type", "")
    parsed = json.loads(raw) if content_type.startswith("application/json") else raw
    return Answer(int(status), dict(answer_headers.items()), parsed, seconds)


def _send(request: urllib.request.Request, timeout: float) -> tuple[int, Message, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), response.headers, response.read()
    except urllib.error.HTTPError as err:  # 4xx and 5xx: an answer all the same
        return err.code, err.headers, err.read()


# -- the server ------------------------------------------------------------------------


@dataclass
class Server:
    """A running ``ledger serve``; ``base`` is its URL."""

    process: subprocess.Popen[bytes]
    base: str
    stdout: Path
    stderr: Path

    @classmethod
    def start(cls, env: Mapping[str, str], folder: Path, workers: int = 2) -> Server:
        """Serve the ledger of ``env``; returns once /healthz answers.

        gunicorn binds port 0 and says which port it got, so no other process can take
        the port between choosing it and binding it.
        """
        folder.mkdir(parents=True, exist_ok=True)
        stdout, stderr = folder / "stdout.log", folder / "stderr.log"
        with stdout.open("ab") as out, stderr.open("ab") as err:
            process = subprocess.Popen(
                [LEDGER, "serve", "--port", "0", "--workers", str(workers)],
                env={**os.environ, "LEDGER_RATELIMIT_ENABLED": "false", **env},
                stdout=out,
                stderr=err,
                start_new_session=True,  # a process group of its own, for kill()
            )
        server = cls(process, "", stdout, stderr)
        deadline = time.monotonic() + START_SECONDS
        while not server.base or call(f"{server.base}/healthz", timeout=5).status != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise AssertionError(f"ledger serve did not start:\n{server.errors()}")
            server.base = server.base or server._listening_at()
            time.sleep(0.1)
        return server

    def _listening_at(self) -> str:
        """The URL gunicorn's master says it listens at, once it has said so."""
        said = f"({self.process.pid})"
        for line in self.stderr.read_text(errors="replace").splitlines():
            message = json.loads(line).get("message", "") if line.startswith("{") else ""
            if message.startswith("Listening at: ") and message.endswith(said):
                return str(message.split()[2])
        return ""

    def url(self, path: str) -> str:
        return f"{self.base}{API}/{path}"

    def errors(self) -> str:
        return self.stderr.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL the master and its workers together; returns once none of them runs."""
        group = self.process.pid
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.process.wait(30)
        deadline = time.monotonic() + 30
        while _running_in_group(group):
            assert time.monotonic() < deadline, f"process group {group} outlived SIGKILL"
            time.sleep(0.05)


def _running_in_group(group: int) -> list[int]:
    """The processes of ``group`` that have not exited (zombies have: their files are closed)."""
    running = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ")".
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state not in ("Z", "X"):
            running.append(int(entry.name))
    return running


@contextmanager
def serving(env: Mapping[str, str], folder: Path, workers: int = 2) -> Iterator[Server]:
    """``Server.start``, killed at the end whatever happened, so no test leaves one behind."""
    server = Server.start(env, folder, workers)
    try:
        yield server
    finally:
        server.kill()


# -- writers -----------------------------------------------------------------------------


@dataclass
class Write:
    """One request of a stream: its key and body, and the answer once it came (or not)."""

    key: str
    body: dict[str, Any]
    answer: Answer | None = None

    @property
    def reference(self) -> str:
        reference: str = self.body["reference"]
        return reference

    @property
    def acknowledged(self) -> bool:
        return self.answer is not None and self.answer.status == 201


def gift(fund: str, reference: str, amount: int) -> dict[str, Any]:
    """A bank gift whose ``reference`` tells it apart from every other in the log."""
    return {
        "fund": fund,
        "amount": amount,
        "channel": "bank",
        "reference": reference,
        "donor": {"display": "Nguyễn Thị Lan", "type": "individual"},
    }


@dataclass
class WriteStream:
    """``writers`` threads recording gifts to ``fund`` back to back, until stopped.

    A writer stops by itself at its first request that got no answer at all (the
    server is gone); 4xx and 5xx answers are kept and the writer goes on.
    """

    url: str
    token: str
    fund: str
    writers: int = 4
    timeout: float = 30
    writes: list[Write] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> WriteStream:
        for number in range(self.writers):
            thread = threading.Thread(target=self._write, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _write(self, number: int) -> None:
        sequence = 0
        while not self._stop.is_set():
            reference = f"w{number}-{sequence}"
            write = Write(f"{reference}-key", gift(self.fund, reference, 100_000 + sequence))
            with self._lock:
                self.writes.append(write)
            write.answer = call(
                self.url, write.body, token=self.token, key=write.key, timeout=self.timeout
            )
            if not write.answer.answered:
                return
            sequence += 1

    def wait_until(self, condition: Callable[[list[Write]], bool], seconds: float) -> None:
        """Block until ``condition(answered writes)`` holds; fail after ``seconds``."""
        deadline = time.monotonic() + seconds
        while not condition(self.answered()):
            if time.monotonic() > deadline:
                statuses = [w.answer.status for w in self.answered() if w.answer]
                raise AssertionError(f"still waiting after {seconds}s; answers: {statuses}")
            if not any(thread.is_alive() for thread in self._threads):
                raise AssertionError("every writer stopped: the server stopped answering")
            time.sleep(0.02)

    def answered(self) -> list[Write]:
        with self._lock:
            return [write for write in self.writes if write.answer is not None]

    def join(self, seconds: float = 60) -> list[Write]:
        """Wait for every writer to stop by itself; every write sent, with its answer."""
        deadline = time.monotonic() + seconds
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
            assert not thread.is_alive(), "a writer is still waiting for an answer"
        return list(self.writes)

    def stop(self, seconds: float = 60) -> list[Write]:
        self._stop.set()
        return self.join(seconds)


# -- what the public log shows --------------------------------------------------------------


def public_log(server: Server) -> list[dict[str, Any]]:
    """Every entry the public API serves, page by page, in index order."""
    found: list[dict[str, Any]] = []
    start: int | None = 0
    while start is not None:
        page = call(server.url(f"log/entries?start={start}&limit=1000"))
        assert page.status == 200, page
        found += page.body["entries"]
        start = page.body["next"]
    return found


def gift_references(entries: list[dict[str, Any]]) -> Counter[str]:
    """How many times each bank reference was recorded as a gift in ``entries``."""
    return Counter(
        entry["entry"]["body"].get("reference")
        for entry in entries
        if entry["entry"]["kind"] == "contribution"
    )


def assert_acknowledged_in_log(entries: list[dict[str, Any]], writes: list[Write]) -> None:
    """Each write answered 201 is at the index it was told, with the receipt it was told."""
    for write in writes:
        if not write.acknowledged:
            continue
        assert write.answer is not None
        told = write.answer.body
        held = entries[told["index"]]
        assert held["index"] == told["index"]
        assert held["leaf_hash"] == told["leaf_hash"], write.reference
        assert held["entry"]["body"]["receipt_id"] == told["receipt_id"], write.reference
        assert held["entry"]["body"]["reference"] == write.reference


def assert_nothing_half_written(db: Database, entries: list[dict[str, Any]]) -> None:
    """The log is contiguous, and every gift row and stored answer belongs to an entry in it.

    A gift's projection row, its postings and its idempotency answer are written in the
    transaction of its entry; a row without its entry (or an entry without its row) is
    what a torn write would leave.
    """
    assert [entry["index"] for entry in entries] == list(range(len(entries)))
    gifts = {entry["index"] for entry in entries if entry["entry"]["kind"] == "contribution"}
    with db.session() as session:
        assert set(session.scalars(select(ContributionRow.entry_index))) == gifts
        posted = set(session.scalars(select(PostingRow.entry_index)))
        assert posted <= {entry["index"] for entry in entries}
        for stored in session.scalars(select(IdempotencyRow)):
            answer = json.loads(stored.response)
            if "leaf_hash" in answer:
                assert entries[answer["index"]]["leaf_hash"] == answer["leaf_hash"]


def retry(server: Server, token: str, writes: list[Write]) -> list[tuple[Write, Answer]]:
    """Send each write again with its own Idempotency-Key, as a writer left unanswered would."""
    return [
        (write, call(server.url("contributions"), write.body, token=token, key=write.key))
        for write in writes
    ]
