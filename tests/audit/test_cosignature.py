"""Cosignatures must be what c2sp.org/tlog-cosignature says, byte for byte.

The key ID and the signed message are recomputed here from the spec's own words with
hashlib and cryptography, and checked against vectors published by the spec and by
transparency-dev/formats, so that witnesses and clients we did not write agree.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from audit.cosignature import (
    Cosignature,
    CosignatureError,
    WitnessKey,
    WitnessSigner,
    cosigner_key_id,
    signed_message,
)
from ledger.checkpoint import Checkpoint, NoteSignature, SignedNote, sign_checkpoint
from ledger.errors import ConfigurationError, KeyFormatError
from ledger.keys import SigningKey, VerifierKey

NAME = "witness.mttq-langson.example/w1"
SEED = hashlib.sha256(b"mttq-ledger witness test seed").digest()
TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
WHEN = 1679315147

# A native type-0x04 witness key published in transparency-dev/formats note_cosigv1_test.go.
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
# The cosignature line of the example in c2sp.org/tlog-cosignature, whose text says that
# it was made at "time 1679315147".
SPEC_LINE = (
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZC"
    "B9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)


def golden_signer() -> WitnessSigner:
    return WitnessSigner(NAME, Ed25519PrivateKey.from_private_bytes(SEED))


def test_the_key_id_and_vkey_follow_the_spec_from_first_principles() -> None:
    public = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
    expected_id = hashlib.sha256(NAME.encode() + b"\x0a\x04" + public).digest()[:4]
    data = base64.b64encode(b"\x04" + public).decode()
    expected = f"{NAME}+{expected_id.hex()}+{data}"

    key = golden_signer().verifier
    assert cosigner_key_id(NAME, public) == expected_id
    assert key.key_id == expected_id
    assert str(key) == expected
    assert WitnessKey.parse(expected) == key
    # The same key as a log key (type 0x01) has another ID: the type byte separates them.
    assert VerifierKey.from_public_key(NAME, public).key_id != expected_id


def test_a_published_witness_key_parses_with_the_id_it_states() -> None:
    key = WitnessKey.parse(REMORA_VKEY)
    assert key.name == "remora.n621.de"
    assert key.key_id_hex == "da77ade7"
    assert str(key) == REMORA_VKEY


def test_the_spec_example_line_carries_its_stated_timestamp() -> None:
    note = SignedNote.parse(TEXT + "\n" + SPEC_LINE + "\n")
    cosignature = Cosignature.from_note_signature(note.signatures[0])
    assert cosignature.name == "witness.example.com/w1"
    assert cosignature.timestamp == WHEN
    assert cosignature.line() == SPEC_LINE + "\n"


def test_the_signed_message_is_the_spec_example() -> None:
    expected = (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    assert signed_message(TEXT, WHEN) == expected


def test_a_cosignature_line_is_key_id_timestamp_and_ed25519_signature() -> None:
    signer = golden_signer()
    line = signer.cosign(TEXT, WHEN).line()
    prefix = f"\u2014 {NAME} "
    assert line.startswith(prefix) and line.endswith("\n")
    raw = base64.b64decode(line[len(prefix) : -1])
    assert len(raw) == 4 + 8 + 64
    assert raw[:4] == signer.verifier.key_id
    assert int.from_bytes(raw[4:12], "big") == WHEN
    message = f"cosignature/v1\ntime {WHEN}\n{TEXT}".encode()
    signer.private_key.public_key().verify(raw[12:], message)  # raises if wrong


def cosigned(signer: WitnessSigner, text: str = TEXT, when: int = WHEN) -> SignedNote:
    log = SigningKey("example.com/behind-the-sofa", Ed25519PrivateKey.generate())
    note = SignedNote.parse(sign_checkpoint(Checkpoint.from_text(text), log))
    return note.with_signature(signer.cosign(text, when).note_signature())


def test_a_cosigned_note_verifies_under_the_witness_key_only() -> None:
    signer = golden_signer()
    note = cosigned(signer)
    [found] = signer.verifier.cosignatures_in(note)
    assert found.timestamp == WHEN
    other = WitnessSigner.generate(NAME).verifier
    assert other.cosignatures_in(note) == []  # another key ID: ignored, as the spec says


def test_a_wrong_key_with_the_same_name_and_id_fails() -> None:
    signer = golden_signer()
    cosignature = signer.cosign(TEXT, WHEN)
    impostor = WitnessKey.from_public_key(
        NAME, Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    )
    forged = Cosignature(NAME, impostor.key_id, WHEN, cosignature.signature)
    with pytest.raises(CosignatureError, match="does not verify"):
        impostor.verify(forged, TEXT)


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (WHEN + 1, TEXT),
        (WHEN - 1, TEXT),
        (WHEN, TEXT.replace("20852163", "20852164")),
        (WHEN, TEXT + "extension line\n"),
    ],
    ids=["later", "earlier", "other size", "extra line"],
)
def test_a_changed_timestamp_or_body_fails(when: int, text: str) -> None:
    signer = golden_signer()
    genuine = signer.cosign(TEXT, WHEN)
    moved = Cosignature(genuine.name, genuine.key_id, when, genuine.signature)
    with pytest.raises(CosignatureError, match="does not verify"):
        signer.verifier.verify(moved, text)


def test_a_bad_line_among_the_witness_lines_rejects_the_note() -> None:
    signer = golden_signer()
    note = cosigned(signer)
    *others, witness = note.signatures
    raw = bytearray(witness.signature)
    raw[-1] ^= 1
    tampered = SignedNote(note.text, (*others, NoteSignature(NAME, witness.key_id, bytes(raw))))
    with pytest.raises(CosignatureError):
        signer.verifier.cosignatures_in(tampered)


@given(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.integers(min_value=0, max_value=2**40),
    st.binary(min_size=32, max_size=32),
)
def test_any_timestamp_and_checkpoint_round_trip(when: int, size: int, root: bytes) -> None:
    signer = golden_signer()
    text = Checkpoint("log.example/x", size, root).text()
    cosignature = signer.cosign(text, when)
    parsed = Cosignature.from_note_signature(
        SignedNote.parse(text + "\n" + cosignature.line()).signatures[0]
    )
    assert parsed == cosignature
    signer.verifier.verify(parsed, text)


@pytest.mark.parametrize("when", [-1, 2**63])
def test_timestamps_outside_the_spec_range_are_refused(when: int) -> None:
    with pytest.raises(CosignatureError, match="out of range"):
        golden_signer().cosign(TEXT, when)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("remora.n621.de+da77ade7", "<name>"),
        ("remora.n621.de+DA77ADE7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", "hex"),
        ("remora.n621.de+da77ade8+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", "key ID"),
        ("remora.n622.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", "key ID"),
        ("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw", "base64"),
        # A log's verifier key (type 0x01) is not a witness key, whatever its ID.
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "0x04"),
    ],
)
def test_malformed_witness_keys_are_refused(text: str, reason: str) -> None:
    with pytest.raises(KeyFormatError, match=reason):
        WitnessKey.parse(text)


def test_a_log_verifier_key_refuses_a_witness_key() -> None:
    with pytest.raises(KeyFormatError, match="Ed25519, 0x01"):
        VerifierKey.parse(REMORA_VKEY)


def test_the_key_file_round_trips_owner_only_and_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "witness.key"
    signer = golden_signer()
    signer.save(path)
    text = path.read_text()
    seed = base64.b64encode(b"\x04" + SEED).decode()
    assert text == f"PRIVATE+KEY+{NAME}+{signer.verifier.key_id_hex}+{seed}\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = WitnessSigner.load(path)
    assert loaded.verifier == signer.verifier
    assert loaded.cosign(TEXT, WHEN) == signer.cosign(TEXT, WHEN)  # Ed25519 is deterministic
    with pytest.raises(ConfigurationError, match="refusing to overwrite"):
        WitnessSigner.generate(NAME).save(path)
    assert path.read_text() == text


@pytest.mark.parametrize(
    "text",
    [
        "PRIVATE+KEY+w+00000000+" + base64.b64encode(b"\x04" + SEED).decode(),
        "PRIVATE+KEY+w+{id}+" + base64.b64encode(b"\x01" + SEED).decode(),
        "w+{id}+" + base64.b64encode(b"\x04" + SEED).decode(),
    ],
    ids=["wrong id", "log key type", "no prefix"],
)
def test_malformed_key_files_are_refused(text: str) -> None:
    key_id = WitnessSigner("w", Ed25519PrivateKey.from_private_bytes(SEED)).verifier.key_id_hex
    with pytest.raises(KeyFormatError):
        WitnessSigner.parse(text.format(id=key_id))


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        WitnessSigner.load(tmp_path / "absent.key")
