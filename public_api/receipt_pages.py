"""The donor's receipt page (``/r/{id}``, what the QR opens) and the printable PDF.

The page states the gift and where the money went from the server, so it reads
without JavaScript; ``static/receipt.js`` then verifies the receipt in the donor's
own browser against the published keys, trusting nothing the page says. Everything
comes from this server (no script or font from elsewhere), under a
Content-Security-Policy that allows no inline script or style.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint as PageBlueprint
from flask import Flask, Response, render_template, url_for
from flask_smorest import Api, Blueprint
from sqlalchemy import select

from audit import witnesses
from ledger import log, receipt_ids, receipt_pdf, receipts
from ledger.errors import NotFoundError
from ledger.funds import usage_replay
from ledger.funds.models import FundRow
from ledger.receipt_ids import InvalidReceiptIdError
from public_api import caching
from public_api.database import session, settings
from public_api.receipt_views import canonical_redirect
from public_api.schemas import ErrorSchema

FONTS = Path(__file__).resolve().parent / "static" / "fonts"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

pages = PageBlueprint("receipt_pages", __name__)
pdfs = Blueprint(
    "receipt_pdfs",
    __name__,
    url_prefix="/api/v1/receipts",
    description="Printable receipts (public, read-only)",
)
pdfs.after_request(caching.conditional)


def register(app: Flask, api: Api) -> None:
    """The page is HTML outside the API; the PDF is in the API and its OpenAPI document."""
    app.register_blueprint(pages)
    api.register_blueprint(pdfs)


@pages.after_request
def _page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return caching.conditional(response)


pages.add_app_template_filter(receipt_pdf.money, "money")
pages.add_app_template_filter(receipt_pdf.local_time, "local_time")
pages.add_app_template_filter(receipt_pdf.day, "day")
pages.add_app_template_filter(receipt_ids.grouped, "grouped")


def _missing(status: int, receipt_id: str, reason: tuple[str, str]) -> tuple[str, int]:
    return render_template("receipt_missing.html", receipt_id=receipt_id, reason=reason), status


def _witnessed(evidence: witnesses.Evidence | None) -> dict[str, Any] | None:
    """The evidence as the template shows it, each cosignature's time as a datetime."""
    if evidence is None:
        return None
    document = evidence.document()
    for cosigner in document["witnesses"]:
        cosigner["at"] = datetime.fromtimestamp(cosigner["timestamp"], UTC)
    return document


@pages.route("/r/<receipt_id>")
def receipt_page(receipt_id: str) -> Any:
    try:
        canonical = receipt_ids.normalize(receipt_id)
    except InvalidReceiptIdError:
        reason = ("Đây không phải là một mã biên nhận.", "This is not a receipt ID.")
        return _missing(400, receipt_id, reason)
    moved = canonical_redirect(receipt_id)
    if moved is not None:
        return moved
    try:
        found = receipts.find(session(), settings(), canonical)
    except NotFoundError:
        reason = ("Không có biên nhận nào mang mã này.", "No receipt has this ID.")
        return _missing(404, canonical, reason)
    facts = receipt_pdf.facts_of(session(), found)
    base = f"/api/v1/receipts/{canonical}"
    links = {
        "json": base,
        "proof": f"{base}.tlog-proof",
        "pdf": f"{base}.pdf",
        "qr": f"{base}/qr.svg",
        "key_list": url_for("log.keys"),
        "witness_list": url_for("log.witness_list"),
    }
    evidence = witnesses.evidence(session(), found.tree_size)
    script_data = {
        "receipt_id": canonical,
        "receipt_json": links["json"],
        "keys_json": links["key_list"],
        "witnesses_json": links["witness_list"],
        "witnessed": evidence is not None,
        "facts": {
            "index": facts.index,
            "amount": facts.amount,
            "fund": facts.fund,
            "campaign": facts.campaign,
            "donor": facts.donor,
            "leaf_hash": facts.leaf_hash,
            "tree_size": facts.tree_size,
        },
    }
    html = render_template(
        "receipt.html",
        facts=facts,
        usage=usage_replay.usage_of(session(), canonical).document(),
        fund_names={fund.code: fund.name for fund in session().scalars(select(FundRow))},
        ledger_name=log.genesis(session()).body.get("name", facts.origin),
        links=links,
        witnessed=_witnessed(evidence),
        script_data=script_data,
    )
    return html, 200, caching.policy(caching.SHORT)


@pdfs.route("/<receipt_id>.pdf")
@pdfs.doc(
    responses={
        "200": {
            "description": "an A5 receipt in Vietnamese",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
)
@pdfs.alt_response(301, description="the canonical spelling of the receipt ID")
@pdfs.alt_response(400, schema=ErrorSchema, description="not a receipt ID")
@pdfs.alt_response(404, schema=ErrorSchema, description="no receipt with this ID")
def receipt_pdf_file(receipt_id: str) -> Response:
    """The printable receipt: never changes, so it is cached for good."""
    moved = canonical_redirect(receipt_id)
    if moved is not None:
        return moved
    found = receipts.find(session(), settings(), receipt_id)
    document = receipt_pdf.render(receipt_pdf.facts_of(session(), found), FONTS)
    response = Response(document, mimetype="application/pdf")
    response.headers.update(caching.policy(caching.IMMUTABLE))
    response.headers["Content-Disposition"] = f'inline; filename="bien-nhan-{receipt_id}.pdf"'
    return response
