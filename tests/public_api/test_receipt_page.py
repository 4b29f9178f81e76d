"""The donor's receipt page as the server sends it, and the printable PDF.

What the page states must hold without JavaScript (the browser's own check is in
tests/browser/); the page must run under a strict Content-Security-Policy, escape what
writers typed, and show of a donor only what the leaf shows.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from flask.testing import FlaskClient
from pypdf import PdfReader

from ledger.funds.documents import store_document
from ledger.receipt_ids import grouped
from ledger.settings import Settings

API = "/api/v1"
AMOUNT = 1_250_000
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
FUND_NAME = "Quỹ phòng, chống COVID-19 tỉnh Lạng Sơn"


def text_of(html: str) -> str:
    """The page's visible text, roughly: tags dropped, entities read, spaces folded."""
    body = re.sub(r"<script\b.*?</script>", " ", html, flags=re.S)
    body = re.sub(r"</?(?:a|strong|span|code|b|em)\b[^>]*>", "", body)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


def vietnam_time(leaf_time: str) -> str:
    moment = datetime.fromisoformat(leaf_time.removesuffix("Z")).replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y %H:%M")


@pytest.fixture
def gift(funds: Any) -> str:
    receipt_id: str = funds.give(AMOUNT, channel="bank", reference="FT2611").extra["receipt_id"]
    return receipt_id


def receipt_json(client: FlaskClient, receipt_id: str) -> dict[str, Any]:
    answer = client.get(f"{API}/receipts/{receipt_id}")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.get_json()
    return document


def page(client: FlaskClient, receipt_id: str) -> str:
    answer = client.get(f"/r/{receipt_id}")
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    return answer.get_data(as_text=True)


def test_the_page_states_the_gift_without_javascript(
    client: FlaskClient, gift: str, settings: Settings
) -> None:
    receipt = receipt_json(client, gift)
    html = page(client, gift)
    text = text_of(html)
    assert '<html lang="vi">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "Biên nhận ủng hộ Donation receipt" in text
    assert grouped(gift) in text
    assert "1.250.000 ₫" in text
    assert "Một triệu hai trăm năm mươi nghìn đồng" in text
    assert f"Quỹ Fund {FUND_NAME} (LS-COVID)" in text
    assert "Cuộc vận động Campaign Chung sức phòng, chống dịch COVID-19 (LS-2026)" in text
    assert "Nhà hảo tâm Donor Công ty TNHH Minh An" in text
    assert "Hình thức Channel Chuyển khoản Bank transfer" in text
    assert f"Ghi vào sổ lúc Recorded at {vietnam_time(receipt['entry']['time'])}" in text
    assert f"Mục số Entry index #{receipt['index']}" in text
    assert receipt["leaf_hash"] in text
    assert f"{receipt['tree_size']} mục" in text
    assert receipt["key_id"] in text
    assert f"ledger verify-receipt {gift}.tlog-proof --key {receipt['verifier_key']}" in text
    for link in (f"{API}/receipts/{gift}", f"{gift}.tlog-proof", f"{gift}.pdf", f"{gift}/qr.svg"):
        assert f'"{API}/receipts/{link.removeprefix(f"{API}/receipts/")}"' in html
    # Not verified until the donor's own browser has checked it.
    assert "Chưa xác minh" in text
    assert "Đã xác minh" not in text


def test_the_script_gets_its_data_as_json_and_nothing_runs_inline(
    client: FlaskClient, gift: str
) -> None:
    answer = client.get(f"/r/{gift}")
    html = answer.get_data(as_text=True)
    assert answer.headers["Content-Security-Policy"] == CSP
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == 2
    (data_attributes, data), (code_attributes, code) = scripts
    assert 'type="application/json" id="receipt-data"' in data_attributes
    assert 'src="/static/receipt.js"' in code_attributes
    assert code == ""
    facts = json.loads(data)
    assert facts["receipt_id"] == gift
    assert facts["receipt_json"] == f"{API}/receipts/{gift}"
    assert facts["keys_json"] == f"{API}/log/keys"
    assert facts["facts"]["amount"] == AMOUNT
    assert facts["facts"]["fund"] == "LS-COVID"
    assert not re.search(r"\sstyle=|\son[a-z]+=|<style", html)
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", html)
    assert client.get("/static/receipt.js").status_code == 200
    assert client.get("/static/site.css").status_code == 200


def test_the_page_may_be_cached_briefly_and_answers_304(client: FlaskClient, gift: str) -> None:
    first = client.get(f"/r/{gift}")
    assert first.headers["Cache-Control"] == "public, max-age=60"
    again = client.get(f"/r/{gift}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_a_receipt_id_as_a_donor_types_it_redirects_to_the_canonical_page(
    client: FlaskClient, gift: str
) -> None:
    typed = grouped(gift).lower().replace("0", "o").replace("1", "l")
    answer = client.get(f"/r/{typed}")
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"/r/{gift}"
    assert client.get(answer.headers["Location"]).status_code == 200


