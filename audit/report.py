"""An audit's outcome, as a document for machines and as lines for people.

The JSON document and the text say the same: which log was audited (origin, size,
root), how far the audit got, the balances replayed from the log, and every finding
with its index. Only ``error`` findings fail an audit: anomalies (info, warning,
blocking) are things to look at, not proof that the log or its figures are wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from audit.findings import ERROR, SEVERITIES, Finding
from ledger.entries import format_time

if TYPE_CHECKING:
    from audit.full import FullAudit


def _order(finding: Finding) -> tuple[bool, int]:
    """By index, findings about the whole log last; at one index, in the order found (the
    log's own checks, then the anomaly rules, then the published figures)."""
    return (finding.index is None, finding.index or 0)


@dataclass(frozen=True)
class AuditReport:
    source: str  # "database" or "export"
    origin: str
    size: int  # entries audited
    root: bytes  # the tree's root over them
    checkpoints: int  # stored checkpoints that verified
    keys: tuple[str, ...]  # every verifier key the log named, genesis first
    complete: bool  # False when a broken link ended the audit early
    rules: bool  # whether the anomaly rules ran
    now: datetime  # the moment the anomaly rules measured time to
    findings: tuple[Finding, ...]
    funds: dict[str, dict[str, int]]  # balances replayed from the log
    campaigns: dict[str, dict[str, int]]

    @classmethod
    def of(
        cls,
        audit: FullAudit,
        findings: list[Finding],
        *,
        source: str,
        rules: bool,
        now: datetime,
    ) -> AuditReport:
        books = audit.books
        summary = audit.verifier.summary
        return cls(
            source=source,
            origin=summary.origin,
            size=audit.size,
            root=audit.root(),
            checkpoints=summary.checkpoints,
            keys=tuple(summary.keys),
            complete=audit.complete,
            rules=rules,
            now=now,
            findings=tuple(sorted(findings, key=_order)),
            funds={
                code: books.fund_balance(code).as_dict()
                for code in sorted(set(books.funds) | set(books.accounts))
            },
            campaigns={
                code: books.campaign_balance(code).as_dict() for code in sorted(books.campaigns)
            },
        )

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == ERROR]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(reversed(SEVERITIES), 0)
        for finding in self.findings:
            counts[finding.severity] += 1
        counts["acknowledged"] = sum(finding.acknowledged for finding in self.findings)
        return counts

    def failure(self) -> str | None:
        """Why the audit fails, naming the first bad index; None when nothing is an error."""
        errors = self.errors
        if not errors:
            return None
        first = errors[0]  # the findings are in index order
        where = "the log as a whole" if first.index is None else f"index {first.index}"
        return (
            f"the audit found {len(errors)} error(s); the first at {where}: "
            f"{first.check}: {first.message}"
        )

    def document(self) -> dict[str, Any]:
        errors = self.errors
        return {
            "source": self.source,
            "origin": self.origin,
            "size": self.size,
            "root": self.root.hex(),
            "checkpoints": self.checkpoints,
            "keys": list(self.keys),
            "complete": self.complete,
            "rules": self.rules,
            "as_of_now": format_time(self.now),
            "ok": not errors,
            "first_error": errors[0].index if errors else None,
            "counts": self.counts(),
            "balances": {"funds": self.funds, "campaigns": self.campaigns},
            "findings": [finding.document() for finding in self.findings],
        }

    def lines(self) -> list[str]:
        """One line per finding, then the summary."""
        return [_line(finding) for finding in self.findings] + [self.summary()]

    def summary(self) -> str:
        counts = self.counts()
        tally = ", ".join(f"{severity}: {counts[severity]}" for severity in reversed(SEVERITIES))
        reach = "" if self.complete else " (stopped early)"
        rules = "" if self.rules else "; anomaly rules not run"
        return (
            f"audit of {self.origin or 'the log'} ({self.source}): {self.size} entries"
            f"{reach}, {self.checkpoints} checkpoint(s), root {self.root.hex()}; {tally}; "
            f"acknowledged: {counts['acknowledged']}{rules}; "
            f"balances of {len(self.funds)} fund(s) replayed from the log"
        )


def _line(finding: Finding) -> str:
    index = "log" if finding.index is None else str(finding.index)
    message = " ".join(finding.message.split())
    line = f"{finding.severity:<8} {index:>7}  {finding.check}: {message}"
    if finding.acknowledged:
        reason = " ".join((finding.acknowledged_reason or "").split())
        line += f" [acknowledged at entry {finding.acknowledged_by}: {reason}]"
    return line
