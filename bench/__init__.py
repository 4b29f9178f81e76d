"""Benchmarks of the ledger, printed as ratios against raw baselines run in the same process.

``python -m bench`` (or ``make bench``) grows one real SQLite ledger through
``ledger.log.append`` to the largest size asked for, and measures at each milestone:

* batch append rate against a raw baseline (``bench.append``);
* inclusion and consistency proof times (``bench.proofs``);
* the ``pymerkle`` package on the same leaves, as a peer (``bench.peer``);
* ``verify_export`` throughput against plain hashlib, and its peak memory
  (``bench.verify_export``).

``bench/README.md`` says exactly what each baseline does and how to read the tables.
"""
