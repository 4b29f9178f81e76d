"""verify-export: throughput against plain hashlib over the same file, and peak memory.

Baselines, read from the same export file (already in the page cache for all):

* ``raw per line``: read the file line by line, ``json.loads`` each line, and for
  each entry line base64-decode the leaf and SHA-256 it (0x00 prefix) with hashlib.
  That is the irreducible work of checking an export without any ledger code: no
  chain links, no canonical-form check, no Merkle tree, no signatures. The target is
  measured against this baseline.
* ``hashlib file``: SHA-256 over the whole file's bytes in 1 MiB reads, for context
  (what the disk cache and the hash alone allow, in MB/s).

The three run interleaved in ``rounds`` rounds in this process; medians are reported.
Peak memory comes from a fresh child interpreter that only imports the ledger and
runs ``verify_export``: its peak RSS (VmHWM, read by the child at the end), with
nothing subtracted. A second child runs it under ``tracemalloc`` for the peak of
Python allocations (slower, so its time is not a throughput figure).

Run as ``python -m bench.verify_export FILE KEY [--tracemalloc]`` it is that child.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import median
from bench.workload import BenchLedger
from ledger.export import verify_export, write_export
from ledger.keys import VerifierKey

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 1 << 20


def export(ledger: BenchLedger, path: Path) -> dict[str, float]:
    started = time.perf_counter()
    with ledger.database.session() as session, path.open("w", encoding="utf-8") as out:
        entries = write_export(session, out)
    seconds = time.perf_counter() - started
    return {"entries": entries, "seconds": seconds, "bytes": path.stat().st_size}


def raw_per_line(path: Path) -> int:
    """json.loads every line, base64-decode and SHA-256 every leaf; returns the entry count."""
    sha256, b64decode, loads = hashlib.sha256, base64.b64decode, json.loads
    count = 0
    with path.open("rb") as handle:
        next(handle)
        for line in handle:
            obj = loads(line)
            if obj["type"] == "entry":
                sha256(b"\x00" + b64decode(obj["leaf"])).digest()
                count += 1
    return count


def raw_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def ours(path: Path, key: VerifierKey) -> int:
    return verify_export(path, key).size


def throughput(path: Path, key: VerifierKey, entries: int, rounds: int) -> dict[str, Any]:
    """Median seconds of each of the three, interleaved (order rotated every round)."""
    runs: dict[str, list[float]] = {"ours": [], "raw_per_line": [], "hashlib_file": []}
    calls: dict[str, Callable[[], object]] = {
        "ours": lambda: ours(path, key),
        "raw_per_line": lambda: raw_per_line(path),
        "hashlib_file": lambda: raw_file(path),
    }
    names = list(calls)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            result = calls[name]()
            runs[name].append(time.perf_counter() - started)
            if name != "hashlib_file" and result != entries:
                raise RuntimeError(f"{name} saw {result} entries, want {entries}")
    size = path.stat().st_size
    out: dict[str, Any] = {"rounds": rounds, "bytes": size, "entries": entries}
    for name, seconds in runs.items():
        best = median(seconds)
        out[name] = {
            "seconds": best,
            "all_seconds": seconds,
            "entries_per_s": entries / best,
            "mb_per_s": size / best / 1e6,
        }
    return out


def _spawn(path: Path, key: VerifierKey, traced: bool) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bench.verify_export", str(path), str(key)]
    if traced:
        command.append("--tracemalloc")
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)


def _collect(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The child's own report: it reads its peak RSS itself.

    ``ru_maxrss`` (from ``wait4`` or ``RUSAGE_CHILDREN``) would not do: Linux carries
    the parent's peak into a forked child across ``exec``, so a child of this
    benchmark, started after the 10^6 build, would report the parent's gigabyte.
    VmHWM is read after ``exec``, of the new process image alone.
    """
    output, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"verify-export child failed with status {process.returncode}")
    report: dict[str, Any] = json.loads(output)
    return report


def children(path: Path, key: VerifierKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run verify_export in two fresh interpreters at once: plain, and under tracemalloc.

    They run side by side (one per core) because only their memory is read here; the
    throughput figures come from ``throughput``.
    """
    plain, traced = _spawn(path, key, False), _spawn(path, key, True)
    return _collect(plain), _collect(traced)


def _vm_hwm() -> int:
    """Peak resident set size of this process, in bytes (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return -1


def main() -> None:
    parser = argparse.ArgumentParser(description="verify_export in a child, for its peak memory")
    parser.add_argument("file", type=Path)
    parser.add_argument("key")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    key = VerifierKey.parse(args.key)
    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    summary = verify_export(args.file, key)
    seconds = time.perf_counter() - started
    report: dict[str, Any] = {
        "entries": summary.size,
        "seconds": seconds,
        "vm_hwm_bytes": _vm_hwm(),
    }
    if args.tracemalloc:
        report["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
