"""An outside monitor of a live ledger, through its public API and nothing else.

An auditor, a newspaper or an inspectorate runs it with the log's verifier key. Each
check fetches the latest checkpoint and holds it against the last one the monitor
verified (kept in a state file, see ``audit.monitor_state``):

* the note must carry a valid signature by a trusted key: one given by the person
  running the monitor, or one that a verified ``key_rotation`` entry handed over to;
* the same size must mean the same root (else the log shows two trees: a fork);
* the size may never shrink (a rollback), and a larger tree must come with an RFC 6962
  consistency proof from the old one (else the history was rewritten);
* optionally, every new entry is downloaded and checked: its leaf hash, its ``prev``
  link, its index, and finally that all leaves hash to the checkpoint's root.

A failed check raises a ``MonitorAlarm`` naming what is wrong with both trees' sizes
and roots, and the state is left as it was, so that a bad checkpoint never becomes the
baseline. A log that cannot be read raises ``LogUnavailableError`` instead: not being
able to look is not evidence of tampering, so it is reported and retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.log_client import LogClient, LogUnavailableError, PublishedKey, ServedEntry
from audit.monitor_state import (
    EntriesState,
    MonitorState,
    MonitorStateError,
    load_state,
    save_state,
)
from ledger.checkpoint import Checkpoint, SignedNote
from ledger.entries import GENESIS, KEY_ROTATION, ZERO_HASH_HEX, Entry, decode_leaf
from ledger.errors import ChainError, InvalidRequestError, LedgerError, NoteError, ProofError
from ledger.keys import VerifierKey
from ledger.merkle import CompactRange, hash_leaf, verify_consistency, verify_inclusion

PAGE_SIZE = 1000

Rotation = tuple[VerifierKey, VerifierKey]
"""A verified ``key_rotation`` entry: the key it retires and the key it trusts."""


class MonitorAlarm(ChainError):
    """The log misbehaved. ``kind`` names the alarm; ``exit_code`` is the command's status."""

    code = "monitor_alarm"
    kind = "ALARM"
    exit_code = 3

    def line(self) -> str:
        return f"ALARM {self.kind}: {self.message}"


class BadSignatureAlarm(MonitorAlarm):
    kind, exit_code = "BAD SIGNATURE", 3


class WrongOriginAlarm(MonitorAlarm):
    kind, exit_code = "WRONG ORIGIN", 4


class RollbackAlarm(MonitorAlarm):
    kind, exit_code = "ROLLBACK", 5


class ForkAlarm(MonitorAlarm):
    kind, exit_code = "FORK", 6


class InconsistentAlarm(MonitorAlarm):
    kind, exit_code = "INCONSISTENT", 7


class BadEntryAlarm(MonitorAlarm):
    kind, exit_code = "BAD ENTRY", 8


@dataclass(frozen=True)
class Report:
    """A check that passed: the new state to keep, and what was seen on the way."""

    state: MonitorState
    previous: MonitorState | None
    entries_checked: int | None  # None: entries were not downloaded
    cosigners: tuple[str, ...]
    learned_keys: tuple[VerifierKey, ...]
    retired_keys: tuple[VerifierKey, ...]

    def line(self) -> str:
        state, previous = self.state, self.previous
        if previous is None:
            seen = "first checkpoint seen"
        elif previous.size == state.size:
            seen = "unchanged since the last check"
        else:
            seen = f"consistent with size {previous.size} (+{state.size - previous.size})"
        count = self.entries_checked
        if count is None:
            entries = "entries not downloaded"
        else:
            entries = f"{count} new {'entry' if count == 1 else 'entries'} checked"
        names = self.cosigners
        cosigned = f"{len(names)} cosignature{'' if len(names) == 1 else 's'}"
        if names:
            cosigned += f" ({', '.join(names[:5])}{', …' if len(names) > 5 else ''})"
        learned = "".join(f"; now trusts key {key.key_id_hex}" for key in self.learned_keys)
        learned += "".join(f"; no longer trusts key {key.key_id_hex}" for key in self.retired_keys)
        return (
            f"OK size {state.size} root {state.root.hex()}: {seen}; {entries}; {cosigned}{learned}"
        )


def _seen(state: MonitorState | None) -> str:
    if state is None:
        return "no checkpoint verified before"
    return f"last verified size {state.size} root {state.root.hex()}"


