"""``python -m bench.audit [--gifts N]``: what the audit layer costs on a province's log.

The ledger of ``bench.usage`` (gifts in batches, remittances, allocations,
disbursements, reversals through the real write path) is audited several ways, each
timed beside a raw baseline interleaved with it in the same process: ``sqlite3``
reading every leaf and ``orjson`` decoding it, the least any check of the whole log
must do. Measured:

* ``ledger verify`` (chain, tree, checkpoints, balances): the existing floor;
* the full audit without the anomaly rules, and with them;
* the anomaly rules alone (``findings_for_database``), which rankings and awards run;
* one verified ranking (collectives, the whole province), rules included.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from audit import rankings, rules
from audit.full import audit_database
from bench.report import Table, median, ms, ratio, secs, times
from bench.usage import UsageLedger
from ledger import log
from ledger.db import sqlite_path
from ledger.funds.consistency import books_for, check_balances
from ledger.integrity import verify_database

SAMPLES = 3


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(bench: UsageLedger, samples: int) -> dict[str, Any]:
    database, settings = bench.ledger.database, bench.settings
    path = sqlite_path(settings.database_url)
    assert path is not None
    reader = sqlite3.connect(path, isolation_level=None)

    def raw() -> None:
        for (leaf,) in reader.execute("SELECT leaf FROM log_entries ORDER BY idx"):
            orjson.loads(leaf)

    def verify() -> None:
        with database.session() as session:
            books = books_for(session)
            verify_database(session, None, None, books.apply)
            check_balances(session, books)

    def audit(with_rules: bool) -> Callable[[], None]:
        def run() -> None:
            with database.session() as session:
                audit_database(session, settings, rules=with_rules)

        return run

    def rules_alone() -> None:
        with database.session() as session:
            rules.findings_for_database(session, settings)

    def ranking() -> None:
        with database.session() as session:
            rankings.verified_ranking(session, settings, rankings.RankingQuery(type="collective"))

    cases = {
        "ledger verify": verify,
        "audit, no rules": audit(False),
        "audit with rules": audit(True),
        "anomaly rules alone": rules_alone,
        "verified ranking": ranking,
    }
    found: dict[str, list[float]] = {name: [] for name in cases}
    found["raw"] = []
    for _ in range(samples):
        for name, action in cases.items():
            found["raw"].append(_timed(raw))
            found[name].append(_timed(action))
    reader.close()
    with database.session() as session:
        size = log.tree_size(session)
    return {"samples": samples, "tree_size": size, **found}


def report(result: dict[str, Any], build_seconds: float) -> str:
    table = Table(
        f"The audit layer on a log of {result['tree_size']:,} entries, "
        f"median of {result['samples']}",
        ("measure", "ours", "raw baseline", "ratio"),
    )
    baseline = median(result["raw"])
    for name in ("ledger verify", "audit, no rules", "audit with rules", "anomaly rules alone"):
        value = median(result[name])
        table.add(name, ms(value), ms(baseline), times(ratio(value, baseline)))
    value = median(result["verified ranking"])
    table.add("verified ranking", ms(value), ms(baseline), times(ratio(value, baseline)))
    table.notes.append("baseline: sqlite3 reading every leaf in order + orjson decoding it")
    table.notes.append(f"Building the ledger took {secs(build_seconds)}.")
    return table.render()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__)
    parser.add_argument("--gifts", type=int, default=10_000)
    parser.add_argument("--allocations", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-audit-"))
    try:
        started = time.perf_counter()
        bench = UsageLedger(folder, args.seed)
        bench.grow(args.gifts, args.allocations, args.rounds)
        built = time.perf_counter() - started
        result = measure(bench, args.samples)
        bench.ledger.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(report(result, built))
    return 0


if __name__ == "__main__":
    sys.exit(main())
