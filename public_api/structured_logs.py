"""Log lines as JSON objects, one per line, for gunicorn's access log and the app's logs.

Operators feed these to a log store and query fields, not regular expressions. What
is left out matters as much: an access record holds the path without its query
string (searches carry donors' names and bank references), and never a header, so
no token, cookie or address book ever reaches a log. An exception is logged by its
type and stack frames only: its message may quote a row, and rows hold private data.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from gunicorn import glogging

APP_LOGGERS = ("ledger", "public_api", "audit")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"[, "exception", "frames"]}`` per record."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _now(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            kind, _value, frames = record.exc_info
            document["exception"] = kind.__name__
            document["frames"] = traceback.format_tb(frames)
        return json.dumps(document, ensure_ascii=False)


def access_record(
    *, method: str, path: str, status: str, size: int | None, seconds: float, remote: str | None
) -> dict[str, Any]:
    return {
        "time": _now(),
        "type": "access",
        "method": method,
        "path": path,
        "status": int(status.split()[0]) if status else None,
        "bytes": size,
        "duration_ms": round(seconds * 1000, 2),
        "remote": remote,
    }


class JsonLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger, writing access records and error lines as JSON."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())
        for handler in self.access_log.handlers:
            handler.setFormatter(logging.Formatter("%(message)s"))
        app_handler = logging.StreamHandler(sys.stderr)
        app_handler.setFormatter(JsonFormatter())
        for name in APP_LOGGERS:
            logger = logging.getLogger(name)
            logger.handlers = [app_handler]
            logger.setLevel(self.loglevel)
            logger.propagate = False

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        record = access_record(
            method=environ.get("REQUEST_METHOD", "-"),
            path=environ.get("PATH_INFO", "-"),
            status=str(resp.status),
            size=getattr(resp, "sent", None),
            seconds=request_time.total_seconds(),
            remote=environ.get("REMOTE_ADDR"),
        )
        self.access_log.info(json.dumps(record, ensure_ascii=False))
