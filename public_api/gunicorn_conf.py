"""gunicorn settings for ``ledger serve``; every value can be overridden on its command line.

Workers: the app is stateless and each sync worker holds one request, so two per core
plus one keeps the CPU busy while others wait on the database (at most 9: beyond that
the PostgreSQL connections cost more than they give). A worker silent for ``timeout``
seconds is killed and replaced; on SIGTERM each worker finishes the request it holds,
within ``graceful_timeout``, so a deploy never cuts a write off after its commit.
Logs are JSON lines (``public_api.structured_logs``): access records on stdout,
everything else on stderr.
"""

from __future__ import annotations

import multiprocessing
import os

workers = int(os.environ.get("LEDGER_WORKERS", min(multiprocessing.cpu_count() * 2 + 1, 9)))
worker_class = "sync"
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
