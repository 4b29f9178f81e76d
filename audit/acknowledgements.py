"""Acknowledged findings: an entry of kind ``acknowledgement`` with its reason.

A finding is never deleted. An auditor (or an admin) who has looked at one and found
it explained records an ``acknowledgement`` entry: body ``{finding, check, index,
reason}``, ``finding`` being the finding's ID ``<rule>:<index>``. Every later run of the
rules shows the finding as acknowledged by that entry, with its reason; a blocking
finding that is acknowledged no longer keeps its gift out of the rankings.

The writer checks what it can check cheaply under the append lock: the ID's form,
that it names a known rule, that the entry it names exists and is of a kind that rule
reports on, that the writer's unit covers the fund that entry moved money of, and
that a reason is given. It does not check that the finding fires
now: that would mean replaying the whole log while every other writer waits for the
lock, and a finding may rightly be acknowledged ahead of the run that shows it (an
auditor who has already seen the receipt book). An acknowledgement of a finding that
never fires is harmless and stays visible in the log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from audit.findings import Finding
from ledger import log
from ledger.entries import MAX_SAFE_INTEGER, Entry
from ledger.errors import NotFoundError
from ledger.errors import ValidationError as LedgerValidationError
from ledger.funds import schemas
from ledger.funds.models import FundRow
from ledger.funds.recorder import Prepared, Recorder, operation
from ledger.funds.schemas import StrictSchema, Text

ACKNOWLEDGEMENT = "acknowledgement"
# Written without named groups: the pattern is published in the OpenAPI document too.
FINDING_ID = re.compile(r"([a-z][a-z0-9_]{0,63}):(0|[1-9][0-9]{0,15})")
MAX_REASON = 2000


def _rule_names() -> list[str]:
    from audit.rules import RULES  # the rules import this module: read them when asked

    return list(RULES)


class AcknowledgementSchema(StrictSchema):
    """What an auditor sends: the finding's ID and why it is acknowledged.

    ``check`` and ``index`` may be left out (they are read from the ID); if given they
    must agree with it.
    """

    finding = fields.String(
        required=True,
        validate=validate.Regexp(
            rf"^{FINDING_ID.pattern}$", error="must be a finding ID: <rule>:<index>"
        ),
        metadata={"description": "the finding's ID, e.g. large_cash_gift:42"},
    )
    check = fields.String(
        load_default=None, metadata={"description": "the rule's name (the ID's first part)"}
    )
    index = fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(min=0, max=MAX_SAFE_INTEGER),
        metadata={"description": "the entry the finding is about (the ID's second part)"},
    )
    reason = Text(
        required=True,
        max_length=MAX_REASON,
        metadata={"description": "what the auditor checked and why the finding is explained"},
    )

    @validates_schema
    def _a_known_rule(self, data: Mapping[str, Any], **_kwargs: Any) -> None:
        parsed = FINDING_ID.fullmatch(str(data.get("finding", "")))
        if parsed is None:
            return  # the field's own validator has said why
        rules = _rule_names()
        if parsed[1] not in rules:
            raise ValidationError(
                f"{parsed[1]} is not an anomaly rule (they are {', '.join(rules)})",
                "finding",
            )
        if data.get("check") is not None and data["check"] != parsed[1]:
            raise ValidationError(f"must be {parsed[1]}, as the finding ID says", "check")
        if data.get("index") is not None and data["index"] != int(parsed[2]):
            raise ValidationError(f"must be {parsed[2]}, as the finding ID says", "index")

    @post_load
    def _from_the_id(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        parsed = FINDING_ID.fullmatch(data["finding"])
        if parsed is None:  # never: the field's validator refused it
            raise ValidationError("must be a finding ID: <rule>:<index>", "finding")
        return {
            "finding": data["finding"],
            "check": parsed[1],
            "index": int(parsed[2]),
            "reason": data["reason"],
        }


schemas.register(ACKNOWLEDGEMENT, AcknowledgementSchema)


@operation(ACKNOWLEDGEMENT)
def record_acknowledgement(rec: Recorder, data: dict[str, Any], _index: int) -> Prepared:
    """Refuse an ID naming an entry that is not in the log, or not one its rule reports on."""
    from audit.rules import RULES

    index, check = data["index"], data["check"]
    if index >= rec.size:
        raise LedgerValidationError.for_field(
            "finding", f"entry {index} is not in the log (it holds {rec.size} entries)"
        )
    entry = _entry(rec, index)
    about = RULES[check].about
    if entry.kind not in about:
        raise LedgerValidationError.for_field(
            "finding",
            f"entry {index} is a {entry.kind}; the rule {check} reports on "
            f"{' or '.join(sorted(about))} entries",
        )
    unit = _unit_of(rec, entry)
    if unit is not None:
        rec.scope.require_unit(unit, rec.tree)
    return Prepared(
        {"finding": data["finding"], "check": check, "index": index, "reason": data["reason"]}
    )


def _entry(rec: Recorder, index: int) -> Entry:
    try:
        return log.entry(rec.session, index)
    except NotFoundError as err:  # pragma: no cover - every index below size exists
        raise LedgerValidationError.for_field("finding", str(err)) from err


def _unit_of(rec: Recorder, entry: Entry) -> str | None:
    """The unit whose money the entry moved: an auditor of a unit acknowledges its own.

    A reversal moved its target's money; a transfer, its sending fund's.
    """
    if entry.kind == "reversal" and isinstance(entry.body.get("target"), int):
        entry = _entry(rec, entry.body["target"])
    code = entry.body.get("fund") or entry.body.get("from_fund")
    fund = rec.registered(FundRow, code) if isinstance(code, str) else None
    return fund.unit if fund is not None else None


class Acknowledgements:
    """The acknowledgement entries of a stream; the first for a finding is the one shown.

    A later acknowledgement of the same finding stays in the log, where anyone can read
    it, but does not replace the first: a finding is acknowledged from that entry on.
    """

    def __init__(self) -> None:
        self.by_finding: dict[str, tuple[int, str]] = {}

    def add(self, entry: Entry) -> None:
        finding, reason = entry.body.get("finding"), entry.body.get("reason")
        if isinstance(finding, str) and isinstance(reason, str):
            self.by_finding.setdefault(finding, (entry.index, reason))

    def apply(self, finding: Finding) -> Finding:
        acknowledged = self.by_finding.get(finding.id)
        if acknowledged is None:
            return finding
        return finding.acknowledge(*acknowledged)
