"""Importing a bank statement (sao kê): every credited line becomes a contribution.

The statement is the bank's word on what arrived, so importing it must be safe to
repeat and must not lose a line:

* a line is known by its bank reference: one already recorded for its account, or
  already held as an import row, is reported as a duplicate and creates nothing, so
  importing the same statement twice (or two overlapping ones) counts nothing twice;
* a credit whose memo names no campaign, on a statement not said to be one
  campaign's account, is kept as an unmatched import row for a manager to assign or
  dismiss (``ledger.funds.import_settling``), never guessed;
* a line that cannot be read, or that the ledger refuses (dated outside its
  campaign's open period, say), is reported with its line number and does not stop
  the others, unless the importer asked for all or nothing.

Everything happens in one write transaction with one append batch. The report ends
with an assertion a person can check against the paper statement: the running
balances follow, the closing balance is the one asserted, and the ledger now holds
exactly the statement's credits less those left unmatched or refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.errors import LedgerError
from ledger.funds.access import Scope
from ledger.funds.import_rows import (
    ASSIGNED,
    DISMISSED,
    MAX_REFERENCE,
    STATUSES,
    UNMATCHED,
    Assertion,
    Created,
    Duplicate,
    ImportRefused,
    ImportReport,
    Invalid,
    Unmatched,
    contribution_data,
    memo_references,
    require_campaign,
)
from ledger.funds.import_settling import (
    assign_row,
    dismiss_row,
    get_batch,
    list_rows,
    record_assignment,
    record_dismissal,
    row_document,
)
from ledger.funds.memo import MemoMatcher
from ledger.funds.models import (
    CampaignRow,
    ContributionRow,
    FundRow,
    ImportBatchRow,
    ImportRowRow,
    ReversalRow,
)
from ledger.funds.privacy import PrivacyKey
from ledger.funds.recorder import Recorder, receipt_id
from ledger.funds.statements import (
    BankFormat,
    Statement,
    StatementLine,
    parse_statement,
)
from ledger.settings import Settings

__all__ = [
    "STATUSES",
    "Assertion",
    "Created",
    "Duplicate",
    "ImportRefused",
    "ImportReport",
    "Invalid",
    "Unmatched",
    "assign_row",
    "dismiss_row",
    "get_batch",
    "import_statement",
    "list_rows",
    "record_assignment",
    "record_dismissal",
    "record_statement",
    "row_document",
]

T = TypeVar("T")
# (receiving account, bank reference): one bank transaction is one gift, whichever
# campaign of that account it was recorded for.
_Key = tuple[tuple[str, str] | None, str | None]
_CHUNK = 500  # references per IN (...) query, well under every driver's parameter limit


def import_statement(
    database: Database,
    settings: Settings,
    scope: Scope,
    data: bytes,
    filename: str,
    bank_format: BankFormat,
    *,
    campaign: str | None = None,
    all_or_nothing: bool = False,
    closing_balance: int | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Record the statement's credited lines as contributions; see the module docstring.

    ``campaign`` says the statement is of that campaign's account: lines whose memo
    names no campaign go to it. A file that cannot be read at all raises
    ``StatementError`` before anything is written; ``ImportRefused`` (carrying the
    report) when ``all_or_nothing`` and a line is invalid.
    """
    scope.require("import")
    statement = parse_statement(data, filename, bank_format)
    privacy = PrivacyKey.load(settings.privacy_key_file)
    with database.writing() as session:
        return record_statement(
            session,
            settings,
            scope,
            privacy,
            statement,
            filename,
            hashlib.sha256(data).hexdigest(),
            campaign=campaign,
            all_or_nothing=all_or_nothing,
            closing_balance=closing_balance,
            now=now,
        )


