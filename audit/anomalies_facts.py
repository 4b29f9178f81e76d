"""What the anomaly rules know of the log so far: the registry, reversals, where money is.

Every rule needs some of the same facts (which unit holds a fund, which entries were
reversed, a campaign's deadline), so ``Facts`` gathers them once, in one pass, from the
public entries alone: an auditor replaying an export gets the same facts as the
service. The one thing the log cannot say is which unit a token acts for (the log's
``actor`` is a token's name); ``actor_units`` brings that from the tokens table when
the rules run beside the database, and is empty offline.

``Facts`` also runs the attribution engine of ``ledger.funds.usage``: the FIFO rule
that decides whose gifts each allocation spent, which tells how long money has been
idle and which campaign's money an allocation used.
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from ledger.entries import Entry, format_time
from ledger.funds.usage import USAGE_KINDS, Attribution, MoneyEntry


@dataclass(frozen=True)
class Hit:
    """One thing a rule found; the runner makes it a ``Finding`` with the rule's severity."""

    index: int  # the entry the finding is about: its ID is "<rule>:<index>"
    message: str  # one English sentence naming entries, codes and amounts
    related: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


class Anomaly(Protocol):
    """A rule: fed the entries of the kinds it reads, in log order, and asked at any point.

    ``finish`` may be asked any number of times, between ``add`` calls too: it reads the
    rule's state and the facts and changes neither, so that a runner kept for a growing
    log (``audit.rule_cache``) answers at every size as a fresh replay would.
    """

    def add(self, entry: Entry, facts: Facts) -> None: ...

    def finish(self, facts: Facts) -> Iterable[Hit]: ...


class Campaign(NamedTuple):
    index: int  # type: ignore[assignment]  # shadows tuple.index, which nobody needs here
    fund: str
    distribute_by: str


class Mobilizer(NamedTuple):
    code: str
    name: str
    type: str
    unit: str


def same_name(text: Any) -> str:
    """A name as compared: NFC, case and spacing ignored ("Huyện  Cao lộc" = "huyện Cao Lộc")."""
    if not isinstance(text, str):
        return ""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


class Facts:
    """The registry, reversals and money attribution after the entries added so far."""

    def __init__(self, *, now: datetime, actor_units: Mapping[str, str | None]) -> None:
        self.now = now
        self.actor_units = actor_units
        self.unit_names: dict[str, str] = {}  # the name in force
        self.fund_units: dict[str, str] = {}
        self.campaigns: dict[str, Campaign] = {}
        self.mobilizers: dict[str, list[Mobilizer]] = {}  # by unit
        self.reversed: dict[int, int] = {}  # target -> the reversal's index
        self.money = Attribution()
        self.unreadable: list[int] = []  # money entries the attribution could not read

    def at(self, now: datetime) -> Facts:
        """These facts with idle money measured to ``now``: a view sharing all the rest.

        A kept runner answers for a different moment on every call; changing ``now`` in
        place would change it under another reader.
        """
        view = copy.copy(self)
        view.now = now
        return view

    def add(self, entry: Entry) -> None:
        body, kind = entry.body, entry.kind
        if kind == "unit" and isinstance(body.get("code"), str):
            self.unit_names[body["code"]] = str(body.get("name", ""))
        elif kind == "fund" and isinstance(body.get("code"), str):
            self.fund_units[body["code"]] = str(body.get("unit", ""))
        elif kind == "campaign" and isinstance(body.get("code"), str):
            campaign = Campaign(
                entry.index, str(body.get("fund", "")), str(body.get("distribute_by", ""))
            )
            self.campaigns[body["code"]] = campaign
        elif kind == "mobilizer" and isinstance(body.get("code"), str):
            unit = str(body.get("unit", ""))
            mobilizer = Mobilizer(
                body["code"], str(body.get("name", "")), str(body.get("type")), unit
            )
            self.mobilizers.setdefault(unit, []).append(mobilizer)
        elif kind == "reversal" and isinstance(body.get("target"), int):
            self.reversed.setdefault(body["target"], entry.index)
        if kind in USAGE_KINDS:
            self._attribute(entry)

    def _attribute(self, entry: Entry) -> None:
        """Feed the FIFO engine; a malformed money entry is skipped, not fatal.

        The full audit reports such an entry (its balances cannot be recomputed); the
        rules keep going over the rest of the log.
        """
        money = MoneyEntry(entry.index, entry.kind, format_time(entry.time), entry.body)
        try:
            self.money.apply(money)
        except (KeyError, TypeError, ValueError, AttributeError):
            self.unreadable.append(entry.index)

    def standing(self, index: int) -> bool:
        """Whether the entry at ``index`` has not been reversed (so far)."""
        return index not in self.reversed

    def actor_unit(self, actor: str) -> str | None:
        return self.actor_units.get(actor)

    def campaigns_used(self, allocation: int) -> set[str]:
        """The campaigns whose gifts an allocation holds, by the FIFO attribution."""
        held = self.money.allocations.get(allocation)
        if held is None:
            return set()
        found = set()
        for piece in held.parts:
            gift = self.money.gifts.get(piece.gift)
            if gift is not None and gift.campaign:
                found.add(str(gift.campaign))
        return found
