"""The fund projections as they follow from the leaves alone.

A preparer (``registry``, ``gifts``, ``spending``, ``reversals``) checks a writer's
request against the ledger and builds the entry's body; the projection rows it then
writes depend on nothing but that body and the entry's index. They are built here,
so that one piece of code serves a writer's request and a restore from an export
(``ledger.restore``), where there is no request, only leaves. The postings and the
pool totals come from ``ledger.funds.postings`` in both cases, and ``ledger verify``
compares the result with its own replay of the log.

Private tables (donors' contact details, beneficiaries' full names) cannot be rebuilt
from leaves: a leaf holds such a fact only as a keyed hash, or not at all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.entries import Entry
from ledger.errors import ChainError
from ledger.funds import postings as p
from ledger.funds import state
from ledger.funds.models import (
    AllocationRow,
    CampaignRow,
    ContributionRow,
    DisbursementRow,
    FundRow,
    MobilizerRow,
    PledgeRow,
    PoolRow,
    PostingRow,
    ReversalRow,
    UnitRow,
)
from ledger.funds.text import in_kind_json, search_key
from ledger.models import Base, EntryRow

Body = Mapping[str, Any]
Values = dict[str, Any]


def unit_values(index: int, body: Body) -> Values:
    return {
        "code": body["code"],
        "name": body["name"],
        "parent": body["parent"],
        "level": body["level"],
        "entry_index": index,
    }


def fund_values(index: int, body: Body) -> Values:
    return {
        "code": body["code"],
        "unit": body["unit"],
        "kind": body["kind"],
        "name": body["name"],
        "entry_index": index,
    }


def campaign_values(index: int, body: Body) -> Values:
    account = body["account"]
    return {
        "code": body["code"],
        "fund": body["fund"],
        "name": body["name"],
        "purpose": body["purpose"],
        "reference": body["reference"],
        "opens": body["opens"],
        "closes": body["closes"],
        "distribute_by": body["distribute_by"],
        "bank_bin": account["bank_bin"],
        "bank_name": account["bank_name"],
        "account_number": account["number"],
        "account_holder": account["holder"],
        "entry_index": index,
    }


def mobilizer_values(index: int, body: Body) -> Values:
    return {
        "code": body["code"],
        "name": body["name"],
        "type": body["type"],
        "unit": body["unit"],
        "reference": body["reference"],
        "entry_index": index,
    }


def contribution_values(index: int, body: Body) -> Values:
    donor = body["donor"]
    return {
        "receipt_id": body["receipt_id"],
        "entry_index": index,
        "fund": body["fund"],
        "campaign": body["campaign"],
        "mobilizer": body["mobilizer"],
        "channel": body["channel"],
        "amount": body["amount"],
        "received_on": body["received_on"],
        "reference": body.get("reference"),
        "pledge": body.get("pledge"),
        "donor_display": donor["display"],
        "donor_type": donor["type"],
        "donor_anonymous": donor["anonymous"],
        "donor_search": search_key(donor["display"]),
        "earmark": p.earmark_key(body.get("earmark")),
        "in_kind": in_kind_json(body.get("in_kind")),
    }


def pledge_values(index: int, body: Body) -> Values:
    return {
        "pledge_id": body["pledge_id"],
        "entry_index": index,
        "fund": body["fund"],
        "campaign": body["campaign"],
        "mobilizer": body["mobilizer"],
        "amount": body["amount"],
    }


def allocation_values(index: int, body: Body) -> Values:
    beneficiary = body["beneficiary"]
    return {
        "entry_index": index,
        "fund": body["fund"],
        "form": body["form"],
        "amount": body["amount"],
        "earmark": p.earmark_key(body.get("earmark")),
        "campaign": body.get("campaign"),
        "program": body.get("program"),
        "id_hash": beneficiary.get("id_hash"),
        "beneficiary_type": beneficiary["type"],
        "beneficiary_unit": beneficiary.get("unit"),
    }


def disbursement_values(index: int, body: Body) -> Values:
    return {
        "entry_index": index,
        "allocation": body["allocation"],
        "amount": body["amount"],
        "fund": body["fund"],
        "paid_on": body["paid_on"],
    }


def reversal_values(index: int, body: Body, target_kind: str) -> Values:
    """The target's kind is not in a reversal's body: the caller reads it from the log."""
    return {"target": body["target"], "entry_index": index, "kind": target_kind}


# Kinds with one row each in a table of their own; units are kept apart (a unit can be
# recorded again, replacing its row) and reversals need their target's kind.
ROWS: dict[str, tuple[type[Base], Callable[[int, Body], Values]]] = {
    "fund": (FundRow, fund_values),
    "campaign": (CampaignRow, campaign_values),
    "mobilizer": (MobilizerRow, mobilizer_values),
    "contribution": (ContributionRow, contribution_values),
    "pledge": (PledgeRow, pledge_values),
    "allocation": (AllocationRow, allocation_values),
    "disbursement": (DisbursementRow, disbursement_values),
}
UNIT, REVERSAL = "unit", "reversal"


Rows = dict[str, list[Values]]  # table name -> its rows, each with the same keys in order


class Projector:
    """The projection rows of a log fed to it entry by entry, in index order.

    It computes and the caller writes: ``take`` hands over the rows gathered so far,
    which must be in the database before more entries are added, since a disbursement
    or reversal naming an entry of an earlier batch reads that entry's postings, or its
    kind, back from it. Memory holds one batch, the units (a few thousand at most: a
    unit recorded again replaces its row) and the pool totals (one per fund, account
    and earmark), which ``finish`` hands over at the end.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.counts: Counter[str] = Counter()
        self._rows: Rows = defaultdict(list)
        self._legs: dict[int, list[p.Posting]] = {}
        self._kinds: dict[int, str] = {}
        self._units: dict[str, Values] = {}
        self._pools: dict[tuple[str, str, str], int] = defaultdict(int)

    def add(self, entry: Entry) -> None:
        """Project one entry; a body lacking what its kind needs is a ChainError."""
        try:
            self._project(entry.index, entry.kind, entry.body)
        except (KeyError, TypeError, ValueError, StopIteration) as err:
            message = f"the {entry.kind} body cannot be projected ({err!r})"
            raise ChainError(message, index=entry.index) from err
        self.counts[entry.kind] += 1

    def _project(self, index: int, kind: str, body: Body) -> None:
        self._kinds[index] = kind
        if kind == UNIT:
            self._units[body["code"]] = unit_values(index, body)
        elif kind == REVERSAL:
            values = reversal_values(index, body, self._kind_of(int(body["target"])))
            self._rows[ReversalRow.__tablename__].append(values)
        elif kind in ROWS:
            model, build = ROWS[kind]
            self._rows[model.__tablename__].append(build(index, body))
        legs = p.postings_for(kind, body, self._postings_of)
        if not legs:
            return
        self._legs[index] = legs
        postings = self._rows[PostingRow.__tablename__]
        for leg in legs:
            postings.append({"entry_index": index, **leg._asdict()})
            self._pools[(leg.fund, leg.account, leg.earmark)] += leg.amount

    def _kind_of(self, index: int) -> str:
        kind = self._kinds.get(index)
        if kind is None:
            kind = self.session.scalar(select(EntryRow.kind).where(EntryRow.index == index))
        if kind is None:
            raise ChainError(f"the reversed entry {index} is not in the log")
        return kind

    def _postings_of(self, index: int) -> list[p.Posting]:
        legs = self._legs.get(index)
        if legs is not None:
            return legs
        return state.stored_postings(self.session, index)

    def take(self) -> Rows:
        """The rows gathered since the last call, to be written before the next ``add``."""
        taken, self._rows = dict(self._rows), defaultdict(list)
        self._legs.clear()
        self._kinds.clear()
        return taken

    def finish(self) -> Rows:
        """The last rows: what ``take`` has not handed over, the units, the pool totals."""
        rows = self.take()
        rows[UnitRow.__tablename__] = list(self._units.values())
        rows[PoolRow.__tablename__] = [
            {"fund": fund, "account": account, "earmark": earmark, "balance": balance}
            for (fund, account, earmark), balance in self._pools.items()
        ]
        return rows
