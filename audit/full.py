"""The full audit: one streaming pass over the log that checks everything it can.

``FullAudit`` is fed what a store holds (``audit.sources``: the database, or an
export file read with nothing but the genesis key) and yields a ``Finding`` for each
problem, with the index it concerns. On that one pass:

* ``ledger.verify.LogVerifier`` checks every leaf, link, key rotation and checkpoint
  signature and root, exactly as ``ledger verify`` does; the tree hashes a database
  stores beside each entry are compared with the recomputed ones;
* ``audit.checkpoints_audit`` proves each stored checkpoint consistent with the one
  before it;
* ``audit.fund_checks`` replays every balance (``ledger.funds.replay.Books``) and checks
  the fund rules: no guarded balance below zero at any point, earmarks, reversals,
  transfers, disbursements, bank references;
* the anomaly rules (``audit.rules.RuleRunner``) see every entry too, and their
  findings join the report.

Integrity findings have severity ``error``. A broken link ends the pass where it is
found: entries after it are not the log any more, and nothing about them can be
trusted. On a database, the balances the service publishes are then compared with
the ones replayed from the log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.checkpoints_audit import CheckpointChain
from audit.findings import ERROR, Finding
from audit.fund_checks import FundChecks
from audit.report import AuditReport
from audit.sources import DatabaseSource, ExportSource, Record, StoredCheckpoint, StoredLeaf
from ledger.entries import GENESIS, KEY_ROTATION, ZERO_HASH_HEX, Entry, decode_leaf
from ledger.errors import ChainError, LedgerError
from ledger.funds import state
from ledger.funds.consistency import Mismatch
from ledger.funds.models import TokenRow
from ledger.funds.replay import Books
from ledger.keys import VerifierKey
from ledger.settings import Settings
from ledger.verify import LogVerifier

CHAIN = "chain"
GENESIS_CHECK = "genesis"
KEY_ROTATION_CHECK = "key_rotation"
TREE_HASHES = "tree_hashes"
CHECKPOINT = "checkpoint"
UNREADABLE = "unreadable"
BALANCE_MISMATCH = "balance_mismatch"
RULES_FAILED = "anomaly_rules"


class RuleFeed(Protocol):
    """What the audit needs of the anomaly rules (``audit.rules.RuleRunner``)."""

    def add(self, entry: Entry) -> None: ...

    def finish(self) -> list[Finding]: ...


class FullAudit:
    """Feed ``run`` a store's records; read ``size``, ``root()`` and ``books`` afterwards."""

    def __init__(
        self,
        fetch: Callable[[int], Entry],
        *,
        trusted_key: VerifierKey | None = None,
        rules: RuleFeed | None = None,
    ) -> None:
        self.verifier = LogVerifier(trusted_key, on_entry=self._seen)
        self.funds = FundChecks(fetch)
        self.checkpoints = CheckpointChain()
        self.rules = rules
        self._rules_fed = rules is not None  # False once the rules could not read an entry
        self.complete = True  # False once a broken link ended the pass early
        self._entry: Entry | None = None
        self._prev = ZERO_HASH_HEX

    @property
    def size(self) -> int:
        return self.verifier.size

    @property
    def books(self) -> Books:
        return self.funds.books

    def root(self) -> bytes:
        return self.checkpoints.root()

    def run(self, records: Iterable[Record]) -> Iterator[Finding]:
        try:
            for record in records:
                if isinstance(record, StoredLeaf):
                    yield from self._leaf(record)
                    if not self.complete:
                        break
                elif isinstance(record, StoredCheckpoint):
                    yield from self._checkpoint(record)
                else:
                    yield record
        except ChainError as err:
            self.complete = False
            yield _stopped(UNREADABLE, err, self.size)
        if self.complete:
            try:
                self.verifier.finish()
            except ChainError as err:
                yield Finding(CHECKPOINT if self.size else CHAIN, ERROR, err.index, err.message)
        if self.rules is not None:
            yield from self.rules.finish()

    def _seen(self, entry: Entry) -> None:
        self._entry = entry

    def _leaf(self, record: StoredLeaf) -> Iterator[Finding]:
        try:
            parents = self.verifier.add_entry(record.index, record.leaf, record.leaf_hash)
        except ChainError as err:
            self.complete = False
            yield _stopped(self._classify(record), err, self.size)
            return
        entry, self._entry = self._entry, None
        if entry is None:  # never: add_entry hands every entry it accepts to _seen
            return
        self._prev = entry.leaf_hash.hex()
        if record.subtrees is not None and b"".join(parents) != record.subtrees:
            message = "the tree hashes stored with this entry are wrong: proofs built on them fail"
            yield Finding(TREE_HASHES, ERROR, entry.index, message)
        self.checkpoints.add_leaf(entry.leaf_hash)
        yield from self.funds.add(entry)
        if self.rules is not None and self._rules_fed:
            yield from self._feed_rules(self.rules, entry)

    def _feed_rules(self, rules: RuleFeed, entry: Entry) -> Iterator[Finding]:
        """A rule that cannot read a crafted entry must not end the audit of the rest."""
        try:
            rules.add(entry)
        except (LedgerError, KeyError, TypeError, ValueError, AttributeError) as err:
            message = f"the anomaly rules cannot read this {entry.kind} ({err!r}); they stop here"
            yield Finding(RULES_FAILED, ERROR, entry.index, message)
            self._rules_fed = False

    def _classify(self, record: StoredLeaf) -> str:
        """Which check a refused entry fails: its key's, if it is well linked, else the chain."""
        try:
            entry = decode_leaf(record.leaf)
        except LedgerError:
            return CHAIN
        linked = (
            entry.index == record.index == self.size
            and entry.prev == self._prev
            and record.leaf_hash in (None, entry.leaf_hash)
        )
        if linked and entry.kind == KEY_ROTATION:
            return KEY_ROTATION_CHECK
        if linked and entry.kind == GENESIS:
            return GENESIS_CHECK
        return CHAIN

    def _checkpoint(self, record: StoredCheckpoint) -> Iterator[Finding]:
        inconsistent = self.checkpoints.add_checkpoint(record.tree_size, record.note)
        try:
            self.verifier.add_checkpoint(record.tree_size, record.note, record.root)
        except ChainError as err:
            yield Finding(CHECKPOINT, ERROR, err.index, err.message)
        if inconsistent is not None:
            yield inconsistent


