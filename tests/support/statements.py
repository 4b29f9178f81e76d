"""Bank statements written on the fly, dated around the test ledger's today.

The campaigns of the ``funds`` fixture are open from sixty days ago to sixty days
ahead, so a statement must be dated relative to today, never to a fixed day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from openpyxl import Workbook

# A layout: field -> column header, in the order the bank prints the columns. The
# field names are those of ledger/funds/bank_formats.toml, plus ``number`` (the STT).
Layout = dict[str, str]

VIETCOMBANK: Layout = {
    "number": "STT",
    "date": "Ngày giao dịch",
    "reference": "Số tham chiếu",
    "debit": "Số tiền ghi nợ",
    "credit": "Số tiền ghi có",
    "balance": "Số dư",
    "memo": "Nội dung chi tiết",
    "counterparty": "Tên người chuyển",
    "counterparty_account": "Số tài khoản chuyển",
}
GENERIC: Layout = {
    "date": "Date",
    "reference": "Reference",
    "credit": "Credit",
    "debit": "Debit",
    "memo": "Memo",
    "counterparty": "Counterparty",
    "counterparty_account": "Counterparty account",
    "balance": "Balance",
}


def vnd(amount: int) -> str:
    """An amount as Vietnamese banks print it: ``1.250.000``."""
    return f"{amount:,}".replace(",", ".")


def day(today: str, days_ago: int) -> str:
    """``days_ago`` days before ``today`` (ISO), as a statement dates it: ``dd/mm/yyyy``."""
    return (date.fromisoformat(today) - timedelta(days=days_ago)).strftime("%d/%m/%Y")


class Sheet:
    """A statement dated around ``today``, with the bank's running balance filled in.

    Vietcombank's layout by default; ``balances=False`` leaves the balance column out.
    """

    def __init__(
        self,
        today: str,
        layout: Layout = VIETCOMBANK,
        opening: int = 10_000_000,
        balances: bool = True,
    ) -> None:
        self.today = today
        self.balance = opening
        self.fields = [field for field in layout if balances or field != "balance"]
        self.rows: list[list[Any]] = [[layout[field] for field in self.fields]]

    def day(self, days_ago: int) -> str:
        return day(self.today, days_ago)

    def line(self, movement: int = 0, shown: bool = True, **cells: str) -> Sheet:
        """A line as typed, possibly bad: ``cells`` by field, the others left empty.

        ``movement`` is what the bank's balance counts for it; ``shown=False`` leaves
        the line's balance cell empty.
        """
        self.balance += movement
        values: dict[str, Any] = {"number": len(self.rows), **cells}
        if shown:
            values["balance"] = vnd(self.balance)
        self.rows.append([values.get(field, "") for field in self.fields])
        return self

    def credit(
        self, days_ago: int, ref: str, amount: int, memo: str, who: str = "", account: str = ""
    ) -> Sheet:
        return self.line(
            amount,
            date=self.day(days_ago),
            reference=ref,
            credit=vnd(amount),
            memo=memo,
            counterparty=who,
            counterparty_account=account,
        )

    def debit(self, days_ago: int, ref: str, amount: int, memo: str) -> Sheet:
        return self.line(
            -amount, date=self.day(days_ago), reference=ref, debit=vnd(amount), memo=memo
        )

    def bad(self, days_ago: int, ref: str, amount: str) -> Sheet:
        """A line whose credit cannot be read; the bank's balance leaves it out."""
        return self.line(
            shown=False, date=self.day(days_ago), reference=ref, credit=amount, memo="LS26COVID"
        )

    def csv(self) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(self.rows)
        return out.getvalue().encode("utf-8")

    def xlsx(self) -> bytes:
        return workbook(self.rows)


def workbook(rows: Iterable[Sequence[Any]]) -> bytes:
    """``rows`` as a workbook, under a title row as banks export it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["SAO KÊ TÀI KHOẢN"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