def test_an_unknown_receipt_is_a_vietnamese_404_page(client: FlaskClient, gift: str) -> None:
    unknown = "ZZZZZZZZZZZZZZZZ" if gift != "ZZZZZZZZZZZZZZZZ" else "YYYYYYYYYYYYYYYY"
    answer = client.get(f"/r/{unknown}")
    assert answer.status_code == 404
    assert answer.mimetype == "text/html"
    assert answer.headers["Content-Security-Policy"] == CSP
    text = text_of(answer.get_data(as_text=True))
    assert "Không tìm thấy biên nhận Receipt not found" in text
    assert "Không có biên nhận nào mang mã này." in text
    assert unknown in text


def test_text_that_cannot_be_a_receipt_id_is_a_400_page_that_escapes_it(
    client: FlaskClient, funds: Any
) -> None:
    answer = client.get("/r/<b>not-an-id<b>")
    assert answer.status_code == 400
    assert answer.mimetype == "text/html"
    html = answer.get_data(as_text=True)
    assert "Đây không phải là một mã biên nhận." in text_of(html)
    assert "&lt;b&gt;not-an-id&lt;b&gt;" in html
    assert "<b>not-an-id" not in html


def test_what_a_writer_typed_is_shown_as_text(client: FlaskClient, funds: Any) -> None:
    hostile = "<script>alert(1)</script>"
    receipt_id = funds.give(500_000, donor={"display": hostile, "type": "organization"}).extra[
        "receipt_id"
    ]
    html = page(client, receipt_id)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert f"Nhà hảo tâm Donor {hostile}" in text_of(html)
    data = re.search(r'id="receipt-data">(.*?)</script>', html, flags=re.S)
    assert data is not None
    assert json.loads(data.group(1))["facts"]["donor"] == hostile


def test_an_anonymous_donor_is_only_the_anonymous_label(client: FlaskClient, funds: Any) -> None:
    donor = {
        "display": "Trần Thị Kín Đáo",
        "type": "individual",
        "anonymous": True,
        "contact": "0987 654 321",
    }
    receipt_id = funds.give(300_000, donor=donor).extra["receipt_id"]
    html = page(client, receipt_id)
    assert "Nhà hảo tâm Donor Nhà hảo tâm ẩn danh" in text_of(html)
    document = client.get(f"{API}/receipts/{receipt_id}.pdf").data
    shown = pdf_text(document)
    assert "Nhà hảo tâm ẩn danh" in shown
    for secret in ("Trần Thị Kín Đáo", "Kín Đáo", "0987", "654 321"):
        assert secret not in html
        assert secret not in shown


def test_a_reversed_gift_says_so_prominently(client: FlaskClient, funds: Any, gift: str) -> None:
    index = receipt_json(client, gift)["index"]
    reversal = funds.record("reversal", {"target": index, "reason": "Ghi trùng"})
    html = page(client, gift)
    notice = re.search(
        r'<div class="notice reversed" id="reversal" role="alert">(.*?)</div>', html, re.S
    )
    assert notice is not None
    assert f"Khoản ủng hộ này đã được điều chỉnh/hủy tại mục #{reversal.index}." in text_of(
        notice.group(1)
    )
    assert f"This gift was corrected or cancelled by entry #{reversal.index}." in text_of(html)


def test_a_gift_not_reversed_has_no_notice(client: FlaskClient, gift: str) -> None:
    assert 'id="reversal"' not in page(client, gift)


def test_the_page_shows_where_the_money_went(client: FlaskClient, funds: Any, gift: str) -> None:
    spent = funds.allocate(400_000, decision_ref="12/QĐ-MTTQ", program="Tuyến đầu")
    with funds.db.writing() as session:
        voucher = store_document(session, b"%PDF-1.4 UNC", "unc.pdf", "application/pdf", "tester")
    paid = {"allocation": spent.index, "amount": 150_000, "documents": [voucher]}
    funds.record("disbursement", paid)
    text = text_of(page(client, gift))
    assert "Tiền của bạn đã được dùng thế nào Where your money went" in text
    assert "400.000 ₫ Mua vật tư y tế" in text
    assert "Người nhận Recipient Trung tâm Y tế huyện Cao Lộc" in text
    assert "Chương trình Programme Tuyến đầu" in text
    assert "Số quyết định Decision 12/QĐ-MTTQ" in text
    assert "Đã chi trả Paid out 150.000 ₫ / 400.000 ₫" in text
    assert f"Mục số Entry #{spent.index}" in text
    assert "Chưa sử dụng Not yet used: 850.000 ₫" in text


def test_an_unspent_gift_says_nothing_was_spent_yet(client: FlaskClient, gift: str) -> None:
    text = text_of(page(client, gift))
    assert "Chưa có khoản chi nào được ghi cho số tiền này." in text
    assert "Chưa sử dụng Not yet used: 1.250.000 ₫" in text


# The printable receipt -----------------------------------------------------------------


