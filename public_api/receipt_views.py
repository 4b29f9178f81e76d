"""Receipts (CONTRACT.md §4): the JSON a verifier needs, its QR code, its tlog-proof file.

A receipt ID typed the way a donor reads it (lowercase, in groups, O for 0) is
answered with a permanent redirect to its one canonical URL, so that caches keep a
single copy. What a receipt proves never changes: the tlog-proof file is immutable.
The JSON also says whether the gift was reversed later, so it is cached briefly; each
app keeps what the receipt proves (``receipt_cache``), so the JSON built again after an
append reads only the reversal and the witnesses' evidence.
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from audit import witnesses
from ledger import qr, receipt_ids, receipts
from public_api import caching
from public_api.database import session, settings
from public_api.receipt_cache import KeptProof, receipt_cache
from public_api.response_cache import Reads, cached
from public_api.schemas import ErrorSchema

blp = Blueprint(
    "receipts",
    __name__,
    url_prefix="/api/v1/receipts",
    description="Donors' receipts, verifiable offline (public, read-only)",
)
blp.after_request(caching.conditional)

QR_POLICY = "public, max-age=86400"
"""A QR encodes receipt_url, which follows the LEDGER_BASE_URL setting: a day, not forever."""


class CosignerSchema(Schema):
    name = fields.String(required=True)
    key_id = fields.String(required=True, metadata={"description": "8 lowercase hex digits"})
    timestamp = fields.Integer(required=True, metadata={"description": "seconds, as signed"})
    time = fields.String(required=True, metadata={"description": "RFC 3339 UTC"})


class WitnessedSchema(Schema):
    tree_size = fields.Integer(required=True, metadata={"description": "the cosigned size"})
    checkpoint = fields.String(
        required=True,
        metadata={"description": "the log's signed note of that size with the cosignature lines"},
    )
    consistency_proof = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "RFC 6962 proof from the receipt's tree_size to this one, hex"},
    )
    witnesses = fields.List(fields.Nested(CosignerSchema), required=True)


class ReceiptSchema(Schema):
    receipt_id = fields.String(required=True, metadata={"description": "16 characters"})
    index = fields.Integer(required=True, metadata={"description": "the contribution's index"})
    leaf = fields.String(required=True, metadata={"description": "standard base64 leaf bytes"})
    leaf_hash = fields.String(required=True, metadata={"description": "hex SHA-256(0x00||leaf)"})
    entry = fields.Dict(required=True, metadata={"description": "the decoded leaf object"})
    checkpoint = fields.String(
        required=True,
        metadata={"description": "the first signed checkpoint note whose tree holds the entry"},
    )
    tree_size = fields.Integer(required=True, metadata={"description": "that checkpoint's size"})
    inclusion_proof = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "RFC 6962 audit path to the checkpoint's root, hex"},
    )
    receipt_url = fields.String(required=True)
    verifier_key = fields.String(
        required=True, metadata={"description": "the key that signed the checkpoint"}
    )
    key_id = fields.String(required=True, metadata={"description": "8 lowercase hex digits"})
    reversal_index = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the entry that reversed this gift, if it was reversed"},
    )
    witnessed = fields.Nested(
        WitnessedSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "the checkpoint containing this receipt's that the most independent"
            " witnesses cosigned (see /api/v1/log/witnesses for their keys), or null"
        },
    )


def canonical_redirect(receipt_id: str) -> Response | None:
    """A redirect to the canonical spelling of ``receipt_id``, or None if it is canonical.

    Every receipt route uses it, so each receipt has one URL per representation. The
    redirect never changes, so caches may keep it as long as the receipt itself.
    """
    canonical = receipt_ids.normalize(receipt_id)
    if canonical == receipt_id:
        return None
    response = redirect(request.path.replace(receipt_id, canonical, 1), code=301)
    response.headers.update(caching.policy(caching.IMMUTABLE))
    return response  # type: ignore[return-value]


def _kept(receipt_id: str) -> KeptProof:
    """What the receipt proves, read from the database only the first time in this app."""
    return receipt_cache().proof(
        receipt_id, lambda: receipts.prove(session(), settings(), receipt_id)
    )


def _consistency(first: int, second: int) -> tuple[bytes, ...]:
    """The witnessed checkpoint's consistency proof, read only the first time in this app."""
    return receipt_cache().consistency(
        first, second, lambda: witnesses.consistency(session(), first, second)
    )


@blp.route("/<receipt_id>")
@cached(Reads.ALL_COSIGNATURES)
@blp.response(200, ReceiptSchema)
@blp.alt_response(301, description="the canonical spelling of the receipt ID")
@blp.alt_response(400, schema=ErrorSchema, description="not a receipt ID")
@blp.alt_response(404, schema=ErrorSchema, description="no receipt with this ID")
def receipt(receipt_id: str) -> Any:
    """A receipt with its leaf, signed checkpoint and inclusion proof: verifiable alone.

    ``witnessed`` adds what independent witnesses cosigned: a later checkpoint and the
    consistency proof showing that it contains the receipt's.
    """
    moved = canonical_redirect(receipt_id)
    if moved is not None:
        return moved
    kept = _kept(receipt_id)
    reversal = receipts.reversal(session(), kept.proof.entry.index)
    evidence = witnesses.evidence(session(), kept.proof.tree_size, _consistency)
    document = {
        **kept.document,
        "reversal_index": reversal,
        "witnessed": evidence.document() if evidence else None,
    }
    return document, caching.policy(caching.SHORT)


def _file(receipt_id: str, render: Any, mimetype: str, policy: str) -> Response:
    moved = canonical_redirect(receipt_id)
    if moved is not None:
        return moved
    response = Response(render(_kept(receipt_id).proof), mimetype=mimetype)
    response.headers.update(caching.policy(policy))
    return response


@blp.route("/<receipt_id>/qr.png")
@blp.response(200, content_type="image/png", description="a QR code of receipt_url")
@blp.alt_response(301, description="the canonical spelling of the receipt ID")
@blp.alt_response(400, schema=ErrorSchema)
@blp.alt_response(404, schema=ErrorSchema)
def receipt_qr_png(receipt_id: str) -> Response:
    return _file(receipt_id, lambda r: qr.png(r.receipt_url), "image/png", QR_POLICY)


@blp.route("/<receipt_id>/qr.svg")
@blp.response(200, content_type="image/svg+xml", description="a QR code of receipt_url")
@blp.alt_response(301, description="the canonical spelling of the receipt ID")
@blp.alt_response(400, schema=ErrorSchema)
@blp.alt_response(404, schema=ErrorSchema)
def receipt_qr_svg(receipt_id: str) -> Response:
    return _file(receipt_id, lambda r: qr.svg(r.receipt_url), "image/svg+xml", QR_POLICY)


@blp.route("/<receipt_id>.tlog-proof")
@cached()
@blp.response(
    200,
    content_type="text/plain",
    description="C2SP tlog-proof@v1; verify with `ledger verify-receipt FILE --key VKEY`",
)
@blp.alt_response(301, description="the canonical spelling of the receipt ID")
@blp.alt_response(400, schema=ErrorSchema)
@blp.alt_response(404, schema=ErrorSchema)
def receipt_tlog_proof(receipt_id: str) -> Response:
    response = _file(receipt_id, lambda r: r.tlog_proof(), "text/plain", caching.IMMUTABLE)
    if response.status_code == 200:
        response.headers["Content-Disposition"] = f'attachment; filename="{receipt_id}.tlog-proof"'
    return response
