"""Forked and rolled-back logs, each caught by a monitor that saw the other version.

A fork is two copies of one ledger (its rows, its signing key, its instance folder)
grown apart from a common prefix, each served on its own port: a split view that a
single honest-looking server could show to different people. A rollback is a copy of
the database from before, served after the monitor saw more.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from support import live as support_live
from support.cli import ok
from support.live import alarm, cloned, head, served

from audit.log_client import LogClient, LogUnavailableError, ServedEntry
from audit.monitor import (
    BadEntryAlarm,
    ForkAlarm,
    InconsistentAlarm,
    Monitor,
    MonitorAlarm,
    RollbackAlarm,
)
from ledger import log, merkle
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.db import Database
from ledger.entries import ZERO_HASH_HEX, Entry, encode_entry
from ledger.keys import SigningKey
from ledger.merkle import MemoryTree
from ledger.settings import Settings

AppendNotes = Callable[..., None]


@pytest.fixture
def outsider(tmp_path: Path) -> CliRunner:
    return support_live.outsider(tmp_path)


@pytest.fixture
def copy(ledger: Database, settings: Settings, tmp_path: Path) -> Iterator[Database]:
    """A copy of the ledger as it is when the fixture runs: the common prefix."""
    with cloned(settings, tmp_path / "copy") as other:
        database = Database(other.database_url)
        try:
            yield database
        finally:
            database.dispose()


def note(db: Database) -> str:
    with db.session() as session:
        return log.latest_checkpoint(session).note


def monitor(runner: CliRunner, url: str, signer: SigningKey, state: Path, *more: str) -> Result:
    return support_live.monitor(runner, url, signer.verifier, state, *more)


def test_the_copy_is_the_same_log_until_it_grows(
    ledger: Database, copy: Database, signer: SigningKey, append_notes: AppendNotes
) -> None:
    assert head(copy) == head(ledger)
    append_notes(copy, signer, 2, actor="other-branch")
    append_notes(ledger, signer, 2)
    assert head(copy)[0] == head(ledger)[0] == 3
    assert head(copy)[1] != head(ledger)[1]


def test_a_fork_at_the_same_size_and_then_beyond_it_is_caught(
    ledger: Database,
    settings: Settings,
    signer: SigningKey,
    append_notes: AppendNotes,
    outsider: CliRunner,
    tmp_path: Path,
) -> None:
    append_notes(ledger, signer, 3, batch=3)
    with cloned(settings, tmp_path / "fork") as fork_settings:
        fork = Database(fork_settings.database_url)
        try:
            append_notes(ledger, signer, 3)
            append_notes(fork, signer, 3, batch=3, actor="other-branch")
            size, root = head(ledger)
            fork_size, fork_root = head(fork)
            assert size == fork_size == 7 and root != fork_root
            state = tmp_path / "state.json"
            with served(settings) as (url, _), served(fork_settings) as (fork_url, _):
                ok(monitor(outsider, url, signer, state, "--entries"))
                before = state.read_bytes()

                line = alarm(monitor(outsider, fork_url, signer, state), 6, "FORK")
                assert line == (
                    f"ALARM FORK: the log signs size 7 with root {fork_root}, but this "
                    f"monitor verified size 7 root {root}: two different trees of one size"
                )
                assert state.read_bytes() == before

                append_notes(fork, signer, 2, actor="other-branch")
                _size, fork_root = head(fork)
                line = alarm(monitor(outsider, fork_url, signer, state), 7, "INCONSISTENT")
                assert line.startswith(
                    f"ALARM INCONSISTENT: the log's size 9 root {fork_root} does not extend "
                    f"size 7 root {root} seen before: "
                )
                assert state.read_bytes() == before

                # The honest copy still passes, and so would the fork for a monitor
                # that had only ever seen the fork: each view alone looks consistent.
                append_notes(ledger, signer, 3, batch=3)
                assert ok(monitor(outsider, url, signer, state, "--entries")).startswith(
                    "OK size 10 "
                )
                other = tmp_path / "other-state.json"
                ok(monitor(outsider, fork_url, signer, other, "--entries"))
                alarm(monitor(outsider, url, signer, other), 7, "INCONSISTENT")
        finally:
            fork.dispose()


def test_a_rollback_to_a_state_the_monitor_saw_is_caught(
    ledger: Database,
    settings: Settings,
    signer: SigningKey,
    append_notes: AppendNotes,
    outsider: CliRunner,
    tmp_path: Path,
) -> None:
    append_notes(ledger, signer, 3, batch=3)
    state = tmp_path / "state.json"
    with served(settings) as (url, _):
        ok(monitor(outsider, url, signer, state))
    old_size, old_root = head(ledger)
    with cloned(settings, tmp_path / "backup") as backup:
        append_notes(ledger, signer, 3)
        size, root = head(ledger)
        with served(settings) as (url, _):
            ok(monitor(outsider, url, signer, state, "--entries"))
        before = state.read_bytes()
        # The operator restores last week's backup over the live database.
        with served(backup) as (backup_url, _):
            line = alarm(monitor(outsider, backup_url, signer, state, "--entries"), 5, "ROLLBACK")
    assert line == (
        f"ALARM ROLLBACK: the log signs size {old_size} root {old_root}, smaller than size "
        f"{size} root {root} that it signed before; size {old_size} has the root this "
        "monitor verified before (an older state)"
    )
    assert state.read_bytes() == before


def test_a_rollback_that_is_also_a_fork_is_named_so(
    ledger: Database,
    settings: Settings,
    signer: SigningKey,
    append_notes: AppendNotes,
    outsider: CliRunner,
    tmp_path: Path,
) -> None:
    """The backup is restored and then written to: at size 5 it differs from what was seen."""
    append_notes(ledger, signer, 3, batch=3)
    state = tmp_path / "state.json"
    with cloned(settings, tmp_path / "backup") as backup_settings:
        backup = Database(backup_settings.database_url)
        try:
            with served(settings) as (url, _):
                append_notes(ledger, signer, 1)
                ok(monitor(outsider, url, signer, state))
                seen_root = head(ledger)[1]
                append_notes(ledger, signer, 3)
                ok(monitor(outsider, url, signer, state))
            append_notes(backup, signer, 1, actor="after-restore")
            size, root = head(backup)
        finally:
            backup.dispose()
        with served(backup_settings) as (backup_url, _):
            line = alarm(monitor(outsider, backup_url, signer, state), 5, "ROLLBACK")
    assert line.startswith(f"ALARM ROLLBACK: the log signs size {size} root {root}, smaller ")
    assert line.endswith(
        f"it is also a fork: this monitor verified size {size} with root {seen_root}"
    )
    assert json.loads(state.read_text())["checkpoint"]["size"] == 8


@pytest.mark.parametrize(
    ("grown", "detail"),
    [
        (0, "the server cannot prove size 3 a prefix of size 9"),
        (6, "it is also a fork: size 3 is not a prefix of size 9"),
    ],
)
def test_a_rollback_below_anything_remembered_asks_the_server_for_a_proof(
    ledger: Database,
    settings: Settings,
    signer: SigningKey,
    append_notes: AppendNotes,
    outsider: CliRunner,
    tmp_path: Path,
    grown: int,
    detail: str,
) -> None:
    """A restored backup cannot prove its old tree a prefix of the one seen; a server that
    grew apart since, while still showing the old checkpoint, fails to."""
    append_notes(ledger, signer, 2)
    old_size, old_root = head(ledger)
    old_note = note(ledger)
    state = tmp_path / "state.json"
    with cloned(settings, tmp_path / "backup") as backup_settings:
        backup = Database(backup_settings.database_url)
        try:
            append_notes(ledger, signer, 6, batch=6)
            append_notes(backup, signer, grown, batch=6, actor="after-restore")
            with served(settings) as (url, _):
                ok(monitor(outsider, url, signer, state))  # only ever saw size 9
        finally:
            backup.dispose()
        with served(backup_settings) as (backup_url, tamper):
            tamper.rewrites["/api/v1/log/checkpoint"] = lambda _body: old_note.encode()
            line = alarm(monitor(outsider, backup_url, signer, state), 5, "ROLLBACK")
    assert line.startswith(f"ALARM ROLLBACK: the log signs size {old_size} root {old_root}, ")
    assert line.endswith(detail)


def test_a_stale_checkpoint_of_the_same_log_is_a_rollback_proven_harmless(
    ledger: Database,
    settings: Settings,
    signer: SigningKey,
    append_notes: AppendNotes,
    outsider: CliRunner,
    tmp_path: Path,
) -> None:
    """A cache that serves an old checkpoint: still an alarm, but not a fork."""
    append_notes(ledger, signer, 2)
    old_note = note(ledger)
    append_notes(ledger, signer, 6, batch=6)
    state = tmp_path / "state.json"
    with served(settings) as (url, tamper):
        ok(monitor(outsider, url, signer, state))
        tamper.rewrites["/api/v1/log/checkpoint"] = lambda _body: old_note.encode()
        line = alarm(monitor(outsider, url, signer, state), 5, "ROLLBACK")
    assert line.endswith("the server proves size 3 a prefix of size 9 (a stale checkpoint)")


# --- every size: the monitor's core against logs in memory -----------------------------

KEY = SigningKey.generate("memory.example/log")
MOMENT = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


class MemoryLog(LogClient):
    """A log held in memory and answered through the client's methods: no HTTP, so that
    Hypothesis can try many sizes; the HTTP path is what the tests above exercise."""

    def __init__(self, leaves: list[Entry]) -> None:
        super().__init__("http://memory.invalid")
        self.leaves = leaves
        self.lies: dict[int, Entry] = {}

    def tree(self, size: int) -> MemoryTree:
        if size > len(self.leaves):
            raise LogUnavailableError(f"tree size {size} is beyond the log", status=404)
        return MemoryTree(entry.leaf_hash for entry in self.leaves[:size])

    def checkpoint(self) -> bytes:
        size = len(self.leaves)
        return sign_checkpoint(Checkpoint(KEY.name, size, self.tree(size).root()), KEY).encode()

    def entries(self, start: int, limit: int) -> list[ServedEntry]:
        served = [self.lies.get(e.index, e) for e in self.leaves[start : start + limit]]
        return [ServedEntry(e.index, e.leaf, e.leaf_hash.hex(), json.loads(e.leaf)) for e in served]

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return merkle.consistency_proof(first, second, self.tree(second))


def grown(leaves: list[Entry], count: int, actor: str) -> list[Entry]:
    """``leaves`` plus ``count`` notes by ``actor``: branches by different actors differ."""
    result = list(leaves)
    for _ in range(count):
        last = result[-1]
        index = last.index + 1
        prev = last.leaf_hash.hex()
        result.append(
            encode_entry(
                index=index, kind="note", time=MOMENT, prev=prev, actor=actor, body={"n": index}
            )
        )
    return result


GENESIS_ENTRY = encode_entry(
    index=0,
    kind="genesis",
    time=MOMENT,
    prev=ZERO_HASH_HEX,
    actor="ledger-init",
    body={"origin": KEY.name, "verifier_key": str(KEY.verifier), "name": "Quỹ phòng, chống dịch"},
)


@given(
    prefix=st.integers(1, 40),
    ours=st.integers(0, 20),
    theirs=st.integers(0, 20),
    later=st.integers(0, 20),
    entries=st.booleans(),
    page=st.integers(1, 9),
)
@hypothesis_settings(max_examples=60, deadline=None)
def test_whatever_the_sizes_the_other_branch_alarms_and_our_own_passes(
    prefix: int, ours: int, theirs: int, later: int, entries: bool, page: int
) -> None:
    common = grown([GENESIS_ENTRY], prefix - 1, "common")
    mine, other = grown(common, ours, "branch-a"), grown(common, theirs, "branch-b")

    def monitor_of(leaves: list[Entry]) -> Monitor:
        return Monitor(MemoryLog(leaves), [KEY.verifier], check_entries=entries, page_size=page)

    state = monitor_of(mine).check(None).state
    expected: type[MonitorAlarm] | None = None
    if theirs < ours:
        expected = RollbackAlarm
    elif ours and theirs == ours:
        expected = ForkAlarm
    elif ours and theirs > ours:
        expected = InconsistentAlarm
    if expected is None:
        report = monitor_of(other).check(state)
        assert (report.state.size, report.entries_checked) == (
            prefix + theirs,
            theirs if entries else None,
        )
    else:
        with pytest.raises(expected):
            monitor_of(other).check(state)

    report = monitor_of(grown(mine, later, "branch-a")).check(state)
    assert report.state.size == prefix + ours + later
    assert report.entries_checked == (later if entries else None)
    assert report.state.history[-1] == (state.size, state.root)


@given(seen=st.integers(1, 30), new=st.integers(1, 30), data=st.data())
@hypothesis_settings(max_examples=40, deadline=None)
def test_any_new_entry_served_altered_is_caught_and_named(
    seen: int, new: int, data: st.DataObject
) -> None:
    leaves = grown([GENESIS_ENTRY], seen - 1, "tester")
    state = Monitor(MemoryLog(leaves), [KEY.verifier], check_entries=True).check(None).state
    log_now = MemoryLog(grown(leaves, new, "tester"))
    target = data.draw(st.integers(seen, seen + new - 1), label="target")
    honest = log_now.leaves[target]
    log_now.lies[target] = encode_entry(
        index=target, kind="note", time=MOMENT, prev=honest.prev, actor="Tester", body=honest.body
    )
    size = seen + new
    with pytest.raises(BadEntryAlarm) as caught:
        Monitor(log_now, [KEY.verifier], check_entries=True, page_size=7).check(state)
    if target + 1 < size:
        assert caught.value.message.startswith(f"entry {target + 1}: prev ")
    else:
        assert caught.value.message.startswith(f"entries 0..{size - 1} hash to root ")
