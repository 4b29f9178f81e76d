"""Anomaly rules about spending: who received money, when, and money left unspent.

Each rule reads only public entries (and, through ``Facts``, the units tokens act
for, when known). Allocations reversed by the end of the entries read are left out:
a decision that was undone moved no money. docs/anomalies.md states each rule for
auditors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from typing import Any, NamedTuple

from audit.anomalies_facts import Facts, Hit, same_name
from ledger.entries import Entry
from ledger.funds.privacy import mask_name
from ledger.funds.recorder import today_in_vietnam
from ledger.funds.text import dong
from ledger.funds.usage import CASH


def _amount(body: Mapping[str, Any]) -> str:
    amount = body.get("amount")
    return dong(amount) if isinstance(amount, int) else "an unknown amount"


class DuplicateBeneficiary:
    """The same person (equal ``beneficiary.id_hash``) supported twice under one program.

    Only allocations naming a ``program`` count: a support package such as Resolution
    68/NQ-CP pays each person once. The first standing allocation is the person's
    support; every later standing one is a finding, naming the earlier ones. Two
    programs, or a first allocation that was reversed, are not a duplicate.
    """

    def __init__(self, _limits: Mapping[str, int]) -> None:
        self.seen: list[tuple[int, str, str, str]] = []  # index, program, hash, amount

    def add(self, entry: Entry, _facts: Facts) -> None:
        beneficiary = entry.body.get("beneficiary")
        program = entry.body.get("program")
        if not isinstance(beneficiary, Mapping) or not isinstance(program, str):
            return
        id_hash = beneficiary.get("id_hash")
        if isinstance(id_hash, str) and id_hash:
            self.seen.append((entry.index, program, id_hash, _amount(entry.body)))

    def finish(self, facts: Facts) -> Iterator[Hit]:
        earlier: dict[tuple[str, str], list[int]] = {}
        for index, program, id_hash, amount in self.seen:
            if not facts.standing(index):
                continue
            before = earlier.setdefault((program, id_hash), [])
            if before:
                names = ", ".join(str(i) for i in before)
                yield Hit(
                    index,
                    f"allocation {index} of {amount} under program {program} supports a person "
                    f"(same national-ID hash) already supported by allocation {names}",
                    tuple(before),
                    {"program": program, "id_hash": id_hash},
                )
            before.append(index)


class _Match(NamedTuple):
    evidence: str  # unit_name | mobilizer | actor_unit
    unit: str
    message: str
    mobilizer: str | None = None


class SelfAllocation:
    """An allocation to the unit, or to a mobiliser of the unit, that decided it.

    Who decided: the unit holding the allocation's fund (the log says so: a ``fund``
    entry names its unit), and, when the rules run beside the database, the unit of the
    token that recorded the entry (the log names only the token; ``actor_units`` maps
    it to its unit). Offline, from an export, only the fund's unit is known.

    What shows the beneficiary is that unit: its ``display`` equals the unit's name (as
    in force then), or the name of a mobiliser registered in that unit (for a person,
    the masked name and ``beneficiary.unit`` must both match, since masked names are
    shared by many people); or, for a token's unit only, an organisation beneficiary
    whose ``unit`` is exactly that unit. The last is weaker evidence (a district's own
    hospital also matches), which is why the finding names the evidence it rests on.
    """

    def __init__(self, _limits: Mapping[str, int]) -> None:
        self.found: list[Hit] = []

    def add(self, entry: Entry, facts: Facts) -> None:
        beneficiary = entry.body.get("beneficiary")
        if not isinstance(beneficiary, Mapping):
            return
        match = self._match(entry, beneficiary, facts)
        if match is None:
            return
        details = {"evidence": match.evidence, "unit": match.unit}
        if match.mobilizer is not None:
            details["mobilizer"] = match.mobilizer
        message = (
            f"allocation {entry.index} of {_amount(entry.body)} from fund "
            f"{entry.body.get('fund')} goes to {match.message}"
        )
        self.found.append(Hit(entry.index, message, (), details))

    def _match(self, entry: Entry, beneficiary: Mapping[str, Any], facts: Facts) -> _Match | None:
        fund = entry.body.get("fund")
        deciders: dict[str, str] = {}
        actor_unit = facts.actor_unit(entry.actor)
        if actor_unit:
            deciders[actor_unit] = f"the unit of {entry.actor}, who recorded it"
        fund_unit = facts.fund_units.get(fund) if isinstance(fund, str) else None
        if fund_unit:
            deciders.setdefault(fund_unit, f"the unit holding fund {fund}")
        display = same_name(beneficiary.get("display"))
        kind, place = beneficiary.get("type"), beneficiary.get("unit")
        for unit, role in deciders.items():
            if display and display == same_name(facts.unit_names.get(unit)):
                return _Match("unit_name", unit, f"unit {unit} itself, {role}")
            for mobilizer in facts.mobilizers.get(unit, ()):
                if mobilizer.type == "individual":
                    named = same_name(mask_name(mobilizer.name))
                    same = kind == "individual" and display == named and place == mobilizer.unit
                else:
                    same = display == same_name(mobilizer.name)
                if display and same:
                    text = f"mobiliser {mobilizer.code} of unit {unit}, {role}"
                    return _Match("mobilizer", unit, text, mobilizer.code)
        if actor_unit and kind == "organization" and place == actor_unit:
            text = f"an organisation of unit {actor_unit} itself, {deciders[actor_unit]}"
            return _Match("actor_unit", actor_unit, text)
        return None

    def finish(self, facts: Facts) -> Iterator[Hit]:
        return (hit for hit in self.found if facts.standing(hit.index))


def _day(text: Any) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
    except ValueError:
        return None


class LateAllocation:
    """An allocation decided after the distribution deadline of a campaign whose money it uses.

    The campaign is the one the allocation names; an allocation naming none uses the
    money the FIFO attribution (docs/usage.md) gives it at the moment it is recorded,
    so every campaign of those gifts counts. The allocation's day is its decision's
    ``date`` (the act the deadline is about: a decision taken in time and entered later
    is not late), else the day its entry was recorded in Vietnam. It is late when that
    day is more than ``grace_days`` days after the campaign's ``distribute_by``. Both
    days are in the finding's details, so an auditor sees a decision entered long after
    its date.
    """

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.grace = timedelta(days=limits["grace_days"])
        self.found: list[Hit] = []

    def add(self, entry: Entry, facts: Facts) -> None:
        named = entry.body.get("campaign")
        used = {named} if isinstance(named, str) else facts.campaigns_used(entry.index)
        recorded = today_in_vietnam(entry.time)
        decision = entry.body.get("decision")
        decided = _day(decision.get("date")) if isinstance(decision, Mapping) else None
        day = decided or recorded
        late = []
        for code in sorted(used):
            campaign = facts.campaigns.get(code)
            deadline = _day(campaign.distribute_by) if campaign is not None else None
            if campaign is not None and deadline is not None and day > deadline + self.grace:
                late.append((code, campaign))
        if not late:
            return
        deadlines = ", ".join(f"{code} by {campaign.distribute_by}" for code, campaign in late)
        how = "" if isinstance(named, str) else " (its money, first in, first out)"
        when = f"decided on {day}" if decided else f"recorded on {day} (no decision date)"
        message = (
            f"allocation {entry.index} of {_amount(entry.body)} was {when}, after "
            f"the distribution deadline of campaign {deadlines}{how}"
        )
        details = {
            "day": day.isoformat(),
            "recorded": recorded.isoformat(),
            "campaigns": [code for code, _ in late],
        }
        related = tuple(sorted(campaign.index for _code, campaign in late))
        self.found.append(Hit(entry.index, message, related, details))

    def finish(self, facts: Facts) -> Iterator[Hit]:
        return (hit for hit in self.found if facts.standing(hit.index))


def _earmark(key: str) -> str:
    """A pool's earmark as people read it: ``for unit LS-VL-TT, for “Mua vắc xin”``."""
    try:
        earmark = json.loads(key)
    except ValueError:
        return key
    if not isinstance(earmark, dict):
        return key
    parts = [f"for unit {earmark['unit']}"] if earmark.get("unit") else []
    if earmark.get("purpose"):
        parts.append(f"for “{earmark['purpose']}”")
    return ", ".join(parts) or key


