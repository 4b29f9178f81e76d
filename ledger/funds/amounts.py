"""Reading cells, amounts and dates as Vietnamese banks print them.

Statements mix conventions: ``1.000.000`` (Vietnamese), ``1,000,000.00`` (English),
``1 000 000``, ``500.000đ``. Money is whole đồng, so a separator is only read as a
decimal point when the reading is unambiguous, and a non-zero fraction is refused
rather than rounded: a bank never moves half a đồng, so a fraction means the column
or the format is misread.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from ledger.funds.schemas import MAX_AMOUNT
from ledger.funds.text import format_vnd as format_vnd
from ledger.funds.text import nfc

Cell = str | int | float | date
"""A cell as read from CSV (text) or a workbook (numbers, date cells); empty is ``""``."""

_CURRENCY = re.compile(r"^(?:vnđ|vnd|đồng|đ|₫)\s*|\s*(?:vnđ|vnd|đồng|đ|₫)$", re.IGNORECASE)
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_NUMBER = re.compile(r"\d+(?:[., ]\d+)*")
_GROUP = re.compile(r"[., ]")


def parse_amount(text: str, *, allow_negative: bool = False) -> int:
    """Read ``text`` as a whole number of đồng, or raise ``ValueError`` saying why.

    Separators (``.``, ``,`` and spaces) are read as follows:

    - spaces are always thousands separators;
    - when both ``.`` and ``,`` occur, the last one (occurring once, at the end) is the
      decimal point: ``1.000.000,00`` and ``1,000,000.00`` are one million;
    - a kind that occurs more than once is a thousands separator: ``1.000.000``;
    - a single ``.`` or ``,`` followed by exactly three digits is a thousands separator
      (``1.500`` and ``1,500`` are 1500, as VND has no minor unit in use), followed by
      one or two digits it is a decimal point (``1500,00`` is 1500, ``1500,50`` an error).

    Thousands groups must have three digits after the first. A currency mark (``VND``,
    ``VNĐ``, ``đ``, ``₫``) before or after the number is ignored. A leading ``-`` is
    refused unless ``allow_negative`` (signed amount and balance columns).
    """
    shown = text.strip()
    body = _SPACES.sub(" ", _CURRENCY.sub("", shown)).strip()
    negative = body.startswith("-")
    if body and body[0] in "+-":
        body = body[1:].lstrip()
    if not body:
        raise ValueError(f"amount '{shown}' is not a number" if shown else "amount is empty")
    if not _NUMBER.fullmatch(body):
        raise ValueError(f"amount '{shown}' is not a number")
    groups = _GROUP.split(body)
    seps = _GROUP.findall(body)
    fraction = ""
    if seps and seps[-1] != " ":
        last, before = seps[-1], set(seps[:-1])
        if last not in before and (before or len(groups[-1]) in (1, 2)):
            fraction = groups.pop()
            seps.pop()
        elif last not in before and len(groups[-1]) != 3:
            raise ValueError(f"amount '{shown}' has an ambiguous separator")
    if len(set(seps)) > 1:
        raise ValueError(f"amount '{shown}' mixes thousands separators")
    if seps and (len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:])):
        raise ValueError(f"amount '{shown}' has misplaced thousands separators")
    if fraction.strip("0"):
        raise ValueError(f"amount '{shown}' is not a whole number of đồng")
    digits = "".join(groups)
    if len(digits.lstrip("0")) > len(str(MAX_AMOUNT)) or int(digits) > MAX_AMOUNT:
        raise ValueError(f"amount '{shown}' is larger than any gift (at most 10^15 đồng)")
    value = int(digits)
    if negative and value:
        if not allow_negative:
            raise ValueError(f"amount '{shown}' is negative")
        return -value
    return value


def clean_cell(value: object) -> Cell:
    """Text in NFC with spacing collapsed, whole floats as ints, nothing as ``""``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | int | float | date) and not isinstance(value, bool):
        return " ".join(nfc(value).split()) if isinstance(value, str) else value
    return str(value)


def cell_text(cell: Cell) -> str:
    return cell.isoformat() if isinstance(cell, date) else str(cell)


def cell_amount(value: object, *, allow_negative: bool = False) -> int:
    """An amount from a spreadsheet cell (number) or a text field."""
    if isinstance(value, bool):
        raise ValueError(f"amount '{value}' is not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"amount '{value}' is not a whole number of đồng")
        value = int(value)
    if isinstance(value, int):
        if value < 0 and not allow_negative:
            raise ValueError(f"amount '{value}' is negative")
        return value
    return parse_amount(str(value), allow_negative=allow_negative)


_DIRECTIVES = {
    "d": r"\d{1,2}",
    "m": r"\d{1,2}",
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "H": r"\d{1,2}",
    "M": r"\d{1,2}",
    "S": r"\d{1,2}",
    "%": "%",
}


def _shape(fmt: str) -> re.Pattern[str]:
    """A pattern for what ``fmt`` accepts, to tell "not this layout" from "no such day"."""
    parts = re.split(r"(%.)", fmt)
    pattern = "".join(
        _DIRECTIVES.get(p[1], r"\S+") if p.startswith("%") else re.escape(p) for p in parts
    )
    return re.compile(pattern)


def parse_date(value: object, formats: tuple[str, ...]) -> date:
    """A date from a spreadsheet date cell or from text in one of ``formats``.

    Text that has the layout of a format but names no real day (``31/02/2021``) gets
    its own reason, so that the person fixing the file knows the layout is fine.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _SPACES.sub(" ", str(value)).strip()
    if not text:
        raise ValueError("no date")
    looks_right = False
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            looks_right = looks_right or bool(_shape(fmt).fullmatch(text))
    if looks_right:
        raise ValueError(f"date '{text}' is not a valid date")
    shown = ", ".join(formats)
    raise ValueError(f"date '{text}' is not in a known layout ({shown})")