def pdf_text(document: bytes) -> str:
    reader = PdfReader(io.BytesIO(document))
    return "\n".join(p.extract_text() for p in reader.pages)


def test_the_pdf_is_one_a5_page_stating_the_gift(
    client: FlaskClient, gift: str, settings: Settings
) -> None:
    receipt = receipt_json(client, gift)
    answer = client.get(f"{API}/receipts/{gift}.pdf")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert answer.headers["Content-Disposition"] == f'inline; filename="bien-nhan-{gift}.pdf"'
    reader = PdfReader(io.BytesIO(answer.data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((419.53, 595.28), abs=0.01)
    text = pdf_text(answer.data)
    lines = text.splitlines()
    assert "BIÊN NHẬN ỦNG HỘ" in lines
    assert "Donation receipt" in lines
    assert grouped(gift) in lines
    assert "1.250.000 ₫" in lines
    assert "Một triệu hai trăm năm mươi nghìn đồng" in lines
    assert FUND_NAME in text
    assert "Chung sức phòng, chống dịch COVID-19 (LS-2026)" in text
    assert "Công ty TNHH Minh An" in lines
    assert f"{vietnam_time(receipt['entry']['time'])} (giờ Việt Nam / Vietnam time)" in lines
    assert f"#{receipt['index']}" in lines
    leaf_hash = receipt["leaf_hash"]
    assert leaf_hash[:32] in lines
    assert leaf_hash[32:] in lines
    assert f"tree size {receipt['tree_size']}" in text
    assert receipt["key_id"] in text
    assert settings.base_url + f"/r/{gift}" in lines
    assert "ledger verify-receipt" in text


def test_the_pdf_qr_code_opens_the_receipt_page(
    client: FlaskClient, gift: str, settings: Settings
) -> None:
    reader = PdfReader(io.BytesIO(client.get(f"{API}/receipts/{gift}.pdf").data))
    images = reader.pages[0].images
    assert len(images) == 1
    codes = zxingcpp.read_barcodes(images[0].image)
    assert [code.text for code in codes] == [f"{settings.base_url}/r/{gift}"]


def test_the_same_receipt_is_always_the_same_pdf(
    client: FlaskClient, funds: Any, gift: str
) -> None:
    first = client.get(f"{API}/receipts/{gift}.pdf").data
    funds.give(10_000)  # the log moves on; the receipt does not
    assert client.get(f"{API}/receipts/{gift}.pdf").data == first
    receipt = receipt_json(client, gift)
    created = PdfReader(io.BytesIO(first)).metadata.creation_date
    recorded = datetime.fromisoformat(receipt["entry"]["time"].removesuffix("Z"))
    assert created == recorded.replace(microsecond=0, tzinfo=UTC)


def test_the_pdf_of_an_id_typed_by_hand_redirects_and_unknown_ones_are_errors(
    client: FlaskClient, gift: str
) -> None:
    moved = client.get(f"{API}/receipts/{gift.lower()}.pdf")
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"{API}/receipts/{gift}.pdf"
    unknown = "ZZZZZZZZZZZZZZZZ" if gift != "ZZZZZZZZZZZZZZZZ" else "YYYYYYYYYYYYYYYY"
    missing = client.get(f"{API}/receipts/{unknown}.pdf")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    malformed = client.get(f"{API}/receipts/nope.pdf")
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["code"]


def test_the_pdf_is_in_the_openapi_document(client: FlaskClient, funds: Any) -> None:
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    operation = paths[f"{API}/receipts/{{receipt_id}}.pdf"]["get"]
    assert "application/pdf" in operation["responses"]["200"]["content"]
    assert "404" in operation["responses"]


def test_a_gift_in_kind_names_the_goods(client: FlaskClient, funds: Any) -> None:
    goods = {"description": "Khẩu trang y tế", "quantity": 1000, "unit": "hộp"}
    receipt_id = funds.give(5_000_000, channel="in_kind", in_kind=goods).extra["receipt_id"]
    text = text_of(page(client, receipt_id))
    assert "Hiện vật In kind Khẩu trang y tế, 1.000 hộp" in text
    assert "Hình thức Channel Hiện vật In kind" in text
    shown = pdf_text(client.get(f"{API}/receipts/{receipt_id}.pdf").data)
    assert "Khẩu trang y tế, 1.000 hộp" in shown
    assert "Hiện vật / In kind" in shown


def test_a_fractional_quantity_has_a_decimal_comma(client: FlaskClient, funds: Any) -> None:
    goods = {"description": "Gạo tẻ", "quantity": "2.5", "unit": "tấn"}
    receipt_id = funds.give(30_000_000, channel="in_kind", in_kind=goods).extra["receipt_id"]
    assert "Gạo tẻ, 2,5 tấn" in text_of(page(client, receipt_id))
    assert "Gạo tẻ, 2,5 tấn" in pdf_text(client.get(f"{API}/receipts/{receipt_id}.pdf").data)
