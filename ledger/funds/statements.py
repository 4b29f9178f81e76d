"""Bank statements (sao kê) read into plain values, one line per transaction.

Statements come as CSV or XLSX exports whose layout differs by bank and by year, so a
``BankFormat`` (from ``bank_formats.toml`` or a user's file of the same shape) says which
header names carry which field, and the header row is found wherever the bank put it.
A bad line never stops the others: it is returned as an ``InvalidLine`` with a reason,
because a person has to look at it, and the rest of the statement is still worth
posting. Only a file that cannot be read at all raises ``StatementError``.
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from ledger.funds.amounts import Cell, cell_amount, cell_text, clean_cell, format_vnd, parse_date
from ledger.funds.amounts import parse_amount as parse_amount
from ledger.funds.bank_formats import FIELDS as FIELDS
from ledger.funds.bank_formats import BankFormat as BankFormat
from ledger.funds.bank_formats import StatementError as StatementError
from ledger.funds.bank_formats import fold_key as _fold
from ledger.funds.bank_formats import load_formats as load_formats
from ledger.funds.bank_formats import select_format as select_format
from ledger.funds.memo import MemoMatch as MemoMatch
from ledger.funds.memo import match_memo as match_memo

_SUMMARY_WORDS = ("tong cong", "tong so", "total", "cong phat sinh", "so du cuoi", "so du dau")
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"

T = TypeVar("T")
Rows = list[tuple[int, list[Cell]]]  # (line or row number, cells)


@dataclass(frozen=True)
class StatementLine:
    line: int
    date: date
    reference: str
    credit: int
    debit: int
    memo: str
    counterparty: str | None
    counterparty_account: str | None
    balance: int | None


@dataclass(frozen=True)
class InvalidLine:
    line: int
    reason: str


@dataclass(frozen=True)
class Statement:
    """The lines in file order; balances are the bank's, as printed."""

    format: str
    lines: tuple[StatementLine, ...]
    invalid: tuple[InvalidLine, ...]
    opening_balance: int | None = None
    closing_balance: int | None = None

    @property
    def credits(self) -> int:
        return sum(line.credit for line in self.lines)

    @property
    def debits(self) -> int:
        return sum(line.debit for line in self.lines)

    def check_running_balance(self) -> list[InvalidLine]:
        """Lines whose balance is not the previous balance + credit - debit.

        A line without a balance carries the computed one forward. A mismatch right
        after an invalid line usually means that line's movement is missing, so the
        reason says so.
        """
        problems: list[InvalidLine] = []
        skipped = {bad.line for bad in self.invalid}
        running: int | None = None
        previous = 0
        for line in self.lines:
            expected = None if running is None else running + line.credit - line.debit
            if expected is not None and line.balance is not None and line.balance != expected:
                reason = (
                    f"balance {format_vnd(line.balance)} does not follow: previous balance "
                    f"{format_vnd(running or 0)} + credit {format_vnd(line.credit)} - debit "
                    f"{format_vnd(line.debit)} = {format_vnd(expected)}"
                )
                if between := sorted(n for n in skipped if previous < n < line.line):
                    reason += f" (invalid line {between[0]} in between)"
                problems.append(InvalidLine(line.line, reason))
            running = line.balance if line.balance is not None else expected
            previous = line.line
        return problems


