"""Fund operations on the write path: gifts in batches, single allocations, balance reads.

Every operation goes through ``ledger.funds.recorder.Recorder`` as a writer's request
does, so the figures are those of the real write path, each taken beside a baseline
in the same process and interleaved with it: the raw baseline of ``bench.append`` and
``log.append`` alone for gifts in batches; the raw one-leaf append and the
``fund_pools`` row the balance check reads for single allocations; plain ``sqlite3``
GROUP BYs over ``fund_pools`` (and, for context, over ``fund_postings``) for balance
reads. The tables are built by ``bench.funds_report``; bench/README.md says what each
figure includes and what the targets are.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.dialects import sqlite as sqlite_dialect

from bench import workload
from bench.append import RawBaseline
from bench.funds_report import per_gift, summary
from ledger import log
from ledger.db import sqlite_path
from ledger.entries import Draft
from ledger.funds import state
from ledger.funds.access import command_line
from ledger.funds.models import PoolRow
from ledger.funds.privacy import PrivacyKey
from ledger.funds.recorder import Recorded, Recorder, record, today_in_vietnam
from ledger.models import EntryRow

READ_SAMPLES = 25
RAW_POOLS = "SELECT fund, account, SUM(balance) FROM fund_pools GROUP BY fund, account"
RAW_POSTINGS = "SELECT fund, account, SUM(amount) FROM fund_postings GROUP BY fund, account"
POOL_POSTINGS = "SELECT COUNT(*) FROM fund_postings WHERE fund = ? AND account = ? AND earmark = ?"
COUNTED_GIFTS = 100

ACTOR = "ke-toan-ubmttq-tinh"
PROVINCE = ("LS", "Tỉnh Lạng Sơn")
DISTRICTS = (
    ("LS-TP", "Thành phố Lạng Sơn"), ("LS-CL", "Huyện Cao Lộc"),
    ("LS-HL", "Huyện Hữu Lũng"), ("LS-VL", "Huyện Văn Lãng"),
)  # fmt: skip
# Fund code, unit, kind, share of the gifts. The province's fund takes the most, so
# the single writes spend from the fund with the longest history of postings.
FUNDS = (
    ("LS-COVID", "LS", "covid19", 40), ("LS-POOR", "LS", "poor", 10),
    ("LS-TP-COVID", "LS-TP", "covid19", 20), ("LS-CL-COVID", "LS-CL", "covid19", 12),
    ("LS-HL-COVID", "LS-HL", "covid19", 10), ("LS-VL-COVID", "LS-VL", "covid19", 8),
)  # fmt: skip
HOT_FUND = "LS-COVID"
MOBILIZER_ORGANISATIONS = (("HLHPN", "Hội Liên hiệp Phụ nữ"), ("DTN", "Đoàn Thanh niên"))
OPEN_DAYS = 60


@dataclass(frozen=True)
class Registry:
    """What the gifts are recorded against: campaign and mobilisers by fund, and the day."""

    today: date
    campaigns: dict[str, str]
    mobilizers: dict[str, tuple[str, ...]]


def _campaign(today: date, fund: str, number: int) -> dict[str, Any]:
    return {
        "code": f"{fund}-{today.year}",
        "fund": fund,
        "name": f"Vận động ủng hộ năm {today.year}",
        "purpose": "Hỗ trợ người dân gặp khó khăn do dịch COVID-19",
        "reference": fund.replace("-", ""),
        "opens": (today - timedelta(days=OPEN_DAYS)).isoformat(),
        "closes": (today + timedelta(days=OPEN_DAYS)).isoformat(),
        "distribute_by": (today + timedelta(days=3 * OPEN_DAYS)).isoformat(),
        "account": {
            "bank_bin": "970436",
            "bank_name": "Vietcombank",
            "number": f"03510001{number:05d}",
            "holder": "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh Lạng Sơn",
        },
    }


def registry_operations(today: date) -> tuple[list[tuple[str, dict[str, Any]]], Registry]:
    """A province, its districts, their funds, one open campaign each, two mobilisers per unit."""
    operations: list[tuple[str, dict[str, Any]]] = [
        ("unit", {"code": PROVINCE[0], "name": PROVINCE[1], "level": "province"})
    ]
    for code, name in DISTRICTS:
        unit = {"code": code, "name": name, "level": "district", "parent": PROVINCE[0]}
        operations.append(("unit", unit))
    campaigns: dict[str, str] = {}
    for number, (fund, unit_code, kind, _share) in enumerate(FUNDS):
        operations.append(("fund", {"code": fund, "unit": unit_code, "kind": kind}))
        operations.append(("campaign", _campaign(today, fund, number)))
        campaigns[fund] = operations[-1][1]["code"]
    mobilizers: dict[str, tuple[str, ...]] = {}
    for unit_code, _name in (PROVINCE, *DISTRICTS):
        codes = tuple(f"{unit_code}-{suffix}" for suffix, _ in MOBILIZER_ORGANISATIONS)
        for code, (_suffix, name) in zip(codes, MOBILIZER_ORGANISATIONS, strict=True):
            data = {"code": code, "name": name, "type": "collective", "unit": unit_code}
            operations.append(("mobilizer", data))
        mobilizers[unit_code] = codes
    by_fund = {fund: mobilizers[unit] for fund, unit, _kind, _share in FUNDS}
    return operations, Registry(today, campaigns, by_fund)


def _person(rng: random.Random) -> str:
    words = (workload.FAMILY, workload.MIDDLE, workload.GIVEN)
    return " ".join(rng.choice(choices) for choices in words)


def _donor(rng: random.Random, channel: str) -> dict[str, Any]:
    name = _person(rng)
    roll = rng.random()
    if roll < 0.15:  # a named donor who asked not to be shown: the name stays private
        donor: dict[str, Any] = {"display": name, "anonymous": True}
    elif roll < 0.3:
        donor = {"display": rng.choice(workload.ORGANIZATIONS), "type": "organization"}
    else:
        donor = {"display": name}
    if rng.random() < 0.1:
        donor["contact"] = f"09{rng.randrange(10**8):08d}"
    if channel == "bank" and rng.random() < 0.5:  # the sender's account, from the statement
        donor["account"] = f"{rng.randrange(10**12):012d}"
    return donor


def gift(rng: random.Random, registry: Registry, serial: int) -> dict[str, Any]:
    """A contribution as a writer posts it (the server adds the receipt ID and the hashes)."""
    fund = rng.choices([f[0] for f in FUNDS], weights=[f[3] for f in FUNDS])[0]
    channel = rng.choices(("bank", "cash", "in_kind"), weights=(70, 25, 5))[0]
    day = registry.today - timedelta(days=OPEN_DAYS - rng.randrange(OPEN_DAYS + 1))
    data: dict[str, Any] = {
        "fund": fund,
        "amount": rng.choice(workload.AMOUNTS) * rng.choice((1, 1, 1, 2, 10, 100)),
        "channel": channel,
        "donor": _donor(rng, channel),
        "mobilizer": rng.choice((*registry.mobilizers[fund], None)),
        "received_on": day.isoformat(),
    }
    if rng.random() < 0.5:  # statements name the campaign; a cashier may leave it out
        data["campaign"] = registry.campaigns[fund]
    if channel == "bank":
        data["reference"] = f"FT{day:%y%j}{serial:09d}"
    elif channel == "in_kind":
        data["in_kind"] = {
            "description": rng.choice(workload.IN_KIND),
            "quantity": rng.randrange(1, 500),
            "unit": rng.choice(workload.UNITS),
        }
    return data


def allocation(rng: random.Random, registry: Registry, serial: int) -> dict[str, Any]:
    """Support for one worker under a Resolution 68 programme, from the province's fund."""
    return {
        "fund": HOT_FUND,
        "amount": rng.choice((1_000_000, 1_500_000, 3_710_000)),
        "beneficiary": {
            "display": _person(rng),
            "type": "individual",
            "unit": rng.choice(DISTRICTS)[0],
            "national_id": f"020{rng.randrange(10**9):09d}",
        },
        "purpose": "Hỗ trợ người lao động tạm hoãn hợp đồng lao động do dịch COVID-19",
        "program": "NQ68-LD-TAM-HOAN",
        "decision": {
            "number": f"{serial}/QĐ-MTTQ",
            "date": registry.today.isoformat(),
            "approver": "Ban Thường trực Ủy ban MTTQ tỉnh Lạng Sơn",
        },
    }


