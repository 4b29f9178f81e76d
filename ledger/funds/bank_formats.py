"""Bank statement layouts: which header names carry which field, per bank.

Layouts differ by bank and by year, so they are data: the built-in ones live in
``bank_formats.toml`` and a user's file of the same shape adds or replaces them.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ledger.errors import ConfigurationError, LedgerError
from ledger.funds.text import fold_ascii, nfc

FIELDS: tuple[str, ...] = ("date", "reference", "credit", "debit", "amount", "memo")
FIELDS += ("counterparty", "counterparty_account", "balance")
DEFAULT_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d", "%d-%m-%Y")
_FORMAT_KEYS = {"title", "columns", "date_formats", "encoding", "delimiter"}


class StatementError(LedgerError):
    """The whole statement file cannot be read; the message says what to do about it."""

    code = "invalid_statement"


def header_key(text: str) -> str:
    key = " ".join(nfc(text).casefold().split()).removesuffix(":").rstrip()
    return re.sub(r"\s*\([^()]*\)$", "", key)


def fold_key(key: str) -> str:
    return fold_ascii(key).casefold()


@dataclass(frozen=True)
class BankFormat:
    """One bank's statement layout; ``columns`` maps our field to accepted header names."""

    name: str
    title: str
    columns: Mapping[str, tuple[str, ...]]
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    encoding: str = "utf-8-sig"
    delimiter: str | None = None
    _exact: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _folded: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def field_of(self, header: str) -> str | None:
        """Our field for a header cell: exact (case, spacing, NFC) first, then folded."""
        key = header_key(header)
        return self._exact.get(key) or self._folded.get(fold_key(key))

    def __post_init__(self) -> None:
        def bad(problem: str) -> ConfigurationError:
            return ConfigurationError(f"bank format '{self.name}': {problem}")

        columns = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in self.columns.items()}
        object.__setattr__(self, "columns", MappingProxyType(columns))
        object.__setattr__(self, "date_formats", tuple(self.date_formats))
        if unknown := sorted(set(columns) - set(FIELDS)):
            raise bad(f"unknown column field {unknown[0]!r}; known: {', '.join(FIELDS)}")
        if "date" not in columns or "reference" not in columns:
            raise bad("columns must name the 'date' and 'reference' headers")
        if "credit" not in columns and "amount" not in columns:
            raise bad("columns must name a 'credit' or a signed 'amount' header")
        exact: dict[str, str] = {}
        folded: dict[str, str] = {}
        for name, headers in columns.items():
            if not headers or not all(isinstance(h, str) and h.strip() for h in headers):
                raise bad(f"column '{name}' needs one or more non-empty header names")
            for header in headers:
                exact[header_key(header)] = name
                other = folded.setdefault(fold_key(header_key(header)), name)
                if other != name:
                    raise bad(f"header '{header}' is listed for both '{other}' and '{name}'")
        object.__setattr__(self, "_exact", MappingProxyType(exact))
        object.__setattr__(self, "_folded", MappingProxyType(folded))
        if not self.date_formats:
            raise bad("date_formats must list at least one layout such as '%d/%m/%Y'")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise bad(f"unknown encoding '{self.encoding}'") from None
        if self.delimiter is not None and not (
            isinstance(self.delimiter, str) and len(self.delimiter) == 1
        ):
            raise bad("delimiter must be a single character")


def load_formats(extra: Path | None = None) -> dict[str, BankFormat]:
    """The built-in formats, plus or replaced by those of the TOML file ``extra``.

    A format in ``extra`` with a built-in name replaces the built-in one whole (no
    merging of columns), so what the file says is all that applies.
    """
    builtin = resources.files("ledger.funds").joinpath("bank_formats.toml")
    formats = _formats_from_toml(builtin.read_text(encoding="utf-8"), "built-in bank formats")
    if extra is not None:
        try:
            text = extra.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigurationError(
                f"cannot read the bank format file {extra} ({e}); check the path and that "
                "it is saved as UTF-8"
            ) from None
        formats.update(_formats_from_toml(text, str(extra)))
    return formats


def select_format(formats: Mapping[str, BankFormat], name: str) -> BankFormat:
    if name in formats:
        return formats[name]
    known = ", ".join(sorted(formats))
    raise StatementError(
        f"unknown bank format '{name}'; use one of {known}, or define it in a format file"
    )


def _formats_from_toml(text: str, source: str) -> dict[str, BankFormat]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigurationError(f"{source}: not valid TOML ({e}); fix the file") from None
    formats = {}
    for name, table in doc.items():
        try:
            formats[name] = _format_from_table(name, table)
        except ConfigurationError as e:
            raise ConfigurationError(f"{source}: {e.message}") from None
    return formats


def _format_from_table(name: str, table: Any) -> BankFormat:
    if not isinstance(table, dict) or not isinstance(table.get("columns"), dict):
        raise ConfigurationError(f"bank format '{name}' needs a [{name}.columns] table")
    if unknown := sorted(set(table) - _FORMAT_KEYS):
        raise ConfigurationError(f"bank format '{name}': unknown key '{unknown[0]}'")

    def strings(value: Any, what: str) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigurationError(f"bank format '{name}': {what} must be a string or strings")

    return BankFormat(
        name=name,
        title=str(table.get("title", name)),
        columns={k: strings(v, f"column '{k}'") for k, v in table["columns"].items()},
        date_formats=strings(table.get("date_formats", list(DEFAULT_DATE_FORMATS)), "date_formats"),
        encoding=str(table.get("encoding", "utf-8-sig")),
        delimiter=table.get("delimiter"),
    )
