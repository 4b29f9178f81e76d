"""kill -9 of the whole server while writers record gifts: nothing acknowledged is lost.

Six writers post gifts back to back to ``ledger serve`` (two gunicorn workers), each
request with its own Idempotency-Key. Once enough are acknowledged, the master and
both workers get SIGKILL together, in the middle of the stream: some requests are
being recorded, others wait in the listen queue. After a restart the log must verify,
hold every acknowledged gift at the index its writer was told, and have no entry
without its projection rows (or the reverse). A writer left without an answer sends
the same request again with the same key: it gets the first answer if the gift had
been recorded, or it is recorded now, and either way the gift is in the log once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support.cli import ok
from support.serving import (
    WriteStream,
    assert_acknowledged_in_log,
    assert_nothing_half_written,
    gift_references,
    public_log,
    retry,
    serving,
)

from ledger.cli import main

WRITERS = 6
ACKNOWLEDGED_BEFORE_KILL = 40


def verify(runner: CliRunner) -> str:
    output = ok(runner.invoke(main, ["verify"]))
    assert "balances of 3 fund(s) agree with the log" in output
    return output


def test_a_killed_server_loses_no_acknowledged_gift_and_leaves_none_half_written(
    funds: Any, admin: str, env: dict[str, str], tmp_path: Path, runner: CliRunner
) -> None:
    with serving(env, tmp_path / "before") as server:
        size_before = len(public_log(server))
        stream = WriteStream(server.url("contributions"), admin, funds.fund, WRITERS).start()
        stream.wait_until(
            lambda answered: sum(w.acknowledged for w in answered) >= ACKNOWLEDGED_BEFORE_KILL,
            seconds=60,
        )
        server.kill()
        writes = stream.join()

    acknowledged = [w for w in writes if w.acknowledged]
    unanswered = [w for w in writes if w.answer is not None and not w.answer.answered]
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    assert {w.answer.status for w in writes if w.answer and w.answer.answered} == {201}
    # Every writer lost its last request, and some were in flight: cut off, not refused.
    assert len(unanswered) == WRITERS
    assert any(w.answer and w.answer.failure != "ConnectionRefusedError" for w in unanswered)

    verify(runner)
    with serving(env, tmp_path / "after") as server:
        entries = public_log(server)
        assert_acknowledged_in_log(entries, acknowledged)
        assert_nothing_half_written(funds.db, entries)
        recorded = gift_references(entries)
        assert all(recorded[w.reference] == 1 for w in acknowledged)
        # Recorded before the kill, though the answer never reached the writer.
        committed_unanswered = {w.reference for w in unanswered if recorded[w.reference]}
        assert len(entries) == size_before + len(acknowledged) + len(committed_unanswered)

        retried = retry(server, admin, [*unanswered, *acknowledged[:5]])
        for write, answer in retried:
            assert answer.status == 201, (write.reference, answer)
            # The first answer if the gift was recorded before the kill, else recorded now.
            assert answer.replayed == (recorded[write.reference] == 1)
            if write.acknowledged:
                assert write.answer is not None and answer.body == write.answer.body
            write.answer = answer
        entries = public_log(server)
        assert_acknowledged_in_log(entries, writes)
        assert_nothing_half_written(funds.db, entries)
        recorded = gift_references(entries)
        assert all(recorded[w.reference] == 1 for w in writes)
        assert len(entries) == size_before + len(writes)
    verify(runner)
