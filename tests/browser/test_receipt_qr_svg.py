"""The SVG QR code, drawn by a real browser and read back by a real QR decoder."""

from __future__ import annotations

import io
from typing import Any

import zxingcpp
from flask.testing import FlaskClient
from PIL import Image
from playwright.sync_api import Browser

from ledger.settings import Settings


def test_the_svg_qr_code_decodes_to_the_receipt_url(
    browser: Browser, client: FlaskClient, funds: Any, settings: Settings
) -> None:
    gift = funds.give(450_000)
    receipt_id = gift.extra["receipt_id"]
    svg = client.get(f"/api/v1/receipts/{receipt_id}/qr.svg")
    assert svg.status_code == 200

    page = browser.new_page(viewport={"width": 600, "height": 600})
    try:
        page.set_content(
            '<html><body style="margin:0;background:#fff">'
            f'<div style="width:500px;height:500px">{svg.get_data(as_text=True)}</div>'
            "</body></html>"
        )
        page.eval_on_selector(
            "svg", "el => { el.style.width = '500px'; el.style.height = '500px' }"
        )
        shot = page.screenshot(clip={"x": 0, "y": 0, "width": 500, "height": 500})
    finally:
        page.close()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert [code.text for code in decoded] == [f"{settings.base_url}/r/{receipt_id}"]