@dataclass(frozen=True)
class GiftBatch:
    """Seconds one batch took through the Recorder, the raw baseline and log.append alone."""

    end: int
    count: int
    ours: float
    raw: float
    log_only: float


@contextmanager
def counting(engine: Engine) -> Iterator[list[int]]:
    """Count the statements an engine sends; listening only here keeps timed runs bare."""
    seen = [0]

    def count(*_args: Any) -> None:
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


@dataclass
class FundsBench:
    """One fund ledger grown gift batch by gift batch, and the baselines beside it."""

    folder: Path
    batch_size: int
    rng: random.Random
    batches: list[GiftBatch] = field(default_factory=list)
    gifts: int = 0
    allocations: int = 0
    wall: float = 0.0

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ledger = workload.make_ledger(self.folder / "funds")
        self.log_only = workload.make_ledger(self.folder / "funds-log-only")
        self.raw = RawBaseline(self.folder / "funds-raw.sqlite3")
        self.settings = self.ledger.settings
        self.privacy = PrivacyKey.load(self.settings.privacy_key_file)
        self.scope = command_line(ACTOR)
        operations, self.registry = registry_operations(today_in_vietnam())
        record(self.ledger.database, self.settings, self.scope, operations)
        self.raw.append(self._leaves(0))  # genesis and the registry, untimed
        path = sqlite_path(self.settings.database_url)
        assert path is not None
        self.reader = sqlite3.connect(path, isolation_level=None)

    def _leaves(self, start: int) -> list[bytes]:
        with self.ledger.database.session() as session:
            query = select(EntryRow.leaf).where(EntryRow.index >= start)
            return list(session.scalars(query.order_by(EntryRow.index)))

    def _record(self, kind: str, requests: Sequence[Mapping[str, Any]]) -> list[Recorded]:
        """One ``writing()`` transaction through the Recorder, as a writer's request runs."""
        with self.ledger.database.writing() as session:
            recorder = Recorder(session, self.settings, self.scope, self.privacy)
            for data in requests:
                recorder.add(kind, data)
            return recorder.commit()

    def _allocate(self) -> int:
        data = allocation(self.rng, self.registry, self.allocations)
        self.allocations += 1
        return self._record("allocation", [data])[0].index

    def grow(self, target: int, progress: Callable[[int], None] | None = None) -> None:
        """Record gifts in batches until ``target`` gifts are recorded."""
        started = time.perf_counter()
        while self.gifts < target:
            count = min(self.batch_size, target - self.gifts)
            requests = [gift(self.rng, self.registry, self.gifts + i) for i in range(count)]
            with self.ledger.database.session() as session:
                first = log.tree_size(session)
            t0 = time.perf_counter()
            recorded = self._record("contribution", requests)
            t1 = time.perf_counter()
            drafts = [Draft(r.kind, r.body, ACTOR) for r in recorded]
            leaves = self._leaves(first)
            t2 = time.perf_counter()
            self.raw.append(leaves)
            t3 = time.perf_counter()
            with self.log_only.database.writing() as session:
                log.append(session, drafts, self.log_only.signer)
            t4 = time.perf_counter()
            if len(leaves) != count:
                raise RuntimeError(f"a batch of {count} gifts wrote {len(leaves)} entries")
            self.gifts += count
            self.batches.append(GiftBatch(self.gifts, count, t1 - t0, t3 - t2, t4 - t3))
            if progress and len(self.batches) % 10 == 0:
                progress(self.gifts)
        self.wall += time.perf_counter() - started

    def _pool_sql(self) -> tuple[str, tuple[Any, ...]]:
        """The pool row the recorder's check reads, as SQLite receives the lookup."""
        statement = select(PoolRow.balance).where(
            PoolRow.fund == HOT_FUND, PoolRow.account == "available", PoolRow.earmark == ""
        )
        compiled = statement.compile(dialect=sqlite_dialect.dialect())
        params = compiled.construct_params()
        return str(compiled), tuple(params[name] for name in compiled.positiontup or [])

    def _plan(self, sql: str, params: tuple[Any, ...] = ()) -> list[str]:
        return [row[3] for row in self.reader.execute(f"EXPLAIN QUERY PLAN {sql}", params)]

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.reader.execute(sql, params).fetchone()[0]

    def single_writes(self, samples: int) -> dict[str, Any]:
        """``samples`` allocations, each beside one raw one-leaf append and the pool read."""
        sql, params = self._pool_sql()
        ours, raw, check = [], [], []
        for _ in range(samples):
            t0 = time.perf_counter()
            index = self._allocate()
            t1 = time.perf_counter()
            leaf = self._leaves(index)
            t2 = time.perf_counter()
            self.raw.append(leaf)
            t3 = time.perf_counter()
            self.reader.execute(sql, params).fetchall()
            t4 = time.perf_counter()
            ours.append(t1 - t0)
            raw.append(t3 - t2)
            check.append(t4 - t3)
        indexes = self.reader.execute("PRAGMA index_list(fund_pools)").fetchall()
        return {
            "samples": samples,
            "ours": summary(ours),
            "raw": summary(raw),
            "pool_read": summary(check),
            "pool_postings": self._one(POOL_POSTINGS, (HOT_FUND, "available", "")),
            "postings": self._one("SELECT COUNT(*) FROM fund_postings"),
            "pools": self._one("SELECT COUNT(*) FROM fund_pools"),
            "pool_read_plan": self._plan(sql, params),
            # SQLite keeps a non-integer primary key in an index of origin "pk".
            "primary_key_indexes": [row[1] for row in indexes if row[3] == "pk"],
        }

    def balance_reads(self, samples: int) -> dict[str, Any]:
        """Balances through ``ledger.funds.state`` beside the same sums through ``sqlite3``."""
        database = self.ledger.database
        keys = ("fund_balances", "unit_balance", "raw_pools", "raw_postings")
        times: dict[str, list[float]] = {key: [] for key in keys}
        for _ in range(samples):
            t0 = time.perf_counter()
            with database.session() as session:
                balances = state.fund_balances(session)
            t1 = time.perf_counter()
            with database.session() as session:
                province = state.unit_balance(session, PROVINCE[0])
            t2 = time.perf_counter()
            pools = self.reader.execute(RAW_POOLS).fetchall()
            t3 = time.perf_counter()
            postings = self.reader.execute(RAW_POSTINGS).fetchall()
            t4 = time.perf_counter()
            for key, seconds in zip(keys, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                times[key].append(seconds)
        if sorted(pools) != sorted(postings):
            raise RuntimeError("the pool totals differ from the sums of their postings")
        available = sum(total for _fund, account, total in pools if account == "available")
        read = (province.available, sum(b.available for b in balances.values()))
        if read != (available, available):
            raise RuntimeError("the balances read through the ledger differ from the raw sums")
        return {key: summary(values) for key, values in times.items()} | {
            "samples": samples,
            "pool_rows": len(pools),
            "raw_pools_plan": self._plan(RAW_POOLS),
            "raw_postings_plan": self._plan(RAW_POSTINGS),
        }

    def statements(self) -> dict[str, float]:
        """SQL statements per gift in a batch and per single allocation (untimed)."""
        requests = [gift(self.rng, self.registry, self.gifts + i) for i in range(COUNTED_GIFTS)]
        engine = self.ledger.database.engine
        with counting(engine) as in_batch:
            self._record("contribution", requests)
        self.gifts += COUNTED_GIFTS
        with counting(engine) as single:
            self._allocate()
        return {
            "per_gift_in_batch": in_batch[0] / COUNTED_GIFTS,
            "per_single_allocation": single[0],
        }

    def close(self) -> None:
        self.reader.close()
        self.raw.close()
        self.ledger.close()
        self.log_only.close()


def run(
    folder: Path,
    sizes: list[int],
    batch_size: int,
    samples: int,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Grow a fund ledger to each size in ``sizes`` (gifts), measuring at each."""
    bench = FundsBench(folder, batch_size, random.Random(seed))
    at: dict[int, Any] = {}
    try:
        for n in sizes:
            say(f"funds: recording gifts up to {n:,}")
            bench.grow(n, lambda size: say(f"  {size:,} gifts") if size % 10_000 == 0 else None)
            say(f"funds: {samples} single allocations at {n:,} gifts")
            single = bench.single_writes(samples)
            say(f"funds: balance reads at {n:,} gifts")
            at[n] = {"single": single, "reads": bench.balance_reads(min(samples, READ_SAMPLES))}
        batches = [vars(b) for b in bench.batches]
        return {
            "batch_size": batch_size,
            "sizes": sizes,
            "hot_fund": HOT_FUND,
            "province": PROVINCE[0],
            "all": per_gift(batches),
            "windows": {
                n: per_gift(batches, low, n) for low, n in zip([0, *sizes[:-1]], sizes, strict=True)
            },
            "wall_seconds": bench.wall,
            "at": at,
            "statements": bench.statements(),
            "batches": batches,
        }
    finally:
        bench.close()
