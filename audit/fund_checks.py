"""The writer's fund rules, checked again on the log alone, entry by entry.

The recorder refuses an operation that breaks a rule, but the log is what everyone
trusts, and an entry appended around the recorder (by someone holding the signing
key and the database) would not be refused. So the audit replays the log through
the same accounting (``ledger.funds.replay.Books``) and asks of each entry what the
recorder asked of it: that a reversal undoes an earlier, reversible entry once; that
a disbursement pays an allocation still standing, within what is left of it; that a
transfer moves money between two different registered funds; that earmarked money
goes where its earmark says; that a bank transaction reference is recorded once per
receiving account; and that no guarded balance ever went below zero.

Memory grows with what later entries may name, not with the log: one byte per entry
(its kind, for reversals), the allocations and disbursements, and one digest per
standing bank reference. A reversed entry's details are re-read when needed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audit.findings import ERROR, Finding
from ledger.entries import Entry
from ledger.errors import LedgerError
from ledger.funds import postings as p
from ledger.funds.replay import Books
from ledger.funds.reversals import REVERSIBLE
from ledger.funds.text import dong

NEGATIVE = "negative_balance"
EARMARK = "earmark"
REVERSAL = "reversal"
TRANSFER = "transfer"
DISBURSEMENT = "disbursement"
BANK_REFERENCE = "bank_reference_reused"
UNPOSTABLE = "unpostable"

_POSTED = p.MONEY_KINDS | {p.REVERSAL}
_MAX_KINDS = 255  # kinds beyond these share code 0: none of them can be reversed anyway


@dataclass
class _Allocation:
    fund: str
    amount: int
    paid: int = 0  # disbursed under it, net of reversed disbursements


def _amount(value: Any) -> int | None:
    """A positive whole number of đồng, or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class FundChecks:
    """Feed it every verified entry in index order; each call returns that entry's findings."""

    def __init__(self, fetch: Callable[[int], Entry]) -> None:
        self.books = Books(fetch=fetch)
        self._fetch = fetch
        self._kinds = bytearray()
        self._kind_codes: dict[str, int] = {}
        self._kind_names: list[str] = [""]
        self._reversed_by: dict[int, int] = {}
        self._allocations: dict[int, _Allocation] = {}
        self._disbursements: dict[int, tuple[int, int]] = {}  # index -> (allocation, amount)
        self._accounts: dict[str, str] = {}  # campaign -> its receiving account
        self._references: dict[bytes, int] = {}  # digest of (account, reference) -> gift
        # ("fund" | "campaign", code) -> the last entry that posted to it
        self.touched: dict[tuple[str, str], int] = {}

    def add(self, entry: Entry) -> list[Finding]:
        findings: list[Finding] = []
        check = _CHECKS.get(entry.kind)
        post = check(self, entry, findings) if check is not None else True
        self._kinds.append(self._code(entry.kind))
        if not post:
            return findings
        before = len(self.books.negative)
        try:
            self.books.apply(entry)
        except LedgerError as err:
            findings.append(Finding(UNPOSTABLE, ERROR, entry.index, err.message))
            return findings
        if entry.kind in _POSTED:
            legs = self.books.postings_of(entry.index)
            for leg in legs:
                self.touched[("fund", leg.fund)] = entry.index
                if leg.campaign is not None:
                    self.touched[("campaign", leg.campaign)] = entry.index
            if len(self.books.negative) > before:
                findings += self._overdrawn(entry, legs)
            if entry.kind == p.TRANSFER and sum(leg.amount for leg in legs) != 0:
                message = "the transfer's postings do not sum to zero"
                findings.append(Finding(TRANSFER, ERROR, entry.index, message))
        return findings

    def kind_of(self, index: int) -> str:
        return self._kind_names[self._kinds[index]]

    def _code(self, kind: str) -> int:
        code = self._kind_codes.get(kind)
        if code is None:
            if len(self._kind_names) > _MAX_KINDS:
                return 0
            code = self._kind_codes[kind] = len(self._kind_names)
            self._kind_names.append(kind)
        return code

    # -- after posting ---------------------------------------------------------------

    def _overdrawn(self, entry: Entry, legs: list[p.Posting]) -> list[Finding]:
        """Name each pool the entry left below zero, and say when earmarked money paid for it."""
        findings: list[Finding] = []
        for leg in legs:
            pool = (leg.fund, leg.account, leg.earmark)
            balance = self.books.pools[pool]
            if leg.account not in p.GUARDED or balance >= 0 or leg.amount >= 0:
                continue
            where = f"fund {leg.fund}'s {leg.account}" + (
                f" earmarked {leg.earmark}" if leg.earmark else ""
            )
            details = {"fund": leg.fund, "account": leg.account, "earmark": leg.earmark}
            message = f"the {entry.kind} leaves {where} at {dong(balance)}"
            findings.append(Finding(NEGATIVE, ERROR, entry.index, message, details=details))
            earmarked = sorted(
                earmark
                for (fund, account, earmark), amount in self.books.pools.items()
                if (fund, account) == (leg.fund, leg.account) and earmark and amount > 0
            )
            if earmarked and self.books.accounts[leg.fund].get(leg.account, 0) >= 0:
                message = (
                    f"the {entry.kind} spends {dong(-balance)} that fund {leg.fund} holds only "
                    f"as money earmarked {'; '.join(earmarked)}, which may leave only through "
                    "an allocation or transfer with the same earmark"
                )
                findings.append(
                    Finding(EARMARK, ERROR, entry.index, message, details=dict(details))
                )
        return findings

    # -- before posting: each returns whether the entry can be posted -------------------

    def _campaign(self, entry: Entry, findings: list[Finding]) -> bool:
        account = entry.body.get("account")
        if isinstance(account, dict):
            self._accounts[str(entry.body.get("code"))] = (
                f"{account.get('bank_bin')}/{account.get('number')}"
            )
        return True

    def _contribution(self, entry: Entry, findings: list[Finding]) -> bool:
        reference = entry.body.get("reference")
        if reference is None:
            return True
        campaign = str(entry.body.get("campaign"))
        key = self._reference_key(campaign, reference)
        first = self._references.get(key)
        if first is None:
            self._references[key] = entry.index
            return True
        message = (
            f"bank reference {reference} was already recorded for the account of campaign "
            f"{campaign} by entry {first}, which still stands"
        )
        findings.append(Finding(BANK_REFERENCE, ERROR, entry.index, message, related=(first,)))
        return True

    def _reference_key(self, campaign: str, reference: Any) -> bytes:
        """One digest per (receiving account, reference): the account, not the campaign,
        is what a bank transaction credits, and campaigns may share one."""
        account = self._accounts.get(campaign, f"campaign {campaign}")
        return hashlib.blake2b(f"{account}\n{reference}".encode(), digest_size=16).digest()

    def _allocation(self, entry: Entry, findings: list[Finding]) -> bool:
        body = entry.body
        earmark = body.get("earmark")
        if isinstance(earmark, dict) and earmark.get("unit"):
            scope = str(earmark["unit"])
            beneficiary = body.get("beneficiary")
            unit = beneficiary.get("unit") if isinstance(beneficiary, dict) else None
            if unit is None or not self.books.units.within(str(unit), scope):
                where = "names no unit" if unit is None else f"is in {unit}"
                message = (
                    f"money earmarked for unit {scope} is allocated to a beneficiary "
                    f"who {where}, outside it"
                )
                findings.append(Finding(EARMARK, ERROR, entry.index, message))
        amount = body.get("amount")
        if isinstance(amount, int):
            self._allocations[entry.index] = _Allocation(str(body.get("fund")), amount)
        return True

    def _earlier(self, entry: Entry, name: str, findings: list[Finding], check: str) -> int | None:
        """The earlier entry a member names, or None (with a finding) when there is none."""
        target = entry.body.get(name)
        if isinstance(target, int) and not isinstance(target, bool) and 0 <= target < entry.index:
            return target
        message = f"{name} {target!r} names no earlier entry"
        findings.append(Finding(check, ERROR, entry.index, message))
        return None

    def _disbursement(self, entry: Entry, findings: list[Finding]) -> bool:
        target = self._earlier(entry, "allocation", findings, DISBURSEMENT)
        if target is None:
            return False
        allocation = self._allocations.get(target)
        if allocation is None:
            message = f"it pays under entry {target}, a {self.kind_of(target)}, not an allocation"
            findings.append(Finding(DISBURSEMENT, ERROR, entry.index, message, related=(target,)))
            return False
        reversal = self._reversed_by.get(target)
        if reversal is not None:
            message = f"it pays under allocation {target}, which entry {reversal} reversed"
            related = (target, reversal)
            findings.append(Finding(DISBURSEMENT, ERROR, entry.index, message, related=related))
        amount = _amount(entry.body.get("amount"))
        if amount is None:
            message = f"amount {entry.body.get('amount')!r} is not a positive number of đồng"
            findings.append(Finding(DISBURSEMENT, ERROR, entry.index, message))
            return True
        left = allocation.amount - allocation.paid
        if amount > left:
            message = (
                f"it pays {dong(amount)} under allocation {target}, which had {dong(left)} "
                f"left of {dong(allocation.amount)}"
            )
            findings.append(Finding(DISBURSEMENT, ERROR, entry.index, message, related=(target,)))
        fund = entry.body.get("fund")
        if fund != allocation.fund:
            message = f"it names fund {fund} but allocation {target} is of fund {allocation.fund}"
            findings.append(Finding(DISBURSEMENT, ERROR, entry.index, message, related=(target,)))
        allocation.paid += amount
        self._disbursements[entry.index] = (target, amount)
        return True

    def _transfer(self, entry: Entry, findings: list[Finding]) -> bool:
        source, target = entry.body.get("from_fund"), entry.body.get("to_fund")
        problems = [
            f"{side} {code} is not a registered fund"
            for side, code in (("from_fund", source), ("to_fund", target))
            if code not in self.books.funds
        ]
        if source == target:
            problems.append(f"it moves money from fund {source} to itself")
        if _amount(entry.body.get("amount")) is None:
            problems.append(f"amount {entry.body.get('amount')!r} is not a positive number")
        findings += [Finding(TRANSFER, ERROR, entry.index, problem) for problem in problems]
        return True

    def _reversal(self, entry: Entry, findings: list[Finding]) -> bool:
        target = self._earlier(entry, "target", findings, REVERSAL)
        if target is None:
            return False
        kind = self.kind_of(target)
        if kind not in REVERSIBLE:
            message = f"it reverses entry {target}, a {kind or 'entry'}, which cannot be reversed"
            findings.append(Finding(REVERSAL, ERROR, entry.index, message, related=(target,)))
        earlier = self._reversed_by.get(target)
        if earlier is not None:
            message = f"entry {target} was already reversed by entry {earlier}"
            findings.append(
                Finding(REVERSAL, ERROR, entry.index, message, related=(target, earlier))
            )
            return True
        self._reversed_by[target] = entry.index
        if kind == p.ALLOCATION:
            allocation = self._allocations.get(target)
            if allocation is not None and allocation.paid > 0:
                message = (
                    f"allocation {target} is reversed while {dong(allocation.paid)} paid under "
                    "it still stands"
                )
                findings.append(Finding(REVERSAL, ERROR, entry.index, message, related=(target,)))
        elif kind == p.DISBURSEMENT and target in self._disbursements:
            allocation_index, amount = self._disbursements[target]
            self._allocations[allocation_index].paid -= amount
        elif kind == p.CONTRIBUTION:
            self._free_reference(target)
        return True

    def _free_reference(self, gift: int) -> None:
        """A reversed gift frees its bank reference, so that a misfiled credit can be re-filed."""
        body = self._fetch(gift).body
        if body.get("reference") is None:
            return
        key = self._reference_key(str(body.get("campaign")), body["reference"])
        if self._references.get(key) == gift:
            del self._references[key]


_Check = Callable[[FundChecks, Entry, list[Finding]], bool]
_CHECKS: dict[str, _Check] = {
    "campaign": FundChecks._campaign,
    p.CONTRIBUTION: FundChecks._contribution,
    p.ALLOCATION: FundChecks._allocation,
    p.DISBURSEMENT: FundChecks._disbursement,
    p.TRANSFER: FundChecks._transfer,
    p.REVERSAL: FundChecks._reversal,
}
