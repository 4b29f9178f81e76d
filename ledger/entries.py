"""Entries and their leaves: the bytes that the hash chain and the Merkle tree commit to.

A leaf is the RFC 8785 (JCS) canonical JSON of the entry object. We restrict what may
go into a leaf so that canonical encoding is simple and unambiguous for any verifier:

* object keys are ASCII identifiers (``[a-z][a-z0-9_]*``), so JCS's UTF-16 key order
  is plain byte order;
* numbers are integers within ±(2**53 - 1) (the I-JSON range JCS requires) and never
  floats: money is integer đồng;
* text is NFC-normalised UTF-8.

Within that domain, orjson with sorted keys writes exactly the JCS bytes (the
property tests check this against the ``rfc8785`` reference implementation), and it
does so several times faster than the standard library, which is what keeps appends
and verification fast. Decoding accepts any JCS-canonical leaf: member names beyond
the BMP, which only ``rfc8785`` orders correctly, take the reference path.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
import rfc8785

from ledger.errors import EncodingError
from ledger.merkle import hash_leaf

LEAF_VERSION = 1
MAX_LEAF_BYTES = 65_535
MAX_SAFE_INTEGER = 2**53 - 1
ZERO_HASH_HEX = "0" * 64
GENESIS = "genesis"
KEY_ROTATION = "key_rotation"

_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_ENTRY_MEMBERS = frozenset({"v", "index", "kind", "time", "prev", "actor", "body"})

_JCS_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


@dataclass(frozen=True)
class Draft:
    """What a writer asks to append; the log fills index, time and prev."""

    kind: str
    body: Mapping[str, Any]
    actor: str


class Entry(NamedTuple):
    """One decoded, well-formed entry together with the exact bytes it came from.

    A named tuple rather than a dataclass: appends and verification make one per entry,
    and a tuple is built several times faster than a frozen dataclass.
    """

    index: int  # type: ignore[assignment]  # shadows tuple.index, which nobody needs here
    kind: str
    time: datetime
    prev: str
    actor: str
    body: dict[str, Any]
    leaf: bytes
    leaf_hash: bytes

    def as_object(self) -> dict[str, Any]:
        """The leaf object itself, as a JSON response carries it."""
        return {
            "v": LEAF_VERSION,
            "index": self.index,
            "kind": self.kind,
            "time": format_time(self.time),
            "prev": self.prev,
            "actor": self.actor,
            "body": self.body,
        }


@functools.lru_cache(maxsize=256)
def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and ``Z``, the only time form a leaf holds."""
    if moment.tzinfo is None:
        raise EncodingError("time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    if not isinstance(text, str) or not _TIME.match(text):
        raise EncodingError(f"time {text!r} is not RFC 3339 UTC with microseconds and Z")
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError as err:
        raise EncodingError(f"time {text!r} is not a valid date") from err


def _is_nfc(value: Any) -> bool:
    return bool(normalize_text(value) == value)


def normalize_text(value: Any) -> Any:
    """NFC-normalise every string in a JSON-like value, for input arriving from writers."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, Mapping):
        return {normalize_text(k): normalize_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize_text(v) for v in value]
    return value


def _check_value(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise EncodingError(f"{path}: integer {value} is outside ±(2**53 - 1)")
        return
    if isinstance(value, str):
        if not unicodedata.is_normalized("NFC", value):
            raise EncodingError(f"{path}: text is not NFC-normalised")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise EncodingError(f"{path}: text is not valid Unicode") from err
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not _KEY.match(key):
                raise EncodingError(f"{path}: member name {key!r} is not [a-z][a-z0-9_]*")
            _check_value(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for position, item in enumerate(value):
            _check_value(item, f"{path}[{position}]")
        return
    if isinstance(value, float):
        raise EncodingError(f"{path}: floating-point numbers are not allowed in a leaf")
    raise EncodingError(f"{path}: {type(value).__name__} cannot be stored in a leaf")


_known_keys: set[str] = set()


def _in_domain(value: Any) -> bool:
    """The fast, silent form of ``_check_value`` (minus NFC), for the append hot path.

    Iterative and type-exact; valid member names are remembered, since a ledger uses
    a small vocabulary of them. ``_check_value`` runs only when this says no, to name
    what is wrong.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return False
        if kind is dict:
            for key in item:
                if key not in _known_keys:
                    if type(key) is not str or not _KEY.match(key):
                        return False
                    _known_keys.add(key)
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        else:
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of ``value``; raises EncodingError outside the leaf domain."""
    if not _in_domain(value):
        _check_value(value, "$")  # names the member at fault
    try:
        leaf = orjson.dumps(value, option=_JCS_OPTIONS)
    except orjson.JSONEncodeError as err:
        _check_value(value, "$")
        raise EncodingError(f"value cannot be encoded as JSON: {err}") from err
    if not leaf.isascii() and not unicodedata.is_normalized("NFC", leaf.decode("utf-8")):
        _check_value(value, "$")
    # Member names are ASCII identifiers by now, so their code-point order is JCS's
    # UTF-16 order: these bytes are the canonical bytes.
    return leaf


def encode_entry(
    *, index: int, kind: str, time: datetime, prev: str, actor: str, body: Mapping[str, Any]
) -> Entry:
    """Build the leaf for one entry, refusing anything a verifier would reject."""
    if not _KIND.match(kind):
        raise EncodingError(f"kind {kind!r} is not [a-z][a-z0-9_]*")
    if not isinstance(actor, str) or not actor or len(actor) > 200:
        raise EncodingError("actor must be a non-empty name of at most 200 characters")
    if not _HEX64.match(prev):
        raise EncodingError("prev must be 64 lowercase hex digits")
    time_text, body_object = format_time(time), dict(body)
    obj = {
        "v": LEAF_VERSION,
        "index": index,
        "kind": kind,
        "time": time_text,
        "prev": prev,
        "actor": actor,
        "body": body_object,
    }
    try:
        leaf = canonical_json(obj)
    except EncodingError:
        if _is_nfc(obj):
            raise
        # Writers may send decomposed Vietnamese; NFC is the same text, so store that.
        return encode_entry(
            index=index,
            kind=kind,
            time=time,
            prev=prev,
            actor=normalize_text(actor),
            body=normalize_text(body_object),
        )
    if len(leaf) > MAX_LEAF_BYTES:
        raise EncodingError(f"entry is {len(leaf)} bytes; a leaf holds at most {MAX_LEAF_BYTES}")
    return Entry(
        index=index,
        kind=kind,
        time=time.astimezone(UTC),
        prev=prev,
        actor=actor,
        body=body_object,
        leaf=leaf,
        leaf_hash=hash_leaf(leaf),
    )


_ASTRAL_UTF8 = re.compile(rb"[\xf0-\xf4]")


def _float_free(value: Any) -> bool:
    """Whether a parsed leaf holds no float: the one thing canonical bytes can't rule out."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is float:
            return False
    return True


def _check_numbers(value: Any) -> None:
    """Floats and integers outside ±(2**53 - 1) have no canonical form in a leaf."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            raise EncodingError(f"floating-point number {item!r} in leaf")
        if isinstance(item, int) and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
            raise EncodingError(f"integer {item} is outside ±(2**53 - 1)")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _canonical_form(obj: Any, leaf: bytes) -> bytes:
    """JCS bytes of a parsed leaf; orjson is exact unless member names lie beyond the BMP."""
    try:
        if leaf.isascii() or not _ASTRAL_UTF8.search(leaf):
            return orjson.dumps(obj, option=_JCS_OPTIONS)
        return bytes(rfc8785.dumps(obj))
    except (orjson.JSONEncodeError, rfc8785.CanonicalizationError) as err:
        _check_numbers(obj)  # an integer beyond 2**53 - 1: say so plainly
        raise EncodingError(f"leaf cannot be canonicalised: {err}") from err


def decode_leaf(leaf: bytes) -> Entry:
    """Parse leaf bytes strictly: they must be exactly the RFC 8785 form of a valid entry.

    Any JCS-canonical leaf is accepted (not only the subset ``encode_entry`` writes),
    so that a verifier of ours never rejects what the contract allows. Whitespace,
    duplicate members and non-canonical numbers or escapes fail the byte comparison.
    """
    if len(leaf) > MAX_LEAF_BYTES:
        raise EncodingError(f"leaf is {len(leaf)} bytes; at most {MAX_LEAF_BYTES} allowed")
    try:
        obj: Any = orjson.loads(leaf)
    except orjson.JSONDecodeError as err:
        raise EncodingError(f"leaf is not UTF-8 JSON: {err}") from err
    if not _float_free(obj):
        _check_numbers(obj)
    # Re-encoding refuses integers beyond 2**53 - 1 (orjson's strict integer option).
    if _canonical_form(obj, leaf) != leaf:
        raise EncodingError("leaf is not in RFC 8785 canonical form")
    text = leaf.decode("utf-8")
    if not unicodedata.is_normalized("NFC", text):
        raise EncodingError("leaf text is not NFC-normalised")
    if not isinstance(obj, dict) or obj.keys() != _ENTRY_MEMBERS:
        raise EncodingError(
            "leaf must be an object with exactly v, index, kind, time, prev, actor, body"
        )
    index, kind, prev, actor, body = (obj[k] for k in ("index", "kind", "prev", "actor", "body"))
    if obj["v"] != LEAF_VERSION or isinstance(obj["v"], bool):
        raise EncodingError(f"unsupported leaf version {obj['v']!r}")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise EncodingError("index must be a non-negative integer")
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise EncodingError(f"kind {kind!r} is not [a-z][a-z0-9_]*")
    if not isinstance(prev, str) or not _HEX64.match(prev):
        raise EncodingError("prev must be 64 lowercase hex digits")
    if not isinstance(actor, str) or not actor:
        raise EncodingError("actor must be a non-empty string")
    if not isinstance(body, dict):
        raise EncodingError("body must be an object")
    return Entry(
        index=index,
        kind=kind,
        time=parse_time(obj["time"]),
        prev=prev,
        actor=actor,
        body=body,
        leaf=leaf,
        leaf_hash=hash_leaf(leaf),
    )
