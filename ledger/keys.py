"""Ed25519 keys for signed notes, in the encodings outside verifiers already understand.

A log key is named by the log's origin and is published as a C2SP verifier key string
(``<name>+<key ID hex>+<base64(0x01 || public key)>``), the same format Go's
``golang.org/x/mod/sumdb/note`` reads, so that anyone can check our checkpoints with
tools we did not write. Parsing is strict: a key string that merely *looks* right but
names a different key must never be accepted, because the key ID is what verifiers use
to pick our signature out of a note.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger.errors import ConfigurationError, KeyFormatError

ALG_ED25519 = 0x01
"""Signature type byte of plain Ed25519 note signatures (C2SP signed-note)."""

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
KEY_ID_SIZE = 4


def valid_key_name(name: str) -> bool:
    """Whether ``name`` may appear in a signature line or a verifier key string.

    The spec forbids empty names, Unicode spaces and ``+``: a space would split the
    signature line and a ``+`` would split the verifier key string. Control characters
    and unencodable surrogates are refused too, as no signed note may contain them.
    """
    if not name or "+" in name:
        return False
    if any(c.isspace() or ord(c) < 0x20 for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte hint that lets a verifier find its signature among many in a note.

    Hashing the name and algorithm byte along with the key keeps one key under two names
    (or two algorithms) from being confused with itself.
    """
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes")
    data = name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


def b64decode_strict(text: str) -> bytes:
    """Decode standard base64, refusing every spelling but the one we would produce.

    Lenient decoders accept stray padding bits or characters, which would give one key or
    signature several encodings; a strict round trip closes that door.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise ValueError("invalid base64") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


@dataclass(frozen=True)
class VerifierKey:
    """A public log key as outside verifiers configure it; always internally consistent."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        if not valid_key_name(self.name):
            raise KeyFormatError(f"invalid key name {self.name[:80]!r}")
        if len(self.public_key) != PUBLIC_KEY_SIZE:
            raise KeyFormatError(f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes")
        if self.key_id != key_id(self.name, self.public_key):
            raise KeyFormatError("key ID does not match the key name and public key")

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> VerifierKey:
        """Build the key whose ID is derived, never trusted from elsewhere."""
        if not valid_key_name(name):
            raise KeyFormatError(f"invalid key name {name[:80]!r}")
        return cls(name, key_id(name, public_key), public_key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read a verifier key string; anything short of the exact format is refused."""
        parts = text.split("+", 2)  # base64 may itself contain "+"
        if len(parts) != 3:
            raise KeyFormatError("verifier key must be <name>+<key ID>+<key data>")
        name, id_hex, key_b64 = parts
        if not valid_key_name(name):
            raise KeyFormatError(f"invalid key name {name[:80]!r}")
        if len(id_hex) != 2 * KEY_ID_SIZE or any(c not in "0123456789abcdef" for c in id_hex):
            raise KeyFormatError("key ID must be 8 lowercase hex digits")
        try:
            data = b64decode_strict(key_b64)
        except ValueError as e:
            raise KeyFormatError(f"verifier key data: {e}") from None
        if not data or data[0] != ALG_ED25519:
            raise KeyFormatError("unsupported key algorithm (want Ed25519, 0x01)")
        if len(data) != 1 + PUBLIC_KEY_SIZE:
            raise KeyFormatError(f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes")
        return cls(name, bytes.fromhex(id_hex), data[1:])

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()

    def __str__(self) -> str:
        data = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id_hex}+{data}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Answer yes or no, so callers decide which error a bad signature is."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, eq=False)
class SigningKey:
    """The log's private key together with the name it signs under.

    Compared by identity: key objects do not compare by value, and two signing keys that
    are merely "equal" is not a question callers should be asking of secrets.
    """

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        if not valid_key_name(self.name):
            raise KeyFormatError(f"invalid key name {self.name[:80]!r}")

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        return cls(name, Ed25519PrivateKey.generate())

    @functools.cached_property
    def verifier(self) -> VerifierKey:
        """Derived once: every append compares it with the key in force and names it."""
        return VerifierKey.from_public_key(
            self.name, self.private_key.public_key().public_bytes_raw()
        )

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def save(self, path: Path) -> None:
        """Write the key readable by its owner only, and never over an existing key.

        Overwriting a log key would orphan every checkpoint already published, so an
        existing file is an error, not something to replace. ``O_EXCL`` also refuses to
        follow a symlink planted at ``path``.
        """
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigurationError(f"refusing to overwrite existing key file {path}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            path.unlink(missing_ok=True)  # a half-written key would block the next save
            raise

    @classmethod
    def load(cls, path: Path, name: str) -> SigningKey:
        """Read a key written by :meth:`save` (or any unencrypted PKCS#8 Ed25519 PEM).

        The file is read on every call, so a replaced key is never missed; what it holds
        is parsed once per content and name, since every append loads the key.
        """
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ConfigurationError(f"signing key file {path} does not exist") from None
        except OSError as e:
            raise ConfigurationError(f"cannot read signing key file {path}: {e}") from None
        try:
            return _from_pem(data, name)
        except _NotAKey as e:
            raise KeyFormatError(f"{path} {e}") from None


class _NotAKey(Exception):
    """What is wrong with a key file's content; ``SigningKey.load`` names the file."""


@functools.lru_cache(maxsize=8)
def _from_pem(data: bytes, name: str) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise _NotAKey("is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _NotAKey("does not hold an Ed25519 private key")
    return SigningKey(name, key)
