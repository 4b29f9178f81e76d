"""Finished answers of the hot public reads, kept in each process and never stale.

Building an answer costs several queries and a JSON document; sending one that was
already built costs no query while the log's head stands still. ``cached`` keeps a
view's 200 answers (body, status and headers, with the strong ETag
``caching.conditional`` would compute) in a per-process LRU bounded in bytes, keyed
by the path and the query string (parameters sorted by name, each name's values in
their order), and only for GET and HEAD requests without credentials. The
after-request hooks (ETag and 304, CORS, gzip, security headers) still run on every
answer, kept or not.

Why a kept answer is never stale:

- An answer its view marks ``caching.IMMUTABLE`` (an entry, a proof at an explicit
  size, a tile) can never change: it is kept as it is and sent without a query.
- Any other answer is kept with the log's *head* read just before its view ran, and
  sent only while the head is the same. The head is read by one query, and read
  again only once ``head_watch`` says that it may have changed (a commit to SQLite;
  a notification from PostgreSQL's triggers, or a commit of this process), or when
  the last read is ``TRUST_WATCH_SECONDS`` old. (On PostgreSQL a commit of another
  process counts once its notification has arrived: ``head_watch`` says why that is
  before anyone could ask for it.) The head is the latest checkpoint
  (size and root), the number of configured witnesses, the newest cosigned size and
  the cosignature lines of that size. Everything these views show follows from it:
  the log tables are append-only; the tables projected from entries (funds, pools,
  contributions, reversals) are written only in the transaction that appends the
  entries and their checkpoint; settings are fixed for the life of the app; and no
  view kept here reads the date, the private tables or the request's headers.
  Cosignatures are the exception: witnesses cosign (and cosign again) without any
  append. A view says which of them it shows (``Reads``): those of the latest
  checkpoint (the checkpoint note), which the head holds whenever the newest cosigned
  size is not beyond it; or those of any size (a receipt's ``witnessed``, the witness
  list), which the head determines while nothing is cosigned yet or every configured
  witness has cosigned the newest cosigned size: no other size can then have more
  cosigners, nor win a tie. While a witness lags, such answers are built afresh for
  every request.
- The head is read before the view runs, so the view sees that state or a later one;
  the head never returns to an earlier value (sizes and counts only grow, and a
  witness's new cosignature of a size carries a later timestamp), so an answer made
  from a later state is kept under a head that will never be read again.

Every part of the head is a primary-key lookup (the witnesses are a handful of rows), so
the check costs the same at any log size; counting all cosignatures would not, as
their table grows by a row per witness at every collection.
Answers are kept per ``Flask`` app (``app.extensions``), so tests and tools that
build several apps in one process never share them.
"""

from __future__ import annotations

import enum
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from cachetools import LRUCache
from flask import Response, current_app, request
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from werkzeug.http import generate_etag

from ledger.db import Database, sqlite_path
from public_api import caching, head_watch
from public_api.database import database
from public_api.per_app import per_app

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
CONFIG_KEY = "RESPONSE_CACHE_MAX_BYTES"
"""A Flask config key: the bound of one process's kept answers, in bytes."""

LARGEST_SHARE = 8
"""An answer larger than this fraction of the bound is sent but not kept: one page of
a thousand entries must not push out hundreds of receipts."""

ENTRY_OVERHEAD = 512

TRUST_WATCH_SECONDS = 1.0
"""How long the head read last may be trusted on the word of the watch alone: a bound
on what a connection lost without a sign (a silent network) could hide."""
"""Bytes counted for each kept answer beyond its body, headers and key: the objects."""

_EXTENSION = "ledger.response_cache"

HEAD_QUERY = (
    "SELECT c.tree_size, c.root,"
    " (SELECT count(*) FROM log_witnesses) AS witnesses,"
    " s.size AS cosigned_size, k.witness, k.line"
    " FROM (SELECT tree_size, root FROM log_checkpoints ORDER BY tree_size DESC LIMIT 1) AS c"
    " CROSS JOIN (SELECT max(tree_size) AS size FROM log_cosignatures) AS s"
    " LEFT JOIN (SELECT g.tree_size, g.witness, g.line FROM log_cosignatures AS g"
    "  JOIN log_witnesses AS w ON w.name = g.witness) AS k ON k.tree_size = s.size"
    " ORDER BY k.witness"
)
"""The head in one statement: primary-key lookups and a count of the few witnesses."""


