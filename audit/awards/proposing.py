"""Turning a campaign's rankings into nominations, each with the evidence it rests on.

``choose`` is the rule, kept pure so that it can be checked on any rankings: rankings
are read best first, per awardee type; a mobiliser gets the highest form whose
thresholds it meets (net amount, and donors and gifts where the criteria ask) and
which still has a place under its ``max_per_campaign`` (nominations standing from
earlier proposals take places first). A mobiliser already standing nominated for
that form, campaign and period is skipped, not nominated twice; one that fits no
form is left out. Better-ranked mobilisers therefore take the scarce higher forms.

``propose`` ranks at the latest signed checkpoint (outside the append lock: ranking
reads the whole campaign), then records the chosen nominations in one batch. Under
the lock the recorder checks duplicates again, so two proposals racing each other
cannot both nominate the same mobiliser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from marshmallow import ValidationError, validates_schema
from sqlalchemy.orm import Session

from audit.awards import nominations as n
from audit.awards.criteria import TYPES, Criteria, Form
from audit.awards.evidence import LeafTooLargeError, evidence_for, fitted
from audit.awards.workflow import book
from ledger import errors, log
from ledger.db import Database
from ledger.errors import NotFoundError
from ledger.funds.access import Scope
from ledger.funds.models import CampaignRow, UnitRow
from ledger.funds.privacy import PrivacyKey
from ledger.funds.recorder import Recorded, Recorder
from ledger.funds.schemas import Code, Day, StrictSchema
from ledger.funds.state import UnitTree
from ledger.log import StoredCheckpoint
from ledger.settings import Settings


class Ranked(Protocol):
    """What a nomination reads of a ranking row (``audit.rankings.Ranked``)."""

    @property
    def rank(self) -> int: ...
    @property
    def mobilizer(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def net_amount(self) -> int: ...
    @property
    def in_kind_value(self) -> int: ...
    @property
    def donors(self) -> int: ...
    @property
    def gifts(self) -> int: ...
    @property
    def gift_indices(self) -> tuple[int, ...]: ...


class ProposalSchema(StrictSchema):
    """What the board asks for: one campaign, optionally a period and a unit's subtree."""

    campaign = Code(required=True)
    since = Day(metadata={"description": "first day counted, YYYY-MM-DD (Vietnam)"})
    until = Day(metadata={"description": "last day counted, YYYY-MM-DD (Vietnam)"})
    unit = Code(metadata={"description": "only mobilisers of this unit and the units below it"})

    @validates_schema
    def _in_order(self, data: Mapping[str, Any], **_kwargs: Any) -> None:
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            raise ValidationError("must not be before since", "until")


@dataclass(frozen=True)
class Proposal:
    """What the board asked: a campaign, a period (days, inclusive) and a unit's subtree."""

    campaign: str
    since: str | None = None
    until: str | None = None
    unit: str | None = None

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Proposal:
        try:
            loaded = ProposalSchema().load(data)
        except ValidationError as err:
            messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
            fields = {str(k): [str(m) for m in v] for k, v in messages.items()}
            text = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(fields.items()))
            raise errors.ValidationError(f"invalid proposal: {text}", fields) from None
        return cls(loaded["campaign"], loaded.get("since"), loaded.get("until"), loaded.get("unit"))

    @property
    def period(self) -> dict[str, str]:
        return {k: v for k, v in (("since", self.since), ("until", self.until)) if v}


@dataclass(frozen=True)
class Choice:
    """A mobiliser and the form it is to be proposed for."""

    ranked: Ranked
    form: Form


