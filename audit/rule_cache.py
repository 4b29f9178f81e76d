"""The anomaly rules kept running for the life of the process, one runner per log.

The public rankings and the leaderboard leave out the gifts under a blocking finding
at the latest size, so every request needs the rules' findings of the whole log. A
replay from the first entry costs time in proportion to the whole log, on every
request; but a log only grows, so a runner that has read the first N entries can
answer at N + k after reading k more.
This module keeps such runners, one per (database URL, origin, rule settings), and
feeds each only the entries it has not read yet. ``RuleRunner.finish`` changes
nothing, so the runner's answer at each size is the answer of a fresh replay of that
size (the tests check exactly that, on random histories).

When is a kept runner not reused?

* Asked for a size below what it has read (a reader holding an older checkpoint):
  it is rebuilt from the first entry up to the size asked, and goes on from there.
  The rankings ask at the latest checkpoint, whose size never goes down, so this is
  rare; keeping a second runner for old sizes is not worth its memory.
* The log at that URL is not the one it read (a restore, another database at the
  same address): the leaf hash of the last entry read is checked on every call, and
  since each leaf names the hash of the one before it, an equal hash means the
  whole prefix read is the same.
* A token that recorded one of the entries read now acts for another unit, or a
  token has since been created under the name of an actor already read: the rules
  looked those units up as they read, so the runner is rebuilt.

Memory: a runner keeps no entries, only what the rules need of them: per gift its
attribution record (receipt ID, campaign, channel and fund, strings of the parsed
leaf), its piece in its pool's queue and the day its money arrived; per allocation
its body and the pieces it holds; per transfer, disbursement and reversal a few
numbers; per gift counted by a nomination, that nomination; per acknowledgement its
reason; and the hits found so far. Measured on the demo ledger of 10,000 gifts
(11,108 entries): 8.4 MB, some 750 bytes an entry, half of it those strings. At most
``KEPT_LOGS`` runners are kept, the least recently asked dropped first.

A runner is fed and asked under its own lock: two requests at once wait for each
other, and the second finds the entries already read. Each call's ``now`` (what
idle money is measured to) is used for that answer alone, whenever the runner was
built.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.findings import Finding
from audit.rules import RuleConfig, RuleRunner, actor_units, checked_size, entry_batches
from ledger.models import EntryRow
from ledger.settings import Settings

KEPT_LOGS = 4

Key = tuple[str, str, tuple[tuple[str, str, tuple[tuple[str, int], ...]], ...]]


class KeptRunner:
    """One log's runner, how far it has read, and what it must see again to be reused."""

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.runner: RuleRunner | None = None
        self.consumed = 0  # the entries 0 .. consumed - 1 have been fed
        self.last_leaf_hash = b""  # the leaf hash of entry consumed - 1
        self.units: dict[str, str | None] = {}
        self.actors: set[str] = set()  # who recorded the entries fed
        self.rebuilds = 0  # runners built from the first entry, the first one included

    def findings(
        self,
        session: Session,
        size: int,
        now: datetime,
        units: Mapping[str, str | None],
    ) -> list[Finding]:
        """The findings of the first ``size`` entries; call with ``lock`` held."""
        if self.runner is None or not self._reusable(session, size, units):
            self.runner = RuleRunner(self.config, now=now)
            self.consumed, self.last_leaf_hash, self.actors = 0, b"", set()
            self.rebuilds += 1
        # Every actor read so far has the unit it had: the units as they are now are
        # what a replay would use, for the entries read and for those to come.
        self.units = dict(units)
        self.runner.facts.actor_units = self.units
        if self.consumed < size:
            self._feed(session, self.runner, size)
        return self.runner.finish(now=now)

    def _reusable(self, session: Session, size: int, units: Mapping[str, str | None]) -> bool:
        if size < self.consumed:
            return False
        if any(units.get(actor) != self.units.get(actor) for actor in self.actors):
            return False
        if self.consumed == 0:
            return True
        found = session.scalar(
            select(EntryRow.leaf_hash).where(EntryRow.index == self.consumed - 1)
        )
        return found is not None and bytes(found) == self.last_leaf_hash

    def _feed(self, session: Session, runner: RuleRunner, size: int) -> None:
        """Entries ``consumed`` .. ``size - 1``; a failure part-way drops the runner."""
        try:
            for batch in entry_batches(session, self.consumed, size):
                for entry in batch:
                    runner.add(entry)
                    self.actors.add(entry.actor)
                self.consumed = batch[-1].index + 1
                self.last_leaf_hash = batch[-1].leaf_hash
        except BaseException:
            self.runner = None  # an entry half applied: start afresh next time
            raise


_kept: OrderedDict[Key, KeptRunner] = OrderedDict()
_kept_lock = threading.Lock()


def findings(
    session: Session,
    settings: Settings,
    *,
    now: datetime | None = None,
    as_of: int | None = None,
) -> list[Finding]:
    """The findings of the entries below ``as_of`` (default: the whole log), as a replay.

    Equal to ``audit.rules.findings_for_database`` with the same arguments, read from
    the runner kept for this log and these rule settings.
    """
    size = checked_size(session, as_of)
    config = RuleConfig.load(settings.audit_rules_file)
    units = actor_units(session)
    kept = runner_for(settings, config)
    with kept.lock:
        return kept.findings(session, size, now or datetime.now(UTC), units)


def runner_for(settings: Settings, config: RuleConfig) -> KeptRunner:
    """The runner kept for this log and these rule settings, made if there is none."""
    key: Key = (settings.database_url, settings.origin, _settings_of(config))
    with _kept_lock:
        kept = _kept.get(key)
        if kept is None:
            kept = _kept[key] = KeptRunner(config)
            while len(_kept) > KEPT_LOGS:
                _kept.popitem(last=False)
        else:
            _kept.move_to_end(key)
        return kept


def _settings_of(config: RuleConfig) -> tuple[tuple[str, str, tuple[tuple[str, int], ...]], ...]:
    """The rule settings as a key: two equal configurations share one runner."""
    return tuple(
        (name, severity, tuple(sorted(config.limits.get(name, {}).items())))
        for name, severity in sorted(config.severities.items())
    )
