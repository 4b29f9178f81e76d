"""Exports: verifiable with nothing but the genesis key, and no tampering goes unnamed.

Two sources of files: the golden export under ``tests/data/exports`` (fixed keys and
times, rebuilt here byte for byte, with its tampered copies), and exports written
from the test database, tampered at test time, including across key rotations.
"""

from __future__ import annotations

import base64
import json
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ledger import log, migrate
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.cli import main
from ledger.db import Database
from ledger.errors import ChainError
from ledger.export import verify_export, write_export
from ledger.keyring import rotate_key
from ledger.keys import SigningKey, VerifierKey
from ledger.merkle import hash_leaf
from ledger.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data"
EXPORTS = DATA / "exports"
CASES: dict[str, Any] = json.loads((EXPORTS / "cases.json").read_text(encoding="utf-8"))
GOLDEN = EXPORTS / "golden.jsonl"
GENESIS_KEY = VerifierKey.parse(CASES["genesis_key"])

AppendNotes = Callable[..., None]
Lines = list[dict[str, Any]]


# --- the golden export -----------------------------------------------------------------


def test_the_golden_export_verifies_with_the_genesis_key_across_a_rotation() -> None:
    summary = verify_export(GOLDEN, GENESIS_KEY)
    assert summary.size == CASES["tree_size"] == 13
    assert summary.root.hex() == CASES["root"]
    assert summary.checkpoints == CASES["checkpoints"]
    assert summary.keys == CASES["keys"]
    assert summary.origin == CASES["origin"]


def test_the_golden_export_is_rebuilt_byte_for_byte(db: Database) -> None:
    script = runpy.run_path(str(DATA / "make_exports.py"))
    migrate.upgrade(db.engine)
    script["build"](db)
    assert script["export_text"](db) == GOLDEN.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES["tampered"]))
def test_each_tampered_golden_export_fails_naming_its_index(name: str) -> None:
    case = CASES["tampered"][name]
    with pytest.raises(ChainError) as caught:
        verify_export(EXPORTS / name, GENESIS_KEY)
    assert caught.value.index == case["index"]
    assert case["reason"] in caught.value.message


# --- exports written from the database -------------------------------------------------


@pytest.fixture
def rotated(
    ledger: Database, signer: SigningKey, settings: Settings, append_notes: AppendNotes
) -> Database:
    """13 entries: checkpoints at 1, 4, 7; rotation at index 7 (checkpoint 8); 8..12."""
    append_notes(ledger, signer, 6, batch=3)
    rotation = rotate_key(ledger, settings.signing_key_file, "admin")
    assert rotation.index == 7
    new_signer = SigningKey.load(settings.signing_key_file, settings.origin)
    append_notes(ledger, new_signer, 5, batch=5)
    return ledger


def export_file(db: Database, path: Path) -> Path:
    with db.session() as session, path.open("w", encoding="utf-8") as out:
        assert write_export(session, out) == log.tree_size(session)
    return path


def read_lines(path: Path) -> Lines:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, lines: Lines) -> None:
    path.write_text(
        "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in lines),
        encoding="utf-8",
    )


def position(lines: Lines, kind: str, number: int) -> int:
    field = "index" if kind == "entry" else "tree_size"
    return next(n for n, o in enumerate(lines) if o.get("type") == kind and o[field] == number)


def test_export_round_trip_across_a_key_rotation(
    rotated: Database, signer: SigningKey, tmp_path: Path
) -> None:
    path = export_file(rotated, tmp_path / "ledger.jsonl")
    lines = read_lines(path)
    assert lines[0] == {
        "format": "mttq-ledger-export",
        "version": 1,
        "origin": signer.name,
        "tree_size": 13,
    }
    assert [o["tree_size"] for o in lines if o.get("type") == "checkpoint"] == [1, 4, 7, 8, 13]
    summary = verify_export(path, signer.verifier)
    with rotated.session() as session:
        assert summary.root == log.root(session, 13) == log.latest_checkpoint(session).root
        assert summary.keys == [str(p.verifier_key) for p in log.key_periods(session)]
    assert (summary.size, summary.checkpoints, len(summary.keys)) == (13, 5, 2)


