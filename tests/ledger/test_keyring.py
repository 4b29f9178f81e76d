"""Key rotation: the log and the key file move together, and a crash never loses a key.

The contract: the first checkpoint covering a ``key_rotation`` entry is signed by the
old key, later ones by the new key, so a verifier trusting only the genesis key can
follow every rotation; every old key stays listed with the indices it signed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ledger import keyring, log
from ledger.checkpoint import verify_checkpoint
from ledger.cli import main
from ledger.db import Database
from ledger.entries import KEY_ROTATION, Draft
from ledger.errors import ConfigurationError, NoteError
from ledger.integrity import verify_database
from ledger.keyring import load_signer, rotate_key
from ledger.keys import SigningKey
from ledger.settings import Settings

AppendNotes = Callable[..., None]


def current_signer(db: Database, settings: Settings) -> SigningKey:
    with db.session() as session:
        return load_signer(settings.signing_key_file, session)


def key_files(settings: Settings) -> list[str]:
    folder = settings.signing_key_file.parent
    return sorted(path.name for path in folder.glob(settings.signing_key_file.name + "*"))


def checkpoint_note(db: Database, size: int) -> str:
    with db.session() as session:
        return log.checkpoint_covering(session, size - 1).note


def test_rotation_is_signed_by_the_old_key_and_the_next_append_by_the_new(
    ledger: Database, signer: SigningKey, settings: Settings, append_notes: AppendNotes
) -> None:
    append_notes(ledger, signer, 3, batch=3)
    rotation = rotate_key(ledger, settings.signing_key_file, "admin")

    assert rotation.index == 4
    assert rotation.old_key == signer.verifier
    assert rotation.new_key != signer.verifier
    with ledger.session() as session:
        entry = log.entry(session, 4)
        covering = log.checkpoint_covering(session, 4)
    assert entry.kind == KEY_ROTATION
    assert entry.actor == "admin"
    assert entry.body == {"old_key": str(signer.verifier), "new_key": str(rotation.new_key)}
    assert covering.tree_size == 5
    assert covering.note == rotation.checkpoint
    verify_checkpoint(covering.note, signer.verifier)
    with pytest.raises(NoteError):
        verify_checkpoint(covering.note, rotation.new_key)

    new = current_signer(ledger, settings)
    assert new.verifier == rotation.new_key
    append_notes(ledger, new, 2, batch=2)
    latest = checkpoint_note(ledger, 7)
    assert verify_checkpoint(latest, rotation.new_key).size == 7
    with pytest.raises(NoteError):
        verify_checkpoint(latest, signer.verifier)
    with pytest.raises(ConfigurationError, match="current key"), ledger.writing() as session:
        log.append(session, [Draft("note", {}, "tester")], signer)


def test_the_key_file_holds_the_new_key_and_the_old_one_is_retired(
    ledger: Database, signer: SigningKey, settings: Settings
) -> None:
    key_file = settings.signing_key_file
    rotation = rotate_key(ledger, key_file, "admin")
    retired = key_file.with_name(f"{key_file.name}.retired-{signer.verifier.key_id_hex}")
    assert key_files(settings) == sorted([key_file.name, retired.name])
    assert SigningKey.load(key_file, settings.origin).verifier == rotation.new_key
    assert SigningKey.load(retired, settings.origin).verifier == signer.verifier
    assert retired.stat().st_mode & 0o777 == 0o600
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_key_periods_list_the_indices_each_key_signed(
    ledger: Database, signer: SigningKey, settings: Settings, append_notes: AppendNotes
) -> None:
    append_notes(ledger, signer, 2)
    first = rotate_key(ledger, settings.signing_key_file, "admin")  # index 3
    append_notes(ledger, current_signer(ledger, settings), 4, batch=2)
    second = rotate_key(ledger, settings.signing_key_file, "admin")  # index 8
    append_notes(ledger, current_signer(ledger, settings), 1)
    with ledger.session() as session:
        periods = [
            (str(p.verifier_key), p.from_index, p.to_index) for p in log.key_periods(session)
        ]
        assert log.current_key(session) == second.new_key
    assert (first.index, second.index) == (3, 8)
    assert periods == [
        (str(signer.verifier), 0, 3),
        (str(first.new_key), 4, 8),
        (str(second.new_key), 9, None),
    ]


def test_the_head_names_the_last_entry_and_the_key_in_force(
    ledger: Database, signer: SigningKey, settings: Settings, append_notes: AppendNotes
) -> None:
    def head() -> log.Head:
        with ledger.session() as session:
            found = log.read_head(session)
            assert found.current_key() == log.current_key(session)
            return found

    assert (head().size, head().key) == (1, signer.verifier)  # genesis alone
    append_notes(ledger, signer, 3)
    rotation = rotate_key(ledger, settings.signing_key_file, "admin")  # index 4
    assert (head().size, head().key) == (5, rotation.new_key)
    append_notes(ledger, current_signer(ledger, settings), 2)
    found = head()
    assert (found.size, found.key) == (7, rotation.new_key)
    assert found.last is not None and (found.last.index, found.last.kind) == (6, "note")


def test_a_genesis_key_verifier_follows_two_rotations(
    ledger: Database, signer: SigningKey, settings: Settings, append_notes: AppendNotes
) -> None:
    append_notes(ledger, signer, 3, batch=2)
    rotate_key(ledger, settings.signing_key_file, "admin")
    append_notes(ledger, current_signer(ledger, settings), 3, batch=3)
    rotate_key(ledger, settings.signing_key_file, "admin")
    append_notes(ledger, current_signer(ledger, settings), 2)
    with ledger.session() as session:
        summary = verify_database(session, signer.verifier)
        keys = [str(p.verifier_key) for p in log.key_periods(session)]
    assert summary.size == 1 + 3 + 1 + 3 + 1 + 2
    assert summary.keys == keys
    assert len(set(keys)) == 3


def test_a_crash_after_the_commit_is_finished_by_the_next_load(
    ledger: Database, signer: SigningKey, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = settings.signing_key_file
    finish_swap = keyring._finish_swap
    crashes = []

    def crash_once(path: Path, retired: SigningKey) -> None:
        if not crashes:
            crashes.append(path)
            raise OSError("power lost")
        finish_swap(path, retired)

    monkeypatch.setattr(keyring, "_finish_swap", crash_once)
    with pytest.raises(OSError, match="power lost"):
        rotate_key(ledger, key_file, "admin")

    # The rotation is committed but the files are as before, plus the new key beside them.
    with ledger.session() as session:
        new_key = log.current_key(session)
    assert new_key != signer.verifier
    assert SigningKey.load(key_file, settings.origin).verifier == signer.verifier
    pending = key_file.with_name(key_file.name + ".next")
    assert SigningKey.load(pending, settings.origin).verifier == new_key

    recovered = current_signer(ledger, settings)

    assert recovered.verifier == new_key
    assert SigningKey.load(key_file, settings.origin).verifier == new_key
    assert not pending.exists()
    retired = key_file.with_name(f"{key_file.name}.retired-{signer.verifier.key_id_hex}")
    assert SigningKey.load(retired, settings.origin).verifier == signer.verifier
    with ledger.writing() as session:
        log.append(session, [Draft("note", {"n": 1}, "tester")], recovered)
    with ledger.session() as session:
        assert verify_database(session, signer.verifier).size == 3


def test_a_crash_between_the_two_renames_is_finished_by_the_next_load(
    ledger: Database, signer: SigningKey, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = settings.signing_key_file
    renames: list[tuple[Any, Any]] = []
    real_replace = keyring.os.replace

    def replace_once(source: Any, target: Any) -> None:
        renames.append((source, target))
        if len(renames) == 2:
            raise OSError("power lost")
        real_replace(source, target)

    monkeypatch.setattr(keyring.os, "replace", replace_once)
    with pytest.raises(OSError, match="power lost"):
        rotate_key(ledger, key_file, "admin")
    monkeypatch.undo()
    assert not key_file.exists()

    recovered = current_signer(ledger, settings)

    with ledger.session() as session:
        assert recovered.verifier == log.current_key(session) != signer.verifier
    assert SigningKey.load(key_file, settings.origin).verifier == recovered.verifier
    assert not key_file.with_name(key_file.name + ".next").exists()


def test_a_stray_next_file_from_an_uncommitted_rotation_is_replaced(
    ledger: Database, signer: SigningKey, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = settings.signing_key_file
    pending = key_file.with_name(key_file.name + ".next")

    def refuse(*_args: Any, **_kwargs: Any) -> log.Appended:
        raise RuntimeError("database went away")

    with monkeypatch.context() as patched:
        patched.setattr(keyring.log, "append", refuse)
        with pytest.raises(RuntimeError, match="went away"):
            rotate_key(ledger, key_file, "admin")
    stray = SigningKey.load(pending, settings.origin).verifier

    # Nothing was committed: the old key is still the one in force and still loads.
    with ledger.session() as session:
        assert log.tree_size(session) == 1
    assert current_signer(ledger, settings).verifier == signer.verifier

    rotation = rotate_key(ledger, key_file, "admin")

    assert rotation.new_key not in (stray, signer.verifier)
    assert not pending.exists()
    assert SigningKey.load(key_file, settings.origin).verifier == rotation.new_key
    with ledger.session() as session:
        assert verify_database(session, signer.verifier).keys == [
            str(signer.verifier),
            str(rotation.new_key),
        ]


def test_a_key_file_that_is_not_the_current_key_is_refused(
    ledger: Database, signer: SigningKey, settings: Settings, tmp_path: Path
) -> None:
    stranger = SigningKey.generate(settings.origin)
    other_file = tmp_path / "other.pem"
    stranger.save(other_file)
    with ledger.session() as session, pytest.raises(ConfigurationError) as caught:
        load_signer(other_file, session)
    assert stranger.verifier.key_id_hex in caught.value.message
    assert signer.verifier.key_id_hex in caught.value.message
    with pytest.raises(ConfigurationError):
        rotate_key(ledger, other_file, "admin")
    with ledger.session() as session:
        assert log.tree_size(session) == 1


# --- the command line ------------------------------------------------------------------


def test_ledger_keys_rotate_and_list(
    ledger: Database, signer: SigningKey, settings: Settings, runner: CliRunner
) -> None:
    rotated = runner.invoke(main, ["keys", "rotate", "--actor", "chu-tich"])
    assert rotated.exit_code == 0, rotated.output
    new_key = SigningKey.load(settings.signing_key_file, settings.origin).verifier
    assert rotated.stdout.splitlines() == [
        "key_rotation recorded at index 1",
        f"old key: {signer.verifier}",
        f"new key: {new_key}",
    ]
    listed = runner.invoke(main, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == [
        f"{signer.verifier}  indices 0..1",
        f"{new_key}  indices 2..now",
    ]
    verified = runner.invoke(main, ["verify", "--key", str(signer.verifier)])
    assert verified.exit_code == 0, verified.output
    assert "2 entries, 2 checkpoints, 2 key(s)" in verified.stdout
