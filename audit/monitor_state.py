"""What a monitor remembers between runs: the last checkpoint it verified, and more.

The state file is the monitor's memory of the log. It is replaced atomically (a new
file in the same folder, flushed, then renamed over the old one), so that a monitor
killed mid-write leaves the previous good state, never half of a new one; and it is
only ever written after a check passed, so that a bad checkpoint can never become the
baseline the next check compares with.

Besides the checkpoint it keeps the keys learned from verified ``key_rotation``
entries and the keys those retired; the right frontier of the tree (``CompactRange``)
with the last leaf hash, so that ``--entries`` downloads only the entries it has not
seen; and the (size, root) pairs of recent checkpoints, so that a rollback can be told
apart from a fork.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.checkpoint import Checkpoint, SignedNote
from ledger.entries import ZERO_HASH_HEX
from ledger.errors import ConfigurationError, LedgerError
from ledger.merkle import CompactRange

STATE_FORMAT = "ledger-monitor-state/1"
HISTORY_LIMIT = 64
"""Recent checkpoints remembered for telling a rollback from a fork; older ones go."""

_HEX_HASH = re.compile(r"[0-9a-f]{64}\Z")


class MonitorStateError(ConfigurationError):
    """The state file cannot be read, or belongs to another log."""

    code = "monitor_state"


@dataclass(frozen=True)
class EntriesState:
    """Where the entry-by-entry check stopped: enough to go on without the earlier leaves.

    ``key`` is the verifier key in force after the rotations seen so far, which the next
    ``key_rotation`` entry must name as its ``old_key``.
    """

    size: int
    frontier: tuple[bytes, ...]
    last_leaf_hash: str
    key: str

    def tree(self) -> CompactRange:
        return CompactRange(self.size, self.frontier)


@dataclass(frozen=True)
class MonitorState:
    """The last checkpoint that passed every check, as the signed note that was served."""

    origin: str
    url: str
    note: str
    size: int
    root: bytes
    checked_at: str
    keys: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()
    entries: EntriesState | None = None
    history: tuple[tuple[int, bytes], ...] = field(default=())

    def root_at(self, size: int) -> bytes | None:
        """The root this monitor verified for ``size``, if it still remembers one."""
        if size == self.size:
            return self.root
        return dict(self.history).get(size)

    def remembered(self) -> tuple[tuple[int, bytes], ...]:
        """The history the next state keeps: this checkpoint added, the oldest dropped."""
        kept = [(size, root) for size, root in self.history if size != self.size]
        return (*kept, (self.size, self.root))[-HISTORY_LIMIT:]


def origin_slug(origin: str) -> str:
    """A file name for an origin such as ``quy.mttq-langson.vn/covid19``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", origin).strip("._") or "log"


def default_state_path(origin: str, environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/ledger-monitor/<origin>.json``, by default under ~/.local/state.

    One file per origin, so that one person can watch several ledgers; the XDG base
    directory rules ignore a relative ``XDG_STATE_HOME``, and so do we.
    """
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "ledger-monitor" / f"{origin_slug(origin)}.json"


def to_document(state: MonitorState) -> dict[str, Any]:
    entries = state.entries
    return {
        "format": STATE_FORMAT,
        "origin": state.origin,
        "url": state.url,
        "checked_at": state.checked_at,
        "checkpoint": {"size": state.size, "root": state.root.hex(), "note": state.note},
        "keys": list(state.keys),
        "retired": list(state.retired),
        "entries": None
        if entries is None
        else {
            "size": entries.size,
            "last_leaf_hash": entries.last_leaf_hash,
            "key": entries.key,
            "frontier": [h.hex() for h in entries.frontier],
        },
        "history": [{"size": size, "root": root.hex()} for size, root in state.history],
    }


def from_document(document: Any) -> MonitorState:
    """Read a state document strictly; a hand-edited file that contradicts itself fails."""
    if _get(document, "format", str) != STATE_FORMAT:
        raise MonitorStateError(f"not a {STATE_FORMAT} document")
    checkpoint = _get(document, "checkpoint", dict)
    note = _get(checkpoint, "note", str)
    try:
        parsed = Checkpoint.from_text(SignedNote.parse(note).text)
    except LedgerError as err:
        raise MonitorStateError(f"its checkpoint note is malformed: {err}") from None
    size, root = _get(checkpoint, "size", int), _hash(_get(checkpoint, "root", str))
    origin = _get(document, "origin", str)
    if (parsed.origin, parsed.size, parsed.root) != (origin, size, root):
        raise MonitorStateError("its checkpoint note differs from its origin, size or root")
    entries_doc = _get(document, "entries", (dict, type(None)))
    entries = None if entries_doc is None else _entries(entries_doc, size)
    history = tuple(
        (_get(item, "size", int), _hash(_get(item, "root", str)))
        for item in _get(document, "history", list)
    )
    return MonitorState(
        origin=origin,
        url=_get(document, "url", str),
        note=note,
        size=size,
        root=root,
        checked_at=_get(document, "checked_at", str),
        keys=_strings(_get(document, "keys", list)),
        retired=_strings(_get(document, "retired", list)),
        entries=entries,
        history=history,
    )


def _entries(document: Any, checkpoint_size: int) -> EntriesState:
    entries = EntriesState(
        size=_get(document, "size", int),
        frontier=tuple(_hash(h) for h in _get(document, "frontier", list)),
        last_leaf_hash=_get(document, "last_leaf_hash", str),
        key=_get(document, "key", str),
    )
    if not _HEX_HASH.match(entries.last_leaf_hash) or entries.size > checkpoint_size:
        raise MonitorStateError("its entries record is malformed")
    if (entries.size == 0) != (entries.last_leaf_hash == ZERO_HASH_HEX):
        raise MonitorStateError("its entries record is malformed")
    try:
        entries.tree()
    except LedgerError as err:
        raise MonitorStateError(f"its tree frontier is malformed: {err}") from None
    return entries


def _get(document: Any, name: str, kind: type[Any] | tuple[type[Any], ...]) -> Any:
    if not isinstance(document, dict) or name not in document:
        raise MonitorStateError(f"member {name!r} is missing")
    value = document[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MonitorStateError(f"member {name!r} has the wrong type")
    if isinstance(value, int) and value < 0:
        raise MonitorStateError(f"member {name!r} is negative")
    return value


def _strings(items: list[Any]) -> tuple[str, ...]:
    if not all(isinstance(item, str) for item in items):
        raise MonitorStateError("key lists must hold verifier key strings")
    return tuple(items)


def _hash(text: str) -> bytes:
    if not _HEX_HASH.match(text):
        raise MonitorStateError("a hash is not 64 lowercase hex digits")
    return bytes.fromhex(text)


def load_state(path: Path) -> MonitorState | None:
    """The saved state, or None before the first successful check."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise MonitorStateError(f"cannot read the state file {path}: {err.strerror}") from None
    try:
        return from_document(json.loads(raw))
    except ValueError:
        raise MonitorStateError(f"the state file {path} is not JSON") from None
    except MonitorStateError as err:
        raise MonitorStateError(f"the state file {path}: {err.message}") from None


def save_state(path: Path, state: MonitorState) -> None:
    """Replace the state file atomically and durably: the old one or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(to_document(state), indent=2, ensure_ascii=False) + "\n"
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a crash only once the folder is synced
    finally:
        os.close(folder)