@dataclass(frozen=True)
class Head:
    """What the answers kept against it were made from (see the module docstring)."""

    tree_size: int
    root: bytes
    witnesses: int
    cosigned_size: int | None
    cosignatures: tuple[tuple[str, str], ...]  # (witness, line) at cosigned_size

    @property
    def latest_cosignatures_known(self) -> bool:
        """Whether the cosignatures of the latest checkpoint are those the head holds."""
        return self.cosigned_size is None or self.cosigned_size <= self.tree_size

    @property
    def all_cosignatures_settled(self) -> bool:
        """Whether there is no cosignature yet, or every witness cosigned the newest size."""
        if self.cosigned_size is None:
            return True
        return self.latest_cosignatures_known and len(self.cosignatures) == self.witnesses


class Reads(enum.Enum):
    """Which cosignatures a view's answer shows, beyond the log and its projections."""

    LOG = "no cosignatures"
    LATEST_COSIGNATURES = "those of the latest checkpoint"
    ALL_COSIGNATURES = "those of any size"

    def determined_by(self, head: Head) -> bool:
        if self is Reads.LATEST_COSIGNATURES:
            return head.latest_cosignatures_known
        if self is Reads.ALL_COSIGNATURES:
            return head.all_cosignatures_settled
        return True


@dataclass(frozen=True)
class Kept:
    """A finished answer; ``head`` is None for an immutable one."""

    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]
    head: Head | None
    size: int

    def response(self) -> Response:
        return current_app.response_class(self.body, status=self.status, headers=self.headers)


class ResponseCache:
    """One app's kept answers: an LRU bounded in bytes, safe to share between threads."""

    def __init__(self, db: Database, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._kept: LRUCache[str, Kept] = LRUCache(maxsize=max_bytes, getsizeof=_size_of)
        self._lock = threading.Lock()
        self._engine = db.engine
        self._sqlite_file = sqlite_path(db.url)
        self._head_lock = threading.Lock()
        self._last_head: _HeadRead | None = None
        self._watch = head_watch.watch_for(db.engine)

    def get(self, key: str) -> Kept | None:
        with self._lock:
            return self._kept.get(key)

    def put(self, key: str, kept: Kept) -> None:
        if kept.size > self.max_bytes // LARGEST_SHARE:
            return
        with self._lock:
            self._kept[key] = kept

    @property
    def bytes_used(self) -> int:
        with self._lock:
            return int(self._kept.currsize)

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)

    def head(self) -> Head | None:
        """The log's head now, or None when there is no log to read yet.

        A SQLite file that does not exist yet is not opened (that would create it); the
        view then answers as it does without a ledger.
        """
        if self._sqlite_file is not None and not self._sqlite_file.exists():
            return None
        return self._shared_head()

    def _shared_head(self) -> Head | None:
        """The head, read by a query that started after this request arrived.

        The head read last serves while the watch's generation is the one read before
        it was: nothing that could change the head has committed since. Otherwise
        one head query runs at a time in a process; the requests that queue behind it
        share the next one. A query that started after a request arrived is as fresh
        as that request may ask (a client that saw its write acknowledged before asking
        always finds it), so under load one query serves every request that came in
        while the previous one ran, and alone a request waits for nobody.
        """
        arrived = time.monotonic()
        generation = self._watch.generation() if self._watch is not None else None
        with self._head_lock:
            last = self._last_head
            if last is not None and (
                last.started >= arrived
                or (
                    generation is not None
                    and generation == last.generation
                    and arrived - last.started < TRUST_WATCH_SECONDS
                )
            ):
                return last.head
            started = time.monotonic()
            head = _head_of(_head_rows(self._engine))
            self._last_head = _HeadRead(started, generation, head)
            return head


@dataclass(frozen=True)
class _HeadRead:
    started: float  # time.monotonic() when the query was sent
    generation: head_watch.Generation | None  # the watch's, read before the query was sent
    head: Head | None


def _head_of(rows: list[Any]) -> Head | None:
    if not rows:
        return None
    size, root, witnesses, cosigned, _witness, _line = rows[0]
    lines = tuple((row[4], row[5]) for row in rows if row[4] is not None)
    return Head(int(size), bytes(root), int(witnesses), cosigned, lines)