class IdleMoney:
    """Money a fund has held unallocated for more than ``days`` days, per cash pool.

    Which money is unallocated comes from the FIFO attribution (docs/usage.md): the
    pieces of gifts left in the pool's queue. A piece's age runs from the day its money
    arrived in the fund: a gift's ``received_on`` (else its entry's day), or the day of
    the transfer (or transfer reversal) that brought it. Goods in stock are not money
    and are left out. One finding per pool, about the entry that brought its oldest
    idle money, so the finding's ID changes once that money is spent.
    """

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.days = limits["days"]
        self.arrived: dict[int, date] = {}

    def add(self, entry: Entry, _facts: Facts) -> None:
        received = _day(entry.body.get("received_on")) if entry.kind == "contribution" else None
        self.arrived[entry.index] = received or today_in_vietnam(entry.time)

    def finish(self, facts: Facts) -> Iterator[Hit]:
        today = today_in_vietnam(facts.now)
        cutoff = today - timedelta(days=self.days)
        for (fund, form, earmark), queue in sorted(facts.money.queues.items()):
            if form != CASH:
                continue
            idle = [(self.arrived.get(piece.arrival, today), piece) for piece in queue.live()]
            idle = [(day, piece) for day, piece in idle if day < cutoff and piece.amount > 0]
            if not idle:
                continue
            since, oldest = min(idle, key=lambda item: (item[0], item[1].arrival))
            amount = sum(piece.amount for _day, piece in idle)
            pool = f" earmarked {_earmark(earmark)}" if earmark else ""
            message = (
                f"fund {fund} has held {dong(amount)}{pool} unallocated for more than "
                f"{self.days} days, of {dong(queue.total)} available; the oldest arrived "
                f"with entry {oldest.arrival} on {since} ({(today - since).days} days ago)"
            )
            related = () if oldest.gift == oldest.arrival else (oldest.gift,)
            details = {
                "fund": fund,
                "earmark": json.loads(earmark) if earmark else None,
                "idle": amount,
                "available": queue.total,
                "since": since.isoformat(),
                "days": (today - since).days,
            }
            yield Hit(oldest.arrival, message, related, details)