def flip_leaf_byte(index: int, *, fix_hash: bool = False) -> Callable[[Lines], Lines]:
    def tamper(lines: Lines) -> Lines:
        line = lines[position(lines, "entry", index)]
        leaf = bytearray(base64.b64decode(line["leaf"]))
        leaf[leaf.index(b'"n":') + 4] ^= 0x01  # a digit becomes another digit
        line["leaf"] = base64.b64encode(bytes(leaf)).decode()
        if fix_hash:
            line["leaf_hash"] = hash_leaf(bytes(leaf)).hex()
        return lines

    return tamper


def remove(kind: str, number: int) -> Callable[[Lines], Lines]:
    def tamper(lines: Lines) -> Lines:
        del lines[position(lines, kind, number)]
        return lines

    return tamper


def reorder(lines: Lines) -> Lines:
    first, second = position(lines, "entry", 4), position(lines, "entry", 5)
    lines[first], lines[second] = lines[second], lines[first]
    return lines


def forge_checkpoint(size: int) -> Callable[[Lines], Lines]:
    def tamper(lines: Lines) -> Lines:
        line = lines[position(lines, "checkpoint", size)]
        forger = SigningKey.generate(lines[0]["origin"])
        checkpoint = Checkpoint(lines[0]["origin"], size, bytes.fromhex(line["root"]))
        line["note"] = sign_checkpoint(checkpoint, forger)
        return lines

    return tamper


def header_size(size: int) -> Callable[[Lines], Lines]:
    def tamper(lines: Lines) -> Lines:
        lines[0]["tree_size"] = size
        return lines

    return tamper


def drop_leaf_hashes(lines: Lines) -> Lines:
    """Without the optional leaf_hash members a changed leaf still cannot hide."""
    for line in lines:
        line.pop("leaf_hash", None)
    return flip_leaf_byte(6)(lines)


# Entries 4, 5, 6 were appended as one batch (checkpoint 7). A leaf changed together with
# its leaf_hash is caught at the batch's checkpoint when it ends the batch (6), and by
# the next entry's prev link when it does not (5 -> 6).
TAMPERS = [
    pytest.param(flip_leaf_byte(5), 5, "leaf hash", id="flipped-leaf-byte"),
    pytest.param(flip_leaf_byte(6, fix_hash=True), 6, "different root", id="leaf-and-hash"),
    pytest.param(flip_leaf_byte(5, fix_hash=True), 6, "prev", id="mid-batch-leaf-and-hash"),
    pytest.param(drop_leaf_hashes, 6, "different root", id="leaf-without-hashes"),
    pytest.param(remove("entry", 5), 5, "expected entry 5", id="removed-entry-line"),
    pytest.param(remove("entry", 12), 12, "arrived at size 12", id="removed-last-entry"),
    pytest.param(remove("checkpoint", 13), 12, "no signed checkpoint", id="removed-final-cp"),
    pytest.param(remove("checkpoint", 8), 12, "no signature by", id="removed-rotation-cp"),
    pytest.param(reorder, 4, "expected entry 4", id="reordered-entries"),
    pytest.param(forge_checkpoint(7), 6, "no signature by", id="forged-checkpoint"),
    pytest.param(forge_checkpoint(13), 12, "no signature by", id="forged-final-checkpoint"),
    pytest.param(header_size(14), 13, "header promises 14", id="header-size-larger"),
    pytest.param(header_size(9), 9, "header promises 9", id="header-size-smaller"),
]


@pytest.mark.parametrize(("tamper", "index", "reason"), TAMPERS)
def test_verify_export_names_the_index_of_a_tampered_export(
    rotated: Database,
    signer: SigningKey,
    tmp_path: Path,
    tamper: Callable[[Lines], Lines],
    index: int,
    reason: str,
) -> None:
    path = export_file(rotated, tmp_path / "ledger.jsonl")
    write_lines(path, tamper(read_lines(path)))
    with pytest.raises(ChainError) as caught:
        verify_export(path, signer.verifier)
    assert caught.value.index == index, caught.value
    assert reason in caught.value.message


def test_a_truncated_export_names_the_first_entry_it_lost(
    rotated: Database, signer: SigningKey, tmp_path: Path
) -> None:
    data = export_file(rotated, tmp_path / "ledger.jsonl").read_bytes()
    for cut in (0.25, 0.5, 0.9, 0.999):
        kept = data[: int(len(data) * cut)]
        path = tmp_path / f"cut-{cut}.jsonl"
        path.write_bytes(kept)
        whole = [json.loads(line) for line in kept.splitlines(keepends=True) if line[-1:] == b"\n"]
        entries = [o["index"] for o in whole if o.get("type") == "entry"]
        with pytest.raises(ChainError) as caught:
            verify_export(path, signer.verifier)
        assert caught.value.index == entries[-1] + 1, (cut, caught.value)