def _stopped(check: str, err: ChainError, size: int) -> Finding:
    index = size if err.index is None else err.index
    message = f"{err.message}; the audit stops here, later entries are not verified"
    return Finding(check, ERROR, index, message)


# -- the two ways to run it --------------------------------------------------------------


def audit_database(
    session: Session,
    settings: Settings,
    *,
    rules: bool = True,
    now: datetime | None = None,
    trusted_key: VerifierKey | None = None,
) -> AuditReport:
    """Audit the stored log, and compare the published balances with the replayed ones.

    Everything is read in one transaction (REPEATABLE READ on PostgreSQL, a deferred
    transaction's snapshot on SQLite), so that appends made meanwhile are not half seen.
    """
    _snapshot(session)
    moment = now or datetime.now(UTC)
    source = DatabaseSource(session)
    feed = _rules(settings, moment, _actor_units(session)) if rules else None
    audit = FullAudit(source.fetch, trusted_key=trusted_key, rules=feed)
    findings = list(audit.run(source.records()))
    if audit.complete:
        findings += published_differences(session, audit)
    return AuditReport.of(audit, findings, source="database", rules=rules, now=moment)


def audit_export(
    path: Path,
    trusted_key: VerifierKey,
    settings: Settings | None = None,
    *,
    rules: bool = True,
    now: datetime | None = None,
) -> AuditReport:
    """Audit an export file with no database, trusting only the genesis key.

    The anomaly rules run on the public entries alone: they cannot know which unit a
    token acted for, which only the database holds.
    """
    moment = now or datetime.now(UTC)
    source = ExportSource(path)
    feed = _rules(settings, moment, None) if rules else None
    audit = FullAudit(source.fetch, trusted_key=trusted_key, rules=feed)
    findings = list(audit.run(source.records()))
    return AuditReport.of(audit, findings, source="export", rules=rules, now=moment)


def published_differences(session: Session, audit: FullAudit) -> list[Finding]:
    """Each fund and campaign whose published balance differs from the replayed log's.

    The same comparison as ``ledger.funds.consistency.check_balances``, on the books
    this pass already replayed. Each finding names the last entry that moved the
    fund or campaign: the log's figure is the one as of that entry.
    """
    books = audit.books
    found: list[Finding] = []
    published = state.fund_balances(session)
    for code in sorted(set(published) | set(books.accounts)):
        ours = published.get(code, state.Balance())
        found += _mismatches(audit, ("fund", code), ours, books.fund_balance(code))
    campaigns = state.campaign_balances(session)
    for campaign in state.campaigns(session):
        ours = campaigns.get(campaign.code, state.Balance())
        found += _mismatches(
            audit, ("campaign", campaign.code), ours, books.campaign_balance(campaign.code)
        )
    return found


def _mismatches(
    audit: FullAudit, what: tuple[str, str], ours: state.Balance, theirs: state.Balance
) -> list[Finding]:
    published, from_log = ours.as_dict(), theirs.as_dict()
    index = audit.funds.touched.get(what)
    found = []
    for name in published:
        if published[name] != from_log[name]:
            mismatch = Mismatch(f"{what[0]} {what[1]}", name, published[name], from_log[name])
            details = {
                what[0]: what[1],
                "field": name,
                "published": mismatch.published,
                "from_log": mismatch.from_log,
            }
            found.append(Finding(BALANCE_MISMATCH, ERROR, index, str(mismatch), details=details))
    return found


def _snapshot(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _actor_units(session: Session) -> dict[str, str | None]:
    """The unit each token acts for: the one fact the anomaly rules need beyond the log."""
    return dict(session.execute(select(TokenRow.name, TokenRow.unit)).all())


def _rules(
    settings: Settings | None, now: datetime, actor_units: dict[str, str | None] | None
) -> RuleFeed:
    # Imported on demand: an audit without rules (``--no-rules``) never loads them.
    from audit.rules import RuleConfig, RuleRunner

    config = RuleConfig.load(settings.audit_rules_file if settings is not None else None)
    return RuleRunner(config, now=now, actor_units=actor_units)
