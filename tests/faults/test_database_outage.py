"""PostgreSQL goes away under load: 503 with Retry-After, nothing half-written, then service.

The app reaches PostgreSQL through a TCP forwarder the test controls (stopping the
machine's cluster would fail every other test running against it). Writers record
gifts back to back while the forwarder plays two outages:

* *stopped*: every open connection is closed and new ones are refused, as when
  PostgreSQL is stopped or restarted;
* *unreachable*: open connections are closed and new ones are accepted but never
  answered, as when the database host drops off the network.

In both, every request gets an answer, and no later than the client's patience: 201
(the write was recorded) or 503 with ``Retry-After``, never a 500 and never a hang.
Once the forwarder is restored, writes succeed again without restarting the server;
the log verifies, every 201 is in it, and every 503 retried with its Idempotency-Key
ends up in the log exactly once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url
from support.cli import ok
from support.serving import (
    Answer,
    Server,
    Write,
    WriteStream,
    assert_acknowledged_in_log,
    assert_nothing_half_written,
    call,
    free_port,
    gift_references,
    public_log,
    retry,
    serving,
)

from ledger.cli import main
from ledger.settings import Settings

pytestmark = pytest.mark.postgresql_only

WRITERS = 4
# Longest a request may take during an outage: the app gives up connecting after its
# connect timeout, and a request may wait behind another one for a worker.
PATIENCE = 25
WRITES_AFTER_RESTORE = 10


class Forwarder:
    """127.0.0.1:``port`` forwarded to PostgreSQL, until the test plays an outage."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.mode = "up"
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._held: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._listen()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                if self.mode == "unreachable":
                    self._held.append(client)  # accepted, never answered
                    continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            _close(end)
            with self._lock:
                self._open.discard(end)

    def _cut_open_connections(self) -> None:
        with self._lock:
            ends, self._open = list(self._open), set()
        for end in ends:
            _close(end)

    def stop_database(self) -> None:
        """As PostgreSQL stopping: connections closed, new ones refused."""
        self.mode = "stopped"
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._accepting is not None:
            self._accepting.join()  # its last accept() holds the port until it returns
        self._cut_open_connections()

    def make_unreachable(self) -> None:
        """As a host gone from the network: connections closed, new ones never answered."""
        self.mode = "unreachable"
        self._cut_open_connections()

    def restore(self) -> None:
        with self._lock:
            self.mode = "up"
        self._release_held()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.stop_database()
        self._release_held()

    def _release_held(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for end in held:
            _close(end)


def _close(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading it
    end.close()


def statuses(writes: list[Write]) -> list[int | None]:
    return [w.answer.status for w in writes if w.answer is not None]


def assert_unavailable(answer: Answer) -> None:
    """A 503 a client knows to retry: JSON error ``unavailable``, Retry-After, never cached."""
    assert answer.status == 503, answer
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.body["error"]["code"] == "unavailable", answer.body


def play(
    server: Server,
    stream: WriteStream,
    outage: Callable[[], None],
    restore: Callable[[], None],
    refusals: int,
    health: bool,
) -> None:
    """One outage under load: ``refusals`` 503s (and the health answers) while it lasts,
    then writes succeed again."""
    refused = statuses(stream.answered()).count(503)
    acknowledged = statuses(stream.answered()).count(201)
    outage()
    stream.wait_until(
        lambda answered: statuses(answered).count(503) >= refused + refusals, seconds=60
    )
    if health:
        assert call(f"{server.base}/healthz", timeout=PATIENCE).status == 200  # not restarted
        ready = call(f"{server.base}/readyz", timeout=PATIENCE)
        assert ready.status == 503 and ready.headers["Retry-After"] == "5"
        assert_unavailable(call(server.url("log/checkpoint"), timeout=PATIENCE))
    restore()
    stream.wait_until(
        lambda answered: statuses(answered).count(201) >= acknowledged + WRITES_AFTER_RESTORE,
        seconds=60,
    )
    assert call(f"{server.base}/readyz", timeout=PATIENCE).status == 200


def test_an_outage_answers_503_with_retry_after_and_service_resumes_by_itself(
    funds: Any,
    admin: str,
    env: dict[str, str],
    settings: Settings,
    tmp_path: Path,
    runner: CliRunner,
) -> None:
    direct = make_url(settings.database_url)
    forwarder = Forwarder(direct.host or "127.0.0.1", direct.port or 5432)
    proxied = direct.set(host="127.0.0.1", port=forwarder.port)
    served = {**env, "LEDGER_DATABASE_URL": proxied.render_as_string(hide_password=False)}
    try:
        with serving(served, tmp_path / "server") as server:
            size_before = len(public_log(server))
            stream = WriteStream(
                server.url("contributions"), admin, funds.fund, WRITERS, timeout=PATIENCE
            ).start()
            stream.wait_until(lambda answered: statuses(answered).count(201) >= 10, seconds=60)
            play(server, stream, forwarder.stop_database, forwarder.restore, 8, health=True)
            play(server, stream, forwarder.make_unreachable, forwarder.restore, 4, health=False)
            writes = stream.stop()

            answers = [w.answer for w in writes]
            assert all(answer is not None and answer.answered for answer in answers), answers
            assert set(statuses(writes)) == {201, 503}
            for write in writes:
                assert write.answer is not None
                assert write.answer.seconds < PATIENCE
                if write.answer.status == 503:
                    assert_unavailable(write.answer)
            assert "WORKER TIMEOUT" not in server.stderr.read_text()  # no worker hung

            entries = public_log(server)
            acknowledged = [w for w in writes if w.acknowledged]
            assert_acknowledged_in_log(entries, acknowledged)
            assert_nothing_half_written(funds.db, entries)
            recorded = gift_references(entries)
            assert all(recorded[w.reference] <= 1 for w in writes)
            assert all(recorded[w.reference] == 1 for w in acknowledged)

            refused = [w for w in writes if not w.acknowledged]
            for write, answer in retry(server, admin, refused):
                assert answer.status == 201, answer
                # Replayed only if the outage cut the answer of a write that did commit.
                assert answer.replayed == (recorded[write.reference] == 1)
                write.answer = answer
            entries = public_log(server)
            assert_acknowledged_in_log(entries, writes)
            assert_nothing_half_written(funds.db, entries)
            recorded = gift_references(entries)
            assert all(recorded[w.reference] == 1 for w in writes)
            assert len(entries) == size_before + len(writes)
    finally:
        forwarder.close()
    output = ok(runner.invoke(main, ["verify"]))
    assert "balances of 3 fund(s) agree with the log" in output
