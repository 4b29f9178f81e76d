"""Checkpoints as C2SP signed notes: the log's public, signed statement of its tree head.

The wire format is fixed by c2sp.org/signed-note and c2sp.org/tlog-checkpoint because
verifiers and witnesses we did not write read it. Everything is parsed strictly into
values first and only then verified, and the body of a note is not even parsed as a
checkpoint until a signature by the expected key has checked out: the spec says unsigned
text must be ignored, and a parser that never sees hostile text cannot be fooled by it.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from ledger.errors import NoteError
from ledger.keys import (
    KEY_ID_SIZE,
    SigningKey,
    VerifierKey,
    b64decode_strict,
    valid_key_name,
)

MAX_NOTE_BYTES = 1 << 20
"""Bounds the work a hostile note can cause; real checkpoints are a few hundred bytes."""

MAX_SIGNATURES = 100
"""The spec asks verifiers to accept at least 16; Go's note package stops at 100."""

ROOT_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1
"""Other implementations hold the size in a uint64; a larger one could not be checked."""

_DASH = "\u2014 "
_FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff]")
_SIZE = re.compile("0|[1-9][0-9]{0,19}")


def _check_text(text: str) -> None:
    """Enforce the signed-note rules on note text, which is what signatures cover."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if _FORBIDDEN.search(text):
        raise NoteError("note contains control characters or is not valid UTF-8")
    if len(text) > MAX_NOTE_BYTES or len(text.encode("utf-8")) > MAX_NOTE_BYTES:
        raise NoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head; construction validates, so an instance always renders validly."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin:
            raise NoteError("checkpoint origin is empty")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError(f"checkpoint tree size {self.size} is out of range")
        if len(self.root) != ROOT_SIZE:
            raise NoteError(f"checkpoint root hash must be {ROOT_SIZE} bytes")
        if any(not line for line in self.extensions):
            raise NoteError("checkpoint extension lines must be non-empty")
        if any("\n" in line for line in (self.origin, *self.extensions)):
            raise NoteError("checkpoint lines must not contain newlines")
        _check_text(self.text())

    def text(self) -> str:
        lines = (self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"))
        return "".join(f"{line}\n" for line in (*lines, *self.extensions))

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        _check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("checkpoint needs origin, tree size and root hash lines")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size):
            raise NoteError(f"checkpoint tree size {size[:40]!r} is not a canonical decimal")
        try:
            root_hash = b64decode_strict(root)
        except ValueError as e:
            raise NoteError(f"checkpoint root hash: {e}") from None
        return cls(origin, int(size), root_hash, tuple(extensions))


@dataclass(frozen=True)
class NoteSignature:
    """One signature line; its key is identified by name and key ID together."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not valid_key_name(self.name):
            raise NoteError(f"invalid key name {self.name[:80]!r} in signature line")
        if len(self.key_id) != KEY_ID_SIZE:
            raise NoteError(f"signature key ID must be {KEY_ID_SIZE} bytes")
        if not self.signature:
            raise NoteError("signature is empty")

    def line(self) -> str:
        data = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_DASH}{self.name} {data}\n"


@dataclass(frozen=True)
class SignedNote:
    """Note text plus signatures, kept whether or not we know the keys (witnesses).

    Construction validates, so whatever :meth:`render` produces :meth:`parse` accepts.
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        _check_text(self.text)
        if not self.signatures:
            raise NoteError("note has no signature lines")
        if len(self.signatures) > MAX_SIGNATURES:
            raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
        if len(self.render().encode("utf-8")) > MAX_NOTE_BYTES:
            raise NoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")

    @classmethod
    def parse(cls, note: str | bytes) -> SignedNote:
        """Split a note at its last blank line and read every signature line strictly.

        Signatures by keys we do not know are kept, not judged: they may be witness
        cosignatures, and the spec requires verifiers to ignore them.
        """
        if len(note) > MAX_NOTE_BYTES:
            raise NoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")
        if isinstance(note, bytes):
            try:
                note = note.decode("utf-8")
            except UnicodeDecodeError:
                raise NoteError("note is not valid UTF-8") from None
        _check_text(note)
        split = note.rfind("\n\n")
        if split < 0:
            raise NoteError("note has no blank line before its signatures")
        text, block = note[: split + 1], note[split + 2 :]
        if not block:
            raise NoteError("note has no signature lines")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
        return cls(text, tuple(_parse_signature_line(line) for line in lines))

    def render(self) -> str:
        return self.text + "\n" + "".join(sig.line() for sig in self.signatures)

    def signature_by(self, key: VerifierKey) -> NoteSignature | None:
        return next(iter(self._signatures_by(key)), None)

    def verify(self, key: VerifierKey) -> None:
        """Require a signature by ``key``, and refuse the note if any of its claims fail.

        Checking every line that claims to be ``key``'s (not just the first, as Go does)
        follows the spec's advice to reject a note carrying a bad signature by a known key.
        """
        claimed = self._signatures_by(key)
        if not claimed:
            raise NoteError(f"no signature by {key.name}+{key.key_id_hex}")
        message = self.text.encode("utf-8")
        for sig in claimed:
            if not key.verify(message, sig.signature):
                raise NoteError(f"signature does not verify: {key.name}+{key.key_id_hex}")

    def with_signature(self, sig: NoteSignature) -> SignedNote:
        """Add a signature, replacing any earlier one by the same key (as Go's note.Sign)."""
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) != (sig.name, sig.key_id))
        return SignedNote(self.text, (*kept, sig))

    def _signatures_by(self, key: VerifierKey) -> list[NoteSignature]:
        return [s for s in self.signatures if s.name == key.name and s.key_id == key.key_id]


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_DASH):
        raise NoteError("signature line must start with an em dash and a space")
    name, space, data = line[len(_DASH) :].partition(" ")
    if not space:
        raise NoteError("signature line must be '\u2014 <key name> <base64 signature>'")
    try:
        raw = b64decode_strict(data)
    except ValueError as e:
        raise NoteError(f"signature by {name[:80]!r}: {e}") from None
    if len(raw) <= KEY_ID_SIZE:
        raise NoteError(f"signature by {name[:80]!r} is too short")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def sign_note(text: str, key: SigningKey) -> SignedNote:
    _check_text(text)
    signature = NoteSignature(key.name, key.verifier.key_id, key.sign(text.encode("utf-8")))
    return SignedNote(text, (signature,))


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey) -> str:
    """Sign under the origin's own name, so the note can pass :func:`verify_checkpoint`."""
    if checkpoint.origin != key.name:
        raise NoteError(
            f"origin mismatch: checkpoint is for {checkpoint.origin!r}, key is {key.name!r}"
        )
    return sign_note(checkpoint.text(), key).render()


def verify_checkpoint(note: str | bytes, key: VerifierKey) -> Checkpoint:
    """Return the checkpoint only once ``key`` has vouched for it and it names itself."""
    signed = SignedNote.parse(note)
    signed.verify(key)
    checkpoint = Checkpoint.from_text(signed.text)
    if checkpoint.origin != key.name:
        raise NoteError(
            f"origin mismatch: checkpoint is for {checkpoint.origin[:80]!r}, key is {key.name!r}"
        )
    return checkpoint