def parse_statement(data: bytes, filename: str, fmt: BankFormat) -> Statement:
    """Read a CSV or XLSX statement (told apart by content, not by ``filename``).

    Rows before the header row (the first one naming every required column) are the
    bank's preamble. After it, blank rows, repeated header rows, summary rows ("Tổng
    cộng", "Total": no date, no reference) and footer rows with neither date,
    reference nor amount are skipped; every other row becomes a ``StatementLine`` or
    an ``InvalidLine``.
    """
    if not data.strip():
        raise StatementError(f"{filename}: the file is empty; export the statement again")
    if data.startswith(_XLS_MAGIC):
        raise StatementError(
            f"{filename}: the file is an old-style Excel .xls workbook (or a password-protected "
            "one); open it and save it as .xlsx or CSV, without a password"
        )
    candidates = [_xlsx_rows(data, filename)] if data.startswith(_XLSX_MAGIC) else []
    if not candidates:
        text = _decode(data, filename, fmt)
        delimiters = (fmt.delimiter,) if fmt.delimiter else (",", ";", "\t")
        candidates = [_csv_rows(text, filename, d) for d in delimiters]
    found = [(rows, header) for rows in candidates if (header := _find_header(rows, fmt))]
    complete = [(rows, header) for rows, header in found if _complete(header[1])]
    if not complete:
        raise StatementError(_no_header(filename, fmt, [header for _, header in found]))
    # The delimiter whose header row names most columns; the first one on a tie.
    rows, (start, columns) = max(complete, key=lambda c: len(c[1][1]))
    lines: list[StatementLine] = []
    invalid: list[InvalidLine] = []
    for number, cells in rows[start + 1 :]:
        parsed = _parse_row(number, cells, columns, fmt)
        if isinstance(parsed, StatementLine):
            lines.append(parsed)
        elif parsed is not None:
            invalid.append(parsed)
    opening = closing = None
    if lines and lines[0].balance is not None:
        opening = lines[0].balance - lines[0].credit + lines[0].debit
    if lines and lines[-1].balance is not None:
        closing = lines[-1].balance
    return Statement(fmt.name, tuple(lines), tuple(invalid), opening, closing)