def test_a_byte_that_breaks_utf8_names_its_index(
    rotated: Database, signer: SigningKey, tmp_path: Path
) -> None:
    path = export_file(rotated, tmp_path / "ledger.jsonl")
    data = bytearray(path.read_bytes())
    # The em dash of checkpoint 4's signature line: entries 0..3 verified, 4 is not.
    at = data.index("\u2014".encode(), data.index(b'"tree_size":4,'))
    data[at] = 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ChainError, match="line 7 is not UTF-8") as caught:
        verify_export(path, signer.verifier)
    assert caught.value.index == 4


def test_the_wrong_trusted_key_names_index_0(rotated: Database, tmp_path: Path) -> None:
    path = export_file(rotated, tmp_path / "ledger.jsonl")
    for key in (GENESIS_KEY, SigningKey.generate(GENESIS_KEY.name).verifier):
        with pytest.raises(ChainError, match="not the trusted key") as caught:
            verify_export(path, key)
        assert caught.value.index == 0


def test_the_new_key_alone_is_not_trusted_either(
    rotated: Database, settings: Settings, tmp_path: Path
) -> None:
    path = export_file(rotated, tmp_path / "ledger.jsonl")
    current = SigningKey.load(settings.signing_key_file, settings.origin).verifier
    with pytest.raises(ChainError, match="not the trusted key") as caught:
        verify_export(path, current)
    assert caught.value.index == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param('{"format":"something-else","version":1}\n', "not a", id="other-format"),
        pytest.param('{"format":"mttq-ledger-export","version":2}\n', "version 1", id="v2"),
        pytest.param("[1, 2]\n", "not a JSON object", id="not-an-object"),
        pytest.param(
            '{"format":"mttq-ledger-export","version":1,"tree_size":0}\n',
            "no genesis",
            id="no-entries",
        ),
    ],
)
def test_files_that_are_not_exports_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "file.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ChainError, match=message):
        verify_export(path, GENESIS_KEY)


# --- the command line ------------------------------------------------------------------


def test_ledger_export_then_verify_export(
    rotated: Database, signer: SigningKey, runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "out" / "ledger.jsonl"
    path.parent.mkdir()
    exported = runner.invoke(main, ["export", str(path)])
    assert exported.exit_code == 0, exported.output
    assert f"exported 13 entries to {path}" in exported.stdout
    assert not (path.parent / "ledger.jsonl.partial").exists()

    verified = runner.invoke(main, ["verify-export", str(path), "--key", str(signer.verifier)])
    assert verified.exit_code == 0, verified.output
    assert "13 entries, 5 checkpoints, 2 key(s)" in verified.stdout
    with rotated.session() as session:
        assert f"root {log.root(session, 13).hex()} at size 13" in verified.stdout


def test_ledger_verify_export_of_a_golden_file(runner: CliRunner) -> None:
    result = runner.invoke(main, ["verify-export", str(GOLDEN), "--key", CASES["genesis_key"]])
    assert result.exit_code == 0, result.output
    assert f"root {CASES['root']} at size 13" in result.stdout

    tampered = runner.invoke(
        main,
        ["verify-export", str(EXPORTS / "tampered-leaf-byte.jsonl"), "--key", CASES["genesis_key"]],
    )
    assert tampered.exit_code == 1
    assert tampered.stderr.startswith("error: index 7: ")
    assert "OK" not in tampered.stdout


@pytest.mark.parametrize(
    "key",
    [
        "not-a-key",
        CASES["genesis_key"][:-4],
        CASES["genesis_key"].replace("+b45fc9f5+", "+b45fc9f6+"),
        "",
    ],
    ids=["garbage", "truncated", "wrong-key-id", "empty"],
)
def test_ledger_verify_export_with_a_bad_key_fails_in_one_line(runner: CliRunner, key: str) -> None:
    result = runner.invoke(main, ["verify-export", str(GOLDEN), "--key", key])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    assert result.stdout == ""
