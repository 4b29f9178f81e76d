"""Public log endpoints of the contract (§4): checkpoint, keys, entries and proofs.

Views parse, call one function of ``ledger.log``, and render. Responses that speak
about an explicit tree size are immutable; those that follow the latest checkpoint
are cached for a few seconds only.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from audit import witnesses
from ledger import log
from ledger.entries import Entry
from ledger.errors import InvalidRequestError, NotFoundError
from public_api import caching
from public_api.database import session, settings
from public_api.response_cache import Reads, cached
from public_api.schemas import (
    ConsistencyArgsSchema,
    ConsistencyProofSchema,
    EntriesArgsSchema,
    EntriesPageSchema,
    EntrySchema,
    ErrorSchema,
    InclusionArgsSchema,
    InclusionProofSchema,
    KeysSchema,
)

blp = Blueprint(
    "log", __name__, url_prefix="/api/v1/log", description="The verifiable log (public, read-only)"
)
blp.after_request(caching.conditional)

Headers = dict[str, str]


def entry_document(entry: Entry) -> dict[str, Any]:
    return {
        "index": entry.index,
        "leaf": base64.b64encode(entry.leaf).decode("ascii"),
        "leaf_hash": entry.leaf_hash.hex(),
        "entry": entry.as_object(),
    }


@blp.route("/checkpoint")
@cached(Reads.LATEST_COSIGNATURES)
@blp.doc(
    summary="The latest signed checkpoint (C2SP signed note)",
    responses={
        "200": {
            "description": (
                "the C2SP signed note of the latest checkpoint: the log's signature line,"
                " then the c2sp.org/tlog-cosignature lines of the witnesses that cosigned it"
            ),
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def checkpoint() -> Response:
    """The log's signature line first, then any witness cosignatures collected for it."""
    response = Response(witnesses.latest_cosigned_note(session()), mimetype="text/plain")
    response.headers.update(caching.policy(caching.LATEST))
    return response


@blp.route("/keys")
@cached()
@blp.response(200, KeysSchema)
def keys() -> tuple[dict[str, Any], Headers]:
    """Every verifier key with the range of entry indices whose checkpoints it signed."""
    periods = log.key_periods(session())
    document = {
        "keys": [
            {
                "verifier_key": str(period.verifier_key),
                "key_id": period.verifier_key.key_id_hex,
                "from_index": period.from_index,
                "to_index": period.to_index,
            }
            for period in periods
        ]
    }
    return document, caching.policy(caching.SHORT)


class WitnessSchema(Schema):
    name = fields.String(required=True, metadata={"description": "the witness's key name"})
    verifier_key = fields.String(
        required=True,
        metadata={"description": "C2SP verifier key, type 0x04 (Ed25519 cosignature/v1)"},
    )
    key_id = fields.String(required=True, metadata={"description": "8 lowercase hex digits"})
    cosigned_size = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the largest tree size it cosigned, null if none yet"},
    )
    cosigned_at = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "RFC 3339 UTC time of that cosignature"},
    )


class WitnessesSchema(Schema):
    witnesses = fields.List(fields.Nested(WitnessSchema), required=True)


@blp.route("/witnesses")
@cached(Reads.ALL_COSIGNATURES)
@blp.response(200, WitnessesSchema)
def witness_list() -> tuple[dict[str, Any], Headers]:
    """The independent witnesses that cosign this log's checkpoints, with their keys."""
    found = witnesses.statuses(session())
    return {"witnesses": [w.document() for w in found]}, caching.policy(caching.LATEST)


@blp.route("/entries")
@cached()
@blp.arguments(EntriesArgsSchema, location="query", error_status_code=400)
@blp.response(200, EntriesPageSchema)
@blp.alt_response(400, schema=ErrorSchema, description="malformed or out-of-range parameters")
@blp.alt_response(404, schema=ErrorSchema, description="start is beyond the log")
def entries(args: dict[str, int]) -> tuple[dict[str, Any], Headers]:
    """A page of entries from ``start``; ``next`` is where the following page starts."""
    start, limit = args["start"], args["limit"]
    maximum = settings().max_page_size
    if limit > maximum:
        raise InvalidRequestError(f"limit must be at most {maximum}")
    db = session()
    size = log.tree_size(db)
    if start > size:
        raise NotFoundError(f"start {start} is beyond the log's size {size}")
    page = log.entries(db, start, limit)
    following = start + len(page)
    document = {
        "entries": [entry_document(entry) for entry in page],
        "next": following if following < size else None,
    }
    # A page that reaches the end of the log changes (its ``next``) once the log grows.
    settled = len(page) == limit and following < size
    return document, caching.policy(caching.IMMUTABLE if settled else caching.LATEST)


@blp.route("/entries/<index:index>")
@cached()
@blp.response(200, EntrySchema)
@blp.alt_response(404, schema=ErrorSchema, description="no entry with this index")
def entry(index: int) -> tuple[dict[str, Any], Headers]:
    """One entry: its leaf bytes, leaf hash and decoded object. Immutable."""
    if index > 2**53:
        raise NotFoundError(f"no entry with index {index}")
    return entry_document(log.entry(session(), index)), caching.policy(caching.IMMUTABLE)


def _size_or_latest(explicit: int | None) -> tuple[int, str]:
    if explicit is not None:
        return explicit, caching.IMMUTABLE
    return log.latest_checkpoint(session()).tree_size, caching.LATEST


@blp.route("/proofs/inclusion")
@cached()
@blp.arguments(InclusionArgsSchema, location="query", error_status_code=400)
@blp.response(200, InclusionProofSchema)
@blp.alt_response(400, schema=ErrorSchema, description="index is not below tree_size")
@blp.alt_response(404, schema=ErrorSchema, description="tree_size is beyond the log")
def inclusion(args: dict[str, int]) -> tuple[dict[str, Any], Headers]:
    """RFC 6962 audit path of entry ``index`` in the tree of ``tree_size`` (default: latest)."""
    size, cache = _size_or_latest(args.get("tree_size"))
    db = session()
    hashes = log.inclusion_proof(db, args["index"], size)
    leaf_hash = log.entry(db, args["index"]).leaf_hash
    document = {
        "index": args["index"],
        "tree_size": size,
        "leaf_hash": leaf_hash.hex(),
        "hashes": [h.hex() for h in hashes],
    }
    return document, caching.policy(cache)


@blp.route("/proofs/consistency")
@cached()
@blp.arguments(ConsistencyArgsSchema, location="query", error_status_code=400)
@blp.response(200, ConsistencyProofSchema)
@blp.alt_response(400, schema=ErrorSchema, description="first is not in 1..second")
@blp.alt_response(404, schema=ErrorSchema, description="second is beyond the log")
def consistency(args: dict[str, int]) -> tuple[dict[str, Any], Headers]:
    """RFC 6962 consistency proof from tree size ``first`` to ``second`` (default: latest)."""
    second, cache = _size_or_latest(args.get("second"))
    hashes = log.consistency_proof(session(), args["first"], second)
    document = {"first": args["first"], "second": second, "hashes": [h.hex() for h in hashes]}
    return document, caching.policy(cache)
