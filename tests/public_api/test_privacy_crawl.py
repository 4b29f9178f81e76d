"""No private value reaches the public: a crawl of every public endpoint proves it.

The test records gifts and allocations carrying every sort of private data the
service accepts (donors' contacts and bank accounts, anonymous donors' real names,
beneficiaries' full names and national ID numbers, what a bank statement says of
senders), then fetches every GET route the app has, in JSON and CSV, decodes the QR
images and reads the PDFs, and searches every answer and every log record for those
values in the forms they could leak in (spaced or not, with or without diacritics).
New routes are crawled without changing this test; a route with a path argument it
cannot fill makes it fail, so that nobody adds an uncrawled page by accident.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select
from support.api import API, auth
from support.statements import Sheet

from ledger.funds.models import BeneficiaryRow, DonorContactRow
from ledger.funds.privacy import ANONYMOUS_DONOR
from ledger.funds.text import fold_ascii

CONTACT = "0912 345 678"
EMAIL = "an.nguyen.private@example.vn"
DONOR_ACCOUNT = "0123456789012"
ANONYMOUS_NAME = "Hoàng Thị Kim Oanh"
BENEFICIARY_NAME = "Lý Văn Khánh"
NATIONAL_ID = "001203004567"
SENDER_NAME = "PHAM MINH QUANG"
SENDER_ACCOUNT = "9990000000777"
MEMO_PHONE = "0987654321"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _forms(value: str) -> set[str]:
    """The ways a value could appear: as given, without spaces, without diacritics."""
    forms = {value, value.replace(" ", ""), fold_ascii(value)}
    forms |= {form.upper() for form in forms} | {form.lower() for form in forms}
    return {form for form in forms if len(form) >= 8}


SECRETS = {
    name: _forms(value)
    for name, value in {
        "donor contact": CONTACT,
        "donor e-mail": EMAIL,
        "donor bank account": DONOR_ACCOUNT,
        "anonymous donor's name": ANONYMOUS_NAME,
        "beneficiary's full name": BENEFICIARY_NAME,
        "national ID": NATIONAL_ID,
        "statement sender's name": SENDER_NAME,
        "statement sender's account": SENDER_ACCOUNT,
        "phone in a transfer memo": MEMO_PHONE,
    }.items()
}


def _seed(client: FlaskClient, funds: Any, admin: str) -> list[str]:
    """Record the private data every way it can enter; return the receipt IDs."""
    gifts = [
        {
            "display": "Nguyễn Văn An",
            "type": "individual",
            "contact": f"{CONTACT}, {EMAIL}",
            "account": DONOR_ACCOUNT,
        },
        {"display": ANONYMOUS_NAME, "type": "individual", "anonymous": True, "contact": EMAIL},
    ]
    receipts = []
    for number, donor in enumerate(gifts):
        answer = client.post(
            f"{API}/contributions",
            json={
                "fund": funds.fund,
                "amount": 2_000_000,
                "channel": "bank",
                "reference": f"FT2611{number}",
                "donor": donor,
                "mobilizer": funds.mobilizer,
            },
            headers=auth(admin),
        )
        assert answer.status_code == 201, answer.get_json()
        receipts.append(answer.get_json()["receipt_id"])
    allocation = client.post(
        f"{API}/allocations",
        json={
            "fund": funds.fund,
            "amount": 1_500_000,
            "purpose": "Hỗ trợ người lao động tự do (Nghị quyết 68/NQ-CP)",
            "program": "NQ68-LDTD",
            "beneficiary": {
                "display": BENEFICIARY_NAME,
                "type": "individual",
                "unit": funds.district,
                "national_id": NATIONAL_ID,
            },
        },
        headers=auth(admin),
    )
    assert allocation.status_code == 201, allocation.get_json()
    sheet = (
        Sheet(funds.today)
        .credit(3, "FT26777", 700_000, "LS26COVID ung ho", SENDER_NAME, SENDER_ACCOUNT)
        .credit(2, "FT26778", 300_000, f"ung ho SDT {MEMO_PHONE}", SENDER_NAME, SENDER_ACCOUNT)
    )
    imported = client.post(
        f"{API}/imports?format=vietcombank",
        data=sheet.csv(),
        content_type="text/csv",
        headers=auth(admin),
    )
    assert imported.status_code in (200, 201), imported.get_json()
    receipts += [gift["receipt_id"] for gift in imported.get_json().get("created", [])]
    return receipts


def _arguments(client: FlaskClient, receipts: list[str]) -> dict[str, list[Any]]:
    """Values for every path argument a public route can take."""
    size = len(client.get(f"{API}/log/entries?limit=1000").get_json()["entries"])
    codes = set()
    for listing, key in (("funds", "funds"), ("units", "units"), ("campaigns", "campaigns")):
        codes |= {item["code"] for item in client.get(f"{API}/{listing}").get_json()[key]}
    codes |= {m["code"] for m in client.get(f"{API}/mobilizers").get_json()["mobilizers"]}
    nominations = [item["id"] for item in client.get(f"{API}/awards").get_json()["nominations"]]
    return {
        "receipt_id": receipts,
        "index": list(range(size)),
        "code": sorted(codes),
        "batch_id": [1],  # the writers' import reports: the crawl, holding no token, gets 401
        "nomination_id": [*nominations, "K0000000000000000"],  # and one that does not exist
        "tile": [f"entries/000.p/{min(size, 255)}", f"0/000.p/{min(size, 255)}"],  # the leaves
    }


def _urls(app: Flask, values: dict[str, list[Any]]) -> Iterator[str]:
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        missing = rule.arguments - values.keys()
        assert not missing, f"{rule.rule}: the crawl has no values for {sorted(missing)}"
        combos: list[dict[str, Any]] = [{}]
        for name in sorted(rule.arguments):
            combos = [{**combo, name: value} for combo in combos for value in values[name]]
        for combo in combos:
            path = rule.rule
            for name, value in combo.items():
                path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), path)
            yield path
            yield f"{path}?format=csv"


def _text_of(response: Any) -> str:
    """What a person or program could read out of a response."""
    if response.mimetype == "image/png":
        image = Image.open(io.BytesIO(response.data))
        return " ".join(code.text for code in zxingcpp.read_barcodes(image))
    if response.mimetype == "application/pdf":
        reader = PdfReader(io.BytesIO(response.data))
        return " ".join(page.extract_text() for page in reader.pages) + response.data.decode(
            "latin-1"
        )
    if response.mimetype == XLSX:  # the awards list as a workbook: every cell's text
        sheets = load_workbook(io.BytesIO(response.data), read_only=True).worksheets
        cells = (
            cell for sheet in sheets for row in sheet.iter_rows(values_only=True) for cell in row
        )
        return " ".join(str(cell) for cell in cells if cell is not None)
    if response.mimetype == "application/octet-stream":  # tiles: leaves behind binary lengths
        return str(response.data.decode("utf-8", errors="replace"))
    return str(response.get_data(as_text=True))


def _leaks(text: str) -> list[str]:
    return [name for name, forms in SECRETS.items() if any(form in text for form in forms)]


def test_no_private_value_appears_in_any_public_answer_or_log_line(
    app: Flask, client: FlaskClient, funds: Any, admin: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receipts = _seed(client, funds, admin)
    with funds.db.session() as session:  # the private values were taken, and kept apart
        contacts = session.scalars(select(DonorContactRow.contact)).all()
        assert any(CONTACT in (contact or "") for contact in contacts)
        names = session.scalars(select(BeneficiaryRow.full_name)).all()
        assert BENEFICIARY_NAME in names

    public_text: list[str] = []
    crawled: dict[str, int] = {}
    for url in _urls(app, _arguments(client, receipts)):
        response = client.get(url, follow_redirects=True)
        assert response.status_code < 500, url
        crawled[url] = response.status_code
        text = _text_of(response)
        assert not _leaks(text), f"{url} shows {_leaks(text)}"
        public_text.append(text)

    for record in caplog.records:
        assert not _leaks(record.getMessage()), f"log line shows {_leaks(record.getMessage())}"

    # The crawl read real pages: the public forms of the same facts are there.
    everything = "\n".join(public_text)
    assert ANONYMOUS_DONOR in everything
    assert "Lý V. K." in everything
    assert any(receipt in everything for receipt in receipts)
    assert sum(status == 200 for status in crawled.values()) > 30
