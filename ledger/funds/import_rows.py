"""What became of each statement line: the import's report, gifts, and unmatched rows.

``ImportReport`` says line by line what an import did (``ledger.funds.imports`` does
it); the credited lines no campaign claimed wait as import rows until a manager
assigns them to a campaign or dismisses them (``ledger.funds.import_settling``).

A bank credit names its donor only by what the bank printed: a counterparty name
and account, and a memo the donor typed. What of that may go public is decided
here, once, for both the import and the later settling of unmatched lines:

* the memo never enters a leaf: donors write phone numbers and addresses into it;
  it stays in ``import_rows`` for the manager who settles the line, and only a
  scope covering the importing unit reads or settles that row;
* the counterparty's account goes only into ``donor.account``, of which the leaf
  keeps a keyed hash (the same donor's gifts can be linked without showing it);
* an organisation is shown by its name, a person by family name and initials.

Telling the two apart is a heuristic on the name folded to ASCII capitals (banks
print names that way). It errs towards "person": showing a person's full name is the
mistake that cannot be undone, so words that are also Vietnamese family or given
names (Đoàn, Trương, Trường, Hợi, Cao Đăng) count only inside an unambiguous phrase.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import ConflictError, NotFoundError
from ledger.funds.amounts import format_vnd
from ledger.funds.models import CampaignRow, MobilizerRow
from ledger.funds.privacy import mask_name
from ledger.funds.text import fold_ascii, nfc

UNMATCHED = "unmatched"
ASSIGNED = "assigned"
DISMISSED = "dismissed"
STATUSES = (UNMATCHED, ASSIGNED, DISMISSED)

MAX_REFERENCE = 64  # ContributionRow.reference and ImportRowRow.reference
MAX_NAME = 200


class Created(NamedTuple):
    line: int
    index: int  # type: ignore[assignment]  # shadows tuple.index, which nobody needs here
    receipt_id: str
    amount: int


class Duplicate(NamedTuple):
    line: int
    reference: str


class Unmatched(NamedTuple):
    line: int
    row_id: int
    amount: int


class Invalid(NamedTuple):
    line: int
    reason: str


@dataclass(frozen=True)
class Assertion:
    """What the import claims about the statement and the ledger, and whether it holds.

    ``ledger_expected`` is the statement's credited total less the credits left
    unmatched (in this import or held by an earlier one, dismissed included) and
    those refused; ``ledger_found`` is what the ledger holds under the statement's
    bank references. They differ when a reference was recorded with another amount
    or the statement repeats a reference.

    A running balance that breaks right after an invalid line (``after_invalid``) is
    that line's missing movement: it is listed, but does not fail the assertion, as
    the invalid line is reported already and nothing else is wrong with the statement.
    """

    running_balance_errors: tuple[Invalid, ...]
    after_invalid: frozenset[int]
    asserted_closing_balance: int | None
    statement_closing_balance: int | None
    credits: int
    not_recorded: int
    refused: int
    ledger_found: int

    @property
    def ledger_expected(self) -> int:
        return self.credits - self.not_recorded - self.refused

    @property
    def closing_ok(self) -> bool:
        if self.asserted_closing_balance is None:
            return True
        return self.statement_closing_balance == self.asserted_closing_balance

    @property
    def ledger_ok(self) -> bool:
        return self.ledger_found == self.ledger_expected

    @property
    def unexplained(self) -> tuple[Invalid, ...]:
        """The running-balance breaks no invalid line accounts for."""
        return tuple(e for e in self.running_balance_errors if e.line not in self.after_invalid)

    @property
    def ok(self) -> bool:
        return not self.unexplained and self.closing_ok and self.ledger_ok

    def problems(self) -> list[str]:
        """One sentence per check that failed, for a person."""
        found = [f"line {line}: {reason}" for line, reason in self.unexplained]
        if not self.closing_ok:
            asserted = format_vnd(self.asserted_closing_balance or 0)
            if self.statement_closing_balance is None:
                found.append(f"the statement shows no closing balance to compare with {asserted}")
            else:
                shown = format_vnd(self.statement_closing_balance)
                found.append(f"the statement closes at {shown}, not at the asserted {asserted}")
        if not self.ledger_ok:
            found.append(
                f"the ledger holds {format_vnd(self.ledger_found)} under this statement's "
                f"references where {format_vnd(self.ledger_expected)} was expected"
            )
        return found

    def as_dict(self) -> dict[str, Any]:
        closing = None
        if self.asserted_closing_balance is not None:
            closing = {
                "asserted": self.asserted_closing_balance,
                "statement": self.statement_closing_balance,
                "ok": self.closing_ok,
            }
        return {
            "ok": self.ok,
            "running_balance_errors": [
                {**e._asdict(), "after_invalid_line": e.line in self.after_invalid}
                for e in self.running_balance_errors
            ],
            "closing_balance": closing,
            "ledger_check": {
                "credits": self.credits,
                "unmatched": self.not_recorded,
                "invalid": self.refused,
                "expected": self.ledger_expected,
                "in_ledger": self.ledger_found,
                "ok": self.ledger_ok,
            },
        }


@dataclass(frozen=True)
class ImportReport:
    """What one import did, line by line; ``totals`` are in đồng (``debits`` counts lines).

    When ``recorded`` is false (all or nothing was asked and a line was invalid), the
    created and unmatched lines, and the ledger check, are what would have been: nothing
    was written.
    """

    batch_id: int | None
    filename: str
    format: str
    created: tuple[Created, ...]
    duplicates: tuple[Duplicate, ...]
    unmatched: tuple[Unmatched, ...]
    invalid: tuple[Invalid, ...]
    debits: int
    totals: Mapping[str, int]
    assertion: Assertion
    recorded: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "filename": self.filename,
            "format": self.format,
            "recorded": self.recorded,
            "created": [self._staged(c._asdict(), "index", "receipt_id") for c in self.created],
            "duplicates": [d._asdict() for d in self.duplicates],
            "unmatched": [self._staged(u._asdict(), "row_id") for u in self.unmatched],
            "invalid": [i._asdict() for i in self.invalid],
            "debits": self.debits,
            "totals": dict(self.totals),
            "assertion": self.assertion.as_dict(),
        }

    def _staged(self, line: dict[str, Any], *identifiers: str) -> dict[str, Any]:
        """A refused import names no index, receipt or row: they were never kept, and the
        next write will be given them."""
        if self.recorded:
            return line
        return {key: value for key, value in line.items() if key not in identifiers}


class ImportRefused(ConflictError):
    """All or nothing was asked and some line is invalid: nothing was recorded."""

    code = "import_refused"

    def __init__(self, report: ImportReport) -> None:
        count = len(report.invalid)
        super().__init__(
            f"{count} invalid line{'s' if count != 1 else ''} and all or nothing was asked: "
            "nothing was recorded"
        )
        self.report = report


# Abbreviations and foreign words: no Vietnamese name contains them, so they count anywhere.
# Phrases of several words also read as given names ("Ngân Hằng", "Công An", "Trung Tâm",
# "Bàn Văn Đông"), so they count only when more words follow, as an organisation's
# name goes on ("Ngân hàng TMCP ...") and a person's given name ends theirs.
_ORGANISATION_PHRASES = """
    CONG TY, CTY, CTCP, TNHH, CO PHAN, TAP DOAN, DNTN, DOANH NGHIEP, NGAN HANG, CHI NHANH,
    HOP TAC XA, HTX, BENH VIEN, TRUNG TAM, UBND, UY BAN, HDND, MTTQ, MAT TRAN, CONG DOAN,
    DOAN THANH NIEN, DOAN TN, DOAN TNCS, DOAN LUAT SU, CHI DOAN, BCH, HIEP HOI, CHI HOI,
    TONG HOI, LIEN DOAN, CAU LAC BO, CLB, BAN VAN DONG, BAN QUAN LY, BAN CHI HUY,
    BAN DAI DIEN, TRUONG THPT, TRUONG THCS, TRUONG TH, TRUONG MN, TRUONG DH, TRUONG CD,
    THPT, THCS, TIEU HOC, MAM NON, DAI HOC, HOC VIEN, CHI BO, DANG UY, CONG AN,
    JSC, LTD, LLC, CORP, CORPORATION, COMPANY, BANK
