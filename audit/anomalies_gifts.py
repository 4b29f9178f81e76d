"""Anomaly rules about gifts and their reversals.

A cash gift leaves less of a trail than a bank transfer, and a reversal takes money
back out of the record: these rules point an auditor at the gifts and reversals
whose paperwork deserves a second look. docs/anomalies.md states each rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from audit.anomalies_facts import Facts, Hit
from ledger.entries import Entry
from ledger.funds.text import dong


class LargeCashGift:
    """A cash gift of at least ``threshold`` đồng recorded without a ``reference``.

    A bank gift carries the bank's transaction reference; a large cash gift should carry
    the number of the receipt book or of the deposit slip that banked it. Without one,
    nothing outside the ledger confirms the money, so the finding is blocking by
    default: the gift stays out of rankings and award evidence until an auditor has
    seen the paperwork and acknowledged the finding. A reversed gift is left out.
    """

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.threshold = limits["threshold"]
        self.found: list[Hit] = []

    def add(self, entry: Entry, _facts: Facts) -> None:
        body = entry.body
        amount, reference = body.get("amount"), body.get("reference")
        if body.get("channel") != "cash" or not isinstance(amount, int):
            return
        if amount < self.threshold or (isinstance(reference, str) and reference.strip()):
            return
        message = (
            f"cash gift {entry.index} of {dong(amount)} to fund {body.get('fund')} has no "
            f"reference (receipt book or deposit slip); the threshold is {dong(self.threshold)}"
        )
        details = {"amount": amount, "fund": body.get("fund"), "campaign": body.get("campaign")}
        self.found.append(Hit(entry.index, message, (), details))

    def finish(self, facts: Facts) -> Iterator[Hit]:
        return (hit for hit in self.found if facts.standing(hit.index))


class ReversedAwardGift:
    """A gift reversed after an award nomination counted it as evidence.

    The nomination's figures then include money that no longer stands, so the board
    should look at the nomination again. The finding is about the reversal and names
    the gift and the (first) nomination that counted it.
    """

    def __init__(self, _limits: Mapping[str, int]) -> None:
        self.counted: dict[int, int] = {}  # gift index -> the first nomination counting it
        self.found: list[Hit] = []

    def add(self, entry: Entry, _facts: Facts) -> None:
        if entry.kind == "award_nomination":
            from audit.awards.evidence import gift_indices

            try:
                gifts = gift_indices(entry.body)
            except (TypeError, ValueError):
                return  # a malformed nomination: the awards' own checks report it
            for gift in gifts:
                self.counted.setdefault(gift, entry.index)
            return
        target = entry.body.get("target")
        nomination = self.counted.get(target) if isinstance(target, int) else None
        if target is None or nomination is None:
            return
        message = (
            f"reversal {entry.index} undoes gift {target}, which nomination {nomination} "
            "counted as award evidence"
        )
        details = {"gift": target, "nomination": nomination}
        self.found.append(Hit(entry.index, message, (target, nomination), details))

    def finish(self, _facts: Facts) -> Iterator[Hit]:
        return iter(self.found)


class ReversalBurst:
    """At least ``count`` reversals recorded by one actor within ``hours`` hours.

    One reversal is a correction; many from one hand in a short time may be a mistake
    in bulk or an attempt to make gifts disappear. A burst is the union of every run of
    ``count`` consecutive reversals by the actor spanning at most ``hours`` hours (by
    the entries' times), overlapping runs making one burst. The finding is about the
    burst's first reversal and names the others.
    """

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.count = limits["count"]
        self.window = timedelta(hours=limits["hours"])
        self.by_actor: dict[str, list[tuple[datetime, int]]] = {}

    def add(self, entry: Entry, _facts: Facts) -> None:
        self.by_actor.setdefault(entry.actor, []).append((entry.time, entry.index))

    def finish(self, _facts: Facts) -> Iterator[Hit]:
        for actor, reversals in sorted(self.by_actor.items()):
            for first, last in self._bursts(reversals):
                burst = reversals[first : last + 1]
                indices = tuple(index for _time, index in burst)
                span = burst[-1][0] - burst[0][0]
                message = (
                    f"{actor} recorded {len(burst)} reversals in {_hours(span)} "
                    f"(entries {indices[0]} to {indices[-1]}); the rule is {self.count} "
                    f"within {_hours(self.window)}"
                )
                details: dict[str, Any] = {"actor": actor, "reversals": len(burst)}
                yield Hit(indices[0], message, indices[1:], details)

    def _bursts(self, reversals: list[tuple[datetime, int]]) -> Iterator[tuple[int, int]]:
        """Positions (first, last) of each burst in ``reversals``, in order."""
        current: tuple[int, int] | None = None
        for last in range(self.count - 1, len(reversals)):
            first = last - self.count + 1
            if reversals[last][0] - reversals[first][0] > self.window:
                continue
            if current is not None and first <= current[1]:
                current = (current[0], last)
                continue
            if current is not None:
                yield current
            current = (first, last)
        if current is not None:
            yield current


def _hours(span: timedelta) -> str:
    """``"under a minute"``, ``"12 minutes"``, ``"1 hour"``, ``"2.5 hours"``."""
    seconds = span.total_seconds()
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        minutes = round(seconds / 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = f"{seconds / 3600:.1f}".removesuffix(".0")
    return f"{hours} hour{'s' if hours != '1' else ''}"
