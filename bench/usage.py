"""``python -m bench.usage [--gifts N] [--allocations N]``: the cost of one usage answer.

A ledger like a province's campaign is built through the real write path: gifts in
batches (some earmarked, some in kind), allocations from the province's fund,
remittances from the districts, disbursements and a few reversals. Then one gift's
usage (``ledger.funds.usage_replay.usage_of``, what ``GET /api/v1/contributions/{id}/usage``
does) is timed three ways, each beside a raw baseline run in the same process and
interleaved with it:

* cold: the first answer after a start, which replays every money entry. Baseline:
  ``sqlite3`` reading the same leaves and ``orjson`` decoding them.
* after a write: one entry more than the kept replay, which is brought up to date.
* warm: nothing new since the last answer. Baseline for both: ``sqlite3`` reading
  one leaf by index and decoding it (what a receipt lookup costs at least).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import funds, workload
from bench.report import Table, median, ms, ratio, secs, times
from ledger import log
from ledger.db import sqlite_path
from ledger.funds import usage_replay
from ledger.funds.access import command_line
from ledger.funds.models import DocumentRow
from ledger.funds.recorder import record, today_in_vietnam

SAMPLES = 15
PROOF = "b" * 64
MONEY_LEAVES = (
    "SELECT leaf FROM log_entries WHERE kind IN "
    "('contribution', 'allocation', 'disbursement', 'transfer', 'reversal') ORDER BY idx"
)
FRONT_LINE = {"purpose": "Hỗ trợ lực lượng tuyến đầu"}
DISTRICT_FUNDS = [code for code, unit, _kind, _share in funds.FUNDS if unit != "LS"]


class UsageLedger:
    """The bench ledger and what was recorded in it."""

    def __init__(self, folder: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ledger = workload.make_ledger(folder)
        self.settings = self.ledger.settings
        self.scope = command_line(funds.ACTOR)
        operations, self.registry = funds.registry_operations(today_in_vietnam())
        record(self.ledger.database, self.settings, self.scope, operations)
        with self.ledger.database.writing() as session:
            session.add(
                DocumentRow(
                    sha256=PROOF,
                    filename="uy-nhiem-chi.pdf",
                    media_type="application/pdf",
                    size=5,
                    content=b"proof",
                    uploaded_by=funds.ACTOR,
                    uploaded_at=datetime.now(UTC),
                )
            )
        self.gifts: list[str] = []
        self.allocations: list[int] = []
        self.serial = 0

    def _record(self, operations: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        return record(self.ledger.database, self.settings, self.scope, operations)

    def grow(self, gifts: int, allocations: int, rounds: int) -> None:
        for number in range(rounds):
            batch = []
            for _ in range(gifts // rounds):
                data = funds.gift(self.rng, self.registry, self.serial)
                self.serial += 1
                if self.rng.random() < 0.05:
                    data["earmark"] = FRONT_LINE
                batch.append(("contribution", data))
            recorded = self._record(batch)
            self.gifts += [done.extra["receipt_id"] for done in recorded]
            remittances = [
                (
                    "transfer",
                    {
                        "from_fund": code,
                        "to_fund": funds.HOT_FUND,
                        "amount": 20_000_000,
                        "purpose": "Chuyển tiền ủng hộ về Quỹ tỉnh",
                    },
                )
                for code in DISTRICT_FUNDS
            ]
            sent = self._record(remittances)
            grants = [
                ("allocation", funds.allocation(self.rng, self.registry, len(self.allocations)))
                for _ in range(allocations // rounds)
            ]
            self.allocations += [done.index for done in self._record(grants)]
            paid = [
                (
                    "disbursement",
                    {"allocation": index, "amount": 1_000_000, "documents": [PROOF]},
                )
                for index in self.allocations[-(allocations // rounds) :][::2]
            ]
            self._record(paid)
            if number % 3 == 1:  # corrections: a grant, a remittance and a gift in error
                province_gift = next(d for d in recorded if d.body["fund"] == funds.HOT_FUND)
                targets = (self.allocations.pop(), sent[0].index, province_gift.index)
                self._record(
                    [("reversal", {"target": target, "reason": "ghi nhầm"}) for target in targets]
                )

    def write_one(self) -> None:
        self._record([("contribution", funds.gift(self.rng, self.registry, self.serial))])
        self.serial += 1


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(bench: UsageLedger, samples: int) -> dict[str, Any]:
    database = bench.ledger.database
    path = sqlite_path(bench.settings.database_url)
    assert path is not None
    reader = sqlite3.connect(path, isolation_level=None)
    receipts = bench.rng.sample(bench.gifts, samples)

    def answer(receipt: str) -> None:
        with database.session() as session:
            usage_replay.usage_of(session, receipt)

    def raw_all() -> None:
        for (leaf,) in reader.execute(MONEY_LEAVES):
            orjson.loads(leaf)

    def raw_one() -> None:
        (leaf,) = reader.execute(
            "SELECT leaf FROM log_entries WHERE idx = ?", (bench.rng.randrange(1000),)
        ).fetchone()
        orjson.loads(leaf)

    cold, cold_raw, after_write, warm, one_raw = [], [], [], [], []
    for receipt in receipts:
        usage_replay._replayed.clear()  # as after a start
        cold.append(_timed(lambda: answer(receipt)))  # noqa: B023 (called at once)
        cold_raw.append(_timed(raw_all))
        bench.write_one()
        after_write.append(_timed(lambda: answer(receipt)))  # noqa: B023
        one_raw.append(_timed(raw_one))
        warm.append(_timed(lambda: answer(receipt)))  # noqa: B023
    money = reader.execute(MONEY_LEAVES.replace("leaf", "COUNT(*)", 1)).fetchone()[0]
    reader.close()
    with database.session() as session:
        size = log.tree_size(session)
    return {
        "samples": samples,
        "tree_size": size,
        "money_entries": money,
        "cold": cold,
        "cold_raw": cold_raw,
        "after_write": after_write,
        "warm": warm,
        "one_raw": one_raw,
    }


def report(result: dict[str, Any], build_seconds: float) -> str:
    table = Table(
        f"Usage of one gift, median of {result['samples']} gifts; log of "
        f"{result['tree_size']:,} entries ({result['money_entries']:,} money entries)",
        ("measure", "ours", "raw baseline", "ratio"),
    )
    rows = (
        ("cold: replay every money entry", "cold", "cold_raw", "read + decode every money leaf"),
        ("after one write: replay one entry", "after_write", "one_raw", "read + decode one leaf"),
        ("warm: nothing new", "warm", "one_raw", "read + decode one leaf"),
    )
    for name, ours, raw, _what in rows:
        value, baseline = median(result[ours]), median(result[raw])
        table.add(name, ms(value), ms(baseline), times(ratio(value, baseline)))
    table.notes += [f"{name}: baseline = {what}" for name, _o, _r, what in rows]
    table.notes.append(f"Building the ledger took {secs(build_seconds)}.")
    return table.render()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.usage", description=__doc__)
    parser.add_argument("--gifts", type=int, default=10_000)
    parser.add_argument("--allocations", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=10, help="gift batches interleaved")
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-usage-"))
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
