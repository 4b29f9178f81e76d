"""Nominations as the log tells them: each ``award_nomination`` with its transitions.

There is no nomination table. A nomination's state is where its last transition left
it, so it is replayed from the award entries alone; they are few among the gifts and
the log keeps a partial index over them (``ledger.models.AUDIT_ENTRY_CONDITION``), so
reading them all is one indexed query however long the log grows. The writer replays
them under the append lock to decide whether a transition is legal; readers replay
them to list nominations. Both therefore see the same history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from audit.awards.evidence import gift_indices
from ledger import receipt_ids
from ledger.entries import Entry, decode_leaf, format_time
from ledger.errors import InvalidRequestError, NotFoundError
from ledger.models import AUDIT_ENTRY_CONDITION, EntryRow

NOMINATION = "award_nomination"
TRANSITION = "award_transition"
AWARD_KINDS = (NOMINATION, TRANSITION)
ID_PREFIX = "K"  # khen thưởng
PROPOSED = "proposed"
UNDER_REVIEW = "under_review"
APPROVED = "approved"
REJECTED = "rejected"
CONFERRED = "conferred"
FORWARDED = "forwarded"
STATES = (PROPOSED, UNDER_REVIEW, APPROVED, REJECTED, CONFERRED, FORWARDED)
# Members of ``Nomination.document()``, dotted: the columns of the list as CSV.
COLUMNS = (
    "id",
    "index",
    "time",
    "state",
    "form.code",
    "form.name",
    "awardee.code",
    "awardee.name",
    "awardee.type",
    "awardee.unit",
    "campaign",
    "period.since",
    "period.until",
    "ranked_in",
    "rank",
    "figures.net_amount",
    "figures.donors",
    "figures.gifts",
    "figures.in_kind_value",
    "evidence.tree_size",
    "evidence.root",
    "evidence.gift_count",
)
_ID = re.compile(f"{ID_PREFIX}{receipt_ids.PATTERN}")
_SEPARATORS = re.compile(r"[\s\-.]+")
_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})


class InvalidNominationIdError(InvalidRequestError):
    """Text that cannot be a nomination ID, however it is read."""


def nomination_id(origin: str, index: int) -> str:
    """The ID of the nomination recorded at ``index``: ``K`` and 16 Crockford characters.

    It is fixed by the index the moment the entry is, like a receipt ID, so nothing
    counts nominations and every replay of the log gives the same IDs.
    """
    return receipt_ids.make(origin, index, ID_PREFIX)


def normalize_id(typed: str) -> str:
    """A nomination ID as a person typed it (any case, dashes, O for 0) made canonical."""
    folded = _SEPARATORS.sub("", typed).upper()
    folded = folded[:1] + folded[1:].translate(_MISREAD)
    if not _ID.fullmatch(folded):
        raise InvalidNominationIdError(
            "a nomination ID is K followed by 16 letters and digits, such as K7KQ29XHM4T0VPJ3R"
        )
    return folded


@dataclass(frozen=True)
class Transition:
    """One decision of the board, as its ``award_transition`` entry records it."""

    index: int
    time: str
    actor: str
    source: str
    target: str
    reason: str
    decision: dict[str, Any] | None

    def document(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time": self.time,
            "actor": self.actor,
            "from": self.source,
            "to": self.target,
            "reason": self.reason,
            "decision": self.decision,
        }


@dataclass(frozen=True)
class Nomination:
    """A nomination entry and what the board decided of it since, in log order."""

    index: int
    time: str
    actor: str
    body: dict[str, Any]
    history: tuple[Transition, ...] = ()

    @property
    def id(self) -> str:
        return str(self.body["id"])

    @property
    def state(self) -> str:
        return self.history[-1].target if self.history else PROPOSED

    @property
    def form(self) -> str:
        return str(self.body["form"]["code"])

    @property
    def final_state(self) -> str:
        """Where an approved nomination ends, as its entry recorded the form then."""
        return FORWARDED if self.body["form"]["proposed_upward"] else CONFERRED

    @property
    def standing(self) -> bool:
        """Whether it still counts (for duplicates and quotas): anything but rejected."""
        return self.state != REJECTED

    @property
    def key(self) -> tuple[str, str | None, str | None, str, str]:
        """What makes two nominations the same: campaign, period, mobiliser and form."""
        period = self.body.get("period", {})
        return (
            self.body["campaign"],
            period.get("since"),
            period.get("until"),
            self.body["awardee"]["code"],
            self.form,
        )

    def followed_by(self, transition: Transition) -> Nomination:
        return Nomination(self.index, self.time, self.actor, self.body, (*self.history, transition))

    def document(self, *, gifts: bool = False) -> dict[str, Any]:
        """The public JSON of the nomination; ``gifts``: with every counted gift's index."""
        body = self.body
        evidence = body["evidence"]
        counted = gift_indices(body)
        shown_evidence: dict[str, Any] = {
            "tree_size": evidence["tree_size"],
            "root": evidence["root"],
            "gift_count": len(counted),
        }
        if gifts:
            shown_evidence["checkpoint"] = evidence["checkpoint"]
            shown_evidence["gifts"] = counted
        return {
            "id": self.id,
            "index": self.index,
            "time": self.time,
            "actor": self.actor,
            "state": self.state,
            "form": body["form"],
            "awardee": body["awardee"],
            "campaign": body["campaign"],
            "period": {"since": None, "until": None, **body.get("period", {})},
            "ranked_in": body.get("ranked_in"),
            "rank": body["rank"],
            "figures": body["figures"],
            "evidence": shown_evidence,
            "history": [transition.document() for transition in self.history],
        }


