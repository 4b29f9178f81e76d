"""Tables of the fund operations.

Two sorts live here, and the difference matters:

* **Projections** of the log (``fund_*``): units, funds, campaigns, mobilisers,
  postings, contributions, allocations, reversals. They are written in the same
  transaction as the entries they are derived from, and everything in them can be
  recomputed from the public log alone (``ledger.funds.replay`` does so).
* **Private and operational data** (``private_*``, ``api_tokens``,
  ``idempotency_keys``, ``import_*``, ``documents``): donors' contact details,
  beneficiaries' full names, token hashes, uploaded files and bank statement rows.
  None of it is ever put in a leaf or a public response.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models import Base

CODE = String(48)


class UnitRow(Base):
    __tablename__ = "fund_units"

    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent: Mapped[str | None] = mapped_column(CODE, index=True)
    level: Mapped[str] = mapped_column(String(48))
    entry_index: Mapped[int] = mapped_column(BigInteger)


class FundRow(Base):
    __tablename__ = "fund_funds"

    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    unit: Mapped[str] = mapped_column(CODE, index=True)
    kind: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(200))
    entry_index: Mapped[int] = mapped_column(BigInteger)


class CampaignRow(Base):
    __tablename__ = "fund_campaigns"

    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    fund: Mapped[str] = mapped_column(CODE, index=True)
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    opens: Mapped[str] = mapped_column(String(10))
    closes: Mapped[str] = mapped_column(String(10))
    distribute_by: Mapped[str] = mapped_column(String(10))
    bank_bin: Mapped[str] = mapped_column(String(6))
    bank_name: Mapped[str] = mapped_column(String(100))
    account_number: Mapped[str] = mapped_column(String(19))
    account_holder: Mapped[str] = mapped_column(String(200))
    entry_index: Mapped[int] = mapped_column(BigInteger)

    def account(self) -> dict[str, str]:
        """The campaign's public receiving account, as its entry and the API show it."""
        return {
            "bank_bin": self.bank_bin,
            "bank_name": self.bank_name,
            "number": self.account_number,
            "holder": self.account_holder,
        }


class MobilizerRow(Base):
    __tablename__ = "fund_mobilizers"

    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(CODE, index=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    entry_index: Mapped[int] = mapped_column(BigInteger)


class PostingRow(Base):
    """One leg of the double-entry postings an entry implies (see ledger.funds.postings)."""

    __tablename__ = "fund_postings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_index: Mapped[int] = mapped_column(BigInteger, index=True)
    fund: Mapped[str] = mapped_column(CODE)
    account: Mapped[str] = mapped_column(String(32))
    earmark: Mapped[str] = mapped_column(String(300))
    campaign: Mapped[str | None] = mapped_column(CODE, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class PoolRow(Base):
    """The running total of one (fund, account, earmark) pool: the sum of its postings.

    Kept in the same transaction as the postings, so that the balance check under
    the append lock reads one row instead of summing a fund's whole history.
    """

    __tablename__ = "fund_pools"

    fund: Mapped[str] = mapped_column(CODE, primary_key=True)
    account: Mapped[str] = mapped_column(String(32), primary_key=True)
    earmark: Mapped[str] = mapped_column(String(300), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)


class ContributionRow(Base):
    __tablename__ = "fund_contributions"

    receipt_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    entry_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    fund: Mapped[str] = mapped_column(CODE, index=True)
    campaign: Mapped[str] = mapped_column(CODE, index=True)
    mobilizer: Mapped[str | None] = mapped_column(CODE, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger, index=True)
    received_on: Mapped[str] = mapped_column(String(10), index=True)
    # Not unique: a reversed gift frees its bank reference (see ledger.funds.gifts).
    reference: Mapped[str | None] = mapped_column(String(64), index=True)
    pledge: Mapped[str | None] = mapped_column(String(32), index=True)
    # The donor as the leaf shows them (the anonymous label for an anonymous donor), and
    # that display folded for search (see ledger.funds.text.search_key).
    donor_display: Mapped[str] = mapped_column(String(200))
    donor_type: Mapped[str] = mapped_column(String(16))
    donor_anonymous: Mapped[bool] = mapped_column(Boolean)
    donor_search: Mapped[str] = mapped_column(String(200))
    earmark: Mapped[str] = mapped_column(String(300))  # postings.earmark_key: "" for none
    in_kind: Mapped[str | None] = mapped_column(Text)  # the leaf's in_kind object as JSON


class PledgeRow(Base):
    __tablename__ = "fund_pledges"

    pledge_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    entry_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    fund: Mapped[str] = mapped_column(CODE, index=True)
    campaign: Mapped[str] = mapped_column(CODE, index=True)
    mobilizer: Mapped[str | None] = mapped_column(CODE)
    amount: Mapped[int] = mapped_column(BigInteger)


class AllocationRow(Base):
    __tablename__ = "fund_allocations"

    entry_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    fund: Mapped[str] = mapped_column(CODE, index=True)
    form: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    earmark: Mapped[str] = mapped_column(String(300))
    campaign: Mapped[str | None] = mapped_column(CODE)
    program: Mapped[str | None] = mapped_column(String(64))
    id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # For the public list's filters; everything else it shows is read from the leaf.
    beneficiary_type: Mapped[str] = mapped_column(String(16))
    beneficiary_unit: Mapped[str | None] = mapped_column(CODE, index=True)


class DisbursementRow(Base):
    __tablename__ = "fund_disbursements"

    entry_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    allocation: Mapped[int] = mapped_column(BigInteger, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    fund: Mapped[str] = mapped_column(CODE, index=True)
    paid_on: Mapped[str] = mapped_column(String(10), index=True)


class ReversalRow(Base):
    """One row per reversed entry: the primary key is what makes a second reversal fail."""

    __tablename__ = "fund_reversals"

    target: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(32))


class DonorContactRow(Base):
    __tablename__ = "private_donor_contacts"

    receipt_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(Text)
    account: Mapped[str | None] = mapped_column(String(64))


class BeneficiaryRow(Base):
    __tablename__ = "private_beneficiaries"

    entry_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    full_name: Mapped[str] = mapped_column(String(200))


class DocumentRow(Base):
    __tablename__ = "documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str | None] = mapped_column(CODE)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"

    actor: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ImportBatchRow(Base):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    bank_format: Mapped[str] = mapped_column(String(48))
    campaign: Mapped[str | None] = mapped_column(CODE)
    # The importing token's unit (None: an unscoped importer). Its unmatched rows hold
    # what the bank printed about senders, so only scopes covering this unit see them.
    unit: Mapped[str | None] = mapped_column(CODE)
    actor: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    report: Mapped[str] = mapped_column(Text)


class ImportRowRow(Base):
    """A credited statement line that matched no campaign, kept for a manager to settle."""

    __tablename__ = "import_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    value_date: Mapped[str] = mapped_column(String(10))
    reference: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    memo: Mapped[str] = mapped_column(Text)
    counterparty: Mapped[str | None] = mapped_column(String(200))
    counterparty_account: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    entry_index: Mapped[int | None] = mapped_column(BigInteger)
    settled_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
