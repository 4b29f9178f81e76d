"""Double-entry postings: how each entry moves money between a fund's accounts.

This module is the whole accounting model, and it reads nothing but entries, so an
auditor can recompute every balance from the public log (docs/fund-entries.md
describes the same rules in prose). Every entry's postings sum to zero.

Accounts of a fund (``form`` cash or in kind)::

    donations          -a   where cash gifts come from (the outside world)
    donations_in_kind  -v   where goods come from, at their assessed value
    available          +a   received and not yet allocated         (cash)
    committed               allocated by a decision, not yet paid  (cash)
    disbursed               paid out to beneficiaries              (cash)
    in_kind                 goods received, valued, not allocated
    in_kind_committed       goods allocated, not yet handed over
    in_kind_disbursed       goods handed over

Balances shown to the public: ``available``, ``committed``, ``disbursed`` and
``in_kind`` are the sums of those accounts. An earmark splits a fund's money into
pools (the ``earmark`` key of a posting); earmarked money leaves only through an
allocation or transfer carrying the same earmark.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson

CONTRIBUTION = "contribution"
ALLOCATION = "allocation"
DISBURSEMENT = "disbursement"
TRANSFER = "transfer"
REVERSAL = "reversal"

DONATIONS = "donations"
DONATIONS_IN_KIND = "donations_in_kind"
AVAILABLE = "available"
COMMITTED = "committed"
DISBURSED = "disbursed"
IN_KIND = "in_kind"
IN_KIND_COMMITTED = "in_kind_committed"
IN_KIND_DISBURSED = "in_kind_disbursed"

# Accounts that hold money or goods the fund has; none of them may ever go negative.
GUARDED = frozenset({AVAILABLE, COMMITTED, IN_KIND, IN_KIND_COMMITTED})
# The kinds that move money; a reversal may target only these (and pledges).
MONEY_KINDS = frozenset({CONTRIBUTION, ALLOCATION, DISBURSEMENT, TRANSFER})


class Posting(NamedTuple):
    fund: str
    account: str
    earmark: str
    campaign: str | None
    amount: int


MAX_EARMARK_KEY = 300  # the width of the earmark columns of the fund tables


def earmark_key(earmark: Mapping[str, Any] | None) -> str:
    """The pool an earmark names: "" for free money, else its canonical JSON."""
    if not earmark:
        return ""
    return orjson.dumps(dict(earmark), option=orjson.OPT_SORT_KEYS).decode()


# The postings of an earlier entry, by index: a reversal negates them, a disbursement
# needs its allocation's fund, form and pool.
PostingsOf = Callable[[int], Sequence[Posting]]


def postings_for(kind: str, body: Mapping[str, Any], earlier: PostingsOf) -> list[Posting]:
    """The postings of one entry; kinds that move no money have none."""
    if kind == CONTRIBUTION:
        return _contribution(body)
    if kind == ALLOCATION:
        return _allocation(body)
    if kind == DISBURSEMENT:
        return _disbursement(body, earlier(int(body["allocation"])))
    if kind == TRANSFER:
        pool = earmark_key(body.get("earmark"))
        amount = int(body["amount"])
        return [
            Posting(body["from_fund"], AVAILABLE, pool, None, -amount),
            Posting(body["to_fund"], AVAILABLE, pool, None, amount),
        ]
    if kind == REVERSAL:
        return [p._replace(amount=-p.amount) for p in earlier(int(body["target"]))]
    return []


def _contribution(body: Mapping[str, Any]) -> list[Posting]:
    fund, amount = body["fund"], int(body["amount"])
    pool, campaign = earmark_key(body.get("earmark")), body.get("campaign")
    if body["channel"] == "in_kind":
        source, account = DONATIONS_IN_KIND, IN_KIND
    else:
        source, account = DONATIONS, AVAILABLE
    return [
        Posting(fund, source, pool, campaign, -amount),
        Posting(fund, account, pool, campaign, amount),
    ]


def _allocation(body: Mapping[str, Any]) -> list[Posting]:
    fund, amount = body["fund"], int(body["amount"])
    pool, campaign = earmark_key(body.get("earmark")), body.get("campaign")
    if body.get("form", "cash") == "in_kind":
        source, target = IN_KIND, IN_KIND_COMMITTED
    else:
        source, target = AVAILABLE, COMMITTED
    return [
        Posting(fund, source, pool, campaign, -amount),
        Posting(fund, target, pool, campaign, amount),
    ]


def _disbursement(body: Mapping[str, Any], allocation: Sequence[Posting]) -> list[Posting]:
    committed = next(p for p in allocation if p.amount > 0)
    paid = DISBURSED if committed.account == COMMITTED else IN_KIND_DISBURSED
    amount = int(body["amount"])
    return [
        committed._replace(amount=-amount),
        committed._replace(account=paid, amount=amount),
    ]
