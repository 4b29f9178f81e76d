"""Where a gift went (CONTRACT.md §4): the allocations that used it and what is left.

The attribution follows fixed rules (docs/usage.md) from the public log alone, so
anyone can recompute the answer. It changes as the log grows, so it is cached for a
few seconds only. A receipt ID typed the way a donor reads it is redirected to its
one canonical URL, as receipts are.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ledger.funds.usage_replay import usage_of
from public_api import caching
from public_api.database import session
from public_api.receipt_views import canonical_redirect
from public_api.schemas import ErrorSchema

blp = Blueprint(
    "usage",
    __name__,
    url_prefix="/api/v1/contributions",
    description="Where each gift went: usage tracing from the public log (public, read-only)",
)
blp.after_request(caching.conditional)

VIA = "log indices of the transfers (or reversed transfers) that carried the money between funds"


class BeneficiarySchema(Schema):
    display = fields.String(required=True, metadata={"description": "masked for individuals"})
    type = fields.String(required=True)
    unit = fields.String(required=True, allow_none=True)


class UsedPartSchema(Schema):
    allocation_index = fields.Integer(required=True)
    fund = fields.String(required=True, metadata={"description": "the allocation's fund"})
    form = fields.String(required=True, metadata={"description": "cash or in_kind"})
    amount = fields.Integer(required=True, metadata={"description": "đồng of this gift used"})
    disbursed = fields.Integer(required=True, metadata={"description": "of which paid out"})
    purpose = fields.String(required=True)
    beneficiary = fields.Nested(BeneficiarySchema, required=True)
    program = fields.String(required=True, allow_none=True)
    decision_ref = fields.String(required=True, allow_none=True)
    decision = fields.Dict(required=True, allow_none=True)
    date = fields.String(
        required=True, metadata={"description": "the allocation's day (Asia/Ho_Chi_Minh)"}
    )
    via = fields.List(fields.Integer(), required=True, metadata={"description": VIA})
    reversed = fields.Boolean(
        required=True,
        metadata={"description": "no longer standing: undone by the reversal at reversal_index"},
    )
    reversal_index = fields.Integer(required=True, allow_none=True)


class UnusedSchema(Schema):
    fund = fields.String(required=True, metadata={"description": "where the money waits"})
    via = fields.List(fields.Integer(), required=True, metadata={"description": VIA})
    amount = fields.Integer(required=True)


class GiftUsageSchema(Schema):
    receipt_id = fields.String(required=True)
    index = fields.Integer(required=True, metadata={"description": "the contribution's index"})
    fund = fields.String(required=True)
    campaign = fields.String(required=True, allow_none=True)
    amount = fields.Integer(required=True)
    channel = fields.String(required=True)
    earmark = fields.Dict(required=True, allow_none=True)
    reversed = fields.Boolean(required=True, metadata={"description": "the gift was reversed"})
    reversal_index = fields.Integer(required=True, allow_none=True)
    used = fields.List(fields.Nested(UsedPartSchema), required=True)
    used_total = fields.Integer(
        required=True, metadata={"description": "the sum of the standing parts"}
    )
    disbursed_total = fields.Integer(required=True)
    unused = fields.Integer(required=True, metadata={"description": "not yet allocated"})
    unused_in = fields.List(fields.Nested(UnusedSchema), required=True)
    tree_size = fields.Integer(
        required=True, metadata={"description": "the log size the answer is computed at"}
    )


@blp.route("/<receipt_id>/usage")
@blp.response(200, GiftUsageSchema)
@blp.alt_response(301, description="the canonical spelling of the receipt ID")
@blp.alt_response(400, schema=ErrorSchema, description="not a receipt ID")
@blp.alt_response(404, schema=ErrorSchema, description="no gift with this receipt ID")
def gift_usage(receipt_id: str) -> Any:
    """The allocations that used part of the gift, and the part not yet used."""
    moved = canonical_redirect(receipt_id)
    if moved is not None:
        return moved
    return usage_of(session(), receipt_id).document(), caching.policy(caching.LATEST)
