"""``python -m bench [--sizes 10000,100000,1000000 | --quick] [--funds-only]``: run the benchmarks.

One ledger grows batch by batch to the largest size; at each size the proofs are
timed and an export is written. verify-export runs once nothing else holds memory.
The fund operations benchmark (``bench/funds.py``) runs last, on ledgers of its own;
``--funds-only`` runs just that one. The tables go to standard output, progress to
standard error, and every figure to ``bench/results/latest.json`` (``funds.json``
with ``--funds-only``).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import append, funds, funds_report, peer, proofs, verify_export, workload
from bench.report import (
    INFO,
    NOT_RUN,
    Table,
    mb_per_s,
    mib,
    ms,
    rate,
    ratio,
    secs,
    size_label,
    times,
    verdict,
)

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
FUNDS_SIZES = (10_000, 30_000)
FUNDS_QUICK_SIZES = (5_000, 15_000)
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
FUNDS_RESULTS = RESULTS.with_name("funds.json")

APPEND_TARGET = 0.5
FLAT_TARGET = 0.8
PROOF_TARGET = 0.005
PROOF_TARGET_SIZE = 1_000_000
VERIFY_TARGET = 0.5
MEMORY_TARGET = 200 * (1 << 20)
MEMORY_TARGET_SIZE = 1_000_000


def _sizes(text: str, minimum: int = 2) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"sizes must be integers: {text!r}") from err
    if not sizes or sizes[0] < minimum:
        if minimum == 2:
            raise argparse.ArgumentTypeError("sizes must be at least 2 (the genesis entry is one)")
        raise argparse.ArgumentTypeError(f"sizes must be at least {minimum}")
    return sizes


def _gift_sizes(text: str) -> list[int]:
    return _sizes(text, minimum=1)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--sizes", type=_sizes, help="tree sizes to measure at (default 10^4..10^6)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="sizes 10^4 and 10^5 only (fund gifts 5000, 15000)"
    )
    parser.add_argument(
        "--funds-only", action="store_true", help="only the fund operations benchmark"
    )
    parser.add_argument(
        "--funds-sizes",
        type=_gift_sizes,
        help="gifts to measure the fund operations at (default 10000,30000; --quick 5000,15000)",
    )
    parser.add_argument(
        "--batch", type=int, default=1000, help="entries per append, gifts per fund batch (1000)"
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=200,
        help="proofs per kind and size, single fund allocations per size (200)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="verify-export rounds (3)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--workdir", type=Path, help="keep the databases and exports here")
    parser.add_argument("--output", type=Path, help="JSON results file")
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.funds_sizes is None:
        args.funds_sizes = list(FUNDS_QUICK_SIZES if args.quick else FUNDS_SIZES)
    if args.output is None:
        args.output = FUNDS_RESULTS if args.funds_only else RESULTS
    if args.batch < 1 or args.samples < 1 or args.rounds < 1:
        parser.error("--batch, --samples and --rounds must be positive")
    return args


class Progress:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f} s] {message}", file=sys.stderr)


def run(args: argparse.Namespace, folder: Path, say: Progress) -> dict[str, Any]:
    rng = random.Random(args.seed)
    ledger = workload.make_ledger(folder / "ledger")
    raw = append.RawBaseline(folder / "raw.sqlite3")
    raw_encode = append.RawBaseline(folder / "raw-encode.sqlite3")
    store = peer.PeerStore(folder / "pymerkle.sqlite3")
    build = append.Build(ledger, raw, raw_encode, store, args.batch, rng)
    proof_results: dict[int, Any] = {}
    exports: dict[int, Any] = {}
    for n in args.sizes:
        say(f"appending up to {n:,} entries")
        build.grow(n, lambda size: say(f"  {size:,} entries") if size % 100_000 == 0 else None)
        say(f"timing proofs at {n:,}")
        proof_results[n] = proofs.measure(build, n, args.samples, random.Random(args.seed + n))
        say(f"writing the export of {n:,} entries")
        path = folder / f"export-{n}.jsonl"
        exports[n] = {"path": path, **verify_export.export(ledger, path)}
    key = ledger.signer.verifier
    appends = {
        "batch_size": args.batch,
        "totals": build.totals(),
        "all": build.rates(),
        "windows": {},
    }
    low = 0
    for n in args.sizes:
        appends["windows"][n] = build.rates(low, n)
        low = n
    appends["batches"] = [vars(b) for b in build.batches]
    store.close()
    raw.close()
    raw_encode.close()
    ledger.close()
    del build, store, raw, raw_encode
    gc.collect()
    verify_results: dict[int, Any] = {}
    for n in args.sizes:
        path = exports[n]["path"]
        say(f"verify-export of {n:,} entries: {args.rounds} interleaved rounds")
        result = verify_export.throughput(path, key, n, args.rounds)
        say(f"verify-export of {n:,} entries: peak memory in child processes")
        result["child"], result["traced_child"] = verify_export.children(path, key)
        result["export"] = {k: v for k, v in exports[n].items() if k != "path"}
        verify_results[n] = result
    return {"append": appends, "proofs": proof_results, "verify_export": verify_results}


def run_funds(args: argparse.Namespace, folder: Path, say: Progress) -> dict[str, Any]:
    gc.collect()
    return funds.run(folder, args.funds_sizes, args.batch, args.samples, args.seed, say)


def _append_table(results: dict[str, Any], sizes: list[int]) -> tuple[Table, dict[str, Any]]:
    data = results["append"]
    batch = data["batch_size"]
    table = Table(
        f"Batch append, {batch} entries per batch: median entries/s over batches",
        ("measure", "ours", "raw baseline", "ratio", "target", "status"),
    )
    overall = data["all"]
    append_ratio = ratio(overall["ours"], overall["raw"])
    table.add(
        f"log.append, all {overall['batches']} batches",
        rate(overall["ours"]),
        rate(overall["raw"]),
        times(append_ratio),
        f">= {APPEND_TARGET:.2f}x",
        verdict(append_ratio >= APPEND_TARGET),
    )
    low = 0
    for n in sizes:
        window = data["windows"][n]
        table.add(
            f"  batches ending in ({size_label(low) if low else 0}, {size_label(n)}]",
            rate(window["ours"]),
            rate(window["raw"]),
            times(ratio(window["ours"], window["raw"])),
            "",
            INFO,
        )
        low = n
    table.add(
        "log.append vs raw baseline + JSON encoding",
        rate(overall["ours"]),
        rate(overall["raw_encode"]),
        times(ratio(overall["ours"], overall["raw_encode"])),
        "(context)",
        INFO,
    )
    table.add(
        f"pymerkle {peer.VERSION} SqliteTree.append_entries",
        rate(overall["peer"]),
        rate(overall["raw"]),
        times(ratio(overall["peer"], overall["raw"])),
        "(peer)",
        INFO,
    )
    first, last = data["windows"][sizes[0]], data["windows"][sizes[-1]]
    flat = ratio(last["ours"], first["ours"])
    if len(sizes) > 1:
        table.add(
            f"log.append at {size_label(sizes[-1])} vs at {size_label(sizes[0])}",
            rate(last["ours"]),
            rate(first["ours"]),
            times(flat),
            f">= {FLAT_TARGET:.2f}x",
            verdict(flat >= FLAT_TARGET),
        )
    totals = data["totals"]
    table.notes += [
        f"Building {totals['entries']:,} entries took {secs(totals['wall_seconds'])} wall: "
        f"{secs(totals['ours_seconds'])} in log.append "
        f"({rate(totals['ours_rate_overall'])} overall), "
        f"{secs(totals['raw_seconds'])} raw baseline, "
        f"{secs(totals['raw_encode_seconds'])} raw + encoding, "
        f"{secs(totals['peer_seconds'])} pymerkle.",
        "Raw baseline: the same leaf bytes, sqlite3 executemany (WAL, synchronous=NORMAL),",
        "hashlib SHA-256 of each and one Ed25519 signature per batch, in one transaction.",
        "Raw + encoding: the same, after encoding each entry object to its leaf bytes with",
        "the C JSON encoder (sorted keys); the bytes are checked equal to ours.",
        "The ratio is ours / baseline; each batch runs through the ledger, then the baselines",
        "and pymerkle, so machine noise hits all alike.",
    ]
    return table, {"append_ratio": append_ratio, "flat_ratio": flat}


def _proof_table(results: dict[str, Any], sizes: list[int]) -> tuple[Table, dict[int, Any]]:
    samples = results["proofs"][sizes[0]]["samples"]
    table = Table(
        f"Proofs from the database (one read session each), {samples} random samples per row",
        ("n", "proof", "median", "p99", "max", "MemoryTree", "target", "status"),
    )
    verdicts: dict[int, Any] = {}
    for n in sizes:
        data = results["proofs"][n]
        ours, memory = data["database"], data["memory_tree"]
        verdicts[n] = {}
        for kind in ("inclusion", "consistency"):
            ok = ours[kind]["median"] < PROOF_TARGET
            verdicts[n][kind] = ok
            table.add(
                size_label(n),
                kind,
                ms(ours[kind]["median"]),
                ms(ours[kind]["p99"]),
                ms(ours[kind]["max"]),
                ms(memory[kind]["median"]),
                f"< {PROOF_TARGET * 1000:.0f} ms",
                verdict(ok),
            )
        table.add(
            size_label(n),
            "root",
            ms(ours["root_seconds"]["median"]),
            ms(ours["root_seconds"]["p99"]),
            ms(ours["root_seconds"]["max"]),
            ms(memory["root_seconds"]["median"]),
            "",
            INFO,
        )
    table.notes += [
        f"The target is the median at {size_label(PROOF_TARGET_SIZE)} entries; "
        "smaller sizes show the trend.",
        "Consistency proofs are from a random older size m in [1, n) to n. MemoryTree is the",
        "median of the same proofs from ledger.merkle.MemoryTree (no database), for reference.",
    ]
    return table, verdicts


def _peer_table(results: dict[str, Any], sizes: list[int]) -> Table:
    equal = all(results["proofs"][n]["roots_equal"] for n in sizes)
    table = Table(
        f"pymerkle {peer.VERSION} on the same leaves (roots equal to ours at every size: "
        f"{'yes' if equal else 'NO'})",
        ("n", "measure", "ours", "pymerkle", "ours faster by"),
    )
    low = 0
    for n in sizes:
        data = results["proofs"][n]
        window = results["append"]["windows"][n]
        db, mem = data["database"], data["memory_tree"]
        sql, inmem = data["pymerkle_sqlite"], data["pymerkle_inmemory"]
        label = size_label(n)
        table.add(
            label,
            f"append, database (batches in ({size_label(low) if low else 0}, {label}])",
            rate(window["ours"]),
            rate(window["peer"]),
            times(ratio(window["ours"], window["peer"])),
        )
        low = n
        table.add(
            label,
            "append, in memory (MemoryTree | InmemoryTree)",
            rate(mem["append_rate"]),
            rate(inmem["append_rate"]),
            times(ratio(mem["append_rate"], inmem["append_rate"])),
        )
        rows = (
            ("root, database (median)", db["root_seconds"]["median"],
             sql["root_seconds"]["median"]),
            ("root, database (first call at n)", db["root_first_seconds"],
             sql["root_first_seconds"]),
            ("inclusion, database (median)", db["inclusion"]["median"], sql["inclusion"]["median"]),
            ("inclusion, database (p99)", db["inclusion"]["p99"], sql["inclusion"]["p99"]),
            ("consistency, database (median)", db["consistency"]["median"],
             sql["consistency"]["median"]),
            ("consistency, database (p99)", db["consistency"]["p99"], sql["consistency"]["p99"]),
            ("inclusion, in memory (median)", mem["inclusion"]["median"],
             inmem["inclusion"]["median"]),
            ("consistency, in memory (median)", mem["consistency"]["median"],
             inmem["consistency"]["median"]),
        )  # fmt: skip
        for name, ours, theirs in rows:
            table.add(label, name, ms(ours), ms(theirs), times(ratio(theirs, ours)))
    table.notes += [
        "Database: our SQLite log vs pymerkle SqliteTree (switched to WAL, synchronous=NORMAL",
        "like ours); in memory: ledger.merkle.MemoryTree vs pymerkle InmemoryTree. pymerkle",
        "hashes RFC 6962-style by default (0x00 leaf, 0x01 node prefixes); its proofs have",
        "their own format. 'ours faster by' is pymerkle's time / ours (below 1x: pymerkle",
        "is faster). pymerkle caches subtree roots, so its first root call at n is shown too.",
    ]
    return table


def _verify_table(results: dict[str, Any], sizes: list[int]) -> tuple[Table, dict[int, Any]]:
    rounds = results["verify_export"][sizes[0]]["rounds"]
    table = Table(
        f"verify-export vs plain hashlib over the same file, median of {rounds} interleaved rounds",
        ("n", "measure", "ours", "baseline", "ratio", "target", "status"),
    )
    verdicts: dict[int, Any] = {}
    for n in sizes:
        data = results["verify_export"][n]
        ours, per_line, whole = data["ours"], data["raw_per_line"], data["hashlib_file"]
        label = size_label(n)
        speed = ratio(ours["entries_per_s"], per_line["entries_per_s"])
        peak = data["child"]["vm_hwm_bytes"]
        verdicts[n] = {"ratio": speed, "peak": peak}
        table.add(
            label,
            "entries/s vs raw per line",
            rate(ours["entries_per_s"]),
            rate(per_line["entries_per_s"]),
            times(speed),
            f">= {VERIFY_TARGET:.2f}x",
            verdict(speed >= VERIFY_TARGET),
        )
        table.add(
            label,
            "MB/s vs hashlib over the whole file",
            mb_per_s(ours["mb_per_s"]),
            mb_per_s(whole["mb_per_s"]),
            times(ratio(ours["mb_per_s"], whole["mb_per_s"])),
            "(context)",
            INFO,
        )
        table.add(
            label,
            "peak RSS of a child (VmHWM)",
            mib(peak),
            "",
            "",
            f"< {MEMORY_TARGET >> 20} MB",
            verdict(peak < MEMORY_TARGET),
        )
        table.add(
            label,
            "tracemalloc peak in a child",
            mib(data["traced_child"]["tracemalloc_peak_bytes"]),
            "",
            "",
            "",
            INFO,
        )
        export = data["export"]
        table.add(
            label,
            f"write_export ({mib(export['bytes'])} file)",
            rate(export["entries"] / export["seconds"]),
            "",
            "",
            "",
            INFO,
        )
    table.notes += [
        "Raw per line: read the file line by line, json.loads, base64-decode each leaf and",
        "SHA-256 it with hashlib: no ledger code, no chain, canonical-form, tree or signature",
        "checks. Hashlib over the whole file: SHA-256 of its bytes in 1 MiB reads.",
        "Peak RSS is the whole child interpreter (imports included), nothing subtracted;",
        f"the memory target is at {size_label(MEMORY_TARGET_SIZE)} entries, smaller sizes "
        "show that it stays flat.",
    ]
    return table, verdicts


def _targets(
    sizes: list[int],
    append_verdict: dict[str, Any],
    proof_verdicts: dict[int, Any],
    verify_verdicts: dict[int, Any],
    results: dict[str, Any],
    table: Table,
    rows: list[dict[str, Any]],
) -> None:
    def add(name: str, measured: str, status: str) -> None:
        table.add(name, measured, status)
        rows.append({"target": name, "measured": measured, "status": status})

    append_ratio = append_verdict["append_ratio"]
    add(
        f"batch append >= {APPEND_TARGET}x raw baseline",
        times(append_ratio),
        verdict(append_ratio >= APPEND_TARGET),
    )
    big = PROOF_TARGET_SIZE
    for kind in ("inclusion", "consistency"):
        name = f"{kind} proof < 5 ms at {size_label(big)}"
        if big in proof_verdicts:
            value = results["proofs"][big]["database"][kind]["median"]
            add(name, f"median {ms(value)}", verdict(proof_verdicts[big][kind]))
        else:
            add(name, f"not measured (add {big} to --sizes)", NOT_RUN)
    largest = sizes[-1]
    verify_ratio = verify_verdicts[largest]["ratio"]
    add(
        f"verify-export >= {VERIFY_TARGET}x raw hashing (at {size_label(largest)})",
        times(verify_ratio),
        verdict(verify_ratio >= VERIFY_TARGET),
    )
    name = f"verify-export peak memory < 200 MB at {size_label(MEMORY_TARGET_SIZE)}"
    if MEMORY_TARGET_SIZE in verify_verdicts:
        peak = verify_verdicts[MEMORY_TARGET_SIZE]["peak"]
        add(name, mib(peak), verdict(peak < MEMORY_TARGET))
    else:
        add(name, f"not measured (add {MEMORY_TARGET_SIZE} to --sizes)", NOT_RUN)


def _revision() -> str:
    """The checked-out commit, marked ``+changes`` if ledger code differs from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "ledger", "public_api"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def _fingerprint() -> str:
    """SHA-256 over the ledger's source, to notice code that changes during a run."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1] / "ledger"
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _environment(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "revision": _revision(),
        "ledger_source": _fingerprint(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench", *sys.argv[1:]]),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "pymerkle": peer.VERSION,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sizes": [] if args.funds_only else args.sizes,
        "funds_sizes": args.funds_sizes,
        "batch": args.batch,
        "samples": args.samples,
        "rounds": args.rounds,
        "seed": args.seed,
    }


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and value != value:
        return None
    return value


def _stop(signum: int, _frame: object) -> None:
    """Turn SIGTERM (as ``timeout`` sends) into an exit that still removes the work folder."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    signal.signal(signal.SIGTERM, _stop)
    say = Progress()
    environment = _environment(args)
    gifts = ", ".join(size_label(n) for n in args.funds_sizes)
    if args.funds_only:
        say(f"fund operations only: gifts {gifts}; batch {args.batch}")
    else:
        say(f"sizes {', '.join(size_label(n) for n in args.sizes)}; batch {args.batch}")

    def run_all(folder: Path) -> dict[str, Any]:
        results = {} if args.funds_only else run(args, folder, say)
        results["funds"] = run_funds(args, folder / "funds", say)
        return results

    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        results = run_all(args.workdir)
    else:
        folder = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
        try:
            results = run_all(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    environment["seconds"] = time.perf_counter() - say.started
    environment["ledger_source_changed"] = _fingerprint() != environment["ledger_source"]
    sizes = args.sizes
    targets = Table("Targets", ("target", "measured", "status"))
    target_rows: list[dict[str, Any]] = []
    tables: list[Table] = []
    measured = f"fund gifts {gifts}"
    if not args.funds_only:
        append_table, append_verdict = _append_table(results, sizes)
        proof_table, proof_verdicts = _proof_table(results, sizes)
        verify_table, verify_verdicts = _verify_table(results, sizes)
        _targets(
            sizes, append_verdict, proof_verdicts, verify_verdicts, results, targets, target_rows
        )
        tables += [append_table, proof_table, _peer_table(results, sizes), verify_table]
        measured = f"sizes {', '.join(size_label(n) for n in sizes)}, {measured}"
    fund_tables, fund_targets = funds_report.tables(results["funds"])
    tables += fund_tables
    for name, value, status in fund_targets:
        targets.add(name, value, status)
        target_rows.append({"target": name, "measured": value, "status": status})
    tables.append(targets)
    header = (
        f"Ledger benchmarks: Python {environment['python']}, SQLite {environment['sqlite']}, "
        f"{environment['cpus']} CPUs, {environment['platform']}, "
        f"revision {environment['revision']}\n"
        f"{environment['command']}: {measured}, finished in {secs(environment['seconds'])}"
    )
    if environment["ledger_source_changed"]:
        header += "\nWARNING: ledger/ changed during the run; the figures may mix versions."
    print("\n\n".join([header, *(table.render() for table in tables)]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {"environment": environment, "targets": target_rows, **results}
    args.output.write_text(json.dumps(_json_ready(document), indent=1) + "\n", encoding="utf-8")
    print(f"\nAll figures: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