def replay(entries: Iterable[Entry]) -> dict[str, Nomination]:
    """Nominations by ID from award entries in log order; other kinds are ignored."""
    found: dict[str, Nomination] = {}
    for entry in entries:
        if entry.kind == NOMINATION:
            nomination = Nomination(entry.index, format_time(entry.time), entry.actor, entry.body)
            found[nomination.id] = nomination
        elif entry.kind == TRANSITION:
            named = entry.body["nomination"]["id"]
            if named in found:
                found[named] = found[named].followed_by(_transition(entry))
    return found


def _transition(entry: Entry) -> Transition:
    body = entry.body
    return Transition(
        index=entry.index,
        time=format_time(entry.time),
        actor=entry.actor,
        source=body["from"],
        target=body["to"],
        reason=body["reason"],
        decision=body.get("decision"),
    )


def award_entries(session: Session, *, below: int | None = None) -> list[Entry]:
    """Every award entry in log order (below index ``below``, if given)."""
    query = (
        select(EntryRow.leaf)
        .where(text(AUDIT_ENTRY_CONDITION))  # literally the partial index's condition
        .where(EntryRow.kind.in_(AWARD_KINDS))
        .order_by(EntryRow.index)
    )
    if below is not None:
        query = query.where(EntryRow.index < below)
    return [decode_leaf(leaf) for leaf in session.scalars(query)]


def load(session: Session) -> list[Nomination]:
    """Every nomination, oldest first."""
    return list(replay(award_entries(session)).values())


def find(session: Session, typed_id: str) -> Nomination:
    """The nomination with ID ``typed_id`` (as a person typed it), or NotFoundError."""
    wanted = normalize_id(typed_id)
    found = replay(award_entries(session)).get(wanted)
    if found is None:
        raise NotFoundError(f"no nomination with ID {wanted}")
    return found


def select_nominations(
    nominations: Iterable[Nomination],
    *,
    campaign: str | None = None,
    state: str | None = None,
    form: str | None = None,
) -> list[Nomination]:
    """The nominations that meet every filter given, in log order."""
    return [
        n
        for n in nominations
        if (campaign is None or n.body["campaign"] == campaign)
        and (state is None or n.state == state)
        and (form is None or n.form == form)
    ]
