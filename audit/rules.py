"""The anomaly rules: each a small named rule with a severity, run over the log in one pass.

A rule reads public entries only (``audit.anomalies_facts`` gathers what several need),
so an auditor replaying an export finds what the service finds; the one fact the log
cannot give, the unit a token acts for, comes from ``actor_units`` when the rules run
beside the database. The rules themselves live in ``audit.anomalies_spending`` and
``audit.anomalies_gifts``; ``RULES`` registers each with its name, the entries it
reads and its thresholds. Severities and thresholds come from ``audit/rules.toml``,
overridden key by key by the file ``LEDGER_AUDIT_RULES`` names.

A finding's ID is ``<rule>:<index>``. Acknowledgement entries in the stream are
applied as the runner finishes; findings are never dropped, only shown acknowledged.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.acknowledgements import ACKNOWLEDGEMENT, Acknowledgements
from audit.anomalies_facts import Anomaly, Facts
from audit.anomalies_gifts import LargeCashGift, ReversalBurst, ReversedAwardGift
from audit.anomalies_spending import DuplicateBeneficiary, IdleMoney, LateAllocation, SelfAllocation
from audit.findings import BLOCKING, INFO, WARNING, Finding
from ledger import log
from ledger.entries import Entry
from ledger.errors import ConfigurationError, InvalidRequestError
from ledger.funds.models import TokenRow
from ledger.settings import Settings

ANOMALY_SEVERITIES = (INFO, WARNING, BLOCKING)
MAX_THRESHOLD = 10**15  # the largest amount an entry may carry
_PAGE = 2000


@dataclass(frozen=True)
class Rule:
    """A registered rule: its name (the ``check`` of its findings) and how to run it."""

    name: str
    make: Callable[[Mapping[str, int]], Anomaly]  # given its thresholds
    reads: frozenset[str]  # the kinds of entry it is fed
    about: frozenset[str]  # the kinds of entry its findings are about
    minimums: Mapping[str, int]  # its thresholds, each with the least value allowed


def _rule(
    name: str,
    make: Callable[[Mapping[str, int]], Anomaly],
    reads: str,
    about: str = "",
    **minimums: int,
) -> Rule:
    kinds = frozenset(reads.split())
    return Rule(name, make, kinds, frozenset(about.split()) or kinds, minimums)


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        _rule("duplicate_beneficiary", DuplicateBeneficiary, "allocation"),
        _rule("self_allocation", SelfAllocation, "allocation"),
        _rule("large_cash_gift", LargeCashGift, "contribution", threshold=1),
        _rule("idle_money", IdleMoney, "contribution transfer reversal", days=1),
        _rule("late_allocation", LateAllocation, "allocation", grace_days=0),
        _rule("reversed_award_gift", ReversedAwardGift, "award_nomination reversal", "reversal"),
        _rule("reversal_burst", ReversalBurst, "reversal", count=2, hours=1),
    )
}


# -- configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleConfig:
    """Each rule's severity and thresholds: the shipped defaults, then the override file."""

    severities: Mapping[str, str]
    limits: Mapping[str, Mapping[str, int]]

    @classmethod
    def load(cls, path: Path | None = None) -> RuleConfig:
        """The defaults of ``audit/rules.toml``, with ``path``'s tables and keys over them.

        A bad override is a ConfigurationError naming the file and the key, so that a
        typo never silently leaves a default in force.
        """
        shipped = resources.files("audit").joinpath("rules.toml").read_text(encoding="utf-8")
        tables = _merged({}, _parse(shipped, "the built-in anomaly rules"), "built-in")
        missing = [
            f"{name}.{key}"
            for name, rule in RULES.items()
            for key in ("severity", *rule.minimums)
            if key not in tables.get(name, {})
        ]
        if missing:
            raise ConfigurationError(f"the built-in anomaly rules lack {', '.join(missing)}")
        if path is not None:
            source = f"anomaly rules file {path}"
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                reason = getattr(err, "strerror", None) or str(err)
                raise ConfigurationError(f"{source}: cannot be read ({reason})") from None
            tables = _merged(tables, _parse(text, source), source)
        return cls(
            severities={name: str(table["severity"]) for name, table in tables.items()},
            limits={
                name: {key: int(value) for key, value in table.items() if key != "severity"}
                for name, table in tables.items()
            },
        )


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(f"{source}: not valid TOML ({err})") from None


def _merged(
    base: Mapping[str, Mapping[str, Any]], document: Mapping[str, Any], source: str
) -> dict[str, dict[str, Any]]:
    tables = {name: dict(table) for name, table in base.items()}
    for name, table in document.items():
        rule = RULES.get(name)
        if rule is None:
            known = ", ".join(RULES)
            raise ConfigurationError(f"{source}: {name} is not an anomaly rule (they are {known})")
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"{source}: {name} must be a table: [{name}]")
        for key, value in table.items():
            tables.setdefault(name, {})[key] = _checked(rule, key, value, source)
    return tables


