"""A witness (c2sp.org/tlog-witness): cosigns a log's checkpoint only if it is consistent.

For each log it knows (an origin and the keys it trusts for it), the witness remembers
the size and root hash of the latest checkpoint it cosigned, in a JSON state file.
``add-checkpoint`` requests name the size the log believes the witness holds (``old``)
and carry a consistency proof from it; the witness cosigns only when the old size is
the one it holds and the proof leads from its root to the new one. So once a witness has
cosigned a tree, it will never cosign a tree that does not contain it: not a rollback,
not a fork. That is what lets a donor trust a checkpoint the witnesses have cosigned.

Reading the state, checking, signing and writing the new state happen under one lock
(a thread lock and an ``flock`` on a file beside the state), so two requests from the
same old size can never both advance it (the race the spec describes), whether they
reach one process or several. The state is replaced atomically and made durable
before the cosignature is returned, as the spec requires.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.cosignature import WitnessSigner
from ledger import merkle
from ledger.checkpoint import Checkpoint, SignedNote
from ledger.errors import (
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    LedgerError,
    NotFoundError,
    PermissionDeniedError,
    ProofError,
    ValidationError,
)
from ledger.keys import VerifierKey, b64decode_strict

MAX_PROOF_LINES = 63
"""The spec's limit: no consistency proof of a tree below 2^64 is longer."""

MAX_REQUEST_BYTES = 1 << 20
STATE_VERSION = 1
_OLD = re.compile("old (0|[1-9][0-9]{0,19})")


class MalformedRequestError(InvalidRequestError):
    """The add-checkpoint body is not an old size, proof lines, a blank line and a note."""


class UnknownLogError(NotFoundError):
    """The checkpoint's origin is not a log this witness was configured to follow."""

    code = "unknown_log"


class UntrustedCheckpointError(PermissionDeniedError):
    """No signature on the checkpoint verifies under a key the witness trusts for the log."""

    code = "bad_log_signature"


class SizeMismatchError(ConflictError):
    """The request's old size, or the root at that size, is not what the witness holds.

    ``size`` is the size of the witness's latest cosigned checkpoint for the log, which
    the HTTP edge returns so that the client can retry from it.
    """

    code = "size_mismatch"

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class InconsistentCheckpointError(ValidationError):
    """The consistency proof does not lead from the witness's tree to the new checkpoint."""

    code = "inconsistent"


@dataclass(frozen=True)
class KnownLog:
    """A log the witness follows: its origin and the keys trusted to sign its checkpoints."""

    origin: str
    keys: tuple[VerifierKey, ...]


def known_logs(specs: Iterable[str]) -> dict[str, KnownLog]:
    """Read ``ORIGIN=VKEY`` specifications; an origin named twice trusts both keys."""
    keys: dict[str, list[VerifierKey]] = {}
    for spec in specs:
        origin, equals, vkey = spec.partition("=")
        if not equals or not origin:
            raise ConfigurationError(f"a log is ORIGIN=VERIFIER_KEY, not {spec[:80]!r}")
        key = VerifierKey.parse(vkey.strip())
        if key.name != origin:
            raise ConfigurationError(f"the key of {origin} is named {key.name}: they must match")
        keys.setdefault(origin, []).append(key)
    return {origin: KnownLog(origin, tuple(found)) for origin, found in keys.items()}


