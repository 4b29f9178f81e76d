"""``python -m bench.load``: the running service under wrk, beside a minimal Flask baseline.

For each database (SQLite, PostgreSQL) a fresh ledger is filled by ``ledger demo`` and
served by ``ledger serve`` (gunicorn with ``public_api/gunicorn_conf.py``). Beside it,
``bench.baseline_app`` (one ``/ping`` route) runs under the same gunicorn settings.
Each public read is first driven for ``--warmup`` seconds unmeasured (each worker
fills its connection pool and its kept answers, as a server in service has), then for
``--seconds`` right after a baseline run of the same length, and reported as requests
per second and latency percentiles, with the ratio to that baseline. Then wrk posts
contributions from ``--connections`` connections, for ``--warmup`` seconds unmeasured
(each worker's connections and prepared statements) and then for ``--seconds``; every
write acknowledged with 201, in either run, must be in the log afterwards, and
``ledger verify`` must pass.

Rate limits are switched off for the run (``LEDGER_RATELIMIT_ENABLED=false``): wrk
comes from one address and would otherwise measure the limiter. Results go to
standard output and ``bench/results/load.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "load.json"
BIN = Path(sys.executable).parent
READ_RATIO_TARGET = 0.5
P99_TARGET_MS = 50.0
WRITES_TARGET = 300.0


@dataclass
class Run:
    name: str
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        body: bytes = response.read()
        return body


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server for {url} exited with {process.returncode}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within a minute")


@contextmanager
def _serving(argv: list[str], env: dict[str, str], probe: str) -> Iterator[None]:
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(probe, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _wrk(name: str, url: str, script: Path, args: argparse.Namespace, env: dict[str, str]) -> Run:
    argv = [
        args.wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    percent = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if "99" not in percent:
        raise SystemExit(f"wrk printed no latency distribution for {name}:\n{out}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: (.*)$", out, re.MULTILINE)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Run(
        name,
        float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        _milliseconds(percent["50"]),
        _milliseconds(percent["90"]),
        _milliseconds(percent["99"]),
        errors,
    )


def _ledger(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run([str(BIN / "ledger"), *argv], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"ledger {' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


@contextmanager
def _database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'ledger.sqlite3'}"
        return
    name = f"ledger_load_{os.getpid()}"
    admin = ["psql", "-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"]
    subprocess.run([*admin, f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        subprocess.run([*admin, drop], check=False)


def _read_paths(base: str, size: int) -> dict[str, list[str]]:
    rng = random.Random(1)
    gifts = json.loads(_get(f"{base}/api/v1/contributions?limit=200"))["contributions"]
    receipts = [gift["receipt_id"] for gift in gifts]
    indices = [rng.randrange(size) for _ in range(500)]
    return {
        "checkpoint": ["/api/v1/log/checkpoint"],
        "entry": [f"/api/v1/log/entries/{i}" for i in indices],
        "inclusion proof": [
            f"/api/v1/log/proofs/inclusion?index={i}&tree_size={size}" for i in indices
        ],
        "receipt": [f"/api/v1/receipts/{r}" for r in receipts],
        "fund list": ["/api/v1/funds"],
    }


def _one_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"ledger-load-{kind}-"))
    try:
        with _database(kind, workdir) as url:
            port, baseline_port = _free_port(), _free_port()
            env = {
                **os.environ,
                "LEDGER_INSTANCE_DIR": str(workdir),
                "LEDGER_DATABASE_URL": url,
                "LEDGER_BASE_URL": f"http://127.0.0.1:{port}",
                "LEDGER_RATELIMIT_ENABLED": "false",
                "LEDGER_LOG_LEVEL": "warning",
            }
            if args.workers:
                env["LEDGER_WORKERS"] = str(args.workers)
            print(f"[{kind}] filling the ledger with ledger demo", file=sys.stderr)
            _ledger(env, "init")
            _ledger(env, "demo", "--seed", "1")
            token = _ledger(env, "token", "create", "--role", "admin").strip().splitlines()[-1]
            gunicorn = [
                str(BIN / "python"),
                "-m",
                "gunicorn",
                "--config",
                "python:public_api.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{baseline_port}",
                "bench.baseline_app:app",
            ]
            serve = [str(BIN / "ledger"), "serve", "--port", str(port)]
            base = f"http://127.0.0.1:{port}"
            baseline = f"http://127.0.0.1:{baseline_port}"
            with (
                _serving(gunicorn, {**env, "PYTHONPATH": str(HERE.parent)}, f"{baseline}/ping"),
                _serving(serve, env, f"{base}/healthz"),
            ):
                size = int(_get(f"{base}/api/v1/log/checkpoint").decode().split("\n")[1])
                runs: dict[str, Any] = {"reads": []}
                if args.part in ("all", "reads"):
                    runs = _reads(kind, base, baseline, size, args, env, workdir)
                writes = None
                if args.part in ("all", "writes"):
                    writes = _writes(kind, base, args, env, workdir, token)
        return {"database": kind, "tree_size": size, **runs, "writes": writes}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _reads(
    kind: str,
    base: str,
    baseline: str,
    size: int,
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
) -> dict[str, Any]:
    script = HERE / "wrk" / "paths.lua"
    ping = workdir / "ping.txt"
    ping.write_text("/ping\n")
    results = []
    for name, paths in _read_paths(base, size).items():
        listing = workdir / f"{name.replace(' ', '-')}.txt"
        listing.write_text("\n".join(paths) + "\n")
        print(f"[{kind}] wrk: baseline, then {name}", file=sys.stderr)
        if args.warmup:  # each worker's pools, statement and answer caches, as in service
            warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
            _wrk("warm-up", base, script, warm, {**env, "PATHS_FILE": str(listing)})
        ours_base = _wrk("baseline", baseline, script, args, {**env, "PATHS_FILE": str(ping)})
        ours = _wrk(name, base, script, args, {**env, "PATHS_FILE": str(listing)})
        results.append({"baseline": asdict(ours_base), "ours": asdict(ours)})
    return {"reads": results}


def _writes(
    kind: str,
    base: str,
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
    token: str,
) -> dict[str, Any]:
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 3600))
    campaign = next(
        c
        for c in json.loads(_get(f"{base}/api/v1/campaigns"))["campaigns"]
        if c["opens"] <= today <= c["closes"]
    )
    size_before = int(_get(f"{base}/api/v1/log/checkpoint").decode().split("\n")[1])
    wrk_env = {
        **env,
        "LEDGER_TOKEN": token,
        "FUND": campaign["fund"],
        "CAMPAIGN": campaign["code"],
    }
    script = HERE / "wrk" / "contributions.lua"
    acked: dict[str, list[int]] = {}
    runs = [("warm-up", args.warmup)] if args.warmup else []
    for name, seconds in [*runs, ("contributions", args.seconds)]:
        folder = workdir / f"acked-{name}"
        folder.mkdir()
        print(f"[{kind}] wrk: {name} (writes)", file=sys.stderr)
        timed = argparse.Namespace(**{**vars(args), "seconds": seconds})
        run = _wrk(name, base, script, timed, {**wrk_env, "ACKED_DIR": str(folder)})
        acked[name] = [
            int(line) for path in folder.iterdir() for line in path.read_text().split() if line
        ]
    checked = sorted(index for indices in acked.values() for index in indices)
    missing = _missing(base, checked)
    verify = subprocess.run(
        [str(BIN / "ledger"), "verify"], env=env, capture_output=True, text=True
    )
    return {
        **asdict(run),
        "acknowledged": len(acked["contributions"]),
        "acknowledged_per_second": len(acked["contributions"]) / args.seconds,
        "entries_before": size_before,
        "acknowledged_checked": len(checked),  # the warm-up's writes are checked too
        "acknowledged_missing": missing,
        "verify_exit": verify.returncode,
        "verify_output": (verify.stdout + verify.stderr).strip().splitlines()[-1:],
    }


def _missing(base: str, acked: list[int]) -> int:
    """Acknowledged indices that are not contributions in the log (each fetched)."""
    missing = 0
    for index in acked:
        try:
            entry = json.loads(_get(f"{base}/api/v1/log/entries/{index}"))
        except OSError:
            missing += 1
            continue
        missing += entry["entry"]["kind"] != "contribution"
    return missing


def _report(results: list[dict[str, Any]]) -> None:
    print()
    print("| database | read | ours req/s | baseline req/s | ratio | p50 ms | p99 ms | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for result in results:
        for read in result["reads"]:
            ours, base = read["ours"], read["baseline"]
            ratio = ours["requests_per_second"] / base["requests_per_second"]
            print(
                f"| {result['database']} | {ours['name']} | {ours['requests_per_second']:,.0f} "
                f"| {base['requests_per_second']:,.0f} | {ratio:.2f}x "
                f"| {ours['p50_ms']:.1f} | {ours['p99_ms']:.1f} | {ours['errors']} |"
            )
    print()
    print("| database | writes acknowledged/s | p50 ms | p99 ms | missing | ledger verify |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for result in results:
        w = result["writes"]
        if w is None:
            continue
        print(
            f"| {result['database']} | {w['acknowledged_per_second']:,.0f} | {w['p50_ms']:.1f} "
            f"| {w['p99_ms']:.1f} | {w['acknowledged_missing']} of {w['acknowledged_checked']} "
            f"| {'passes' if w['verify_exit'] == 0 else 'FAILS'} |"
        )
    print()
    print(
        f"targets: reads >= {READ_RATIO_TARGET}x baseline, p99 < {P99_TARGET_MS:.0f} ms; "
        f"writes >= {WRITES_TARGET:.0f}/s on PostgreSQL, none missing"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="seconds of each read, and of the writes, driven before they are measured",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: the config's)")
    parser.add_argument(
        "--part", choices=("all", "reads", "writes"), default="all", help="what to drive"
    )
    args = parser.parse_args(argv)
    args.wrk = shutil.which("wrk")
    if args.wrk is None:
        raise SystemExit("wrk is not installed: make load installs it (Debian package wrk)")
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    results = [_one_database(kind, args) for kind in kinds]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    _report(results)


if __name__ == "__main__":
    main()
