"""The award workflow's entries: nominations and the board's transitions.

A nomination moves ``proposed → under_review → approved | rejected`` and an approved
one ends ``conferred`` (a form this level's committee decides) or ``forwarded`` (a
form it only proposes to a higher authority: the state's, the provincial People's
Committee's). Every step is an ``award_transition`` entry with its reason, written by
the recorder like any fund operation, so its legality is decided under the append
lock from the award entries already in the log: two board members pressing
"approve" at once cannot both succeed, and a refused step writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields, validate, validates

from audit.awards import nominations as n
from audit.awards.evidence import check_fits
from ledger.db import Database
from ledger.entries import format_time
from ledger.errors import ConflictError, DuplicateError, NotFoundError
from ledger.funds import schemas
from ledger.funds.access import Scope
from ledger.funds.recorder import Prepared, Recorded, Recorder, operation, record
from ledger.funds.schemas import Code, Day, DecisionSchema, Index, StrictSchema, Text
from ledger.models import CheckpointRow
from ledger.settings import Settings

# Where each state may go; an approved nomination's end depends on its form.
_NEXT = {
    n.PROPOSED: (n.UNDER_REVIEW,),
    n.UNDER_REVIEW: (n.APPROVED, n.REJECTED),
}
_BOOK = "audit.awards.book"


class IllegalTransitionError(ConflictError):
    """The nomination's state does not allow the step asked for; nothing was written."""

    code = "illegal_transition"


class DuplicateNominationError(DuplicateError):
    """The same mobiliser already stands nominated for that form, campaign and period."""


class StaleEvidenceError(ConflictError):
    """The evidence names a checkpoint the log does not hold as given."""

    code = "stale_evidence"


def next_states(nomination: n.Nomination) -> tuple[str, ...]:
    """The states the board may move ``nomination`` to now."""
    if nomination.state == n.APPROVED:
        return (nomination.final_state,)
    return _NEXT.get(nomination.state, ())


def check_transition(nomination: n.Nomination, target: str) -> None:
    """IllegalTransitionError (409) unless ``target`` is a legal next state."""
    allowed = next_states(nomination)
    if target in allowed:
        return
    if not allowed:
        why = f"it is {nomination.state}, a final state"
    elif nomination.state == n.APPROVED:
        why = (
            f"the form {nomination.form} is "
            + ("only proposed upward" if nomination.final_state == n.FORWARDED else "decided here")
            + f", so an approved nomination becomes {allowed[0]}"
        )
    else:
        why = f"from {nomination.state} it may only become {' or '.join(allowed)}"
    raise IllegalTransitionError(
        f"nomination {nomination.id} cannot become {target}: {why}; nothing was recorded"
    )


# -- what writers send -------------------------------------------------------------------


class _FormSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9-]{1,32}$"))
    name = Text(required=True, max_length=200)
    decided_by = fields.String(required=True, validate=validate.Length(min=1, max=48))
    proposed_upward = fields.Boolean(required=True)


class _AwardeeSchema(StrictSchema):
    code = Code(required=True)
    name = Text(required=True, max_length=200)
    type = fields.String(required=True, validate=validate.OneOf(("collective", "individual")))
    unit = Code(required=True)


class _PeriodSchema(StrictSchema):
    since = Day()
    until = Day()


def _count() -> fields.Integer:
    return fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**15))


class _FiguresSchema(StrictSchema):
    net_amount = _count()
    donors = _count()
    gifts = _count()
    in_kind_value = _count()


class _EvidenceSchema(StrictSchema):
    gifts = fields.List(Index())
    gift_runs = fields.List(fields.List(Index(), validate=validate.Length(equal=2)))
    tree_size = Index(required=True)
    root = fields.String(required=True, validate=validate.Regexp(schemas.SHA256_PATTERN))
    checkpoint = fields.String(required=True, validate=validate.Length(min=1, max=8000))


class NominationSchema(StrictSchema):
    """A nomination as ``audit.awards.proposing`` builds it; the recorder adds its ID."""

    form = fields.Nested(_FormSchema, required=True)
    awardee = fields.Nested(_AwardeeSchema, required=True)
    campaign = Code(required=True)
    period = fields.Nested(_PeriodSchema, required=True)
    ranked_in = Code()
    rank = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    figures = fields.Nested(_FiguresSchema, required=True)
    evidence = fields.Nested(_EvidenceSchema, required=True)


