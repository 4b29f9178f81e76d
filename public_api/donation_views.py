"""VietQR donation codes of campaigns: the payload as JSON, PNG and SVG (public).

A committee prints these on posters and shares them online; donors' banking apps
fill in the campaign's account and the memo that attributes the gift.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ledger import qr
from ledger.funds import vietqr
from ledger.funds.donation_codes import donation_code
from ledger.funds.schemas import CODE_PATTERN
from public_api import caching
from public_api.database import session
from public_api.fund_views import BankAccountSchema
from public_api.schemas import ErrorSchema

blp = Blueprint(
    "donation_codes",
    __name__,
    url_prefix="/api/v1/campaigns",
    description="VietQR bank-transfer codes for giving to a campaign (public)",
)
blp.after_request(caching.conditional)


class DonationCodeArgsSchema(Schema):
    mobilizer = fields.String(
        load_default=None,
        validate=validate.Regexp(CODE_PATTERN, error="must be a mobiliser's code"),
        metadata={"description": "credit gifts to this mobiliser"},
    )
    amount = fields.Integer(
        load_default=None,
        strict=False,
        validate=validate.Range(min=1, max=vietqr.MAX_AMOUNT),
        metadata={"description": "a fixed amount in đồng (a dynamic code)"},
    )


class DonationCodeSchema(Schema):
    campaign = fields.String()
    mobilizer = fields.String(allow_none=True)
    payload = fields.String(metadata={"description": "EMVCo/NAPAS VietQR payload"})
    memo = fields.String()
    amount = fields.Integer(allow_none=True)
    account = fields.Nested(BankAccountSchema)


@blp.route("/<code>/vietqr")
@blp.arguments(DonationCodeArgsSchema, location="query", error_status_code=400)
@blp.response(200, DonationCodeSchema)
@blp.alt_response(404, schema=ErrorSchema)
def code_json(args: dict[str, Any], code: str) -> tuple[dict[str, object], dict[str, str]]:
    found = donation_code(session(), code, args["mobilizer"], args["amount"])
    return found.as_dict(), caching.policy(caching.SHORT)


def _image(code: str, args: dict[str, Any], render: Any, mimetype: str) -> Response:
    found = donation_code(session(), code, args["mobilizer"], args["amount"])
    response = Response(render(found.payload), mimetype=mimetype)
    response.headers.update(caching.policy(caching.SHORT))
    return response


@blp.route("/<code>/vietqr.png")
@blp.arguments(DonationCodeArgsSchema, location="query", error_status_code=400)
@blp.response(200, content_type="image/png")
@blp.alt_response(404, schema=ErrorSchema)
def code_png(args: dict[str, Any], code: str) -> Response:
    return _image(code, args, qr.png, "image/png")


@blp.route("/<code>/vietqr.svg")
@blp.arguments(DonationCodeArgsSchema, location="query", error_status_code=400)
@blp.response(200, content_type="image/svg+xml")
@blp.alt_response(404, schema=ErrorSchema)
def code_svg(args: dict[str, Any], code: str) -> Response:
    return _image(code, args, qr.svg, "image/svg+xml")
