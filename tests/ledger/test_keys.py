"""Key IDs and verifier key strings must match what outside C2SP/Go verifiers compute."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import ConfigurationError, KeyFormatError, LedgerError
from ledger.keys import SigningKey, VerifierKey, key_id, valid_key_name

NAME = "quy.mttq-langson.vn/covid19"
SEED = hashlib.sha256(b"mttq-ledger test seed").digest()
GOLDEN_VKEY = "quy.mttq-langson.vn/covid19+2eb54fee+AdDJ5h1RPrIKVTeycEsJFU8ybsU1UgB5o98/mM/Efe25"

# Published in golang.org/x/mod/sumdb/note (package docs and note_test.go).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"


def golden_signing_key() -> SigningKey:
    return SigningKey(NAME, Ed25519PrivateKey.from_private_bytes(SEED))


def vkey_with_adjusted_id(name: str, data: bytes) -> str:
    """A key string whose ID is right for ``data``, so only the data itself is wrong."""
    kid = hashlib.sha256(name.encode() + b"\n" + data).digest()[:4]
    return f"{name}+{kid.hex()}+{base64.b64encode(data).decode()}"


def test_key_id_and_verifier_string_from_first_principles() -> None:
    public = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
    expected_id = hashlib.sha256(NAME.encode() + b"\x0a\x01" + public).digest()[:4]
    data = base64.b64encode(b"\x01" + public).decode()
    expected = f"{NAME}+{expected_id.hex()}+{data}"

    verifier = golden_signing_key().verifier
    assert key_id(NAME, public) == expected_id
    assert verifier.key_id == expected_id
    assert verifier.key_id_hex == "2eb54fee"
    assert verifier.public_key == public
    assert str(verifier) == expected == GOLDEN_VKEY
    assert VerifierKey.parse(GOLDEN_VKEY) == verifier


@pytest.mark.parametrize("vkey", [PETER_VKEY, ENOCH_VKEY])
def test_go_published_verifier_keys_parse_and_render_identically(vkey: str) -> None:
    key = VerifierKey.parse(vkey)
    assert str(key) == vkey
    assert key.key_id_hex == vkey.split("+")[1]


def test_go_published_signer_key_yields_go_verifier_key() -> None:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert seed[0] == 0x01
    key = SigningKey("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed[1:]))
    assert str(key.verifier) == PETER_VKEY


def test_every_substring_and_byte_increment_of_a_key_is_rejected() -> None:
    """The same mangling sweep as Go's TestNewVerifier."""
    raw = PETER_VKEY.encode()
    for i in range(len(raw) + 1):
        for j in range(i + 1, len(raw) + 1):
            if (i, j) != (0, len(raw)):
                with pytest.raises(KeyFormatError):
                    VerifierKey.parse(raw[i:j].decode())
    for i in range(len(raw)):
        mangled = raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :]
        with pytest.raises(KeyFormatError):
            VerifierKey.parse(mangled.decode())


_PUBLIC = VerifierKey.parse(GOLDEN_VKEY).public_key


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(NAME, id="name-only"),
        pytest.param(f"{NAME}+2eb54fee", id="no-key-data"),
        pytest.param(GOLDEN_VKEY.replace("2eb54fee", "2eb54fef"), id="wrong-key-id"),
        pytest.param(GOLDEN_VKEY.replace("2eb54fee", "2EB54FEE"), id="uppercase-key-id"),
        pytest.param(GOLDEN_VKEY.replace("2eb54fee", "2eb54fe"), id="short-key-id"),
        pytest.param(GOLDEN_VKEY.replace("2eb54fee", "0x2eb54f"), id="prefixed-key-id"),
        pytest.param(GOLDEN_VKEY.replace(NAME, NAME + "x"), id="wrong-name"),
        pytest.param(GOLDEN_VKEY.replace(NAME, ""), id="empty-name"),
        pytest.param(vkey_with_adjusted_id("a b", b"\x01" + _PUBLIC), id="space-in-name"),
        pytest.param(vkey_with_adjusted_id("a\tb", b"\x01" + _PUBLIC), id="tab-in-name"),
        pytest.param(vkey_with_adjusted_id("a\u00a0b", b"\x01" + _PUBLIC), id="nbsp-in-name"),
        pytest.param(vkey_with_adjusted_id("a\x01b", b"\x01" + _PUBLIC), id="control-in-name"),
        pytest.param(vkey_with_adjusted_id(NAME, b"\x04" + _PUBLIC), id="cosignature-alg"),
        pytest.param(vkey_with_adjusted_id(NAME, b"\x01" + _PUBLIC[:31]), id="short-key"),
        pytest.param(vkey_with_adjusted_id(NAME, b"\x01" + _PUBLIC + b"\0"), id="long-key"),
        pytest.param(vkey_with_adjusted_id(NAME, b""), id="no-key-bytes"),
        pytest.param(GOLDEN_VKEY[:-1], id="truncated-base64"),
        pytest.param(GOLDEN_VKEY + "=", id="extra-padding"),
        pytest.param(GOLDEN_VKEY + "\n", id="trailing-newline"),
        pytest.param(" " + GOLDEN_VKEY, id="leading-space"),
        pytest.param(GOLDEN_VKEY[:-4] + "ef*5", id="non-base64-char"),
        pytest.param(GOLDEN_VKEY.replace("/", "_"), id="urlsafe-base64"),
        # Go's own two extra cases from TestNewVerifier.
        pytest.param(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            id="go-wrong-length",
        ),
        pytest.param(
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            id="go-unknown-alg",
        ),
    ],
)
def test_malformed_verifier_keys_are_rejected(text: str) -> None:
    with pytest.raises(KeyFormatError):
        VerifierKey.parse(text)


