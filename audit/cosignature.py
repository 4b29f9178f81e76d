"""Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 ``cosignature/v1``).

A cosignature is one more signature line on the log's checkpoint note::

    — <witness name> <base64(key ID || 8-byte big-endian timestamp || Ed25519 signature)>

signed over ``"cosignature/v1\\ntime <seconds>\\n"`` followed by the checkpoint's note
text. The key ID is SHA-256(name || 0x0A || 0x04 || public key)[:4]: the signature type
byte 0x04 keeps a witness key apart from a log key (type 0x01) even under one name, so
:class:`WitnessKey` is its own class and never accepts a log's verifier key, nor
:class:`ledger.keys.VerifierKey` a witness's.

A witness keeps its private key in the file format Go's note tooling uses for signers,
``PRIVATE+KEY+<name>+<key ID hex>+<base64(0x04 || 32-byte seed)>``, so the one file
names the witness too and other cosigners (transparency-dev's) can read it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger.checkpoint import NoteSignature, SignedNote
from ledger.errors import ConfigurationError, KeyFormatError, NoteError
from ledger.keys import KEY_ID_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, b64decode_strict
from ledger.keys import valid_key_name as valid_name

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of timestamped Ed25519 witness cosignatures (c2sp.org/signed-note)."""

TIMESTAMP_SIZE = 8
MAX_TIMESTAMP = 2**63 - 1
"""The spec's bound: the timestamp must fit a signed 64-bit integer."""

HEADER = "cosignature/v1"
SEED_SIZE = 32
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_HEX_ID = re.compile("[0-9a-f]{8}")


class CosignatureError(NoteError):
    """A cosignature line is malformed or does not verify under the witness's key."""

    code = "invalid_cosignature"


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key ID of a witness key: SHA-256(name || 0x0A || 0x04 || key)[:4]."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes")
    data = name.encode("utf-8") + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


def signed_message(note_text: str, timestamp: int) -> bytes:
    """What a cosignature signs: a header line, a time line, then the checkpoint text.

    The header separates cosignatures from every other use of the key; the time line
    dates the witness's statement that this was the largest consistent tree it saw.
    """
    _check_timestamp(timestamp)
    if not note_text.endswith("\n") or note_text.count("\n") < 3:
        raise CosignatureError("a cosigned checkpoint has at least three lines")
    return f"{HEADER}\ntime {timestamp}\n{note_text}".encode()


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"cosignature timestamp {timestamp} is out of range")


@dataclass(frozen=True)
class WitnessKey:
    """A witness's public key as logs and clients configure it: always consistent."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        if not valid_name(self.name):
            raise KeyFormatError(f"invalid witness name {self.name[:80]!r}")
        if len(self.public_key) != PUBLIC_KEY_SIZE:
            raise KeyFormatError(f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes")
        if self.key_id != cosigner_key_id(self.name, self.public_key):
            raise KeyFormatError("key ID does not match the witness name and public key")

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> WitnessKey:
        if not valid_name(name):
            raise KeyFormatError(f"invalid witness name {name[:80]!r}")
        return cls(name, cosigner_key_id(name, public_key), public_key)

    @classmethod
    def parse(cls, text: str) -> WitnessKey:
        """Read ``<name>+<key ID hex>+<base64(0x04 || public key)>``, refusing anything else."""
        parts = text.split("+", 2)  # base64 may itself contain "+"
        if len(parts) != 3:
            raise KeyFormatError("witness key must be <name>+<key ID>+<key data>")
        name, id_hex, key_b64 = parts
        if not valid_name(name):
            raise KeyFormatError(f"invalid witness name {name[:80]!r}")
        if not _HEX_ID.fullmatch(id_hex):
            raise KeyFormatError("key ID must be 8 lowercase hex digits")
        try:
            data = b64decode_strict(key_b64)
        except ValueError as e:
            raise KeyFormatError(f"witness key data: {e}") from None
        if not data or data[0] != ALG_COSIGNATURE_V1:
            raise KeyFormatError("not a witness key (want type 0x04, Ed25519 cosignature/v1)")
        if len(data) != 1 + PUBLIC_KEY_SIZE:
            raise KeyFormatError(f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes")
        return cls(name, bytes.fromhex(id_hex), data[1:])

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()

    def __str__(self) -> str:
        data = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id_hex}+{data}"

    def verify(self, cosignature: Cosignature, note_text: str) -> None:
        """Raise unless ``cosignature`` is this key's, over exactly ``note_text``."""
        if (cosignature.name, cosignature.key_id) != (self.name, self.key_id):
            raise CosignatureError(f"the cosignature is not by {self.name}+{self.key_id_hex}")
        message = signed_message(note_text, cosignature.timestamp)
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                cosignature.signature, message
            )
        except (InvalidSignature, ValueError):
            raise CosignatureError(f"cosignature by {self.name} does not verify") from None

    def cosignatures_in(self, note: SignedNote) -> list[Cosignature]:
        """Every line of ``note`` claiming to be this key's, verified; the others ignored."""
        found = [
            Cosignature.from_note_signature(sig)
            for sig in note.signatures
            if (sig.name, sig.key_id) == (self.name, self.key_id)
        ]
        for cosignature in found:
            self.verify(cosignature, note.text)
        return found