def _head_rows(engine: Engine) -> list[Any]:
    """Run ``HEAD_QUERY`` on a pooled connection with the driver's own cursor.

    Under a stream of writes the query runs for most requests, and SQLAlchemy's
    execution (a BEGIN, the result's machinery, a ROLLBACK) would cost it several times
    what the query does. On
    PostgreSQL the connection is put in autocommit for the one statement (no BEGIN or
    ROLLBACK round trips) and always taken out of it before it goes back to the pool:
    if that fails, the connection is discarded, never handed to a writer. Driver errors
    are raised as SQLAlchemy's, so that an outage answers 503 as it does for a view.
    """
    dialect = engine.dialect
    driver_error: type[Exception] = dialect.loaded_dbapi.Error
    autocommit = dialect.name == "postgresql"
    try:
        pooled = engine.raw_connection()
    except driver_error as error:  # no connection: the database is down or unreachable
        raise DBAPIError.instance(None, None, error, driver_error, dialect=dialect) from error
    cursor = None
    try:
        if autocommit:
            pooled.driver_connection.autocommit = True  # type: ignore[union-attr]
        cursor = pooled.cursor()
        cursor.execute(HEAD_QUERY)
        return list(cursor.fetchall())
    except driver_error as error:
        lost = dialect.is_disconnect(cast(Any, error), pooled.dbapi_connection, cursor)
        raise DBAPIError.instance(
            HEAD_QUERY, None, error, driver_error, connection_invalidated=lost, dialect=dialect
        ) from error
    finally:
        _give_back(pooled, cursor, autocommit, driver_error)


def _give_back(pooled: Any, cursor: Any, autocommit: bool, driver_error: type[Exception]) -> None:
    try:
        if cursor is not None:
            cursor.close()
        if autocommit:
            pooled.driver_connection.autocommit = False
    except driver_error:
        pooled.invalidate()
    pooled.close()


def _size_of(kept: Kept) -> int:
    return kept.size


def response_cache() -> ResponseCache:
    """The current app's kept answers, made on first use."""
    return per_app(
        _EXTENSION,
        lambda app: ResponseCache(database(), int(app.config.get(CONFIG_KEY, DEFAULT_MAX_BYTES))),
    )


def request_key() -> str:
    """The path and its query, parameters sorted by name (each name's values in order)."""
    if not request.query_string:  # most hot reads: nothing to parse
        return f"{request.script_root}{request.path}?"
    arguments = sorted(request.args.items(multi=True), key=lambda item: item[0])
    return f"{request.script_root}{request.path}?{urlencode(arguments)}"


def _keepable(response: Response, head: Head | None, reads: Reads, key: str) -> Kept | None:
    """The answer to keep, or None: only public 200s that name nobody and vary on nothing."""
    policy = response.headers.get("Cache-Control", "")
    if (
        response.status_code != 200
        or not policy.startswith("public")
        or response.is_streamed
        or response.direct_passthrough
        or "Set-Cookie" in response.headers
        or "Vary" in response.headers
    ):
        return None
    immutable = policy == caching.IMMUTABLE
    if not immutable and (head is None or not reads.determined_by(head)):
        return None
    body = response.get_data()
    if "ETag" not in response.headers:
        response.set_etag(generate_etag(body))  # what caching.conditional would compute
    headers = tuple(response.headers.items())
    size = len(body) + len(key) + sum(len(k) + len(v) for k, v in headers) + ENTRY_OVERHEAD
    return Kept(body, response.status_code, headers, None if immutable else head, size)


View = TypeVar("View", bound=Callable[..., Any])


def cached(reads: Reads = Reads.LOG) -> Callable[[View], View]:
    """Keep the view's answers (see the module docstring); ``reads`` names its cosignatures.

    Put it right under the route, above flask-smorest's decorators, so that it keeps
    the finished ``Response``; the view's blueprint must run ``caching.conditional``,
    since kept answers carry the ETag it would add.
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def answer(*args: Any, **kwargs: Any) -> Any:
            if request.method not in ("GET", "HEAD") or "Authorization" in request.headers:
                return view(*args, **kwargs)
            store = response_cache()
            key = request_key()
            kept = store.get(key)
            if kept is not None and kept.head is None:
                return kept.response()
            head = store.head()
            if kept is not None and head is not None and kept.head == head:
                return kept.response()
            response = view(*args, **kwargs)
            if isinstance(response, Response):
                fresh = _keepable(response, head, reads, key)
                if fresh is not None:
                    store.put(key, fresh)
            return response

        return cast(View, answer)

    return decorate
