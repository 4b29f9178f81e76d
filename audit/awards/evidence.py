"""A nomination's evidence: the gifts it counted and the checkpoint it was counted at.

The gift list is stored as ``evidence.gifts`` (ascending entry indices) when it fits
in a leaf; a mobiliser with so many gifts that the list would not fit in 65,535 bytes
gets ``evidence.gift_runs`` instead: the same indices as ascending ``[start, count]``
runs of consecutive indices (gifts imported from one bank statement sit side by side,
so runs are short). If even the runs do not fit, the nomination is refused with a
message saying so. Readers never look at either member: ``gift_indices`` is the one
reader of both forms.

``verify`` checks what anyone can check with the public API: the checkpoint's
signature under the key that signed that tree size, every counted gift's inclusion
proof to the checkpoint's root, that each gift is a contribution credited to the
awardee in the nomination's campaign and period, still standing at that size, and
that the figures add up. Gifts reversed after the checkpoint are reported apart:
they counted when the nomination was made, and the anomaly rules flag them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import log, merkle
from ledger.checkpoint import verify_checkpoint
from ledger.entries import MAX_LEAF_BYTES, MAX_SAFE_INTEGER, canonical_json, decode_leaf
from ledger.errors import ChainError, EncodingError, NoteError, ProofError, ValidationError
from ledger.funds.models import ReversalRow
from ledger.log import StoredCheckpoint
from ledger.models import EntryRow
from ledger.receipts import signing_key

_CHUNK = 500
# The widest envelope a leaf can have around its body (see ledger.entries).
_ENVELOPE = {
    "v": 1,
    "index": MAX_SAFE_INTEGER,
    "kind": "award_nomination",
    "time": "2026-01-01T00:00:00.000000Z",
    "prev": "0" * 64,
}
_PLACEHOLDER_ID = "K" + "0" * 16


class LeafTooLargeError(ValidationError):
    """A nomination whose gift list cannot fit in one leaf, even as runs."""


def gift_indices(body: Mapping[str, Any]) -> list[int]:
    """The gift entry indices an ``award_nomination`` body counted, ascending."""
    evidence = body.get("evidence")
    if not isinstance(evidence, Mapping):
        return []
    gifts = evidence.get("gifts")
    if isinstance(gifts, list):
        return sorted(int(index) for index in gifts)
    runs = evidence.get("gift_runs")
    if isinstance(runs, list):
        indices: list[int] = []
        for start, count in runs:
            indices.extend(range(int(start), int(start) + int(count)))
        return sorted(indices)
    return []


def runs(indices: Iterable[int]) -> list[list[int]]:
    """Ascending indices as ``[start, count]`` runs: ``1,2,3,7`` → ``[[1,3],[7,1]]``."""
    found: list[list[int]] = []
    for index in sorted(indices):
        if found and found[-1][0] + found[-1][1] == index:
            found[-1][1] += 1
        else:
            found.append([index, 1])
    return found


def evidence_for(gifts: Sequence[int], checkpoint: StoredCheckpoint) -> dict[str, Any]:
    """The evidence member of a nomination counted at ``checkpoint``, as a plain list."""
    return {
        "gifts": sorted(gifts),
        "tree_size": checkpoint.tree_size,
        "root": checkpoint.root.hex(),
        "checkpoint": checkpoint.note,
    }


def leaf_bytes(body: Mapping[str, Any], actor: str) -> int:
    """The most bytes the leaf of an ``award_nomination`` with ``body`` can take."""
    shown = {"id": _PLACEHOLDER_ID, **body}
    try:
        return len(canonical_json({**_ENVELOPE, "actor": actor, "body": shown}))
    except EncodingError as err:
        raise ValidationError(f"the nomination cannot be recorded: {err.message}") from err


def fitted(body: dict[str, Any], actor: str) -> dict[str, Any]:
    """``body``, its gift list made runs if the plain list would not fit in a leaf.

    LeafTooLargeError if neither form fits: that nomination is refused, not cut short,
    because evidence missing some gifts could not add up to the figures it states.
    """
    if leaf_bytes(body, actor) <= MAX_LEAF_BYTES:
        return body
    evidence = dict(body["evidence"])
    gifts = evidence.pop("gifts")
    compact = {**body, "evidence": {**evidence, "gift_runs": runs(gifts)}}
    check_fits(compact, actor, gifts=len(gifts))
    return compact


def check_fits(body: Mapping[str, Any], actor: str, *, gifts: int | None = None) -> None:
    size = leaf_bytes(body, actor)
    if size > MAX_LEAF_BYTES:
        count = len(gift_indices(body)) if gifts is None else gifts
        raise LeafTooLargeError(
            f"the evidence of {body['awardee']['code']} lists {count} gifts, which take "
            f"{size} bytes even as runs of consecutive indices; a leaf holds at most "
            f"{MAX_LEAF_BYTES}: narrow the period (--since/--until) and propose again"
        )


# -- verifying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CountedGift:
    """One counted gift as checked; ``proof`` only for the gifts a caller asked to see."""

    index: int
    leaf_hash: str | None
    reversed_by: int | None
    proof: tuple[str, ...] | None = None

    def document(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "index": self.index,
            "leaf_hash": self.leaf_hash,
            "reversed_by": self.reversed_by,
        }
        if self.proof is not None:
            shown["inclusion_proof"] = list(self.proof)
        return shown


@dataclass(frozen=True)
class EvidenceReport:
    """What the check of one nomination's evidence found; ``ok`` when nothing is wrong."""

    tree_size: int
    root: str
    checkpoint: str
    verifier_key: str | None
    counted: int
    figures: dict[str, int]
    problems: tuple[str, ...]
    reversed_since: tuple[tuple[int, int], ...]  # (gift, the later reversal)
    shown: tuple[CountedGift, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def document(self) -> dict[str, Any]:
        return {
            "verified": self.ok,
            "problems": list(self.problems),
            "tree_size": self.tree_size,
            "root": self.root,
            "checkpoint": self.checkpoint,
            "verifier_key": self.verifier_key,
            "gift_count": self.counted,
            "recomputed": self.figures,
            "reversed_since": [{"gift": g, "reversal": r} for g, r in self.reversed_since],
        }


class _Tally:
    """The figures the counted gifts add up to (the donor rule of the leaderboard)."""

    def __init__(self) -> None:
        self.net_amount = 0
        self.in_kind_value = 0
        self.gifts = 0
        self.named: set[tuple[str, str]] = set()
        self.anonymous = 0

    def add(self, body: Mapping[str, Any]) -> None:
        amount = int(body.get("amount", 0))
        if body.get("channel") == "in_kind":
            self.in_kind_value += amount
        else:
            self.net_amount += amount
        self.gifts += 1
        donor = body.get("donor") or {}
        if donor.get("anonymous"):
            self.anonymous += 1
        else:
            self.named.add((str(donor.get("display")), str(donor.get("type"))))

    def figures(self) -> dict[str, int]:
        return {
            "net_amount": self.net_amount,
            "donors": len(self.named) + self.anonymous,
            "gifts": self.gifts,
            "in_kind_value": self.in_kind_value,
        }


def verify(
    session: Session, body: Mapping[str, Any], *, index: int, show: range = range(0)
) -> EvidenceReport:
    """Check the evidence of the nomination ``body`` recorded at ``index``.

    ``show``: positions in the gift list whose inclusion proofs the report carries.
    """
    evidence = body["evidence"]
    size, root, note = (
        int(evidence["tree_size"]),
        str(evidence["root"]),
        str(evidence["checkpoint"]),
    )
    problems: list[str] = []
    key = _checkpoint_problems(session, size, root, note, index, problems)
    gifts = gift_indices(body)
    if problems and key is None:  # no tree to check the gifts against
        return EvidenceReport(size, root, note, None, len(gifts), {}, tuple(problems), ())
    if isinstance(evidence.get("gifts"), list) and evidence["gifts"] != sorted(set(gifts)):
        problems.append("evidence.gifts is not a list of distinct indices in ascending order")
    tally, shown, later = _Tally(), [], []
    reversals = _reversals(session, gifts)
    for position, chunk in _chunks(gifts):
        query = select(EntryRow.index, EntryRow.leaf).where(EntryRow.index.in_(chunk))
        leaves = {int(found): bytes(leaf) for found, leaf in session.execute(query)}
        for offset, gift in enumerate(chunk):
            checked = _gift(session, body, gift, leaves.get(gift), size, root, problems, tally)
            reversal = reversals.get(gift)
            if reversal is not None and reversal < size:
                problems.append(
                    f"gift {gift} had been reversed by entry {reversal} before tree size "
                    f"{size}: it cannot count"
                )
            elif reversal is not None:
                later.append((gift, reversal))
            if position + offset in show:
                proof = _proof(session, gift, size)
                shown.append(CountedGift(gift, checked, reversal, proof))
    recomputed = tally.figures()
    for name, value in recomputed.items():
        stated = body.get("figures", {}).get(name)
        if stated != value:
            problems.append(f"figures.{name}: the counted gifts add up to {value}, not {stated}")
    return EvidenceReport(
        size, root, note, key, len(gifts), recomputed, tuple(problems), tuple(later), tuple(shown)
    )


def _checkpoint_problems(
    session: Session, size: int, root: str, note: str, index: int, problems: list[str]
) -> str | None:
    """Check the signed note; returns the verifier key that signed it, if any did."""
    if not 0 < size <= index:
        problems.append(f"the evidence's tree size {size} is not below the nomination {index}")
        return None
    try:
        key = signing_key(session, size)
    except ChainError as err:
        problems.append(f"no signing key covers tree size {size}: {err.message}")
        return None
    try:
        checkpoint = verify_checkpoint(note, key)
    except NoteError as err:
        problems.append(f"the checkpoint does not verify with {key.name}+{key.key_id_hex}: {err}")
        return str(key)
    if checkpoint.size != size:
        problems.append(f"the checkpoint is of tree size {checkpoint.size}, not {size}")
    if checkpoint.root.hex() != root:
        problems.append(f"the checkpoint's root is {checkpoint.root.hex()}, not {root}")
    return str(key)


def _gift(
    session: Session,
    nomination: Mapping[str, Any],
    index: int,
    leaf: bytes | None,
    size: int,
    root: str,
    problems: list[str],
    tally: _Tally,
) -> str | None:
    """Check one counted gift; returns its leaf hash (hex) when the leaf exists."""
    if leaf is None or index >= size:
        problems.append(f"gift {index} is not in the tree of size {size}")
        return None
    entry = decode_leaf(leaf)
    try:
        merkle.verify_inclusion(
            entry.leaf_hash, index, size, _proof_bytes(session, index, size), bytes.fromhex(root)
        )
    except (ProofError, ValueError) as err:
        problems.append(f"gift {index}: its inclusion proof does not lead to the root: {err}")
    body = entry.body
    awardee = nomination["awardee"]["code"]
    if entry.kind != "contribution":
        problems.append(f"gift {index} is a {entry.kind} entry, not a contribution")
        return entry.leaf_hash.hex()
    if body.get("mobilizer") != awardee:
        problems.append(f"gift {index} is credited to {body.get('mobilizer')}, not {awardee}")
    if body.get("campaign") != nomination["campaign"]:
        problems.append(
            f"gift {index} went to campaign {body.get('campaign')}, not {nomination['campaign']}"
        )
    period = nomination.get("period", {})
    day = str(body.get("received_on", ""))
    if (period.get("since") and day < period["since"]) or (
        period.get("until") and day > period["until"]
    ):
        problems.append(f"gift {index} was received on {day}, outside the nomination's period")
    tally.add(body)
    return entry.leaf_hash.hex()


def _proof_bytes(session: Session, index: int, size: int) -> list[bytes]:
    return merkle.inclusion_proof(index, size, log.DatabaseNodes(session))


def _proof(session: Session, index: int, size: int) -> tuple[str, ...] | None:
    if not 0 <= index < size:
        return None
    return tuple(h.hex() for h in _proof_bytes(session, index, size))


def _reversals(session: Session, gifts: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for _position, chunk in _chunks(gifts):
        query = select(ReversalRow.target, ReversalRow.entry_index).where(
            ReversalRow.target.in_(chunk)
        )
        found.update({int(t): int(r) for t, r in session.execute(query)})
    return found


def _chunks(items: Sequence[int]) -> Iterable[tuple[int, Sequence[int]]]:
    for start in range(0, len(items), _CHUNK):
        yield start, items[start : start + _CHUNK]
