"""``tlog-proof@v1`` receipt files and ``ledger verify-receipt``: the offline check.

A file is kept by a donor for years; each test changes one thing an attacker or a
damaged copy could change and expects the verifier to name it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.cli import error_line, ok

from ledger import receipts, tlog_proof
from ledger.cli import main
from ledger.keys import SigningKey, VerifierKey
from ledger.settings import Settings
from ledger.tlog_proof import TlogProof, TlogProofError


@pytest.fixture
def receipt(funds: Any, settings: Settings) -> receipts.Receipt:
    funds.give(700_000)
    gift = funds.give(
        1_250_000,
        channel="bank",
        reference="FT2611280001",
        donor={"display": "Trần Thị Bình", "type": "individual"},
    )
    funds.give(300_000)
    with funds.db.session() as session:
        return receipts.find(session, settings, gift.extra["receipt_id"])


@pytest.fixture
def key(receipt: receipts.Receipt) -> VerifierKey:
    return receipt.verifier_key


def _proof(receipt: receipts.Receipt) -> TlogProof:
    return tlog_proof.parse(receipt.tlog_proof())


def test_a_genuine_file_round_trips_and_verifies(
    receipt: receipts.Receipt, key: VerifierKey
) -> None:
    text = receipt.tlog_proof()
    assert _proof(receipt).render() == text
    proven = tlog_proof.verify(text, [key])
    assert proven.entry.leaf == receipt.entry.leaf
    assert proven.checkpoint.size == receipt.tree_size
    assert text.endswith(receipt.checkpoint)


def _flip(data: bytes, at: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: TlogProof(p.index, p.proof, p.checkpoint, _flip(p.extra, 40)), "not at index"),
        (
            lambda p: TlogProof(p.index, (_flip(p.proof[0]), *p.proof[1:]), p.checkpoint, p.extra),
            "not at index",
        ),
        (lambda p: TlogProof(p.index + 1, p.proof, p.checkpoint, p.extra), "not at index"),
        (lambda p: TlogProof(p.index, p.proof[:-1], p.checkpoint, p.extra), "inclusion proof has"),
        (lambda p: TlogProof(p.index, p.proof, p.checkpoint, None), "carries no leaf"),
    ],
)
def test_a_changed_file_is_refused_with_the_reason(
    receipt: receipts.Receipt, key: VerifierKey, change: Any, message: str
) -> None:
    changed = change(_proof(receipt)).render()
    with pytest.raises(TlogProofError, match=message):
        tlog_proof.verify(changed, [key])


def test_a_forged_checkpoint_fails_its_signature(
    receipt: receipts.Receipt, key: VerifierKey
) -> None:
    lines = receipt.checkpoint.split("\n")
    root = bytearray(base64.b64decode(lines[2]))
    root[0] ^= 1
    lines[2] = base64.b64encode(bytes(root)).decode()
    forged = TlogProof(receipt.entry.index, tuple(receipt.inclusion_proof), "\n".join(lines))
    forged = TlogProof(forged.index, forged.proof, forged.checkpoint, receipt.entry.leaf)
    with pytest.raises(TlogProofError, match="signature does not verify"):
        tlog_proof.verify(forged.render(), [key])


def test_signatures_by_other_parties_are_ignored(
    receipt: receipts.Receipt, key: VerifierKey
) -> None:
    """Witness cosignatures ride along in the checkpoint; a verifier that does not know
    a witness's key skips its line (c2sp.org/signed-note), and still checks the log's."""
    p = _proof(receipt)
    witnessed = p.checkpoint + "— witness.example AAAAAAAAAAAA\n"
    proven = tlog_proof.verify(TlogProof(p.index, p.proof, witnessed, p.extra).render(), [key])
    assert proven.entry.index == receipt.entry.index


def test_another_logs_key_is_not_trusted(receipt: receipts.Receipt) -> None:
    stranger = SigningKey.generate(receipt.verifier_key.name).verifier
    with pytest.raises(TlogProofError, match="not signed by the given key"):
        tlog_proof.verify(receipt.tlog_proof(), [stranger])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no empty line"),
        ("c2sp.org/tlog-proof@v2\nindex 1\n\nx\n", "first line"),
        ("c2sp.org/tlog-proof@v1\nindex 01\n\nx\n", "canonical decimal"),
        ("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\nx\n", "extra data"),
        ("c2sp.org/tlog-proof@v1\nextra AA==\n\nx\n", "index N"),
        ("c2sp.org/tlog-proof@v1\nindex 1\nnot-base64\n\nx\n", "proof hash"),
        ("c2sp.org/tlog-proof@v1\nindex 1\n\nno signature\n", "checkpoint"),
    ],
)
def test_malformed_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(TlogProofError, match=message):
        tlog_proof.parse(text)


def test_binary_garbage_is_refused() -> None:
    with pytest.raises(TlogProofError, match="not UTF-8"):
        tlog_proof.parse(b"\xff\xfe\x00garbage\n\n")


def test_verify_receipt_prints_the_proven_gift(
    receipt: receipts.Receipt, key: VerifierKey, runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / f"{receipt.receipt_id}.tlog-proof"
    path.write_text(receipt.tlog_proof(), encoding="utf-8")
    out = ok(runner.invoke(main, ["verify-receipt", str(path), "--key", str(key)]))
    assert out.startswith(f"OK: entry {receipt.entry.index} is in the log ")
    assert f"tree size {receipt.tree_size}" in out
    assert receipt.entry.leaf_hash.hex() in out
    assert "1.250.000 đồng" in out
    assert "Trần T. B." in out or "Trần Thị Bình" in out
    assert receipt.receipt_id in out


def test_verify_receipt_names_what_failed(
    receipt: receipts.Receipt, key: VerifierKey, runner: CliRunner, tmp_path: Path
) -> None:
    proof = _proof(receipt)
    assert proof.extra is not None
    tampered = TlogProof(proof.index, proof.proof, proof.checkpoint, _flip(proof.extra, 60))
    path = tmp_path / "tampered.tlog-proof"
    path.write_text(tampered.render(), encoding="utf-8")
    result = runner.invoke(main, ["verify-receipt", str(path), "--key", str(key)])
    error_line(result, f"not at index {proof.index}")

    bad_key = runner.invoke(main, ["verify-receipt", str(path), "--key", "nonsense"])
    error_line(bad_key)