def test_constructor_refuses_inconsistent_keys() -> None:
    good = VerifierKey.parse(GOLDEN_VKEY)
    with pytest.raises(KeyFormatError):
        VerifierKey(good.name, b"\0\0\0\0", good.public_key)
    with pytest.raises(KeyFormatError):
        VerifierKey("other", good.key_id, good.public_key)
    with pytest.raises(KeyFormatError):
        VerifierKey.from_public_key(NAME, good.public_key[:31])
    with pytest.raises(KeyFormatError):
        key_id(NAME, b"\0" * 33)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\nb", "\u2003x", "\ud800"])
def test_invalid_names_are_refused_for_signing_keys(name: str) -> None:
    assert not valid_key_name(name)
    with pytest.raises(KeyFormatError):
        SigningKey.generate(name)


def test_key_errors_are_ledger_errors() -> None:
    assert issubclass(KeyFormatError, LedgerError)
    assert issubclass(ConfigurationError, LedgerError)


def test_sign_and_verify() -> None:
    key = SigningKey.generate(NAME)
    signature = key.sign(b"message")
    assert len(signature) == 64
    assert key.verifier.verify(b"message", signature)
    assert not key.verifier.verify(b"messagf", signature)
    assert not key.verifier.verify(b"message", signature[:-1])
    assert not key.verifier.verify(b"message", signature + b"\0")
    assert not SigningKey.generate(NAME).verifier.verify(b"message", signature)
    for i in range(len(signature) * 8):
        flipped = bytearray(signature)
        flipped[i // 8] ^= 1 << (i % 8)
        assert not key.verifier.verify(b"message", bytes(flipped))


def test_signing_key_repr_does_not_show_the_private_key() -> None:
    assert "private_key" not in repr(golden_signing_key())


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "nested" / "log.pem"
    key = golden_signing_key()
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = SigningKey.load(path, NAME)
    assert loaded.verifier == key.verifier
    assert str(loaded.verifier) == GOLDEN_VKEY
    assert key.verifier.verify(b"x", loaded.sign(b"x"))


def test_save_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    first = SigningKey.generate(NAME)
    first.save(path)
    before = path.read_bytes()
    with pytest.raises(ConfigurationError):
        SigningKey.generate(NAME).save(path)
    assert path.read_bytes() == before
    assert SigningKey.load(path, NAME).verifier == first.verifier


def test_a_key_file_made_again_under_the_same_name_is_read_again(tmp_path: Path) -> None:
    # Loading is cached by the file's content: a rotation or a restore that puts another
    # key at the same path must never be answered with the old one.
    path = tmp_path / "log.pem"
    first = SigningKey.generate(NAME)
    first.save(path)
    assert SigningKey.load(path, NAME).verifier == first.verifier
    path.unlink()
    second = SigningKey.generate(NAME)
    second.save(path)
    assert SigningKey.load(path, NAME).verifier == second.verifier
    assert SigningKey.load(path, "other.example/log").verifier.name == "other.example/log"


def test_save_refuses_a_planted_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "log.pem").symlink_to(target)
    with pytest.raises(ConfigurationError):
        SigningKey.generate(NAME).save(tmp_path / "log.pem")
    assert not target.exists()


def test_load_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        SigningKey.load(tmp_path / "absent.pem", NAME)


def _pem(key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey, password: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not a key\n", id="garbage"),
        pytest.param(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", id="bad-der"
        ),
        pytest.param(_pem(ec.generate_private_key(ec.SECP256R1()), None), id="ecdsa-key"),
        pytest.param(_pem(Ed25519PrivateKey.generate(), b"secret"), id="encrypted"),
        pytest.param(
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            id="public-key",
        ),
        pytest.param(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            id="der-not-pem",
        ),
    ],
)
def test_load_rejects_anything_but_an_ed25519_pem(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pem"
    path.write_bytes(content)
    with pytest.raises(KeyFormatError):
        SigningKey.load(path, NAME)


_names = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters="+"),
    min_size=1,
    max_size=40,
).filter(lambda s: not any(c.isspace() for c in s))


@given(name=_names, public=st.binary(min_size=32, max_size=32))
def test_verifier_key_string_round_trips(name: str, public: bytes) -> None:
    key = VerifierKey.from_public_key(name, public)
    assert VerifierKey.parse(str(key)) == key
    assert str(key).split("+")[1] == key.key_id_hex == key_id(name, public).hex()


def test_save_respects_a_stricter_umask(tmp_path: Path) -> None:
    old = os.umask(0o277)
    try:
        golden_signing_key().save(tmp_path / "log.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "log.pem").stat().st_mode) & 0o077 == 0