class StepSchema(StrictSchema):
    """What the board decides of a nomination: the state it moves to, and why."""

    to = fields.String(
        required=True,
        validate=validate.OneOf(n.STATES[1:]),
        metadata={"description": "the state it moves to"},
    )
    reason = Text(required=True, max_length=2000)
    decision = fields.Nested(
        DecisionSchema,
        metadata={"description": "the decision that made it so: number, date, approver"},
    )


class TransitionSchema(StepSchema):
    """A step with the nomination it is about (the API takes that from the path)."""

    nomination = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "the nomination's ID"},
    )

    @validates("nomination")
    def _an_id(self, value: str, **_kwargs: Any) -> None:
        try:
            n.normalize_id(value)
        except n.InvalidNominationIdError as err:
            raise ValidationError(err.message) from None


schemas.register(n.NOMINATION, NominationSchema)
schemas.register(n.TRANSITION, TransitionSchema)


# -- recording ---------------------------------------------------------------------------


def book(recorder: Recorder) -> dict[str, n.Nomination]:
    """The nominations as of the operation being prepared, staged ones of the batch included.

    Read from the log once per write transaction (the append lock keeps it still) and
    kept in the session, so a batch of nominations replays the award entries once.
    """
    held: dict[str, n.Nomination] | None = recorder.session.info.get(_BOOK)
    if held is None:
        held = n.replay(n.award_entries(recorder.session))
        recorder.session.info[_BOOK] = held
    return held


def _now(recorder: Recorder) -> str:
    return format_time(recorder.now or datetime.now(UTC))


@operation(n.NOMINATION)
def _nomination(recorder: Recorder, data: dict[str, Any], index: int) -> Prepared:
    recorder.scope.require_unit(data["awardee"]["unit"], recorder.tree)
    nominations = book(recorder)
    body = {"id": n.nomination_id(recorder.origin, index), **_present(data)}
    staged = n.Nomination(index, _now(recorder), recorder.scope.actor, body)
    for other in nominations.values():
        if other.standing and other.key == staged.key:
            raise DuplicateNominationError(
                f"{body['awardee']['code']} already stands nominated for {staged.form} in "
                f"campaign {body['campaign']} for this period ({other.id}, {other.state})"
            )
    _check_checkpoint(recorder, body["evidence"], index)
    check_fits(body, recorder.scope.actor)
    nominations[staged.id] = staged
    return Prepared(body, {"id": staged.id, "form": staged.form})


@operation(n.TRANSITION)
def _transition(recorder: Recorder, data: dict[str, Any], index: int) -> Prepared:
    nominations = book(recorder)
    wanted = n.normalize_id(data["nomination"])
    nomination = nominations.get(wanted)
    if nomination is None:
        raise NotFoundError(f"no nomination with ID {wanted}")
    recorder.scope.require_unit(nomination.body["awardee"]["unit"], recorder.tree)
    check_transition(nomination, data["to"])
    body: dict[str, Any] = {
        "nomination": {"id": nomination.id, "index": nomination.index},
        "from": nomination.state,
        "to": data["to"],
        "reason": data["reason"],
    }
    if data.get("decision"):
        body["decision"] = data["decision"]
    step = n.Transition(
        index,
        _now(recorder),
        recorder.scope.actor,
        body["from"],
        body["to"],
        body["reason"],
        body.get("decision"),
    )
    nominations[nomination.id] = nomination.followed_by(step)
    return Prepared(body, {"id": nomination.id, "state": data["to"]})


def _present(data: Mapping[str, Any]) -> dict[str, Any]:
    """Members given, without the ones marshmallow left as None (absent, not null)."""
    return {key: value for key, value in data.items() if value is not None}


def _check_checkpoint(recorder: Recorder, evidence: Mapping[str, Any], index: int) -> None:
    """The evidence's checkpoint must be one the log stored, below the nomination itself."""
    size = int(evidence["tree_size"])
    stored = recorder.session.get(CheckpointRow, size) if size <= index else None
    if (
        stored is None
        or stored.root.hex() != evidence["root"]
        or stored.note != evidence["checkpoint"]
    ):
        raise StaleEvidenceError(
            f"the evidence names tree size {size}, which is not a checkpoint this log "
            "signed before the nomination; propose again"
        )


def transition(
    database: Database,
    settings: Settings,
    scope: Scope,
    data: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> Recorded:
    """Record one step of the board (``TransitionSchema``); 409 and nothing if illegal."""
    return record(database, settings, scope, [(n.TRANSITION, data)], now=now)[0]
