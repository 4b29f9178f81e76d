"""What an audit reports: findings, each tied to the log index that shows it.

Every check of ``ledger audit`` and every anomaly rule yields ``Finding`` values, so
that one renderer prints them for people and one serialiser writes them for machines.
A finding's ``id`` is stable (``<check>:<index>``), so an acknowledgement entry can
name it and a later audit can show it as acknowledged: findings are never deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

# Severities, mildest first. An *error* means the log or the published figures are
# wrong (integrity); the anomaly rules use the other three. A *blocking* finding that
# is not acknowledged keeps its gifts out of rankings and award evidence.
INFO = "info"
WARNING = "warning"
BLOCKING = "blocking"
ERROR = "error"
SEVERITIES = (INFO, WARNING, BLOCKING, ERROR)


@dataclass(frozen=True)
class Finding:
    """One thing an auditor should look at, with the entries that show it."""

    check: str  # the check's or rule's name, e.g. "bank_reference_reused"
    severity: str
    index: int | None  # the entry the finding is about (None: about the log as a whole)
    message: str  # one sentence, English, naming amounts and codes
    related: tuple[int, ...] = ()  # other entries involved (the first use of a reference…)
    acknowledged_by: int | None = None  # the index of the acknowledgement entry, if any
    acknowledged_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    @property
    def id(self) -> str:
        return f"{self.check}:{'log' if self.index is None else self.index}"

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_by is not None

    def acknowledge(self, index: int, reason: str) -> Finding:
        return replace(self, acknowledged_by=index, acknowledged_reason=reason)

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.check,
            "severity": self.severity,
            "index": self.index,
            "message": self.message,
            "related": list(self.related),
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_reason": self.acknowledged_reason,
            "details": self.details,
        }


def blocked_gifts(findings: Iterable[Finding]) -> frozenset[int]:
    """Indices of the entries under a blocking finding nobody has acknowledged.

    Rankings leave these gifts out: a gift under suspicion must not earn an award
    until someone has looked at it and recorded why it may count.
    """
    return frozenset(
        f.index
        for f in findings
        if f.severity == BLOCKING and not f.acknowledged and f.index is not None
    )
