"""Award criteria: the forms of the provincial plan and what each asks of a mobiliser.

The figures are the emulation board's to set, so they are data: the defaults ship in
``criteria.toml`` and ``LEDGER_AWARDS_CRITERIA`` names a file of the same shape that
replaces them whole (no merging, so what the board's file says is all that applies).
A mistake in that file is a ``ConfigurationError`` naming the key, never a proposal
computed from half-read criteria.
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ledger.errors import ConfigurationError

COLLECTIVE = "collective"
INDIVIDUAL = "individual"
TYPES = (COLLECTIVE, INDIVIDUAL)
# Who decides a form, from the highest authority down.
LEVELS = (
    "state",
    "province_people_committee",
    "province_front_committee",
    "district_front_committee",
)
_TOP_KEYS = {"list", "forms"}
_LIST_KEYS = {"place", "signer_title", "signer_role"}
_FORM_KEYS = {"code", "name", "decided_by", "proposed_upward", *TYPES}
_THRESHOLD_KEYS = {"min_net_amount", "min_donors", "min_gifts", "max_per_campaign"}
_CODE_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


@dataclass(frozen=True)
class Threshold:
    """What one awardee type must reach for a form; ``None``: no such condition."""

    min_net_amount: int
    min_donors: int | None = None
    min_gifts: int | None = None
    max_per_campaign: int | None = None

    def met_by(self, net_amount: int, donors: int, gifts: int) -> bool:
        return (
            net_amount >= self.min_net_amount
            and (self.min_donors is None or donors >= self.min_donors)
            and (self.min_gifts is None or gifts >= self.min_gifts)
        )

    def document(self) -> dict[str, int]:
        shown = {
            "min_net_amount": self.min_net_amount,
            "min_donors": self.min_donors,
            "min_gifts": self.min_gifts,
            "max_per_campaign": self.max_per_campaign,
        }
        return {key: value for key, value in shown.items() if value is not None}


@dataclass(frozen=True)
class Form:
    """One form of award; ``proposed_upward``: this board proposes, a higher one decides."""

    code: str
    name: str
    decided_by: str
    proposed_upward: bool
    thresholds: Mapping[str, Threshold]

    @property
    def final_state(self) -> str:
        """The state an approved nomination of this form ends in."""
        return "forwarded" if self.proposed_upward else "conferred"

    def document(self) -> dict[str, Any]:
        """The form as a nomination entry records it, so the entry explains itself."""
        return {
            "code": self.code,
            "name": self.name,
            "decided_by": self.decided_by,
            "proposed_upward": self.proposed_upward,
        }


@dataclass(frozen=True)
class ListLayout:
    """What the printed list needs beyond the nominations: place and signature block."""

    place: str = "Lạng Sơn"
    signer_title: str = "TM. BAN THƯỜNG TRỰC"
    signer_role: str = "CHỦ TỊCH"


@dataclass(frozen=True)
class Criteria:
    """The forms, highest first (the order of the file), and the printed list's layout."""

    forms: tuple[Form, ...]
    layout: ListLayout

    def form(self, code: str) -> Form | None:
        return next((form for form in self.forms if form.code == code), None)

    @classmethod
    def load(cls, path: Path | None = None) -> Criteria:
        """The board's file at ``path``, or the shipped defaults when ``path`` is None."""
        if path is None:
            text = resources.files("audit.awards").joinpath("criteria.toml").read_text("utf-8")
            return parse(text, "the default award criteria")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigurationError(
                f"cannot read the award criteria file {path} ({err}); check "
                "LEDGER_AWARDS_CRITERIA and that the file is saved as UTF-8"
            ) from None
        return parse(text, str(path))


class _Bad(Exception):
    """A problem at one key of the file; ``parse`` adds the file's name."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")


def parse(text: str, source: str) -> Criteria:
    """Criteria from TOML ``text``; ConfigurationError naming ``source`` and the key."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(f"{source}: not valid TOML ({err}); fix the file") from None
    try:
        return _criteria(document)
    except _Bad as err:
        raise ConfigurationError(f"award criteria {source}: {err}") from None


def _criteria(document: dict[str, Any]) -> Criteria:
    _known(document, _TOP_KEYS, "")
    layout = document.get("list", {})
    if not isinstance(layout, dict):
        raise _Bad("list", "must be a table")
    _known(layout, _LIST_KEYS, "list.")
    text = {key: _text(layout[key], f"list.{key}") for key in _LIST_KEYS if key in layout}
    forms_table = document.get("forms")
    if not isinstance(forms_table, list) or not forms_table:
        raise _Bad("forms", "must list at least one [[forms]] table, highest form first")
    forms = tuple(_form(table, number) for number, table in enumerate(forms_table))
    seen: set[str] = set()
    for number, form in enumerate(forms):
        if form.code in seen:
            raise _Bad(f"forms[{number}].code", f"{form.code!r} is used by an earlier form")
        seen.add(form.code)
    return Criteria(forms, ListLayout(**text))


def _form(table: Any, number: int) -> Form:
    where = f"forms[{number}]"
    if not isinstance(table, dict):
        raise _Bad(where, "must be a table")
    _known(table, _FORM_KEYS, f"{where}.")
    for key in ("code", "name", "decided_by", "proposed_upward"):
        if key not in table:
            raise _Bad(f"{where}.{key}", "is missing")
    code = _text(table["code"], f"{where}.code")
    if len(code) > 32 or not set(code) <= _CODE_CHARACTERS:
        raise _Bad(f"{where}.code", "must be 1-32 capital letters, digits or '-'")
    if table["decided_by"] not in LEVELS:
        raise _Bad(f"{where}.decided_by", f"must be one of {', '.join(LEVELS)}")
    if not isinstance(table["proposed_upward"], bool):
        raise _Bad(f"{where}.proposed_upward", "must be true or false")
    thresholds = {
        kind: _threshold(table[kind], f"{where}.{kind}") for kind in TYPES if kind in table
    }
    if not thresholds:
        raise _Bad(where, "needs a [forms.collective] or [forms.individual] table, or both")
    return Form(
        code=code,
        name=_text(table["name"], f"{where}.name"),
        decided_by=table["decided_by"],
        proposed_upward=table["proposed_upward"],
        thresholds=thresholds,
    )


def _threshold(table: Any, where: str) -> Threshold:
    if not isinstance(table, dict):
        raise _Bad(where, "must be a table")
    _known(table, _THRESHOLD_KEYS, f"{where}.")
    if "min_net_amount" not in table:
        raise _Bad(f"{where}.min_net_amount", "is missing")
    values = {key: _count(table[key], f"{where}.{key}") for key in _THRESHOLD_KEYS if key in table}
    if values.get("max_per_campaign") == 0:
        raise _Bad(f"{where}.max_per_campaign", "must be at least 1 (leave the table out instead)")
    return Threshold(**values)


def _known(table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    if unknown := sorted(set(table) - allowed):
        raise _Bad(f"{prefix}{unknown[0]}", f"unknown key; known: {', '.join(sorted(allowed))}")


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**15:
        raise _Bad(key, "must be a whole number from 0 to 10^15 (đồng, or a count)")
    return value


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise _Bad(key, "must be text of 1-200 characters")
    return unicodedata.normalize("NFC", value.strip())