def _claimed(signed: SignedNote) -> str:
    """What an unverified note claims, for the alarm message only: it is never trusted."""
    try:
        claim = Checkpoint.from_text(signed.text)
    except NoteError:
        return "unreadable size and root"
    return f"claims size {claim.size} root {claim.root.hex()}"


class Monitor:
    """Checks one log's checkpoint against the state of the previous check."""

    def __init__(
        self,
        client: LogClient,
        keys: Sequence[VerifierKey],
        *,
        check_entries: bool = False,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not keys:
            raise InvalidRequestError("give at least one verifier key")
        origins = sorted({key.name for key in keys})
        if len(origins) > 1:
            raise InvalidRequestError(f"the keys name different logs: {', '.join(origins)}")
        self.origin = origins[0]
        self._client = client
        self._keys = tuple(keys)
        self._check_entries = check_entries
        self._page_size = page_size
        self._clock = clock

    def check(self, state: MonitorState | None) -> Report:
        """One check; raises a ``MonitorAlarm`` or ``LogUnavailableError`` on failure."""
        if state is not None and state.origin != self.origin:
            raise MonitorStateError(f"the state is for {state.origin}, the keys for {self.origin}")
        retired = set(state.retired) if state is not None else set()
        trusted = {str(key): key for key in self._keys if str(key) not in retired}
        for text in state.keys if state is not None else ():
            trusted.setdefault(text, VerifierKey.parse(text))
        known = set(trusted)
        note = self._client.checkpoint()
        signed, rotations = self._signed(note, state, trusted)
        try:
            checkpoint = Checkpoint.from_text(signed.text)
        except NoteError as err:
            raise BadSignatureAlarm(f"the signed note is not a checkpoint: {err.message}") from None
        if checkpoint.origin != self.origin:
            raise WrongOriginAlarm(
                f"the checkpoint of size {checkpoint.size} root {checkpoint.root.hex()} is "
                f"for origin {checkpoint.origin[:100]!r}, not {self.origin!r}; {_seen(state)}"
            )
        if state is not None:
            self._compare(state, checkpoint)
        entries, checked = (state.entries if state is not None else None), None
        if self._check_entries:
            entries, checked, walked = self._entries(state, checkpoint)
            rotations += walked
        log_keys = {(key.name, key.key_id) for key in trusted.values()}
        cosigners = tuple(
            s.name[:80] for s in signed.signatures if (s.name, s.key_id) not in log_keys
        )
        # A rotation hands trust over: the old key signs no checkpoint after the first
        # one covering its rotation, so from now on one signed by it is refused.
        retiring = {str(old): old for old, _new in rotations if str(old) not in retired}
        retired.update(retiring)
        learned = {str(new): new for _old, new in rotations if str(new) not in known | retired}
        kept = dict.fromkeys([*(state.keys if state else ()), *learned])
        new_state = MonitorState(
            origin=self.origin,
            url=self._client.base_url,
            note=note.decode("utf-8"),
            size=checkpoint.size,
            root=checkpoint.root,
            checked_at=self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            keys=tuple(key for key in kept if key not in retired),
            retired=tuple(dict.fromkeys([*(state.retired if state else ()), *retiring])),
            entries=entries,
            history=state.remembered() if state is not None else (),
        )
        dropped = tuple(key for key in retiring.values() if str(key) in known)
        return Report(new_state, state, checked, cosigners, tuple(learned.values()), dropped)

    def _signed(
        self, note: bytes, state: MonitorState | None, trusted: dict[str, VerifierKey]
    ) -> tuple[SignedNote, list[Rotation]]:
        """The note once a trusted key's signature checked out, and the rotations that
        had to be proven first for that key to be trusted."""
        try:
            signed = SignedNote.parse(note)
        except NoteError as err:
            raise BadSignatureAlarm(
                f"the checkpoint is not a signed note ({err.message}); {_seen(state)}"
            ) from None
        rotations: list[Rotation] = []
        signer = self._signer(signed, trusted, state)
        if signer is None and state is not None:
            rotations = self._learn_rotations(state, trusted)
            signer = self._signer(signed, trusted, state)
        if signer is None:
            signers = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in signed.signatures[:5])
            ids = ", ".join(key.key_id_hex for key in trusted.values()) or "all retired"
            raise BadSignatureAlarm(
                f"the checkpoint ({_claimed(signed)}) is signed by no trusted key ({ids}) "
                f"but by {signers}; {_seen(state)}; if the log rotated its key, check the "
                "new key with its operator and add it with --key"
            )
        return signed, rotations

    def _signer(
        self, signed: SignedNote, trusted: dict[str, VerifierKey], state: MonitorState | None
    ) -> VerifierKey | None:
        """The trusted key that signed; a bad signature by any trusted key is an alarm."""
        found = None
        for key in trusted.values():
            if signed.signature_by(key) is None:
                continue
            try:
                signed.verify(key)
            except NoteError:
                raise BadSignatureAlarm(
                    f"the checkpoint ({_claimed(signed)}) carries a signature by trusted key "
                    f"{key.key_id_hex} that does not verify; {_seen(state)}"
                ) from None
            found = found or key
        return found

    def _compare(self, state: MonitorState, checkpoint: Checkpoint) -> None:
        size, root = checkpoint.size, checkpoint.root.hex()
        old = f"size {state.size} root {state.root.hex()}"
        if size == state.size and checkpoint.root != state.root:
            raise ForkAlarm(
                f"the log signs size {size} with root {root}, but this monitor verified {old}: "
                "two different trees of one size"
            )
        if size < state.size:
            raise RollbackAlarm(
                f"the log signs size {size} root {root}, smaller than {old} that it signed "
                f"before; {self._rollback_detail(state, checkpoint)}"
            )
        if size > state.size > 0:
            proof = self._client.consistency_proof(state.size, size)
            try:
                verify_consistency(state.size, size, proof, state.root, checkpoint.root)
            except ProofError as err:
                raise InconsistentAlarm(
                    f"the log's size {size} root {root} does not extend {old} seen before: "
                    f"{err.message}"
                ) from None

    def _rollback_detail(self, state: MonitorState, checkpoint: Checkpoint) -> str:
        """Whether the smaller tree is at least a prefix of the one seen: a fork or not."""
        size = checkpoint.size
        seen = state.root_at(size)
        if seen is not None and seen != checkpoint.root:
            return f"it is also a fork: this monitor verified size {size} with root {seen.hex()}"
        if seen is not None:
            return f"size {size} has the root this monitor verified before (an older state)"
        if size == 0:
            return "the log claims to be empty"
        try:
            proof = self._client.consistency_proof(size, state.size)
            verify_consistency(size, state.size, proof, checkpoint.root, state.root)
        except LogUnavailableError:
            return f"the server cannot prove size {size} a prefix of size {state.size}"
        except ProofError:
            return f"it is also a fork: size {size} is not a prefix of size {state.size}"
        return f"the server proves size {size} a prefix of size {state.size} (a stale checkpoint)"

    def _learn_rotations(
        self, state: MonitorState, trusted: dict[str, VerifierKey]
    ) -> list[Rotation]:
        """Trust the keys whose rotation entries lie in the tree this monitor verified.

        A published key list is only a claim. A key is trusted when its ``key_rotation``
        entry is proven (inclusion proof) to be in the last verified tree and retires a
        key already trusted; a rotation after that tree cannot be vouched for yet.
        """
        claims = self._client.keys()
        learned: list[Rotation] = []
        while True:
            found = [
                rotation
                for claim in claims
                if claim.verifier_key not in trusted and 0 < claim.from_index <= state.size
                for rotation in [self._proven_rotation(state, claim, trusted)]
                if rotation is not None
            ]
            if not found:
                return learned
            for old, new in found:
                trusted[str(new)] = new
                learned.append((old, new))

    def _proven_rotation(
        self, state: MonitorState, claim: PublishedKey, trusted: dict[str, VerifierKey]
    ) -> Rotation | None:
        index = claim.from_index - 1  # the rotation entry; the new key signs after it
        served = self._client.entry(index)
        try:
            entry = decode_leaf(served.leaf)
            key = VerifierKey.parse(claim.verifier_key)
            if (entry.index, entry.kind, key.name) != (index, KEY_ROTATION, self.origin):
                return None
            old = trusted.get(str(entry.body.get("old_key")))
            if entry.body.get("new_key") != str(key) or old is None:
                return None
            proof = self._client.inclusion_proof(index, state.size)
            verify_inclusion(entry.leaf_hash, index, state.size, proof, state.root)
        except LogUnavailableError:
            raise
        except LedgerError:
            return None
        return old, key

    def _entries(
        self, state: MonitorState | None, checkpoint: Checkpoint
    ) -> tuple[EntriesState, int, list[Rotation]]:
        """Download the entries not checked before, and tie them all to the signed root.

        Returns the entries' state, how many were checked, and their key rotations:
        vouched for only once the root matched the checkpoint's.
        """
        resume = state.entries if state is not None else None
        if resume is None:
            walk, tree = EntryWalk(self.origin, ZERO_HASH_HEX, ""), CompactRange()
        else:
            walk, tree = EntryWalk(self.origin, resume.last_leaf_hash, resume.key), resume.tree()
        start = index = tree.size
        page = self._page_size
        while index < checkpoint.size:
            limit = min(page, checkpoint.size - index)
            try:
                served = self._client.entries(index, limit)
            except LogUnavailableError as err:
                if err.status == 400 and limit > 1:  # the server's pages are smaller
                    page = max(1, limit // 2)
                    continue
                raise
            if not served:
                raise BadEntryAlarm(
                    f"the log signs size {checkpoint.size} root {checkpoint.root.hex()} but "
                    f"serves no entry {index}"
                )
            for item in served[:limit]:
                tree.push(walk.check(item, index).leaf_hash)
                index += 1
        if tree.root() != checkpoint.root:
            raise BadEntryAlarm(
                f"entries 0..{index - 1} hash to root {tree.root().hex()}, but the checkpoint "
                f"of size {checkpoint.size} has root {checkpoint.root.hex()}"
            )
        frontier = tuple(value for _node, value in tree.nodes())
        reached = EntriesState(tree.size, frontier, walk.prev, walk.key)
        return reached, index - start, walk.rotated


class EntryWalk:
    """Follows the chain entry by entry: index, leaf hash, ``prev`` link and keys."""

    def __init__(self, origin: str, prev: str, key: str) -> None:
        self.origin = origin
        self.prev = prev
        self.key = key
        self.rotated: list[Rotation] = []

    def check(self, served: ServedEntry, index: int) -> Entry:
        if served.index != index:
            raise BadEntryAlarm(f"asked for entry {index}, the server sent entry {served.index}")
        actual = hash_leaf(served.leaf).hex()
        if served.leaf_hash != actual:
            raise BadEntryAlarm(
                f"entry {index}: leaf_hash {served.leaf_hash[:64]} is not the hash of its "
                f"leaf ({actual})"
            )
        try:
            entry = decode_leaf(served.leaf)
        except LedgerError as err:
            raise BadEntryAlarm(f"entry {index}: the leaf is malformed: {err.message}") from None
        if entry.index != index:
            raise BadEntryAlarm(f"entry {index}: its leaf says index {entry.index}")
        if entry.prev != self.prev:
            raise BadEntryAlarm(
                f"entry {index}: prev {entry.prev} is not the leaf hash of entry {index - 1} "
                f"({self.prev})"
            )
        if served.entry != json.loads(served.leaf):
            raise BadEntryAlarm(f"entry {index}: the decoded entry shown differs from its leaf")
        self._follow_keys(entry)
        self.prev = actual
        return entry

    def _follow_keys(self, entry: Entry) -> None:
        index, body = entry.index, entry.body
        if (index == 0) != (entry.kind == GENESIS):
            raise BadEntryAlarm(f"entry {index}: only entry 0 is the genesis entry")
        try:
            if entry.kind == GENESIS:
                key = VerifierKey.parse(body["verifier_key"])
                if (body["origin"], key.name) != (self.origin, self.origin):
                    raise BadEntryAlarm(f"entry 0: the genesis entry is not for {self.origin}")
                self.key = str(key)
            elif entry.kind == KEY_ROTATION:
                if body["old_key"] != self.key:
                    raise BadEntryAlarm(f"entry {index}: old_key is not the key in force")
                key = VerifierKey.parse(body["new_key"])
                if key.name != self.origin:
                    raise BadEntryAlarm(f"entry {index}: new_key is not named {self.origin}")
                self.rotated.append((VerifierKey.parse(self.key), key))
                self.key = str(key)
        except MonitorAlarm:
            raise
        except (KeyError, TypeError, LedgerError) as err:
            raise BadEntryAlarm(f"entry {index}: malformed {entry.kind} body: {err}") from None


def run_once(monitor: Monitor, state_file: Path) -> Report:
    """Check once and keep the new state; on any failure the file is left untouched."""
    report = monitor.check(load_state(state_file))
    save_state(state_file, report.state)
    return report
