"""gunicorn settings for ``ledger serve``; every value can be overridden on its command line."""

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
loglevel = os.environ.get("LEDGER_LOG_LEVEL", "info")
# gunicorn's control socket lives in the user's home and is shared by every server
# of that user; the ledger needs none.
control_socket_disable = True
