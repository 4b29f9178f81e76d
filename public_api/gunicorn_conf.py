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

import multiprocessing
import os

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
# gunicorn's control socket lives in the user's home and is shared by every server
# of that user; the ledger needs none.
control_socket_disable = True
