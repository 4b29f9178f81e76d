"""The VietQR code a donor scans to give to a campaign, credited to a mobiliser.

The memo carries the campaign's reference code and, optionally, the mobiliser's, so
that when the bank statement comes back each credited line is attributed to the
right campaign and mobiliser without anyone typing it in (see ``imports``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ledger.errors import ValidationError
from ledger.funds import state, vietqr


@dataclass(frozen=True)
class DonationCode:
    campaign: str
    mobilizer: str | None
    payload: str
    memo: str
    account: dict[str, str]
    amount: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "campaign": self.campaign,
            "mobilizer": self.mobilizer,
            "payload": self.payload,
            "memo": self.memo,
            "amount": self.amount,
            "account": self.account,
        }


def donation_code(
    session: Session, campaign: str, mobilizer: str | None = None, amount: int | None = None
) -> DonationCode:
    """The campaign's VietQR payload; NotFoundError for an unknown campaign or mobiliser."""
    row = state.campaign(session, campaign)
    references = [row.reference]
    if mobilizer is not None:
        references.append(state.mobilizer(session, mobilizer).reference)
    memo = vietqr.memo_text(" ".join(references))
    try:
        text = vietqr.payload(row.bank_bin, row.account_number, amount=amount, memo=memo)
    except vietqr.VietQRError as err:
        raise ValidationError(str(err), {"amount": [err.message]}) from err
    return DonationCode(
        campaign=row.code,
        mobilizer=mobilizer,
        payload=text,
        memo=memo,
        account=row.account(),
        amount=amount,
    )