def _checked(rule: Rule, key: str, value: Any, source: str) -> Any:
    where = f"{source}: {rule.name}.{key}"
    if key == "severity":
        if value not in ANOMALY_SEVERITIES:
            allowed = ", ".join(ANOMALY_SEVERITIES)
            raise ConfigurationError(f"{where} must be one of {allowed}, not {value!r}")
        return value
    if key not in rule.minimums:
        settings = ", ".join(("severity", *rule.minimums))
        raise ConfigurationError(f"{where} is not a setting of this rule (it has {settings})")
    least = rule.minimums[key]
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_THRESHOLD:
        raise ConfigurationError(
            f"{where} must be a whole number from {least} to {MAX_THRESHOLD}, not {value!r}"
        )
    return value


# -- running -----------------------------------------------------------------------------


class RuleRunner:
    """Every rule over one stream of entries; ``finish`` after the last entry wanted.

    The full audit feeds it from its own pass over the log; ``findings_for_database``
    feeds it from the database; ``audit.rule_cache`` keeps one for the life of the
    process and feeds it only the entries appended since it last asked. ``finish``
    changes nothing, so it may be asked again after more entries. ``now`` is when idle
    money is measured to, unless ``finish`` is given another moment.
    """

    def __init__(
        self,
        config: RuleConfig,
        *,
        now: datetime,
        actor_units: Mapping[str, str | None] | None = None,
    ) -> None:
        self.config = config
        self.facts = Facts(now=now, actor_units=actor_units or {})
        self.acknowledgements = Acknowledgements()
        self._rules = [
            (rule, rule.make(config.limits.get(rule.name, {}))) for rule in RULES.values()
        ]
        self._readers: dict[str, list[Anomaly]] = {}
        for rule, anomaly in self._rules:
            for kind in sorted(rule.reads):
                self._readers.setdefault(kind, []).append(anomaly)

    def add(self, entry: Entry) -> None:
        if entry.kind == ACKNOWLEDGEMENT:
            self.acknowledgements.add(entry)
            return
        self.facts.add(entry)
        for anomaly in self._readers.get(entry.kind, ()):
            anomaly.add(entry, self.facts)

    def finish(self, *, now: datetime | None = None) -> list[Finding]:
        """Every finding so far, acknowledged ones included, by index and then rule name.

        Each finding gets its own copy of its details: the rules keep their hits for the
        next call, and a caller editing a finding must not edit those.
        """
        facts = self.facts if now is None else self.facts.at(now)
        found = []
        for rule, anomaly in self._rules:
            severity = self.config.severities[rule.name]
            for hit in anomaly.finish(facts):
                details = copy.deepcopy(hit.details)
                finding = Finding(
                    rule.name, severity, hit.index, hit.message, hit.related, details=details
                )
                found.append(self.acknowledgements.apply(finding))
        found.sort(key=lambda finding: (finding.index or 0, finding.check))
        return found


def findings_for_database(
    session: Session,
    settings: Settings,
    *,
    now: datetime | None = None,
    as_of: int | None = None,
) -> list[Finding]:
    """The anomaly findings of the entries below ``as_of`` (default: the whole log).

    A replay from the first entry, for the auditors' commands and API and the awards,
    which want one answer at one exact size and expect a replay's cost. The public
    rankings and the leaderboard ask ``findings_kept``, which answers the same.
    """
    end = checked_size(session, as_of)
    config = RuleConfig.load(settings.audit_rules_file)
    runner = RuleRunner(config, now=now or datetime.now(UTC), actor_units=actor_units(session))
    for batch in entry_batches(session, 0, end):
        for entry in batch:
            runner.add(entry)
    return runner.finish()


def findings_kept(
    session: Session,
    settings: Settings,
    *,
    now: datetime | None = None,
    as_of: int | None = None,
) -> list[Finding]:
    """What ``findings_for_database`` answers, from the runner this process keeps.

    The kept runner (``audit.rule_cache``) reads only the entries appended since it was
    last asked, so a request pays for the new entries, not for the whole log.
    """
    from audit import rule_cache  # it builds on this module

    return rule_cache.findings(session, settings, now=now, as_of=as_of)


def checked_size(session: Session, as_of: int | None) -> int:
    """``as_of``, or the log's size if None; refused unless it is a size the log has had."""
    size = log.tree_size(session)
    end = size if as_of is None else as_of
    if not 0 <= end <= size:
        raise InvalidRequestError(f"as_of must be a tree size from 0 to {size}, not {end}")
    return end


def actor_units(session: Session) -> dict[str, str | None]:
    """The unit each token acts for: the one fact the rules need beyond the log."""
    return dict(session.execute(select(TokenRow.name, TokenRow.unit)).all())


def entry_batches(session: Session, start: int, end: int) -> Iterator[list[Entry]]:
    """The entries ``start`` .. ``end - 1`` in order, a page at a time."""
    while start < end:
        batch = log.entries(session, start, min(_PAGE, end - start))
        if not batch:
            return
        yield batch
        start = batch[-1].index + 1


def select_findings(
    findings: Iterable[Finding], *, severity: str | None = None, unacknowledged: bool = False
) -> list[Finding]:
    """The findings of one severity (None: any), only unacknowledged ones if asked."""
    return [
        finding
        for finding in findings
        if (severity is None or finding.severity == severity)
        and not (unacknowledged and finding.acknowledged)
    ]
