"""The fund tables: every figure of ``bench.funds`` beside its baseline, ratio and target.

Pure functions of the results dictionary (as ``bench.funds.run`` returns it and
``bench/results/*.json`` keeps it), so a saved run can be printed again without
measuring anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.report import (
    INFO,
    NOT_RUN,
    Table,
    median,
    ms,
    percentile,
    ratio,
    secs,
    size_label,
    times,
    verdict,
)

GIFT_TARGET = 4.0  # Recorder per gift, at most this many times log.append alone
FLAT_TARGET = 1.25  # per-gift time at the largest size, at most this many times the smallest
SINGLE_TARGET = 10.0  # one allocation per transaction, at most this many times raw
SINGLE_GROWTH_TARGET = 1.25  # one allocation at the largest size, against the smallest
READ_TARGET = 2.0  # a balance read, at most this many times the raw GROUP BY over fund_pools

Row = tuple[str, str, str]


def summary(samples: Sequence[float]) -> dict[str, float]:
    return {
        "median": median(samples),
        "p90": percentile(samples, 0.9),
        "p99": percentile(samples, 0.99),
        "max": max(samples),
    }


def per_gift(
    batches: Sequence[Mapping[str, Any]], low: int = 0, high: int | None = None
) -> dict[str, float]:
    """Median per-batch seconds per gift of batches ending in (low, high]."""
    chosen = [b for b in batches if low < b["end"] <= (high or b["end"])]
    figures = {
        side: median([b[side] / b["count"] for b in chosen]) for side in ("ours", "raw", "log_only")
    }
    return {"batches": len(chosen), **figures}


def us(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1e6:.0f} µs"


def _window(low: int, n: int) -> str:
    return f"({size_label(low) if low else 0}, {size_label(n)}]"


def _at(results: Mapping[str, Any], n: int) -> Any:
    """Figures at one size; a run read back from JSON has string keys."""
    at = results["at"]
    return at[n] if n in at else at[str(n)]


def _windows(results: Mapping[str, Any], n: int) -> Any:
    windows = results["windows"]
    return windows[n] if n in windows else windows[str(n)]


def gift_table(results: Mapping[str, Any]) -> tuple[Table, dict[str, float]]:
    sizes, overall = results["sizes"], results["all"]
    table = Table(
        f"Fund gifts, {results['batch_size']} per transaction through Recorder: "
        "median time per gift over batches",
        ("measure", "ours", "baseline", "ratio", "target", "status"),
    )
    against_log = ratio(overall["ours"], overall["log_only"])
    table.add(
        f"Recorder vs log.append alone, all {overall['batches']} batches",
        us(overall["ours"]),
        us(overall["log_only"]),
        times(against_log),
        f"<= {GIFT_TARGET:.2f}x",
        verdict(against_log <= GIFT_TARGET),
    )
    for low, n in zip([0, *sizes[:-1]], sizes, strict=True):
        window = _windows(results, n)
        table.add(
            f"  batches ending in {_window(low, n)} gifts",
            us(window["ours"]),
            us(window["log_only"]),
            times(ratio(window["ours"], window["log_only"])),
            "",
            INFO,
        )
    against_raw = ratio(overall["ours"], overall["raw"])
    for label, ours, baseline in (
        ("Recorder vs raw baseline", overall["ours"], overall["raw"]),
        ("log.append alone vs raw baseline", overall["log_only"], overall["raw"]),
    ):
        table.add(label, us(ours), us(baseline), times(ratio(ours, baseline)), "(context)", INFO)
    first, last = _windows(results, sizes[0]), _windows(results, sizes[-1])
    growth = ratio(last["ours"], first["ours"])
    if len(sizes) > 1:
        table.add(
            f"Recorder at {size_label(sizes[-1])} vs at {size_label(sizes[0])} gifts",
            us(last["ours"]),
            us(first["ours"]),
            times(growth),
            f"<= {FLAT_TARGET:.2f}x",
            verdict(growth <= FLAT_TARGET),
        )
    counts, batches = results["statements"], results["batches"]
    table.notes += [
        f"Recording {sum(b['count'] for b in batches):,} gifts took "
        f"{secs(results['wall_seconds'])} wall, "
        f"{secs(sum(b['ours'] for b in batches))} of it in the Recorder; "
        f"{counts['per_gift_in_batch']:.1f} SQL statements per gift in a batch.",
        "Ours: writing() + Recorder + add(contribution) per gift + commit, one transaction",
        "(schema, look-ups, duplicate reference check, projections, postings and pool totals",
        "in a savepoint per gift, one log.append). log.append alone: the same entry bodies",
        "appended to a second ledger. Raw: bench.append's baseline with the same leaf bytes.",
        "Ratios are times (ours / baseline): lower is better.",
    ]
    return table, {"against_log": against_log, "against_raw": against_raw, "growth": growth}


def primary_key_search(plan: Sequence[str], pk_indexes: Sequence[str]) -> bool:
    """A SEARCH of fund_pools on its whole primary key, and no SCAN anywhere in the plan."""
    keys = ("PRIMARY KEY", *(f"INDEX {name} " for name in pk_indexes))
    columns = ("fund=?", "account=?", "earmark=?")
    searches = any(
        step.startswith("SEARCH fund_pools USING")
        and any(key in f"{step} " for key in keys)
        and all(column in step for column in columns)
        for step in plan
    )
    return searches and not any(step.startswith("SCAN") for step in plan)


def single_table(results: Mapping[str, Any]) -> tuple[Table, dict[str, Any]]:
    sizes = results["sizes"]
    smallest, largest = _at(results, sizes[0])["single"], _at(results, sizes[-1])["single"]
    table = Table(
        f"Single writes: one allocation per transaction from {results['hot_fund']}, "
        f"{smallest['samples']} interleaved samples per size",
        ("gifts", "measure", "median", "p99", "baseline", "ratio", "target", "status"),
    )
    verdicts: dict[str, Any] = {"against_raw": {}}
    for n in sizes:
        single = _at(results, n)["single"]
        ours, raw, pool = single["ours"], single["raw"], single["pool_read"]
        against = ratio(ours["median"], raw["median"])
        verdicts["against_raw"][n] = against
        table.add(
            size_label(n),
            "allocation vs raw one-leaf append",
            ms(ours["median"]),
            ms(ours["p99"]),
            ms(raw["median"]),
            times(against),
            f"<= {SINGLE_TARGET:.0f}x",
            verdict(against <= SINGLE_TARGET),
        )
        table.add(
            size_label(n),
            f"pool read alone: 1 fund_pools row ({single['pool_postings']:,} postings)",
            ms(pool["median"]),
            ms(pool["p99"]),
            "",
            "",
            "(context)",
            INFO,
        )
    growth = ratio(largest["ours"]["median"], smallest["ours"]["median"])
    verdicts["growth"] = growth if len(sizes) > 1 else None
    if len(sizes) > 1:
        span = f"{size_label(sizes[-1])} vs {size_label(sizes[0])}"
        table.add(
            span,
            "allocation, larger size vs smaller",
            ms(largest["ours"]["median"]),
            "",
            ms(smallest["ours"]["median"]),
            times(growth),
            f"<= {SINGLE_GROWTH_TARGET:.2f}x",
            verdict(growth <= SINGLE_GROWTH_TARGET),
        )
        raw_growth = ratio(largest["raw"]["median"], smallest["raw"]["median"])
        table.add(
            span,
            "raw one-leaf append, larger size vs smaller",
            ms(largest["raw"]["median"]),
            "",
            ms(smallest["raw"]["median"]),
            times(raw_growth),
            "(context)",
            INFO,
        )
    plan = largest["pool_read_plan"]
    verdicts["pk_search"] = found = primary_key_search(plan, largest["primary_key_indexes"])
    table.notes += [
        f"Pool read plan at {size_label(sizes[-1])} gifts, "
        f"{'a primary-key SEARCH, no SCAN' if found else 'NOT a primary-key SEARCH'}"
        f" ({verdict(found)}):",
        f"  {'; '.join(plan)}",
        f"  (primary-key index of fund_pools: {', '.join(largest['primary_key_indexes']) or '-'};"
        f" {largest['pools']} pool rows, {largest['postings']:,} postings)",
        f"{results['statements']['per_single_allocation']} SQL statements per allocation.",
        "Ours: writing() + Recorder + add(allocation) + commit; the recorder adds the posting",
        "to its fund_pools row (INSERT ... ON CONFLICT DO UPDATE ... RETURNING balance) and",
        "refuses a negative available pool. Raw baseline: the allocation's own leaf appended",
        "in its own transaction with one signature. Pool read alone: the row the check reads,",
        "looked up through sqlite3 on the same file right after each write.",
    ]
    if len(sizes) > 1:
        first, last = verdicts["against_raw"][sizes[0]], verdicts["against_raw"][sizes[-1]]
        table.notes += [
            f"Against raw, the allocation went from {times(first)} to {times(last)} "
            f"({times(ratio(last, first))}); the raw row above",
            "shows how much of the change between sizes is the machine rather than the ledger.",
        ]
    return table, verdicts


def read_table(results: Mapping[str, Any]) -> tuple[Table, dict[int, Any]]:
    sizes = results["sizes"]
    table = Table(
        f"Balance reads, one read session each, {_at(results, sizes[0])['reads']['samples']} "
        "interleaved samples per size",
        ("gifts", "measure", "median", "raw GROUP BY", "ratio", "target", "status"),
    )
    verdicts: dict[int, Any] = {}
    for n in sizes:
        reads = _at(results, n)["reads"]
        raw = reads["raw_pools"]["median"]
        verdicts[n] = {}
        for name, label in (
            ("fund_balances", "state.fund_balances"),
            ("unit_balance", f"state.unit_balance({results['province']}), all funds below"),
        ):
            ours = reads[name]["median"]
            verdicts[n][name] = ratio(ours, raw)
            table.add(
                size_label(n),
                label,
                ms(ours),
                ms(raw),
                times(verdicts[n][name]),
                f"<= {READ_TARGET:.0f}x",
                verdict(verdicts[n][name] <= READ_TARGET),
            )
        postings = reads["raw_postings"]["median"]
        table.add(
            size_label(n),
            "raw GROUP BY over fund_postings (before pools)",
            ms(postings),
            ms(raw),
            times(ratio(postings, raw)),
            "(context)",
            INFO,
        )
    last = _at(results, sizes[-1])
    table.notes += [
        "Raw GROUP BY: SELECT fund, account, SUM(balance) FROM fund_pools GROUP BY fund,",
        "account through sqlite3 on the same file, between the reads "
        f"({last['reads']['pool_rows']} rows at {size_label(sizes[-1])} gifts); its plan:",
        f"  {'; '.join(last['reads']['raw_pools_plan'])}",
        "Before pools: SELECT fund, account, SUM(amount) FROM fund_postings GROUP BY fund,",
        f"account, as balances were read before the pool table ({last['single']['postings']:,}"
        " postings); its plan:",
        f"  {'; '.join(last['reads']['raw_postings_plan'])}",
        "Both raw queries give the same sums (checked), and so do the state reads.",
    ]
    return table, verdicts


def tables(results: Mapping[str, Any]) -> tuple[list[Table], list[Row]]:
    """The three fund tables, and the rows they add to the targets table."""
    gifts, gift_verdict = gift_table(results)
    single, single_verdicts = single_table(results)
    reads, read_verdicts = read_table(results)
    sizes = results["sizes"]
    largest, label = sizes[-1], size_label(sizes[-1])
    against_raw, growth = single_verdicts["against_raw"][largest], single_verdicts["growth"]
    rows = [
        (
            f"fund gifts in batches <= {GIFT_TARGET:.0f}x log.append alone",
            times(gift_verdict["against_log"]),
            verdict(gift_verdict["against_log"] <= GIFT_TARGET),
        ),
        (
            f"fund single allocation <= {SINGLE_TARGET:.0f}x raw baseline (at {label} gifts)",
            times(against_raw),
            verdict(against_raw <= SINGLE_TARGET),
        ),
        (
            f"fund single allocation at {label} <= {SINGLE_GROWTH_TARGET:.2f}x at "
            f"{size_label(sizes[0])} gifts",
            NOT_RUN if growth is None else times(growth),
            NOT_RUN if growth is None else verdict(growth <= SINGLE_GROWTH_TARGET),
        ),
        (
            "fund balance check: primary-key SEARCH on fund_pools, no SCAN",
            "pk search" if single_verdicts["pk_search"] else "no pk search",
            verdict(single_verdicts["pk_search"]),
        ),
        (
            f"fund_balances <= {READ_TARGET:.0f}x raw GROUP BY over fund_pools (at {label} gifts)",
            times(read_verdicts[largest]["fund_balances"]),
            verdict(read_verdicts[largest]["fund_balances"] <= READ_TARGET),
        ),
    ]
    return [gifts, single, reads], rows