@dataclass(frozen=True)
class Skipped:
    """A mobiliser that met a form's thresholds and is not nominated now, and why."""

    mobilizer: str
    name: str
    type: str
    reason: str

    def document(self) -> dict[str, str]:
        return {
            "mobilizer": self.mobilizer,
            "name": self.name,
            "type": self.type,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Outcome:
    """A proposal's result: what was recorded, what was not and why, at which tree size."""

    tree_size: int
    recorded: tuple[Recorded, ...]
    skipped: tuple[Skipped, ...]

    def document(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "nominations": [
                {
                    "id": r.body["id"],
                    "index": r.index,
                    "leaf_hash": r.leaf_hash,
                    "form": r.body["form"]["code"],
                    "awardee": r.body["awardee"],
                    "rank": r.body["rank"],
                    "figures": r.body["figures"],
                }
                for r in self.recorded
            ],
            "skipped": [s.document() for s in self.skipped],
        }


def choose(
    criteria: Criteria,
    rankings: Mapping[str, Sequence[Ranked]],
    standing: Iterable[n.Nomination],
    proposal: Proposal,
) -> tuple[list[Choice], list[Skipped]]:
    """The nominations ``rankings`` earn under ``criteria`` (see the module's docstring)."""
    taken: dict[tuple[str, str], int] = {}
    existing: dict[tuple[str, str], n.Nomination] = {}
    for nomination in standing:
        if not nomination.standing or nomination.body["campaign"] != proposal.campaign:
            continue
        kind = nomination.body["awardee"]["type"]
        taken[(nomination.form, kind)] = taken.get((nomination.form, kind), 0) + 1
        period = nomination.body.get("period", {})
        if (period.get("since"), period.get("until")) == (proposal.since, proposal.until):
            existing[(nomination.body["awardee"]["code"], nomination.form)] = nomination
    chosen: list[Choice] = []
    skipped: list[Skipped] = []
    for kind in TYPES:
        for ranked in sorted(rankings.get(kind, ()), key=lambda r: r.rank):
            outcome = _best_form(criteria, ranked, kind, taken, existing)
            if isinstance(outcome, Form):
                taken[(outcome.code, kind)] = taken.get((outcome.code, kind), 0) + 1
                chosen.append(Choice(ranked, outcome))
            elif outcome is not None:
                skipped.append(Skipped(ranked.mobilizer, ranked.name, kind, outcome))
    return chosen, skipped


def _best_form(
    criteria: Criteria,
    ranked: Ranked,
    kind: str,
    taken: Mapping[tuple[str, str], int],
    existing: Mapping[tuple[str, str], n.Nomination],
) -> Form | str | None:
    """The form for ``ranked``; or why it gets none though it qualified; or None."""
    full: list[str] = []
    for form in criteria.forms:
        threshold = form.thresholds.get(kind)
        if threshold is None or not threshold.met_by(
            ranked.net_amount, ranked.donors, ranked.gifts
        ):
            continue
        earlier = existing.get((ranked.mobilizer, form.code))
        if earlier is not None:
            return f"already nominated for {form.code} ({earlier.id}, {earlier.state})"
        limit = threshold.max_per_campaign
        if limit is not None and taken.get((form.code, kind), 0) >= limit:
            full.append(f"{form.code} (all {limit} places taken)")
            continue
        return form
    return f"qualifies for {', '.join(full)}" if full else None


def body_for(choice: Choice, proposal: Proposal, evidence: dict[str, Any]) -> dict[str, Any]:
    """The ``award_nomination`` body (without its ID, which the recorder gives)."""
    ranked = choice.ranked
    body: dict[str, Any] = {
        "form": choice.form.document(),
        "awardee": {
            "code": ranked.mobilizer,
            "name": ranked.name,
            "type": ranked.type,
            "unit": ranked.unit,
        },
        "campaign": proposal.campaign,
        "period": proposal.period,
        "rank": ranked.rank,
        "figures": {
            "net_amount": ranked.net_amount,
            "donors": ranked.donors,
            "gifts": ranked.gifts,
            "in_kind_value": ranked.in_kind_value,
        },
        "evidence": {**evidence, "gifts": list(ranked.gift_indices)},
    }
    if proposal.unit:
        body["ranked_in"] = proposal.unit
    return body


def rankings_at(
    session: Session,
    settings: Settings,
    proposal: Proposal,
    as_of: int,
    *,
    now: datetime | None = None,
) -> dict[str, list[Ranked]]:
    """Both rankings of the proposal at tree size ``as_of``, blocked gifts left out.

    As ``audit.rankings.verified_ranking`` counts, but the anomaly rules run once for
    both awardee types, and both are counted at the same checkpoint.
    """
    from audit import rankings, rules
    from audit.findings import blocked_gifts

    findings = rules.findings_for_database(session, settings, now=now, as_of=as_of)
    excluded = blocked_gifts(findings)
    found: dict[str, list[Ranked]] = {}
    for kind in TYPES:
        query = rankings.RankingQuery(
            type=kind,
            campaign=proposal.campaign,
            unit=proposal.unit,
            since=proposal.since,
            until=proposal.until,
            excluded=excluded,
        )
        found[kind] = list(rankings.rank(session, query, as_of=as_of))
    return found


@dataclass(frozen=True)
class RankedAt:
    """The rankings a proposal rests on, and the checkpoint they were counted at."""

    proposal: Proposal
    checkpoint: StoredCheckpoint
    rankings: Mapping[str, Sequence[Ranked]]


def rank_for(
    session: Session,
    settings: Settings,
    scope: Scope,
    proposal: Proposal,
    *,
    now: datetime | None = None,
) -> RankedAt:
    """Rank the proposal's mobilisers at the latest checkpoint (a read session will do).

    A token confined to a unit proposes within that unit's subtree: its own unit when
    the proposal names none.
    """
    scope.require(n.NOMINATION)
    _check_codes(session, proposal)
    if scope.unit is not None:
        scope.require_unit(proposal.unit or scope.unit, UnitTree.load(session))
        if proposal.unit is None:
            proposal = Proposal(proposal.campaign, proposal.since, proposal.until, scope.unit)
    checkpoint = log.latest_checkpoint(session)
    ranked = rankings_at(session, settings, proposal, checkpoint.tree_size, now=now)
    return RankedAt(proposal, checkpoint, ranked)


def record_nominations(
    recorder: Recorder, criteria: Criteria, ranked: RankedAt
) -> tuple[list[int], list[Skipped]]:
    """Stage the nominations ``ranked`` earns; returns their indices and the skipped."""
    proposal = ranked.proposal
    evidence = evidence_for((), ranked.checkpoint)
    chosen, skipped = choose(criteria, ranked.rankings, book(recorder).values(), proposal)
    staged = []
    for choice in chosen:
        try:
            body = fitted(body_for(choice, proposal, evidence), recorder.scope.actor)
        except LeafTooLargeError as err:
            skipped.append(_refused(choice, err.message))
            continue
        staged.append(recorder.add(n.NOMINATION, body))
    return staged, skipped


def propose(
    database: Database,
    settings: Settings,
    scope: Scope,
    proposal: Proposal,
    *,
    criteria: Criteria | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Record the nominations the campaign's rankings earn; see the module's docstring."""
    criteria = criteria or Criteria.load(settings.awards_criteria_file)
    with database.session() as session:
        ranked = rank_for(session, settings, scope, proposal, now=now)
    privacy = PrivacyKey.load(settings.privacy_key_file)
    with database.writing() as session:
        recorder = Recorder(session, settings, scope, privacy, now=now)
        _staged, skipped = record_nominations(recorder, criteria, ranked)
        recorded = recorder.commit()
    return Outcome(ranked.checkpoint.tree_size, tuple(recorded), tuple(skipped))


def _refused(choice: Choice, why: str) -> Skipped:
    r = choice.ranked
    return Skipped(r.mobilizer, r.name, r.type, f"refused for {choice.form.code}: {why}")


def _check_codes(session: Session, proposal: Proposal) -> None:
    if session.get(CampaignRow, proposal.campaign) is None:
        raise NotFoundError(f"no campaign {proposal.campaign}")
    if proposal.unit is not None and session.get(UnitRow, proposal.unit) is None:
        raise NotFoundError(f"no unit {proposal.unit}")
