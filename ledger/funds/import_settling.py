"""Unmatched import rows: who may see them, and settling them (assign or dismiss).

A credited line whose memo named no campaign waits as an import row
(``ledger.funds.imports`` holds it) until a manager records it as a gift to a campaign
or sets it aside, saying why. Settling is once only: a row is never marked without its
entry, nor recorded twice.

A row holds what the bank printed about a sender, memo included, so it is shown and
settled only within the unit subtree of the token that imported its statement. A
batch imported without a unit (the command line, an unscoped token) is anyone's
credit: only an unscoped scope sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from ledger.funds.access import ADMIN, PERMISSIONS, Scope
from ledger.funds.import_rows import (
    ASSIGNED,
    DISMISSED,
    STATUSES,
    UNMATCHED,
    contribution_data,
    memo_references,
    require_campaign,
)
from ledger.funds.models import ImportBatchRow, ImportRowRow
from ledger.funds.privacy import PrivacyKey
from ledger.funds.recorder import Recorded, Recorder
from ledger.funds.state import UnitTree
from ledger.funds.statements import match_memo
from ledger.funds.text import nfc
from ledger.settings import Settings

MAX_NOTE = 2000
MAX_ROW_ID = 2**31 - 1  # import_rows.id and import_batches.id are 32-bit integers
_READS = frozenset({"import", "read_private"})


def require_reader(scope: Scope) -> None:
    """Importers settle rows and auditors check them; no other role reads a statement."""
    if scope.role != ADMIN and not PERMISSIONS.get(scope.role, frozenset()) & _READS:
        raise PermissionDeniedError(f"the role {scope.role} may not read imported statements")


def _require_batch_unit(session: Session, scope: Scope, unit: str | None, what: str) -> None:
    if scope.unit is None:
        return
    if unit is None:
        raise PermissionDeniedError(
            f"{scope.actor} acts for unit {scope.unit} and the units below it; {what} "
            "was imported for every unit"
        )
    scope.require_unit(unit, UnitTree.load(session))


def get_batch(session: Session, scope: Scope, batch_id: int) -> ImportBatchRow:
    """One import batch, if ``scope`` may read it (NotFoundError, PermissionDeniedError)."""
    require_reader(scope)
    batch = session.get(ImportBatchRow, batch_id) if 0 < batch_id <= MAX_ROW_ID else None
    if batch is None:
        raise NotFoundError(f"no import batch {batch_id}")
    _require_batch_unit(session, scope, batch.unit, f"import batch {batch_id}")
    return batch


def list_rows(
    session: Session, scope: Scope, status: str | None = UNMATCHED
) -> Sequence[ImportRowRow]:
    """Import rows with ``status`` (every row for None) that ``scope`` may see, oldest first."""
    require_reader(scope)
    query = select(ImportRowRow).order_by(ImportRowRow.id)
    if status is not None:
        if status not in STATUSES:
            raise ValidationError.for_field("status", f"must be one of {', '.join(STATUSES)}")
        query = query.where(ImportRowRow.status == status)
    if scope.unit is not None:
        # The units that ever imported are few; the subtree may be thousands of units.
        tree = UnitTree.load(session)
        importers = session.scalars(select(ImportBatchRow.unit).distinct()).all()
        visible = sorted(u for u in importers if u is not None and tree.within(u, scope.unit))
        batches = select(ImportBatchRow.id).where(ImportBatchRow.unit.in_(visible))
        query = query.where(ImportRowRow.batch_id.in_(batches))
    return session.scalars(query).all()


def row_document(row: ImportRowRow) -> dict[str, Any]:
    """A row for the manager who settles it: the memo and name, the account's last digits."""
    account = row.counterparty_account
    return {
        "id": row.id,
        "batch_id": row.batch_id,
        "line": row.line,
        "date": row.value_date,
        "reference": row.reference,
        "amount": row.amount,
        "memo": row.memo,
        "counterparty": row.counterparty,
        "account": f"…{account[-4:]}" if account else None,
        "status": row.status,
        "entry_index": row.entry_index,
        "settled_by": row.settled_by,
        "note": row.note,
    }