@dataclass(frozen=True)
class LogState:
    """The latest checkpoint the witness cosigned for one log."""

    size: int
    root: bytes
    checkpoint: str
    time: int

    def document(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": self.root.hex(),
            "checkpoint": self.checkpoint,
            "time": self.time,
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> LogState:
        return cls(
            int(document["size"]),
            bytes.fromhex(document["root"]),
            str(document["checkpoint"]),
            int(document["time"]),
        )


@dataclass(frozen=True)
class Request:
    """An add-checkpoint body, parsed but not yet trusted."""

    old_size: int
    proof: tuple[bytes, ...]
    note: SignedNote


def parse_request(body: bytes) -> Request:
    """Split the body into its old size line, proof lines and the signed note."""
    if len(body) > MAX_REQUEST_BYTES:
        raise MalformedRequestError(f"request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequestError("request is not UTF-8") from None
    head, blank, note_text = text.partition("\n\n")
    if not blank:
        raise MalformedRequestError("request needs an empty line before the checkpoint")
    old_line, *proof_lines = head.split("\n")
    match = _OLD.fullmatch(old_line)
    if match is None:
        raise MalformedRequestError("the first line must be 'old <size>'")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise MalformedRequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in proof_lines:
        try:
            value = b64decode_strict(line)
        except ValueError:
            raise MalformedRequestError("a consistency proof line is not base64") from None
        if len(value) != merkle.HASH_SIZE:
            raise MalformedRequestError(f"a proof hash must be {merkle.HASH_SIZE} bytes")
        proof.append(value)
    try:
        note = SignedNote.parse(note_text)
    except LedgerError as e:
        raise MalformedRequestError(f"checkpoint: {e}") from None
    return Request(int(match.group(1)), tuple(proof), note)


class StateFile:
    """Each log's latest cosigned checkpoint, in one JSON file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._thread_lock = threading.Lock()

    @contextmanager
    def locked(self) -> Iterator[dict[str, LogState]]:
        """Hold the lock and yield the states; the caller saves within the block."""
        with self._thread_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield self.read()
            finally:
                os.close(fd)  # closing releases the flock

    def read(self) -> dict[str, LogState]:
        """The states; a missing file is a witness that has seen nothing yet.

        A file that cannot be read is an error, never an empty state: forgetting what it
        saw is the one thing that would let a witness cosign a rollback.
        """
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise ConfigurationError(f"cannot read witness state {self.path}: {e}") from None
        try:
            document = json.loads(raw)
            if document.get("version") != STATE_VERSION:
                raise ValueError(f"unknown version {document.get('version')!r}")
            return {
                origin: LogState.from_document(state) for origin, state in document["logs"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigurationError(f"witness state {self.path} is unreadable: {e}") from None

    def save(self, states: Mapping[str, LogState]) -> None:
        """Write a temporary file, make it durable, then rename it over the old one."""
        document = {
            "version": STATE_VERSION,
            "logs": {origin: states[origin].document() for origin in sorted(states)},
        }
        data = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)


class Witness:
    """The add-checkpoint decision: verify, check against the state, cosign, remember."""

    def __init__(
        self,
        signer: WitnessSigner,
        logs: Mapping[str, KnownLog],
        state: StateFile,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.logs = dict(logs)
        self.state = state
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> list[str]:
        """The cosignature lines for a request, or the error that refuses it.

        Checks run in the spec's order: the origin must be known (404), a trusted key
        must have signed (403), the old size must not exceed the new (400) and must be
        the size the witness holds (409), and the proof must verify (422).
        """
        request = parse_request(body)
        checkpoint = self._trusted(request.note)
        if request.old_size > checkpoint.size:
            raise MalformedRequestError(
                f"old size {request.old_size} is larger than the checkpoint's {checkpoint.size}"
            )
        if request.old_size == 0 and request.proof:
            raise MalformedRequestError("the proof must be empty when the old size is 0")
        with self.state.locked() as states:
            held = states.get(checkpoint.origin)
            self._check(request, checkpoint, held)
            now = int(self.clock())
            cosignature = self.signer.cosign(request.note.text, now)
            states[checkpoint.origin] = LogState(
                checkpoint.size, checkpoint.root, request.note.text, now
            )
            self.state.save(states)
        return [cosignature.line()]

    def _trusted(self, note: SignedNote) -> Checkpoint:
        origin = note.text.split("\n", 1)[0]
        log = self.logs.get(origin)
        if log is None:
            raise UnknownLogError(f"this witness does not follow the log {origin[:80]!r}")
        verified = False
        for key in log.keys:
            if note.signature_by(key) is None:
                continue
            try:
                note.verify(key)
            except LedgerError:
                raise UntrustedCheckpointError(
                    f"the signature by {key.name}+{key.key_id_hex} does not verify"
                ) from None
            verified = True
        if not verified:
            raise UntrustedCheckpointError(f"no signature by a key trusted for {origin[:80]}")
        try:
            checkpoint = Checkpoint.from_text(note.text)
        except LedgerError as e:
            raise MalformedRequestError(f"checkpoint: {e}") from None
        return checkpoint

    @staticmethod
    def _check(request: Request, checkpoint: Checkpoint, held: LogState | None) -> None:
        size = held.size if held else 0
        if request.old_size != size:
            raise SizeMismatchError(
                f"old size {request.old_size} is not the witness's size {size}", size
            )
        if held is None or held.size == 0:
            return  # the first tree of a log is trusted on first sight; any tree extends 0
        if checkpoint.size == held.size:
            if checkpoint.root != held.root:
                raise SizeMismatchError(
                    f"the witness holds another root at size {size}: the log forked", size
                )
            if request.proof:
                raise InconsistentCheckpointError("the proof must be empty for an equal size")
            return
        try:
            merkle.verify_consistency(
                held.size, checkpoint.size, request.proof, held.root, checkpoint.root
            )
        except ProofError as e:
            raise InconsistentCheckpointError(
                f"not consistent with the witness's tree of size {held.size}: {e}"
            ) from None
