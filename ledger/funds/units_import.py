"""Registering units and mobilisers from the CSV files committees keep in spreadsheets.

A province's unit list has hundreds of rows and is edited by hand, so the whole file
is checked before anything is recorded, and every problem names its line: the person
fixing the spreadsheet should find all of them in one pass, not one per run. Rows are
recorded parents first, whatever order the file has, and rows the ledger already
holds with the same details are skipped, so importing the same file twice records
nothing the second time. Either every row is recorded, in one batch, or none.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.errors import LedgerError, ValidationError
from ledger.funds import schemas
from ledger.funds.access import Scope
from ledger.funds.models import MobilizerRow, UnitRow
from ledger.funds.privacy import PrivacyKey
from ledger.funds.recorder import Recorded, Recorder
from ledger.funds.registry import default_reference
from ledger.funds.text import nfc
from ledger.settings import Settings

UNIT_COLUMNS = ("code", "name", "parent", "level")
MOBILIZER_COLUMNS = ("code", "name", "type", "unit")
MOBILIZER_OPTIONAL = ("reference",)
_SHOWN_PROBLEMS = 5

Row = dict[str, Any]
"""One data line: its cells by column name, ``None`` for an empty one, and its ``line``."""

Plan = Callable[[Session, Sequence[Row]], tuple[list[Row], list[str]]]


class _Problems:
    """Problems gathered line by line, raised together as one ValidationError."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, line: int, message: str) -> None:
        self.fields.setdefault(f"line {line}", []).append(message)

    def raise_if_any(self) -> None:
        if not self.fields:
            return
        shown = [f"{key}: {'; '.join(msgs)}" for key, msgs in self.fields.items()]
        more = len(shown) - _SHOWN_PROBLEMS
        summary = "; ".join(shown[:_SHOWN_PROBLEMS]) + (
            f" (and {more} more lines)" if more > 0 else ""
        )
        raise ValidationError(summary, self.fields)


def _at_line(line: int, message: str) -> ValidationError:
    return ValidationError.for_field(f"line {line}", message)


def _decode(data: bytes) -> str:
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        line = body[: err.start].count(b"\n") + 1
        raise _at_line(
            line,
            f"the file is not UTF-8 (byte 0x{body[err.start]:02X}); save it as UTF-8 "
            "(in Excel: CSV UTF-8) and try again",
        ) from None


def _delimiter(text: str) -> str:
    """``,``, or ``;`` when the header has only that: Excel on Vietnamese Windows saves so.

    There ``,`` is the decimal mark, so the list separator, and Excel's CSV one, is ``;``.
    """
    header = text.lstrip().partition("\n")[0]
    return ";" if ";" in header and "," not in header else ","