def _unsettled(session: Session, scope: Scope, row_id: int) -> ImportRowRow:
    """The row, refused when unknown (404), outside ``scope`` (403) or settled (409).

    Scope is checked before status, so a stranger learns nothing of how a row was settled.
    """
    row = session.get(ImportRowRow, row_id) if 0 < row_id <= MAX_ROW_ID else None
    if row is None:
        raise NotFoundError(f"no import row {row_id}")
    batch = session.get(ImportBatchRow, row.batch_id)
    _require_batch_unit(session, scope, batch.unit if batch else None, f"import row {row_id}")
    if row.status != UNMATCHED:
        by = f" by {row.settled_by}" if row.settled_by else ""
        raise ConflictError(f"import row {row_id} is already {row.status}{by}")
    return row


def record_assignment(
    session: Session,
    settings: Settings,
    scope: Scope,
    privacy: PrivacyKey,
    row_id: int,
    campaign: str,
    mobilizer: str | None = None,
    *,
    now: datetime | None = None,
) -> Recorded:
    """``assign_row`` inside the caller's write transaction (``database.writing()``)."""
    scope.require("import")
    row = _unsettled(session, scope, row_id)
    target = require_campaign(session, campaign)
    if mobilizer is None:
        _, mobilizers = memo_references(session)
        mobilizer = match_memo(row.memo, {}, mobilizers).mobilizer
    recorder = Recorder(session, settings, scope, privacy, now=now)
    data = contribution_data(
        target,
        amount=row.amount,
        reference=row.reference,
        received_on=row.value_date,
        counterparty=row.counterparty,
        account=row.counterparty_account,
        mobilizer=mobilizer,
    )
    recorder.add("contribution", data)
    (recorded,) = recorder.commit()
    row.status = ASSIGNED
    row.entry_index = recorded.index
    row.settled_by = scope.actor[:100]
    session.flush()
    return recorded


def assign_row(
    database: Database,
    settings: Settings,
    scope: Scope,
    row_id: int,
    campaign: str,
    mobilizer: str | None = None,
    *,
    now: datetime | None = None,
) -> Recorded:
    """Record an unmatched line as a gift to ``campaign`` and mark the row assigned.

    The mobiliser is the one given, else the one the memo names. Both happen in one
    transaction: a row is never marked without its entry, nor recorded twice. The
    campaign must be within ``scope`` too: the recorder refuses another unit's fund.
    """
    scope.require("import")
    privacy = PrivacyKey.load(settings.privacy_key_file)
    with database.writing() as session:
        return record_assignment(
            session, settings, scope, privacy, row_id, campaign, mobilizer, now=now
        )


def _dismissal_note(note: str) -> str:
    text = " ".join(nfc(note or "").split())
    if not text:
        raise ValidationError("note: say why the line is dismissed", {"note": ["required"]})
    if len(text) > MAX_NOTE:
        message = f"at most {MAX_NOTE} characters"
        raise ValidationError.for_field("note", message)
    return text


def record_dismissal(session: Session, scope: Scope, row_id: int, note: str) -> ImportRowRow:
    """``dismiss_row`` inside the caller's write transaction."""
    scope.require("import")
    text = _dismissal_note(note)
    row = _unsettled(session, scope, row_id)
    row.status = DISMISSED
    row.note = text
    row.settled_by = scope.actor[:100]
    session.flush()
    return row


def dismiss_row(database: Database, scope: Scope, row_id: int, note: str) -> ImportRowRow:
    """Set an unmatched line aside (a refund, an internal transfer): nothing is recorded.

    The note says why, for the auditor who finds a credit on the statement that is not
    in the ledger.
    """
    scope.require("import")
    _dismissal_note(note)
    with database.writing() as session:
        return record_dismissal(session, scope, row_id, note)