def _decode(data: bytes, filename: str, fmt: BankFormat) -> str:
    codec = codecs.lookup(fmt.encoding).name
    try:
        return data.decode(fmt.encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        bom = codec == "utf-8-sig" and data.startswith(codecs.BOM_UTF8)
        offset = e.start + (len(codecs.BOM_UTF8) if bom else 0)
        label = "UTF-8" if codec.startswith("utf-8") else fmt.encoding
        raise StatementError(
            f"{filename}: the file is not valid {label} (byte 0x{data[offset]:02X} at offset "
            f"{offset}); save it as {label} or set encoding in the bank format '{fmt.name}'"
        ) from None


def _csv_rows(text: str, filename: str, delimiter: str) -> Rows:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: Rows = []
    last = 0  # a row is numbered by the line it starts on, though quoted cells span lines
    try:
        for cells in reader:
            rows.append((last + 1, [clean_cell(c) for c in cells]))
            last = reader.line_num
    except csv.Error as e:
        raise StatementError(
            f"{filename}: line {reader.line_num} is not valid CSV ({e}); "
            "export the statement again as CSV or XLSX"
        ) from None
    return rows


def _xlsx_rows(data: bytes, filename: str) -> Rows:
    import openpyxl  # only when a workbook is read: it is slow to import

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bank exports often lack styles openpyxl expects
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = book.worksheets[0]
                sheet.reset_dimensions()  # some exports declare a wrong sheet size
                values = sheet.iter_rows(values_only=True)
                return [(n, [clean_cell(c) for c in row]) for n, row in enumerate(values, 1)]
            finally:
                book.close()
    except Exception as e:
        raise StatementError(
            f"{filename}: the file is a zip archive but not a readable Excel workbook "
            f"({type(e).__name__}); open it in a spreadsheet and save it as .xlsx or CSV"
        ) from None


def _columns_of(cells: Sequence[Cell], fmt: BankFormat) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = fmt.field_of(cell) if isinstance(cell, str) and cell else None
        if name is not None:
            found.setdefault(name, index)
    return found


def _complete(columns: Mapping[str, int]) -> bool:
    return {"date", "reference"} <= columns.keys() and bool({"credit", "amount"} & columns.keys())


def _find_header(rows: Rows, fmt: BankFormat) -> tuple[int, dict[str, int]] | None:
    """The first complete header row, or else the row naming most columns (for errors)."""
    best: tuple[int, dict[str, int]] | None = None
    for position, (_, cells) in enumerate(rows):
        columns = _columns_of(cells, fmt)
        if _complete(columns):
            return position, columns
        if columns and (best is None or len(columns) > len(best[1])):
            best = position, columns
    return best


def _no_header(filename: str, fmt: BankFormat, partial: list[tuple[int, dict[str, int]]]) -> str:
    found = max((c for _, c in partial), key=len, default={})
    missing = [f for f in ("date", "reference") if f not in found]
    if "credit" not in found and "amount" not in found:
        missing.append("credit" if "credit" in fmt.columns else "amount")
    wanted = "; ".join(f"{f}: {' / '.join(fmt.columns[f])}" for f in missing)
    return (
        f"{filename}: no header row found for bank format '{fmt.name}' ({fmt.title}); "
        f"missing columns {wanted}; check that this is a {fmt.title} statement, "
        "choose another format, or add these header names in a format file"
    )


def _parse_row(
    number: int, cells: list[Cell], columns: Mapping[str, int], fmt: BankFormat
) -> StatementLine | InvalidLine | None:
    def get(name: str) -> Cell:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    if all(c == "" for c in cells) or _complete(_columns_of(cells, fmt)):
        return None
    # Totals ("Tổng cộng" maybe in the date column) and footers with nothing to post.
    summary = _summary_text(cells)
    nothing = summary or all(get(f) == "" for f in ("credit", "debit", "amount"))
    if get("reference") == "" and get("date") in ("", *summary) and nothing:
        return None
    reasons: list[str] = []

    def attempt(read: Callable[[], T]) -> T | None:
        try:
            return read()
        except ValueError as e:
            reasons.append(str(e))
            return None

    day = attempt(lambda: parse_date(get("date"), fmt.date_formats))
    reference = cell_text(get("reference"))
    if not reference:
        reasons.append("no reference")
    before = len(reasons)
    credit = debit = 0
    if "credit" in columns:
        got_credit = attempt(lambda: _money(get("credit"), "credit"))
        got_debit = attempt(lambda: _money(get("debit"), "debit"))
        credit, debit = got_credit or 0, got_debit or 0
        if credit and debit:
            reasons.append("both credit and debit are set on one line")
        elif len(reasons) == before and not (credit or debit):
            empty = got_credit is None and got_debit is None
            reasons.append(f"both credit and debit are {'empty' if empty else 'zero'}")
    else:
        amount = attempt(lambda: _money(get("amount"), "amount", signed=True))
        if amount is not None:
            credit, debit = max(amount, 0), max(-amount, 0)
            if not amount:
                reasons.append("amount is zero")
        elif len(reasons) == before:
            reasons.append("no amount")
    balance = attempt(lambda: _money(get("balance"), "balance", signed=True))
    if reasons or day is None:
        return InvalidLine(number, "; ".join(reasons))
    return StatementLine(
        line=number,
        date=day,
        reference=reference,
        credit=credit,
        debit=debit,
        memo=cell_text(get("memo")),
        counterparty=cell_text(get("counterparty")) or None,
        counterparty_account=cell_text(get("counterparty_account")) or None,
        balance=balance,
    )


def _money(cell: Cell, name: str, *, signed: bool = False) -> int | None:
    if cell == "":
        return None
    try:
        return cell_amount(cell, allow_negative=signed)
    except ValueError as e:
        prefix = "" if name == "amount" else f"{name} "
        raise ValueError(f"{prefix}{e}") from None


def _summary_text(cells: Sequence[Cell]) -> list[str]:
    """The leading cells that say "Tổng cộng", "Total", "Số dư cuối kỳ"..., if any."""
    first = [c for c in cells if isinstance(c, str) and c][:3]
    return [c for c in first if _fold(c).startswith(_SUMMARY_WORDS)]