def record_statement(
    session: Session,
    settings: Settings,
    scope: Scope,
    privacy: PrivacyKey,
    statement: Statement,
    filename: str,
    sha256: str,
    *,
    campaign: str | None = None,
    all_or_nothing: bool = False,
    closing_balance: int | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """``import_statement`` of a parsed statement, inside the caller's write transaction.

    Parsing comes first and outside: a large workbook must not hold the append lock.
    ``sha256`` is the file's, kept with the batch. The batch remembers the scope's unit,
    which decides who may later see and settle its unmatched rows.
    """
    scope.require("import")
    recorder = Recorder(session, settings, scope, privacy, now=now)
    default = None
    if campaign is not None:
        default = require_campaign(session, campaign)
        fund = session.get(FundRow, default.fund)
        if fund is not None:
            scope.require_unit(fund.unit, recorder.tree)
    batch = ImportBatchRow(
        filename=filename[:255],
        sha256=sha256,
        bank_format=statement.format[:48],
        campaign=campaign,
        unit=scope.unit,
        actor=scope.actor[:100],
        imported_at=now or datetime.now(UTC),
        report="{}",
    )
    session.add(batch)
    session.flush()
    run = _Run(session, recorder, _without_nul(statement), batch.id, default)
    run.all_lines()
    report = run.report(filename, closing_balance)
    if all_or_nothing and report.invalid:
        raise ImportRefused(replace(report, batch_id=None, recorded=False))
    recorder.commit()
    batch.report = json.dumps(report.as_dict(), ensure_ascii=False)
    session.flush()
    return report


@dataclass
class _Run:
    """The state of one import while its lines are taken one by one."""

    session: Session
    recorder: Recorder
    statement: Statement
    batch_id: int
    default: CampaignRow | None
    created: list[Created] = field(default_factory=list)
    duplicates: list[tuple[Duplicate, int]] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    refused: list[tuple[Invalid, int]] = field(default_factory=list)
    debits: int = 0
    campaigns: dict[str, CampaignRow] = field(init=False)
    matcher: MemoMatcher = field(init=False)
    recorded: set[_Key] = field(init=False)
    held: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        credited = sorted({line.reference for line in self.statement.lines if _storable(line)})
        self.campaigns = {row.code: row for row in self.session.scalars(select(CampaignRow))}
        self.matcher = MemoMatcher(*memo_references(self.session))
        self.recorded = self._contribution_keys(credited)
        self.held = self._held(credited)

    def all_lines(self) -> None:
        for line in self.statement.lines:
            if line.credit:
                self._credit(line)
            else:
                self.debits += 1

    def _credit(self, line: StatementLine) -> None:
        if len(line.reference) > MAX_REFERENCE or "\x00" in line.reference:
            reason = f"the reference is longer than {MAX_REFERENCE} characters"
            if "\x00" in line.reference:
                reason = "the reference holds a NUL character, which no database keeps"
            self.refused.append((Invalid(line.line, reason), line.credit))
            return
        match = self.matcher.match(line.memo)
        code = match.campaign or (self.default.code if self.default else None)
        if line.reference in self.held or (self._account(code), line.reference) in self.recorded:
            self.duplicates.append((Duplicate(line.line, line.reference), line.credit))
            return
        if code is None:
            self._hold(line)
            return
        data = contribution_data(
            self.campaigns[code],
            amount=line.credit,
            reference=line.reference,
            received_on=line.date.isoformat(),
            counterparty=line.counterparty,
            account=line.counterparty_account,
            mobilizer=match.mobilizer,
        )
        try:
            index = self.recorder.add("contribution", data)
        except LedgerError as err:
            self.refused.append((Invalid(line.line, str(err)), line.credit))
            return
        self.recorded.add((self._account(code), line.reference))
        receipt = receipt_id(self.recorder.origin, index)
        self.created.append(Created(line.line, index, receipt, line.credit))

    def _account(self, campaign: str | None) -> tuple[str, str] | None:
        row = self.campaigns.get(campaign) if campaign is not None else None
        return (row.bank_bin, row.account_number) if row is not None else None

    def _hold(self, line: StatementLine) -> None:
        row = ImportRowRow(
            batch_id=self.batch_id,
            line=line.line,
            value_date=line.date.isoformat(),
            reference=line.reference,
            amount=line.credit,
            memo=line.memo,
            counterparty=_cut(line.counterparty, 200),
            counterparty_account=_cut(line.counterparty_account, 64),
            status=UNMATCHED,
        )
        self.session.add(row)
        self.session.flush()
        self.held[line.reference] = UNMATCHED
        self.unmatched.append(Unmatched(line.line, row.id, line.credit))

    def _contribution_keys(self, references: Sequence[str]) -> set[_Key]:
        keys: set[_Key] = set()
        for chunk in _chunks(references):
            query = select(ContributionRow.campaign, ContributionRow.reference).where(
                ContributionRow.reference.in_(chunk),
                ContributionRow.entry_index.not_in(select(ReversalRow.target)),
            )
            keys.update(
                (self._account(code), reference) for code, reference in self.session.execute(query)
            )
        return keys

    def _held(self, references: Sequence[str]) -> dict[str, str]:
        held: dict[str, str] = {}
        for chunk in _chunks(references):
            query = select(ImportRowRow.reference, ImportRowRow.status).where(
                ImportRowRow.reference.in_(chunk)
            )
            for reference, status in self.session.execute(query):
                # One assigned row among several decides: that line is in the ledger.
                if held.get(reference) != ASSIGNED:
                    held[reference] = status
        return held

    def _in_ledger(self, references: Sequence[str]) -> int:
        total = 0
        for chunk in _chunks(references):
            amounts = self.session.scalars(
                select(ContributionRow.amount).where(ContributionRow.reference.in_(chunk))
            )
            total += sum(int(amount) for amount in amounts)
        return total

    def report(self, filename: str, closing_balance: int | None) -> ImportReport:
        statement = self.statement
        credited = [line for line in statement.lines if line.credit]
        refused_lines = {invalid.line for invalid, _ in self.refused}
        not_recorded = sum(
            line.credit
            for line in credited
            if line.line not in refused_lines and self.held.get(line.reference) in _NOT_GIFTS
        )
        refused_credits = sum(credit for _, credit in self.refused)
        breaks = tuple(Invalid(bad.line, bad.reason) for bad in statement.check_running_balance())
        assertion = Assertion(
            running_balance_errors=breaks,
            after_invalid=_after_invalid(statement, breaks),
            asserted_closing_balance=closing_balance,
            statement_closing_balance=statement.closing_balance,
            credits=statement.credits,
            not_recorded=not_recorded,
            refused=refused_credits,
            ledger_found=self._in_ledger(
                sorted({line.reference for line in credited if _storable(line)})
            ),
        )
        invalid = [Invalid(bad.line, bad.reason) for bad in statement.invalid]
        invalid += [bad for bad, _ in self.refused]
        totals = {
            "lines": len(statement.lines) + len(statement.invalid),
            "credits": statement.credits,
            "debits": statement.debits,
            "created": sum(c.amount for c in self.created),
            "duplicates": sum(credit for _, credit in self.duplicates),
            "unmatched": sum(u.amount for u in self.unmatched),
            "invalid": refused_credits,
        }
        return ImportReport(
            batch_id=self.batch_id,
            filename=filename,
            format=statement.format,
            created=tuple(self.created),
            duplicates=tuple(d for d, _ in self.duplicates),
            unmatched=tuple(self.unmatched),
            invalid=tuple(sorted(invalid)),
            debits=self.debits,
            totals=totals,
            assertion=assertion,
        )


_NOT_GIFTS = frozenset({UNMATCHED, DISMISSED})


def _after_invalid(statement: Statement, breaks: Sequence[Invalid]) -> frozenset[int]:
    """The lines in ``breaks`` with an invalid line between them and the line before."""
    numbers = [line.line for line in statement.lines]
    previous = dict(zip(numbers, [0, *numbers], strict=False))
    skipped = [bad.line for bad in statement.invalid]
    return frozenset(
        bad.line for bad in breaks if any(previous[bad.line] < n < bad.line for n in skipped)
    )


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _cut(text: str | None, length: int) -> str | None:
    return text[:length] if text else None


def _storable(line: StatementLine) -> bool:
    """A credit whose reference the database can hold: PostgreSQL text refuses NUL."""
    return bool(line.credit) and "\x00" not in line.reference


def _without_nul(statement: Statement) -> Statement:
    """The statement with NUL characters dropped from memos and senders' names and accounts.

    A NUL is never meaningful in them, PostgreSQL text cannot hold one, and a crafted
    file must not turn into a server error. References keep theirs: such a line is
    refused, since dropping a character could make it collide with another reference.
    """

    def clean(text: str | None) -> str | None:
        return text.replace("\x00", "") if text else text

    lines = tuple(
        replace(
            line,
            memo=clean(line.memo) or "",
            counterparty=clean(line.counterparty) or None,
            counterparty_account=clean(line.counterparty_account) or None,
        )
        for line in statement.lines
    )
    return replace(statement, lines=lines)
