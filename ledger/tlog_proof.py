"""C2SP ``tlog-proof@v1`` files: a receipt that proves itself with no server.

Format (c2sp.org/tlog-proof), lines separated by ``\\n``::

    c2sp.org/tlog-proof@v1
    extra <base64 of the leaf bytes>
    index <decimal>
    <base64 inclusion proof hash, leaf's sibling first>
    ...
    <empty line>
    <the checkpoint note, verbatim, with its signatures>

The ``extra`` line is not authenticated by the format itself; it earns trust here
because its hash, ``SHA-256(0x00 || extra)``, must be the leaf that the inclusion
proof places at ``index`` under a root the log's key signed. Only then is the leaf
decoded, and its own ``index`` must agree with the proof's.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger import merkle
from ledger.checkpoint import Checkpoint, SignedNote, verify_checkpoint
from ledger.entries import Entry, decode_leaf
from ledger.errors import LedgerError, NoteError, ProofError
from ledger.keys import VerifierKey, b64decode_strict

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_BYTES = 1 << 20
"""A receipt is a few kilobytes; this bounds what a hostile file can make us read."""

_INDEX = re.compile("0|[1-9][0-9]{0,19}")


class TlogProofError(LedgerError):
    """A tlog-proof file is malformed, or what it claims does not verify."""

    code = "invalid_tlog_proof"


@dataclass(frozen=True)
class TlogProof:
    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def render(self) -> str:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode("ascii"))
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode("ascii") for h in self.proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint


def parse(data: str | bytes) -> TlogProof:
    """Read a file strictly: any deviation from the format is an error, not a guess."""
    if len(data) > MAX_PROOF_BYTES:
        raise TlogProofError(f"the file is larger than {MAX_PROOF_BYTES} bytes")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise TlogProofError("the file is not UTF-8 text") from None
    head, blank, checkpoint = data.partition("\n\n")
    if not blank:
        raise TlogProofError("no empty line between the proof and the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise TlogProofError(f"the first line must be {HEADER!r}")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = _base64(rest.pop(0)[len("extra ") :], "extra data")
    if not rest or not rest[0].startswith("index "):
        raise TlogProofError("the line after the header (and extra) must be 'index N'")
    number = rest.pop(0)[len("index ") :]
    if not _INDEX.fullmatch(number):
        raise TlogProofError(f"index {number[:40]!r} is not a canonical decimal")
    proof = tuple(_base64(line, "proof hash") for line in rest)
    try:
        SignedNote.parse(checkpoint)
    except NoteError as e:
        raise TlogProofError(f"checkpoint: {e.message}") from None
    return TlogProof(int(number), proof, checkpoint, extra)


def _base64(text: str, what: str) -> bytes:
    try:
        return b64decode_strict(text)
    except ValueError as e:
        raise TlogProofError(f"{what}: {e}") from None


@dataclass(frozen=True)
class VerifiedProof:
    entry: Entry
    checkpoint: Checkpoint
    key: VerifierKey


def verify(data: str | bytes, keys: Sequence[VerifierKey]) -> VerifiedProof:
    """Check a receipt file against the log's verifier keys; return the proven entry.

    Any of ``keys`` may have signed the checkpoint: after a key rotation, receipts
    of older gifts carry checkpoints signed by the older key, and the published key
    list (``GET /api/v1/log/keys``) names every key with the indices it signed.
    """
    proof = parse(data)
    if proof.extra is None:
        raise TlogProofError("the file carries no leaf (extra line); nothing to verify")
    checkpoint, key = _signed_checkpoint(proof.checkpoint, keys)
    leaf_hash = merkle.hash_leaf(proof.extra)
    try:
        merkle.verify_inclusion(
            leaf_hash, proof.index, checkpoint.size, proof.proof, checkpoint.root
        )
    except ProofError as e:
        raise TlogProofError(
            f"the leaf is not at index {proof.index} of the signed tree: {e.message}"
        ) from None
    try:
        entry = decode_leaf(proof.extra)
    except LedgerError as e:
        raise TlogProofError(f"the logged leaf does not decode: {e.message}") from None
    if entry.index != proof.index:
        raise TlogProofError(f"the leaf says index {entry.index}, the proof {proof.index}")
    return VerifiedProof(entry, checkpoint, key)


def _signed_checkpoint(note: str, keys: Iterable[VerifierKey]) -> tuple[Checkpoint, VerifierKey]:
    failures = []
    for key in keys:
        try:
            return verify_checkpoint(note, key), key
        except NoteError as e:
            failures.append(e.message)
    reasons = "; ".join(failures) or "no key given"
    raise TlogProofError(f"the checkpoint is not signed by the given key: {reasons}")
