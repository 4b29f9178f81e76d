"""gunicorn settings for ``ledger serve``; every value can be overridden on its command line.

Workers: one process per core plus one (at most 9), each running ``threads`` request
threads (gthread). Threads keep a process busy while others wait on the database, and
they are what lets writes of one process share a transaction and a checkpoint
(``ledger.funds.group_commit``): with one request per process, every write would pay
the append lock, the head reads, a signature and a commit alone. Keep-alive
connections are held by the worker's event loop, not by a thread. A worker silent for ``timeout``
seconds is killed and replaced; on SIGTERM each worker finishes the request it holds,
within ``graceful_timeout``, so a deploy never cuts a write off after its commit.
Logs are JSON lines (``public_api.structured_logs``): access records on stdout,
everything else on stderr.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from typing import Any

workers = int(os.environ.get("LEDGER_WORKERS", min(multiprocessing.cpu_count() + 1, 9)))
worker_class = "gthread"
threads = int(os.environ.get("LEDGER_THREADS", 8))
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
logger_class = "public_api.structured_logs.JsonLogger"
loglevel = os.environ.get("LEDGER_LOG_LEVEL", "info")
# A request line or header over these is refused before the app sees it.
limit_request_line = 8190
limit_request_fields = 100
# Each worker listens on its own socket bound with SO_REUSEPORT, and the kernel spreads
# new connections across them. On one shared socket the worker that wakes first accepts
# a whole burst: the 16 keep-alive connections of a load balancer or a load test often
# all landed on one worker of three, which then served them on one core. The cost: a
# worker that dies drops the connections still waiting in its own queue, and a second
# server started by the same user on the same port shares it instead of failing.
# ``on_starting`` keeps one shared socket where per-worker sockets cannot work.
reuse_port = True
# gunicorn's control socket lives in the user's home and is shared by every server
# of that user; the ledger needs none.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """One shared socket for port 0, a Unix socket or systemd's sockets.

    Port 0 asks for any free port, which each worker's own socket would get differently
    (the tests serve so, and read the port from the master's log); a Unix socket path
    cannot be bound twice; systemd hands over sockets already bound.
    """
    per_worker = all(isinstance(a, tuple) and a[1] != 0 for a in server.cfg.address)
    if not per_worker or "LISTEN_FDS" in os.environ:
        server.cfg.set("reuse_port", False)


def post_worker_init(worker: Any) -> None:
    """Put what loading the app made (about 200,000 objects) out of the collector's sight.

    A full collection walks every tracked object with the worker's request threads
    stopped: about 100 ms on a 2-core machine, which was the slowest 1% of the reads.
    """
    gc.freeze()
