"""Many writers at once still make one chain: no gap, no repeated index, no fork.

Eight OS processes (each with its own engine and connections) and eight threads
sharing one ``Database`` append at the same moment; the append lock must serialise
them so that the result is a log that ``verify_database`` accepts.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from ledger import log
from ledger.db import Database
from ledger.entries import Draft
from ledger.integrity import verify_database
from ledger.keys import SigningKey
from ledger.models import CheckpointRow, EntryRow
from ledger.settings import Settings

WRITERS = 8
APPENDS = 25
PATTERN = [1, 1, 3, 1, 2]  # batch sizes, cycled: singles and batches interleave
ENTRIES_PER_WRITER = sum(PATTERN[i % len(PATTERN)] for i in range(APPENDS))

WORKER = f"""
import sys
from pathlib import Path

from ledger import log
from ledger.db import Database
from ledger.entries import Draft
from ledger.keys import SigningKey

url, key_file, origin, writer, go = sys.argv[1:]
pattern = {PATTERN!r}
signer = SigningKey.load(Path(key_file), origin)
db = Database(url)
print("ready", flush=True)
sys.stdin.readline()  # the starting gun: every writer begins at once
seq = 0
for number in range({APPENDS}):
    drafts = []
    for _ in range(pattern[number % len(pattern)]):
        drafts.append(Draft("note", {{"writer": writer, "seq": seq}}, "writer-" + writer))
        seq += 1
    with db.writing() as session:
        log.append(session, drafts, signer)
db.dispose()
print("done", seq, flush=True)
"""


def append_as_writer(db: Database, signer: SigningKey, writer: str) -> None:
    seq = 0
    for number in range(APPENDS):
        drafts = []
        for _ in range(PATTERN[number % len(PATTERN)]):
            drafts.append(Draft("note", {"writer": writer, "seq": seq}, f"writer-{writer}"))
            seq += 1
        with db.writing() as session:
            log.append(session, drafts, signer)


def check_one_chain(db: Database, signer: SigningKey, writers: list[str]) -> None:
    expected = 1 + len(writers) * ENTRIES_PER_WRITER
    with db.session() as session:
        indices = list(session.scalars(select(EntryRow.index).order_by(EntryRow.index)))
        checkpoints = session.scalar(select(func.count()).select_from(CheckpointRow))
        entries = log.entries(session, 0, expected + 1)
        summary = verify_database(session, signer.verifier)
    assert indices == list(range(expected))
    assert summary.size == expected
    assert checkpoints == summary.checkpoints == 1 + len(writers) * APPENDS
    # Each writer's entries appear exactly once and in the order it appended them.
    seen: dict[str, list[int]] = defaultdict(list)
    for entry in entries[1:]:
        seen[entry.body["writer"]].append(entry.body["seq"])
    assert seen == {writer: list(range(ENTRIES_PER_WRITER)) for writer in writers}


def test_eight_processes_appending_at_once_make_one_chain(
    ledger: Database, signer: SigningKey, settings: Settings
) -> None:
    writers = [str(number) for number in range(WRITERS)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                settings.database_url,
                str(settings.signing_key_file),
                settings.origin,
                writer,
                "go",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for writer in writers
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n", process.communicate()[1]
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == f"done {ENTRIES_PER_WRITER}"
    check_one_chain(ledger, signer, writers)


def test_eight_threads_sharing_one_database_make_one_chain(
    ledger: Database, signer: SigningKey
) -> None:
    writers = [f"t{number}" for number in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def run(writer: str) -> None:
        try:
            start.wait(timeout=30)
            append_as_writer(ledger, signer, writer)
        except BaseException as err:  # reported below, in the test's own thread
            failures.append(err)

    threads = [threading.Thread(target=run, args=(writer,)) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    check_one_chain(ledger, signer, writers)


def test_writers_see_each_others_head(
    ledger: Database, signer: SigningKey, append_notes: Callable[..., None], tmp_path: Path
) -> None:
    """Two Database objects on one ledger: the second writer continues the first's chain."""
    other = Database(ledger.url)
    try:
        append_notes(ledger, signer, 3)
        append_as_writer(other, signer, "other")
        append_notes(ledger, signer, 2, batch=2)
        with other.session() as session:
            summary = verify_database(session, signer.verifier)
    finally:
        other.dispose()
    assert summary.size == 1 + 3 + ENTRIES_PER_WRITER + 2