@dataclass(frozen=True)
class Cosignature:
    """One witness's dated signature over a checkpoint."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    def __post_init__(self) -> None:
        _check_timestamp(self.timestamp)
        if len(self.signature) != SIGNATURE_SIZE:
            raise CosignatureError(f"an Ed25519 signature has {SIGNATURE_SIZE} bytes")

    @classmethod
    def from_note_signature(cls, sig: NoteSignature) -> Cosignature:
        """Split a note signature line's bytes into timestamp and Ed25519 signature."""
        if len(sig.signature) != TIMESTAMP_SIZE + SIGNATURE_SIZE:
            raise CosignatureError(f"signature by {sig.name[:80]} is not a cosignature/v1")
        timestamp = int.from_bytes(sig.signature[:TIMESTAMP_SIZE], "big")
        return cls(sig.name, sig.key_id, timestamp, sig.signature[TIMESTAMP_SIZE:])

    def note_signature(self) -> NoteSignature:
        data = self.timestamp.to_bytes(TIMESTAMP_SIZE, "big") + self.signature
        return NoteSignature(self.name, self.key_id, data)

    def line(self) -> str:
        """``— <name> <base64(key ID || timestamp || signature)>`` with its newline."""
        return self.note_signature().line()


@dataclass(frozen=True, eq=False)
class WitnessSigner:
    """A witness's private key with the name it cosigns under."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        if not valid_name(self.name):
            raise KeyFormatError(f"invalid witness name {self.name[:80]!r}")

    @classmethod
    def generate(cls, name: str) -> WitnessSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def verifier(self) -> WitnessKey:
        return WitnessKey.from_public_key(
            self.name, self.private_key.public_key().public_bytes_raw()
        )

    def cosign(self, note_text: str, timestamp: int) -> Cosignature:
        signature = self.private_key.sign(signed_message(note_text, timestamp))
        return Cosignature(self.name, self.verifier.key_id, timestamp, signature)

    def private_text(self) -> str:
        seed = self.private_key.private_bytes_raw()
        data = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + seed).decode("ascii")
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.key_id_hex}+{data}\n"

    @classmethod
    def parse(cls, text: str) -> WitnessSigner:
        """Read ``PRIVATE+KEY+<name>+<key ID hex>+<base64(0x04 || seed)>``."""
        if not text.startswith(_PRIVATE_PREFIX):
            raise KeyFormatError("witness key file must start with PRIVATE+KEY+")
        parts = text[len(_PRIVATE_PREFIX) :].strip().split("+", 2)
        if len(parts) != 3 or not _HEX_ID.fullmatch(parts[1]):
            raise KeyFormatError("witness key must be PRIVATE+KEY+<name>+<key ID>+<key data>")
        name, id_hex, data_b64 = parts
        try:
            data = b64decode_strict(data_b64)
        except ValueError as e:
            raise KeyFormatError(f"witness key data: {e}") from None
        if len(data) != 1 + SEED_SIZE or data[0] != ALG_COSIGNATURE_V1:
            raise KeyFormatError("not an Ed25519 cosignature/v1 private key (type 0x04)")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(data[1:]))
        if signer.verifier.key_id_hex != id_hex:
            raise KeyFormatError("key ID does not match the witness name and key")
        return signer

    def save(self, path: Path) -> None:
        """Write the key readable by its owner only, never over an existing file.

        A witness that lost its key would have to be re-trusted by every log and
        client under a new one, so an existing file is an error, not something to replace.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigurationError(f"refusing to overwrite existing key file {path}") from None
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(self.private_text())
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> WitnessSigner:
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise ConfigurationError(f"witness key file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigurationError(f"cannot read witness key file {path}: {e}") from None
        return cls.parse(text)
