"""`ledger monitor` against a live server: a healthy log, lies about it, keys, watching.

The monitor runs through the command line with settings that point at no database at
all, against the app served over real HTTP on a loopback port. Forked and rolled-back
logs, which need a second database, are in ``test_monitor_fork.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from support import live as support_live
from support.cli import error_line, ok
from support.live import (
    Tamper,
    alarm,
    drop_append_only_triggers,
    head,
    other_leaf,
    rewrite_entry,
    saved,
    served,
    skip_entry,
    wrong_display,
    wrong_hash,
)
from support.live import monitor as run

from ledger.checkpoint import Checkpoint, NoteSignature, SignedNote, sign_note
from ledger.cli import main
from ledger.db import Database
from ledger.keyring import load_signer, rotate_key
from ledger.keys import SigningKey
from ledger.settings import Settings

AppendNotes = Callable[..., None]
ENTRIES = "/api/v1/log/entries"
CHECKPOINT = "/api/v1/log/checkpoint"


@pytest.fixture
def outsider(tmp_path: Path) -> CliRunner:
    return support_live.outsider(tmp_path)


@pytest.fixture
def live(ledger: Database, settings: Settings) -> Iterator[tuple[str, Tamper]]:
    with served(settings) as server:
        yield server


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "monitor" / "state.json"


def test_a_healthy_growing_log_passes_every_check_and_the_state_follows_it(
    ledger: Database,
    signer: SigningKey,
    settings: Settings,
    append_notes: AppendNotes,
    outsider: CliRunner,
    state: Path,
    tmp_path: Path,
) -> None:
    append_notes(ledger, signer, 4)
    # Pages of at most 4 entries: the monitor shrinks its pages until the server agrees.
    with served(settings, LEDGER_MAX_PAGE_SIZE="4") as (url, _tamper):
        size, root = head(ledger)
        first = ok(run(outsider, url, signer.verifier, state))
        assert first == (
            f"OK size 5 root {root}: first checkpoint seen; entries not downloaded; "
            "0 cosignatures\n"
        )
        assert saved(state)["checkpoint"]["size"] == size == 5
        assert saved(state)["checkpoint"]["root"] == root
        assert saved(state)["entries"] is None

        append_notes(ledger, signer, 3, batch=3)
        _size, root = head(ledger)
        line = ok(run(outsider, url, signer.verifier, state, "--entries"))
        assert line == (
            f"OK size 8 root {root}: consistent with size 5 (+3); 8 new entries checked; "
            "0 cosignatures\n"
        )
        append_notes(ledger, signer, 9, batch=9)
        _size, root = head(ledger)
        line = ok(run(outsider, url, signer.verifier, state, "--entries", "--once"))
        assert line.startswith(f"OK size 17 root {root}: consistent with size 8 (+9); 9 new ")
        again = ok(run(outsider, url, signer.verifier, state, "--entries"))
        assert again.startswith(f"OK size 17 root {root}: unchanged since the last check; 0 new")

    document = saved(state)
    assert document["origin"] == settings.origin
    assert document["url"] == url
    assert document["checkpoint"]["note"].startswith(f"{settings.origin}\n17\n")
    assert document["entries"]["size"] == 17
    assert len(document["entries"]["frontier"]) == 2  # 17 = 16 + 1: two perfect subtrees
    assert [item["size"] for item in document["history"]] == [5, 8, 17]
    assert sorted(p.name for p in state.parent.iterdir()) == ["state.json"]  # no temp files
    assert not (tmp_path / "no-ledger-here").exists()  # the monitor never looked for a database


def test_the_default_state_file_is_named_for_the_origin_under_xdg_state_home(
    live: tuple[str, Tamper], signer: SigningKey, outsider: CliRunner, tmp_path: Path
) -> None:
    url, _tamper = live
    ok(outsider.invoke(main, ["monitor", url, "--key", str(signer.verifier)]))
    path = tmp_path / "xdg-state" / "ledger-monitor" / "test.mttq.example_covid19.json"
    assert saved(path)["checkpoint"]["size"] == 1


def test_a_wrong_key_is_a_bad_signature_alarm_and_no_state_is_written(
    live: tuple[str, Tamper], ledger: Database, settings: Settings, outsider: CliRunner, state: Path
) -> None:
    url, _tamper = live
    stranger = SigningKey.generate(settings.origin).verifier
    size, root = head(ledger)
    result = run(outsider, url, stranger, state)
    line = alarm(result, 3, "BAD SIGNATURE", f"claims size {size} root {root}")
    assert f"no trusted key ({stranger.key_id_hex})" in line
    assert "no checkpoint verified before" in line
    assert not state.exists()


def test_a_forged_signature_is_caught_and_the_good_state_is_kept(
    live: tuple[str, Tamper],
    ledger: Database,
    signer: SigningKey,
    append_notes: AppendNotes,
    outsider: CliRunner,
    state: Path,
) -> None:
    url, tamper = live
    ok(run(outsider, url, signer.verifier, state))
    before = state.read_bytes()
    append_notes(ledger, signer, 2)

    def forge(note: bytes) -> bytes:
        signed = SignedNote.parse(note)
        sig = signed.signatures[0]
        bad = bytes([sig.signature[0] ^ 1]) + sig.signature[1:]
        return (
            SignedNote(signed.text, (NoteSignature(sig.name, sig.key_id, bad),)).render().encode()
        )

    tamper.rewrites[CHECKPOINT] = forge
    size, root = head(ledger)
    line = alarm(run(outsider, url, signer.verifier, state), 3, "BAD SIGNATURE")
    assert f"claims size {size} root {root}" in line
    assert f"signature by trusted key {signer.verifier.key_id_hex} that does not verify" in line
    assert "last verified size 1 root" in line
    assert state.read_bytes() == before


def test_a_checkpoint_for_another_origin_is_a_wrong_origin_alarm(
    live: tuple[str, Tamper], ledger: Database, signer: SigningKey, outsider: CliRunner, state: Path
) -> None:
    url, tamper = live
    size, root = head(ledger)
    other = Checkpoint("other.example/log", size, bytes.fromhex(root))
    tamper.rewrites[CHECKPOINT] = lambda _note: sign_note(other.text(), signer).render().encode()
    line = alarm(run(outsider, url, signer.verifier, state), 4, "WRONG ORIGIN")
    assert f"size {size} root {root} is for origin 'other.example/log'" in line
    assert not state.exists()


def test_witness_cosignatures_are_counted_and_kept_with_the_checkpoint(
    live: tuple[str, Tamper], signer: SigningKey, outsider: CliRunner, state: Path
) -> None:
    url, tamper = live
    witnesses = [SigningKey.generate(name) for name in ("witness.example/a", "press.example/w")]

    def cosigned(note: bytes) -> bytes:
        signed = SignedNote.parse(note)
        for witness in witnesses:
            signed = signed.with_signature(sign_note(signed.text, witness).signatures[0])
        return signed.render().encode()

    tamper.rewrites[CHECKPOINT] = cosigned
    line = ok(run(outsider, url, signer.verifier, state))
    assert line.endswith("; 2 cosignatures (witness.example/a, press.example/w)\n")
    assert saved(state)["checkpoint"]["note"].count("\n\u2014 ") == 3


# --- entries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rewrite", "mentions"),
    [
        (rewrite_entry(3, wrong_hash), ["entry 3: leaf_hash", "is not the hash of its leaf"]),
        (rewrite_entry(3, wrong_display), ["entry 3: the decoded entry shown differs"]),
        (rewrite_entry(3, other_leaf), ["entry 4: prev", "is not the leaf hash of entry 3"]),
        (rewrite_entry(5, other_leaf), ["entries 0..5 hash to root", "size 6 has root"]),
        (skip_entry(3), ["asked for entry 3, the server sent entry 4"]),
    ],
)
def test_entries_catch_a_server_that_serves_a_tampered_entry(
    live: tuple[str, Tamper],
    ledger: Database,
    signer: SigningKey,
    append_notes: AppendNotes,
    outsider: CliRunner,
    state: Path,
    rewrite: Callable[[bytes], bytes],
    mentions: list[str],
) -> None:
    url, tamper = live
    append_notes(ledger, signer, 5, batch=5)
    tamper.rewrites[ENTRIES] = rewrite
    ok(run(outsider, url, signer.verifier, state))  # the checkpoint alone looks fine
    before = state.read_bytes()
    alarm(run(outsider, url, signer.verifier, state, "--entries"), 8, "BAD ENTRY", *mentions)
    assert state.read_bytes() == before


@pytest.mark.parametrize(("target", "mention"), [(6, "entry 7: prev"), (8, "entries 0..8 hash")])
def test_entries_catch_a_row_rewritten_in_the_database_after_the_last_check(
    live: tuple[str, Tamper],
    ledger: Database,
    signer: SigningKey,
    append_notes: AppendNotes,
    outsider: CliRunner,
    state: Path,
    target: int,
    mention: str,
) -> None:
    url, _tamper = live
    append_notes(ledger, signer, 4, batch=4)
    ok(run(outsider, url, signer.verifier, state, "--entries"))
    append_notes(ledger, signer, 4, batch=4)
    with ledger.engine.begin() as conn:
        drop_append_only_triggers(conn)
        leaf = bytes(
            conn.scalar(text("SELECT leaf FROM log_entries WHERE idx = :i"), {"i": target})
        )
        forged = leaf.replace(b'"tester"', b'"Tester"')
        # The stored leaf hash and tree nodes stay: checkpoints and proofs still pass.
        conn.execute(
            text("UPDATE log_entries SET leaf = :l WHERE idx = :i"), {"l": forged, "i": target}
        )
    before = state.read_bytes()
    line = alarm(run(outsider, url, signer.verifier, state, "--entries"), 8, "BAD ENTRY", mention)
    assert "entries 0..4" not in line  # only the new entries were downloaded
    assert state.read_bytes() == before
    ok(run(outsider, url, signer.verifier, state))  # without --entries it cannot see it


# --- keys -----------------------------------------------------------------------------


def rotate(ledger: Database, settings: Settings) -> SigningKey:
    rotate_key(ledger, settings.signing_key_file, "admin")
    with ledger.session() as session:
        return load_signer(settings.signing_key_file, session)


def test_a_rotation_proven_in_the_last_verified_tree_hands_trust_to_the_new_key(
    live: tuple[str, Tamper],
    ledger: Database,
    signer: SigningKey,
    settings: Settings,
    append_notes: AppendNotes,
    outsider: CliRunner,
    state: Path,
) -> None:
    url, tamper = live
    append_notes(ledger, signer, 2)
    new = rotate(ledger, settings)  # entry 3; the checkpoint of size 4 is the old key's
    ok(run(outsider, url, signer.verifier, state))
    append_notes(ledger, new, 2, batch=2)
    line = ok(run(outsider, url, signer.verifier, state))
    assert line.startswith("OK size 6 root ")
    assert line.endswith(
        f"; now trusts key {new.verifier.key_id_hex}; "
        f"no longer trusts key {signer.verifier.key_id_hex}\n"
    )
    assert saved(state)["keys"] == [str(new.verifier)]
    assert saved(state)["retired"] == [str(signer.verifier)]
    append_notes(ledger, new, 1)
    assert "trusts" not in ok(run(outsider, url, signer.verifier, state, "--entries"))

    # The retired key signs nothing after the rotation: now a note of its is refused,
    # even though the person running the monitor still passes it.
    def by_the_old_key(body: bytes) -> bytes:
        return sign_note(SignedNote.parse(body).text, signer).render().encode()

    tamper.rewrites[CHECKPOINT] = by_the_old_key
    line = alarm(run(outsider, url, signer.verifier, state), 3, "BAD SIGNATURE")
    assert f"by no trusted key ({new.verifier.key_id_hex}) but by " in line


def test_a_rotation_seen_among_the_entries_hands_trust_to_the_new_key(
    live: tuple[str, Tamper],
    ledger: Database,
    signer: SigningKey,
    settings: Settings,
    append_notes: AppendNotes,
    outsider: CliRunner,
    state: Path,
) -> None:
    url, _tamper = live
    new = rotate(ledger, settings)  # entry 1
    line = ok(run(outsider, url, signer.verifier, state, "--entries"))
    assert line.endswith(
        f"2 new entries checked; 0 cosignatures; now trusts key {new.verifier.key_id_hex}; "
        f"no longer trusts key {signer.verifier.key_id_hex}\n"
    )
    assert saved(state)["entries"]["key"] == str(new.verifier)
    append_notes(ledger, new, 3, batch=3)
    assert ok(run(outsider, url, signer.verifier, state)).startswith("OK size 5 ")


def test_a_rotation_after_the_last_verified_tree_cannot_be_vouched_for(
    live: tuple[str, Tamper],
    ledger: Database,
    signer: SigningKey,
    settings: Settings,
    append_notes: AppendNotes,
    outsider: CliRunner,
    state: Path,
) -> None:
    url, _tamper = live
    ok(run(outsider, url, signer.verifier, state))
    new = rotate(ledger, settings)
    append_notes(ledger, new, 1)
    line = alarm(run(outsider, url, signer.verifier, state, "--entries"), 3, "BAD SIGNATURE")
    assert f"signed by no trusted key ({signer.verifier.key_id_hex}) but by " in line
    assert "add it with --key" in line
    # Once the person running it has checked the new key, they pass it too.
    both = ["--key", str(new.verifier), "--entries"]
    assert ok(run(outsider, url, signer.verifier, state, *both)).startswith("OK size 3 ")


# --- errors, usage, watching -----------------------------------------------------------


def test_a_server_that_cannot_be_reached_is_an_error_not_an_alarm(
    live: tuple[str, Tamper], signer: SigningKey, outsider: CliRunner, state: Path
) -> None:
    url, tamper = live
    tamper.failing = 1
    error_line(run(outsider, url, signer.verifier, state), f"GET {url}{CHECKPOINT}: HTTP 503")
    assert not state.exists()
    ok(run(outsider, url, signer.verifier, state))
    before = state.read_bytes()
    error_line(run(outsider, "http://127.0.0.1:9", signer.verifier, state), "cannot connect")
    assert state.read_bytes() == before


def test_a_state_file_that_is_broken_or_for_another_log_is_refused(
    live: tuple[str, Tamper], signer: SigningKey, outsider: CliRunner, state: Path
) -> None:
    url, _tamper = live
    ok(run(outsider, url, signer.verifier, state))
    other = SigningKey.generate("other.example/log").verifier
    error_line(run(outsider, url, other, state), "the state is for test.mttq.example/covid19")
    document = saved(state)
    document["checkpoint"]["size"] = 2
    state.write_text(json.dumps(document), encoding="utf-8")
    error_line(run(outsider, url, signer.verifier, state), "differs from its origin, size or root")
    state.write_text("{", encoding="utf-8")
    error_line(run(outsider, url, signer.verifier, state), "is not JSON")


@pytest.mark.parametrize(
    ("arguments", "mention"),
    [
        (["--key", "not a key"], "verifier key must be"),
        (["--key", str(SigningKey.generate("other.example/log").verifier)], "different logs"),
        (["--once", "--watch", "5"], "--once and --watch exclude each other"),
        (["--watch", "0"], "Invalid value for '--watch'"),
    ],
)
def test_usage_errors_exit_with_status_2(
    signer: SigningKey, outsider: CliRunner, arguments: list[str], mention: str
) -> None:
    key = ["--key", str(signer.verifier)]
    result = outsider.invoke(main, ["monitor", "http://127.0.0.1:9", *key, *arguments])
    assert result.exit_code == 2, result.output
    assert mention in result.stderr
    result = outsider.invoke(main, ["monitor", "ftp://example.org", *key])
    assert result.exit_code == 2
    assert "is not an http:// or https:// URL" in result.stderr


def test_watch_polls_reports_unreachable_servers_and_stops_at_the_first_alarm(
    live: tuple[str, Tamper],
    ledger: Database,
    signer: SigningKey,
    append_notes: AppendNotes,
    outsider: CliRunner,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, tamper = live
    stranger = SigningKey.generate(signer.name)

    def forge(note: bytes) -> bytes:
        return sign_note(SignedNote.parse(note).text, stranger).render().encode()

    steps: list[Callable[[], None]] = [
        lambda: append_notes(ledger, signer, 2, batch=2),
        lambda: setattr(tamper, "failing", 1),
        lambda: append_notes(ledger, signer, 1),
        lambda: tamper.rewrites.__setitem__(CHECKPOINT, forge),
    ]
    waits: list[float] = []

    def pause(seconds: float) -> None:
        waits.append(seconds)
        steps.pop(0)()

    monkeypatch.setattr("ledger.commands.monitor.pause", pause)
    result = run(outsider, url, signer.verifier, state, "--watch", "30", "--entries")
    assert result.exit_code == 3, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("OK size 1 ")
    assert lines[1].startswith("OK size 3 ") and "2 new entries checked" in lines[1]
    assert lines[2].startswith("OK size 4 ") and "1 new entry checked" in lines[2]
    errors = result.stderr.strip().splitlines()
    assert (
        errors[0] == f"error: GET {url}{CHECKPOINT}: HTTP 503: down for maintenance (trying again)"
    )
    assert errors[1].startswith("ALARM BAD SIGNATURE: ")
    assert waits == [30.0] * 4
    assert saved(state)["checkpoint"]["size"] == 4


def test_watch_ends_quietly_when_interrupted(
    live: tuple[str, Tamper],
    signer: SigningKey,
    outsider: CliRunner,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _tamper = live

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("ledger.commands.monitor.pause", interrupt)
    result = run(outsider, url, signer.verifier, state, "--watch", "0.5")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK size 1 ")
    assert result.stderr == "monitor stopped\n"