def read_table(data: bytes, columns: Sequence[str], optional: Sequence[str] = ()) -> list[Row]:
    """The data lines of a CSV file whose first line names ``columns`` (in any order)."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    lines: list[tuple[int, list[str]]] = []
    last = 0  # a row is numbered by the line it starts on, though quoted cells span lines
    try:
        for cells in reader:
            lines.append((last + 1, [nfc(cell).strip() for cell in cells]))
            last = reader.line_num
    except csv.Error as err:
        raise _at_line(reader.line_num, f"not valid CSV ({err})") from None
    lines = [(number, cells) for number, cells in lines if any(cells)]
    if not lines:
        raise _at_line(1, f"the file is empty: its first line must be {','.join(columns)}")
    header_line, header = lines[0]
    names = [cell.lower() for cell in header]
    problems = _Problems()
    for name in names:
        if name not in (*columns, *optional):
            known = ", ".join((*columns, *optional))
            problems.add(header_line, f"unknown column {name!r}; the columns are {known}")
        elif names.count(name) > 1:
            problems.add(header_line, f"column {name!r} appears twice")
    for name in columns:
        if name not in names:
            problems.add(header_line, f"missing column {name!r}")
    problems.raise_if_any()
    rows: list[Row] = []
    first_seen: dict[str, int] = {}
    for number, cells in lines[1:]:
        if len(cells) < len(names) or any(cells[len(names) :]):
            problems.add(number, f"has {len(cells)} cells where the header has {len(names)}")
            continue
        row: Row = {name: cells[i] or None for i, name in enumerate(names)}
        code = row.get("code")
        if code is None:
            problems.add(number, "code is empty")
            continue
        if code in first_seen:
            problems.add(number, f"code {code} appears again (first on line {first_seen[code]})")
            continue
        first_seen[code] = number
        rows.append({**row, "line": number})
    problems.raise_if_any()
    return rows


def read_units(data: bytes) -> list[Row]:
    """Rows of a ``code,name,parent,level`` file; ``parent`` is None for a root unit."""
    return read_table(data, UNIT_COLUMNS)


def read_mobilizers(data: bytes) -> list[Row]:
    """Rows of a ``code,name,type,unit[,reference]`` file."""
    return read_table(data, MOBILIZER_COLUMNS, MOBILIZER_OPTIONAL)


def _load(kind: str, row: Row, problems: _Problems) -> dict[str, Any] | None:
    """The row as the schema reads it, or None after noting what is wrong on its line."""
    data = {key: value for key, value in row.items() if key != "line" and value is not None}
    try:
        return schemas.load(kind, data)
    except ValidationError as err:
        for field, messages in err.fields.items():
            problems.add(row["line"], f"{field}: {' '.join(messages)}")
        return None


def _loops(code: str, parents: Mapping[str, str | None]) -> bool:
    seen = {code}
    current = parents.get(code)
    while current is not None:
        if current == code:
            return True
        if current in seen:
            return False  # a loop above this unit, reported on its own rows
        seen.add(current)
        current = parents.get(current)
    return False


def plan_units(session: Session, rows: Sequence[Row]) -> tuple[list[Row], list[str]]:
    """Rows to record, parents before children, and the codes already recorded as they are."""
    problems = _Problems()
    loaded: dict[str, Row] = {}
    refused: set[str] = set()
    for row in rows:
        data = _load("unit", row, problems)
        if data is None:
            refused.add(row["code"])
        else:
            loaded[data["code"]] = {**data, "line": row["line"]}
    recorded = {
        code: (name, parent, level)
        for code, name, parent, level in session.execute(
            select(UnitRow.code, UnitRow.name, UnitRow.parent, UnitRow.level)
        )
    }
    parents: dict[str, str | None] = {code: details[1] for code, details in recorded.items()}
    parents.update({code: row["parent"] for code, row in loaded.items()})
    for code, row in loaded.items():
        parent = row["parent"]
        if parent is not None and parent not in parents and parent not in refused:
            problems.add(row["line"], f"parent {parent} is neither in the file nor in the ledger")
        elif _loops(code, parents):
            problems.add(row["line"], f"unit {code} would lie below itself")
    problems.raise_if_any()
    unchanged = [
        code
        for code, row in loaded.items()
        if recorded.get(code) == (row["name"], row["parent"], row["level"])
    ]
    pending = {code: row for code, row in loaded.items() if code not in unchanged}
    ordered: list[Row] = []
    placed: set[str] = set()
    for code in pending:
        chain: list[str] = []
        current: str | None = code
        while current is not None and current in pending and current not in placed:
            chain.append(current)
            current = pending[current]["parent"]
        for link in reversed(chain):
            placed.add(link)
            ordered.append(pending[link])
    return ordered, unchanged


def plan_mobilizers(session: Session, rows: Sequence[Row]) -> tuple[list[Row], list[str]]:
    """Rows to record and the codes already recorded as they are; other clashes are errors."""
    problems = _Problems()
    loaded: list[Row] = []
    for row in rows:
        data = _load("mobilizer", row, problems)
        if data is not None:
            loaded.append({**data, "line": row["line"]})
    problems.raise_if_any()
    existing = {
        found.code: found
        for found in session.scalars(
            select(MobilizerRow).where(MobilizerRow.code.in_([row["code"] for row in loaded]))
        )
    }
    to_record: list[Row] = []
    unchanged: list[str] = []
    for row in loaded:
        found = existing.get(row["code"])
        if found is None:
            to_record.append(row)
            continue
        reference = row["reference"] or default_reference(row["code"])
        if (found.name, found.type, found.unit, found.reference) == (
            row["name"],
            row["type"],
            row["unit"],
            reference,
        ):
            unchanged.append(row["code"])
        else:
            problems.add(
                row["line"], f"mobilizer {row['code']} is already recorded with other details"
            )
    problems.raise_if_any()
    return to_record, unchanged


def stage_rows(recorder: Recorder, kind: str, rows: Sequence[Row]) -> None:
    """Stage every row with the recorder; the first refusal is raised naming its line."""
    for row in rows:
        data = {key: value for key, value in row.items() if key != "line"}
        try:
            recorder.add(kind, data)
        except LedgerError as err:
            raise _at_line(row["line"], str(err)) from err


def import_rows(
    database: Database,
    settings: Settings,
    scope: Scope,
    kind: str,
    plan: Plan,
    rows: Sequence[Row],
) -> tuple[list[Recorded], list[str]]:
    """Plan and record under the append lock, so the plan cannot go stale before it is used."""
    privacy = PrivacyKey.load(settings.privacy_key_file)
    with database.writing() as session:
        recorder = Recorder(session, settings, scope, privacy)
        to_record, unchanged = plan(session, rows)
        stage_rows(recorder, kind, to_record)
        return recorder.commit(), unchanged


def import_units(
    database: Database, settings: Settings, scope: Scope, rows: Sequence[Row]
) -> tuple[list[Recorded], list[str]]:
    return import_rows(database, settings, scope, "unit", plan_units, rows)


def import_mobilizers(
    database: Database, settings: Settings, scope: Scope, rows: Sequence[Row]
) -> tuple[list[Recorded], list[str]]:
    return import_rows(database, settings, scope, "mobilizer", plan_mobilizers, rows)
