"""Proof and root times at one tree size: our database log, our MemoryTree, and pymerkle.

Database figures are what a request pays: each proof opens a read session (as the
public API does per request), checks the size and reads the nodes. The same random
indices (and, for consistency, the same older sizes m in [1, n), proved against n)
are used for every implementation. A few of our proofs are verified against the
root, untimed, so that a fast wrong answer cannot pass.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from typing import Any

from bench import peer
from bench.append import Build
from bench.report import median, percentile
from ledger import log, merkle

ROOT_SAMPLES = 20
CHECKED = 5


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _each(call: Callable[[int], object], arguments: list[int]) -> dict[str, float]:
    """Median, p99 and max seconds of ``call(a)`` for each argument, one call each."""
    samples = []
    for argument in arguments:
        started = time.perf_counter()
        call(argument)
        samples.append(time.perf_counter() - started)
    return _summary(samples)


def _summary(samples: list[float]) -> dict[str, float]:
    return {"median": median(samples), "p99": percentile(samples, 0.99), "max": max(samples)}


def _database(build: Build, n: int, indices: list[int], firsts: list[int]) -> dict[str, Any]:
    database = build.ledger.database

    def inclusion(index: int) -> None:
        with database.session() as session:
            log.inclusion_proof(session, index, n)

    def consistency(first: int) -> None:
        with database.session() as session:
            log.consistency_proof(session, first, n)

    def root() -> None:
        with database.session() as session:
            log.root(session, n)

    started = time.perf_counter()
    with database.session() as session:
        tree_root = log.root(session, n)
    first_root = time.perf_counter() - started
    with database.session() as session:
        for index, first in zip(indices[:CHECKED], firsts[:CHECKED], strict=True):
            proof = log.inclusion_proof(session, index, n)
            merkle.verify_inclusion(build.leaf_hashes[index], index, n, proof, tree_root)
            proof = log.consistency_proof(session, first, n)
            merkle.verify_consistency(first, n, proof, log.root(session, first), tree_root)
    return {
        "root": tree_root,
        "root_first_seconds": first_root,
        "root_seconds": _summary([_timed(root) for _ in range(ROOT_SAMPLES)]),
        "inclusion": _each(inclusion, indices),
        "consistency": _each(consistency, firsts),
    }


def _memory(build: Build, n: int, indices: list[int], firsts: list[int]) -> dict[str, Any]:
    started = time.perf_counter()
    tree = merkle.MemoryTree(build.leaf_hashes[:n])
    built = time.perf_counter() - started
    result = {
        "append_rate": n / built,
        "root": tree.root(),
        "root_seconds": _summary([_timed(tree.root) for _ in range(ROOT_SAMPLES)]),
        "inclusion": _each(lambda i: merkle.inclusion_proof(i, n, tree), indices),
        "consistency": _each(lambda m: merkle.consistency_proof(m, n, tree), firsts),
    }
    return result


def _pymerkle(tree: Any, n: int, indices: list[int], firsts: list[int]) -> dict[str, Any]:
    first_root = _timed(lambda: peer.root(tree, n))
    return {
        "root": peer.root(tree, n),
        "root_first_seconds": first_root,
        "root_seconds": _summary([_timed(lambda: peer.root(tree, n)) for _ in range(ROOT_SAMPLES)]),
        "inclusion": _each(lambda i: tree.prove_inclusion(i + 1, n), indices),
        "consistency": _each(lambda m: tree.prove_consistency(m, n), firsts),
    }


def measure(build: Build, n: int, samples: int, rng: random.Random) -> dict[str, Any]:
    """Every proof and root figure at size ``n``, which must be the ledger's current size."""
    if build.size != n:
        raise ValueError(f"the ledger holds {build.size} entries, not {n}")
    indices = [rng.randrange(n) for _ in range(samples)]
    firsts = [rng.randrange(1, n) for _ in range(samples)]
    ours = _database(build, n, indices, firsts)
    memory = _memory(build, n, indices, firsts)
    gc.collect()
    sqlite_peer = _pymerkle(build.peer.tree, n, indices, firsts)
    leaves = build.raw.leaves(n)
    tree, seconds = peer.inmemory_tree(leaves)
    del leaves
    inmemory_peer = _pymerkle(tree, n, indices, firsts)
    inmemory_peer["append_rate"] = n / seconds
    del tree
    gc.collect()
    roots = {ours["root"], memory["root"], sqlite_peer["root"], inmemory_peer["root"]}
    return {
        "n": n,
        "samples": samples,
        "roots_equal": len(roots) == 1,
        "root_hex": ours["root"].hex(),
        "database": _strip(ours),
        "memory_tree": _strip(memory),
        "pymerkle_sqlite": _strip(sqlite_peer),
        "pymerkle_inmemory": _strip(inmemory_peer),
    }


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key != "root"}
