"""The ``ledger`` command as an operator uses it: outputs, exit statuses, one-line errors."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pytest
from click.testing import CliRunner, Result

from ledger import cli, log
from ledger.checkpoint import verify_checkpoint
from ledger.cli import main
from ledger.db import Database, sqlite_path
from ledger.errors import ChainError
from ledger.keys import SigningKey, VerifierKey
from ledger.settings import Settings

OTHER_ORIGIN = "other.mttq.example/relief"


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert result.exception is None
    assert result.stderr == "", "nothing on standard error: no progress bar, no warning"
    return result.stdout


def fails_cleanly(result: Result, *mentions: str, exit_code: int = 1) -> str:
    """A non-zero exit with a short message, never a traceback."""
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message
    for word in mentions:
        assert word in message, message
    return message


def one_error_line(result: Result, *mentions: str) -> str:
    message = fails_cleanly(result, *mentions)
    assert message.startswith("error: ")
    assert "\n" not in message, message
    return message


def genesis_key(db: Database) -> VerifierKey:
    with db.session() as session:
        return log.key_periods(session)[0].verifier_key


def latest_note(db: Database) -> str:
    with db.session() as session:
        return log.latest_checkpoint(session).note


def test_init_writes_the_genesis_once(runner: CliRunner, settings: Settings, db: Database) -> None:
    first = ok(runner.invoke(main, ["init"]))
    assert f"genesis created: origin {settings.origin}" in first
    key_line = next(line for line in first.splitlines() if line.startswith("verifier key: "))
    key = VerifierKey.parse(key_line.removeprefix("verifier key: "))
    assert key.name == settings.origin
    assert settings.signing_key_file.exists()

    second = ok(runner.invoke(main, ["init"]))
    assert f"genesis already present: origin {settings.origin}" in second
    assert key_line in second.splitlines()
    with db.session() as session:
        assert log.tree_size(session) == 1
        assert str(log.current_key(session)) == str(key)
    assert verify_checkpoint(latest_note(db), key).size == 1


def test_init_refuses_another_origin(
    runner: CliRunner, env: dict[str, str], settings: Settings, db: Database
) -> None:
    ok(runner.invoke(main, ["init"]))
    result = runner.invoke(main, ["init"], env={**env, "LEDGER_ORIGIN": OTHER_ORIGIN})
    one_error_line(result, settings.origin, OTHER_ORIGIN)
    with db.session() as session:
        assert log.genesis(session).body["origin"] == settings.origin
        assert log.tree_size(session) == 1


def test_checkpoint_prints_exactly_the_latest_note(
    runner: CliRunner,
    ledger: Database,
    signer: SigningKey,
    append_notes: Callable[..., None],
) -> None:
    append_notes(ledger, signer, 4, batch=2)
    printed = ok(runner.invoke(main, ["checkpoint"]))
    assert printed == latest_note(ledger)
    assert verify_checkpoint(printed, signer.verifier).size == 5


def test_verify_prints_its_summary(
    runner: CliRunner,
    ledger: Database,
    signer: SigningKey,
    settings: Settings,
    append_notes: Callable[..., None],
) -> None:
    append_notes(ledger, signer, 6, batch=3)
    with ledger.session() as session:
        root = log.root(session, 7).hex()
    expected = [
        f"OK: database verified: 7 entries, 3 checkpoints, 1 key(s), origin {settings.origin}",
        f"root {root} at size 7",
        "balances of 0 fund(s) agree with the log",
    ]
    assert ok(runner.invoke(main, ["verify"])).splitlines() == expected
    trusted = str(genesis_key(ledger))
    assert ok(runner.invoke(main, ["verify", "--key", trusted])).splitlines() == expected


def test_verify_refuses_a_key_it_was_not_given(
    runner: CliRunner, ledger: Database, settings: Settings
) -> None:
    stranger = SigningKey.generate(settings.origin).verifier
    fails_cleanly(runner.invoke(main, ["verify", "--key", str(stranger)]))
    one_error_line(runner.invoke(main, ["verify", "--key", "not-a-key"]), "verifier key")


def test_keys_list_and_rotate(
    runner: CliRunner,
    ledger: Database,
    signer: SigningKey,
    settings: Settings,
    append_notes: Callable[..., None],
) -> None:
    append_notes(ledger, signer, 2)
    old = str(signer.verifier)
    assert ok(runner.invoke(main, ["keys", "list"])).splitlines() == [f"{old}  indices 0..now"]

    rotated = ok(runner.invoke(main, ["keys", "rotate"])).splitlines()
    assert rotated[0] == "key_rotation recorded at index 3"
    assert rotated[1] == f"old key: {old}"
    new = rotated[2].removeprefix("new key: ")
    assert VerifierKey.parse(new).name == settings.origin and new != old

    assert ok(runner.invoke(main, ["keys", "list"])).splitlines() == [
        f"{old}  indices 0..3",
        f"{new}  indices 4..now",
    ]
    with ledger.session() as session:
        assert log.entry(session, 3).body == {"old_key": old, "new_key": new}
        assert log.entry(session, 3).actor == "ledger-keys-rotate"
    # The log goes on under the new key, and still verifies from the genesis key.
    append_notes(ledger, SigningKey.load(settings.signing_key_file, settings.origin), 1)
    summary = ok(runner.invoke(main, ["verify", "--key", old]))
    assert "5 entries" in summary and "2 key(s)" in summary


def test_export_then_verify_export(
    runner: CliRunner,
    ledger: Database,
    signer: SigningKey,
    append_notes: Callable[..., None],
    tmp_path: Path,
) -> None:
    append_notes(ledger, signer, 5, batch=2)
    export = tmp_path / "ledger.jsonl"
    assert ok(runner.invoke(main, ["export", str(export)])) == f"exported 6 entries to {export}\n"
    lines = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert [line.get("index") for line in lines if line.get("type") == "entry"] == list(range(6))
    assert not list(tmp_path.glob("*.partial"))

    key = str(genesis_key(ledger))
    verified = ok(runner.invoke(main, ["verify-export", str(export), "--key", key]))
    assert verified.startswith("OK: export verified: 6 entries, 4 checkpoints, 1 key(s)")


def test_verify_export_on_a_missing_file_is_a_usage_error(
    runner: CliRunner, ledger: Database, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.jsonl"
    key = str(genesis_key(ledger))
    result = runner.invoke(main, ["verify-export", str(missing), "--key", key])
    message = fails_cleanly(result, "missing.jsonl", exit_code=2)
    assert "Usage: " in message and "Error: " in message


def test_verify_export_with_a_malformed_key(
    runner: CliRunner, ledger: Database, tmp_path: Path
) -> None:
    export = tmp_path / "ledger.jsonl"
    ok(runner.invoke(main, ["export", str(export)]))
    result = runner.invoke(main, ["verify-export", str(export), "--key", "nope+123+abc"])
    one_error_line(result, "key ID")
    fails_cleanly(runner.invoke(main, ["verify-export", str(export)]), "--key", exit_code=2)


def test_export_into_a_missing_folder_fails_cleanly(
    runner: CliRunner, ledger: Database, tmp_path: Path
) -> None:
    target = tmp_path / "no" / "such" / "folder" / "ledger.jsonl"
    one_error_line(runner.invoke(main, ["export", str(target)]), "No such file")


NEEDS_A_LEDGER = [
    ["checkpoint"],
    ["verify"],
    ["export", "{tmp}/ledger.jsonl"],
    ["keys", "list"],
    ["keys", "rotate"],
]


@pytest.mark.parametrize("touched", [False, True], ids=["never-opened", "empty"])
def test_every_command_needs_ledger_init_first(
    runner: CliRunner, settings: Settings, db: Database, tmp_path: Path, touched: bool
) -> None:
    if touched:
        with db.engine.connect():  # an empty SQLite file, or an empty PostgreSQL schema
            pass
    before = sorted(tmp_path.rglob("*"))
    for command in NEEDS_A_LEDGER:
        args = [arg.format(tmp=tmp_path) for arg in command]
        one_error_line(runner.invoke(main, args), "ledger init")
    assert sorted(tmp_path.rglob("*")) == before, "a failed command leaves no files behind"
    path = sqlite_path(settings.database_url)
    if path is not None and not touched:
        assert not path.exists()
    if path is not None and touched:
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
        conn.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("command", [["init"], ["checkpoint"], ["keys", "list"]])
def test_an_unreachable_database_is_one_line(
    runner: CliRunner, env: dict[str, str], command: list[str]
) -> None:
    url = f"postgresql+psycopg://ledger@127.0.0.1:{_closed_port()}/ledger"
    result = runner.invoke(main, command, env={**env, "LEDGER_DATABASE_URL": url})
    one_error_line(result, "database")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LEDGER_ORIGIN", "has a space"), ("LEDGER_MAX_PAGE_SIZE", "many")],
)
def test_bad_settings_are_one_line(
    runner: CliRunner, env: dict[str, str], variable: str, value: str
) -> None:
    result = runner.invoke(main, ["checkpoint"], env={**env, variable: value})
    one_error_line(result, variable)


def test_a_failed_export_leaves_no_partial_file(
    runner: CliRunner, ledger: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(session: object, out: TextIO, progress: object) -> int:
        out.write("{}\n")
        raise ChainError("tree node missing", index=0)

    monkeypatch.setattr(cli, "write_export", broken)
    target = tmp_path / "ledger.jsonl"
    one_error_line(runner.invoke(main, ["export", str(target)]), "index 0: tree node missing")
    assert list(tmp_path.glob("ledger.jsonl*")) == []
