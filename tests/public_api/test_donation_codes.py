"""VietQR donation codes of campaigns, as a donor's banking app will read them."""

from __future__ import annotations

import io
from typing import Any
from xml.etree import ElementTree

from flask.testing import FlaskClient
from PIL import Image

from ledger.funds import vietqr


def test_the_campaign_code_carries_its_account_and_reference(
    funds: Any, client: FlaskClient
) -> None:
    answer = client.get(f"/api/v1/campaigns/{funds.campaign}/vietqr?mobilizer={funds.mobilizer}")
    assert answer.status_code == 200
    document = answer.get_json()
    parsed = vietqr.parse(document["payload"])
    assert (parsed.bank_bin, parsed.account) == ("970436", "0011001234567")
    assert parsed.memo == "LS26COVID LSHLHPN"
    assert parsed.amount is None and parsed.point_of_initiation == "11"
    assert document["account"]["holder"] == "Ủy ban MTTQ Việt Nam tỉnh Lạng Sơn"


def test_a_fixed_amount_makes_a_dynamic_code(funds: Any, client: FlaskClient) -> None:
    document = client.get(f"/api/v1/campaigns/{funds.campaign}/vietqr?amount=200000").get_json()
    parsed = vietqr.parse(document["payload"])
    assert (parsed.amount, parsed.point_of_initiation, parsed.memo) == (200000, "12", "LS26COVID")


def test_the_code_as_png_and_svg(funds: Any, client: FlaskClient) -> None:
    png = client.get(f"/api/v1/campaigns/{funds.campaign}/vietqr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    image = Image.open(io.BytesIO(png.data))
    assert image.size[0] == image.size[1]
    svg = client.get(f"/api/v1/campaigns/{funds.campaign}/vietqr.svg")
    assert svg.mimetype == "image/svg+xml"
    assert ElementTree.fromstring(svg.data).tag.endswith("svg")  # noqa: S314 - our own output


def test_unknown_campaigns_and_bad_amounts_are_clear_errors(
    funds: Any, client: FlaskClient
) -> None:
    missing = client.get("/api/v1/campaigns/NO-SUCH/vietqr.png")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    bad = client.get(f"/api/v1/campaigns/{funds.campaign}/vietqr?amount=0")
    assert bad.status_code in (400, 422)
    assert "amount" in bad.get_json()["error"]["message"]
    nobody = client.get(f"/api/v1/campaigns/{funds.campaign}/vietqr?mobilizer=NO-SUCH")
    assert nobody.status_code == 404
