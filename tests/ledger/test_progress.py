"""Long commands show a progress bar on a terminal, and nothing of it elsewhere."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ledger.db import Database
from ledger.keys import SigningKey

AppendNotes = Callable[..., None]


def run_ledger(args: list[str], env: dict[str, str], terminal: bool) -> tuple[int, str, str]:
    """Run the real `ledger` command, its standard error on a pseudo-terminal if asked."""
    command = [sys.executable, "-c", "from ledger.cli import main; main()", *args]
    full_env = {**os.environ, **env, "COLUMNS": "100"}
    if not terminal:
        done = subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    try:
        with subprocess.Popen(
            command, env=full_env, stdout=subprocess.PIPE, stderr=follower, text=True
        ) as process:
            os.close(follower)
            stdout, _ = process.communicate(timeout=120)
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the terminal closed with the process
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return process.returncode, stdout, b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(leader)


def test_verify_and_export_draw_a_bar_on_a_terminal(
    ledger: Database,
    signer: SigningKey,
    append_notes: AppendNotes,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    append_notes(ledger, signer, 30, batch=10)
    code, stdout, terminal = run_ledger(["verify"], env, terminal=True)
    assert code == 0, terminal
    assert "OK: database verified: 31 entries" in stdout
    assert "verifying" in terminal and "100%" in terminal

    export = tmp_path / "export.jsonl"
    code, _, terminal = run_ledger(["export", str(export)], env, terminal=True)
    assert code == 0, terminal
    assert "exporting" in terminal and "100%" in terminal


def test_no_bar_when_standard_error_is_not_a_terminal(
    ledger: Database, signer: SigningKey, append_notes: AppendNotes, env: dict[str, str]
) -> None:
    append_notes(ledger, signer, 5)
    code, stdout, stderr = run_ledger(["verify"], env, terminal=False)
    assert code == 0
    assert stderr == ""
    assert stdout.startswith("OK: database verified: 6 entries")