"""
_PHRASES = tuple(tuple(p.split()) for p in _ORGANISATION_PHRASES.split(",") if p.strip())
# Only as the first word ("Hội LHPN huyện"): "Hợi" is also a given name.
_LEADING_WORDS = frozenset({"HOI"})


def is_organisation(name: str) -> bool:
    """Whether a counterparty name is an organisation's (see the comments above)."""
    words = [word for word in re.split(r"[^A-Z0-9]+", fold_ascii(nfc(name)).upper()) if word]
    if words and words[0] in _LEADING_WORDS:
        return True
    for phrase in _PHRASES:
        # A single word may end the name; a phrase of several must be followed by more.
        last = len(words) - len(phrase) + (1 if len(phrase) == 1 else 0)
        if any(tuple(words[start : start + len(phrase)]) == phrase for start in range(last)):
            return True
    return False


def clean_account(account: str | None) -> str | None:
    """Letters and digits only, as banks print accounts with spaces or dashes; or None."""
    cleaned = re.sub(r"[^0-9A-Za-z]", "", account or "")[:40]
    return cleaned or None


def donor_for(counterparty: str | None, account: str | None) -> dict[str, Any]:
    """The ``donor`` of a contribution from what the bank printed about the sender."""
    name = " ".join(nfc(counterparty or "").split())
    donor: dict[str, Any]
    if not name:
        donor = {"anonymous": True}
    elif is_organisation(name):
        donor = {"display": name[:MAX_NAME], "type": "organization"}
    else:
        donor = {"display": mask_name(name)[:MAX_NAME], "type": "individual"}
    if (cleaned := clean_account(account)) is not None:
        donor["account"] = cleaned
    return donor


def contribution_data(
    campaign: CampaignRow,
    *,
    amount: int,
    reference: str,
    received_on: str,
    counterparty: str | None,
    account: str | None,
    mobilizer: str | None,
) -> dict[str, Any]:
    """The request a credited line makes: what ``Recorder.add("contribution", ...)`` takes."""
    data: dict[str, Any] = {
        "fund": campaign.fund,
        "campaign": campaign.code,
        "amount": amount,
        "channel": "bank",
        "reference": reference,
        "received_on": received_on,
        "donor": donor_for(counterparty, account),
    }
    if mobilizer is not None:
        data["mobilizer"] = mobilizer
    return data


def memo_references(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    """``({campaign reference: code}, {mobiliser reference: code})`` for ``match_memo``."""
    campaigns = dict(session.execute(select(CampaignRow.reference, CampaignRow.code)).all())
    mobilizers = dict(session.execute(select(MobilizerRow.reference, MobilizerRow.code)).all())
    return campaigns, mobilizers


def require_campaign(session: Session, code: str) -> CampaignRow:
    row = session.get(CampaignRow, code)
    if row is None:
        raise NotFoundError(f"no campaign with code {code!r}")
    return row
