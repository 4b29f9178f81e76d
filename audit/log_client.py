"""The public log API (the contract's §4) as an outside monitor reads it: HTTP only.

Only the standard library is used, so an auditor can run the monitor wherever Python
runs, with nothing of the ledger's but its code. Answers are parsed strictly into plain
values here. Anything that is not an answer the monitor can judge (no connection, an
HTTP error status, a body that is not the JSON the contract describes) becomes
``LogUnavailableError``: the monitor reports it and tries again later, rather than
raising an alarm about a log it could not see. Well-formed answers that are *wrong*
(a proof that fails, a leaf whose hash differs) are for the monitor to judge.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.checkpoint import MAX_NOTE_BYTES
from ledger.errors import InvalidRequestError, LedgerError
from ledger.keys import b64decode_strict

USER_AGENT = "ledger-monitor/1"
MAX_JSON_BYTES = 256 << 20
"""A page of 1,000 leaves of at most 64 KiB, in base64 and decoded, stays below this."""

_HEX_HASH = re.compile(r"[0-9a-f]{64}\Z")


class LogUnavailableError(LedgerError):
    """The log could not be read: network, HTTP status or a malformed answer."""

    code = "log_unavailable"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PublishedKey:
    """One row of ``GET /api/v1/log/keys``: a claim to be checked, never trusted as is."""

    verifier_key: str
    from_index: int
    to_index: int | None


@dataclass(frozen=True)
class ServedEntry:
    """An entry as the server sent it; none of its members is checked yet."""

    index: int
    leaf: bytes
    leaf_hash: str
    entry: dict[str, Any]


def normalise_url(url: str) -> str:
    """The base URL without a trailing slash; only plain http and https are fetched."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequestError(f"{url!r} is not an http:// or https:// URL")
    if parts.query or parts.fragment:
        raise InvalidRequestError(f"{url!r}: give the site's base URL, without ? or #")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class LogClient:
    """Reads the checkpoint, keys, entries and proofs of one ledger's public API."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.base_url = normalise_url(url)
        self.timeout = timeout

    def checkpoint(self) -> bytes:
        """The signed note exactly as served: its bytes are what the signature covers."""
        return self._get("/api/v1/log/checkpoint", {}, accept="text/plain", limit=MAX_NOTE_BYTES)

    def keys(self) -> list[PublishedKey]:
        document = self._json("/api/v1/log/keys", {})
        rows = _member(document, "keys", list)
        return [
            PublishedKey(
                verifier_key=_member(row, "verifier_key", str),
                from_index=_index(row, "from_index"),
                to_index=None if _field(row, "to_index") is None else _index(row, "to_index"),
            )
            for row in rows
        ]

    def entries(self, start: int, limit: int) -> list[ServedEntry]:
        document = self._json("/api/v1/log/entries", {"start": start, "limit": limit})
        return [_served_entry(row) for row in _member(document, "entries", list)]

    def entry(self, index: int) -> ServedEntry:
        return _served_entry(self._json(f"/api/v1/log/entries/{index}", {}))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        query = {"first": first, "second": second}
        return _hashes(self._json("/api/v1/log/proofs/consistency", query))

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        query = {"index": index, "tree_size": tree_size}
        return _hashes(self._json("/api/v1/log/proofs/inclusion", query))

    def _json(self, path: str, query: Mapping[str, int]) -> Any:
        body = self._get(path, query, accept="application/json", limit=MAX_JSON_BYTES)
        try:
            return json.loads(body)
        except ValueError:
            raise LogUnavailableError(
                f"{self._shown(path, query)}: the answer is not JSON"
            ) from None

    def _get(self, path: str, query: Mapping[str, int], *, accept: str, limit: int) -> bytes:
        shown = self._shown(path, query)
        url = self.base_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        # no-cache: a shared cache must not hand a monitor a checkpoint it already saw.
        headers = {"Accept": accept, "User-Agent": USER_AGENT, "Cache-Control": "no-cache"}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) only
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body: bytes = response.read(limit + 1)
        except urllib.error.HTTPError as err:
            with err:  # it holds the connection open until closed
                reason = _error_message(err)
            raise LogUnavailableError(
                f"{shown}: HTTP {err.code}{f': {reason}' if reason else ''}", status=err.code
            ) from None
        except urllib.error.URLError as err:
            raise LogUnavailableError(f"{shown}: cannot connect: {err.reason}") from None
        except (OSError, http.client.HTTPException) as err:
            raise LogUnavailableError(f"{shown}: {type(err).__name__}: {err}") from None
        if len(body) > limit:
            raise LogUnavailableError(f"{shown}: the answer is larger than {limit} bytes")
        return body

    def _shown(self, path: str, query: Mapping[str, int]) -> str:
        return f"GET {self.base_url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")


def _error_message(err: urllib.error.HTTPError) -> str:
    """The ``error.message`` of the contract's JSON error body, on one short line."""
    try:
        document = json.loads(err.read(64 << 10))
        message = str(document["error"]["message"])
    except (OSError, ValueError, KeyError, TypeError):
        return str(err.reason or "")
    return " ".join(message.split())[:200]


def _field(document: Any, name: str) -> Any:
    if not isinstance(document, dict) or name not in document:
        raise LogUnavailableError(f"malformed answer: no member {name!r}")
    return document[name]


def _member(document: Any, name: str, kind: type[Any]) -> Any:
    value = _field(document, name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise LogUnavailableError(f"malformed answer: {name!r} is not a {kind.__name__}")
    return value


def _index(document: Any, name: str) -> int:
    value: int = _member(document, name, int)
    if value < 0:
        raise LogUnavailableError(f"malformed answer: {name!r} is negative")
    return value


def _hash(text: Any) -> bytes:
    if not isinstance(text, str) or not _HEX_HASH.match(text):
        raise LogUnavailableError("malformed answer: a hash is not 64 lowercase hex digits")
    return bytes.fromhex(text)


def _hashes(document: Any) -> list[bytes]:
    return [_hash(item) for item in _member(document, "hashes", list)]


def _served_entry(document: Any) -> ServedEntry:
    index = _index(document, "index")
    try:
        leaf = b64decode_strict(_member(document, "leaf", str))
    except ValueError as err:
        raise LogUnavailableError(f"malformed answer: entry {index}'s leaf: {err}") from None
    return ServedEntry(
        index=index,
        leaf=leaf,
        leaf_hash=_member(document, "leaf_hash", str),
        entry=_member(document, "entry", dict),
    )
