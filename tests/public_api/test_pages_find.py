"""Find my gift: each criterion finds the gift, bad input is said in the form, names stay text."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from ledger.funds.privacy import ANONYMOUS_DONOR
from ledger.receipt_ids import grouped
from public_api.pages import find

HOSTILE = "<script>alert(1)</script>"
AMOUNT = 1_250_000
DAYS_AGO = {"other": 50, "mine": 20, "anonymous": 19, "later": 5}


def day(funds: Any, name: str, form: str = "%Y-%m-%d") -> str:
    """The day the gift ``name`` arrived (in the campaign, which opened 60 days ago)."""
    return (date.fromisoformat(funds.today) - timedelta(days=DAYS_AGO[name])).strftime(form)


VN = "%d/%m/%Y"


@pytest.fixture
def gifts(funds: Any) -> dict[str, str]:
    """The donor's gift among others; receipt IDs by who gave them."""
    found = {}
    for name, amount, extra in (
        ("other", 300_000, {}),
        (
            "mine",
            AMOUNT,
            {
                "channel": "bank",
                "reference": "FT26064123456",
                "donor": {"display": "Nguyễn V. A.", "type": "individual"},
            },
        ),
        ("later", 2_000_000, {"donor": {"display": "Trần T. B.", "type": "individual"}}),
        (
            "anonymous",
            AMOUNT,
            {"donor": {"display": "Hoàng Thị Kim Oanh", "type": "individual", "anonymous": True}},
        ),
    ):
        gift = funds.give(amount, received_on=day(funds, name), **extra)
        found[name] = gift.extra["receipt_id"]
    return found


def found(client: FlaskClient, **query: str) -> list[str]:
    """The receipt IDs a search lists, in order."""
    page = client.get("/tra-cuu", query_string=query)
    assert page.status_code == 200, page.get_data(as_text=True)
    return re.findall(r'class="receipt-link" href="/r/([0-9A-Z]+)"', page.get_data(as_text=True))


def test_the_bare_page_is_the_form_with_a_label_for_every_input(client: FlaskClient) -> None:
    page = client.get("/tra-cuu")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "public, max-age=5"
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    text = page.get_data(as_text=True)
    inputs = re.findall(r'<input id="([^"]+)"', text)
    assert len(inputs) == 7
    for input_id in inputs:
        assert f'<label for="{input_id}">' in text
    assert 'method="get"' in text and "find-results" not in text


@pytest.mark.parametrize(
    "query",
    [
        lambda funds: {"reference": "FT26064123456"},
        lambda funds: {"donor": "Nguyễn V"},
        lambda funds: {"donor": "nguyen v. a"},
        lambda funds: {"donor": "NGUYEN"},
        lambda funds: {
            "from": day(funds, "mine", VN),
            "to": day(funds, "mine", VN),
            "min_amount": "1.250.000",
        },
        lambda funds: {"from": day(funds, "mine"), "to": day(funds, "mine")},
        lambda funds: {
            "min_amount": "1.250.000 ₫",
            "max_amount": "1250000",
            "to": day(funds, "mine", "%-d/%-m/%Y"),
        },
    ],
)
def test_each_criterion_finds_the_gift(
    client: FlaskClient, funds: Any, gifts: dict[str, str], query: Any
) -> None:
    assert found(client, **query(funds)) == [gifts["mine"]]


def test_a_range_lists_newest_first(client: FlaskClient, funds: Any, gifts: dict[str, str]) -> None:
    listed = found(client, **{"from": day(funds, "mine", VN)})
    assert listed == [gifts["anonymous"], gifts["later"], gifts["mine"]]


def test_what_is_shown_is_what_was_published(
    client: FlaskClient, funds: Any, gifts: dict[str, str]
) -> None:
    page = client.get("/tra-cuu?reference=FT26064123456").get_data(as_text=True)
    assert "1.250.000 ₫" in page
    assert day(funds, "mine", VN) in page
    assert "Nguyễn V. A." in page
    assert "Quỹ phòng, chống COVID-19 tỉnh Lạng Sơn" in page
    assert grouped(gifts["mine"]) in page
    assert "/api/v1/contributions?reference=FT26064123456" in page
    same_day = {"from": day(funds, "anonymous"), "to": day(funds, "anonymous")}
    anonymous = client.get("/tra-cuu", query_string=same_day).get_data(as_text=True)
    assert ANONYMOUS_DONOR in anonymous
    assert "Hoàng Thị Kim Oanh" not in anonymous
    assert found(client, donor="Hoàng Thị Kim Oanh") == []


@pytest.mark.parametrize(
    "typed", [lambda r: r, lambda r: grouped(r).lower(), lambda r: f" {grouped(r)} "]
)
def test_an_exact_receipt_code_opens_the_receipt(
    client: FlaskClient, gifts: dict[str, str], typed: Any
) -> None:
    answer = client.get("/tra-cuu", query_string={"receipt_id": typed(gifts["mine"])})
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/r/{gifts['mine']}"
    assert answer.headers["Cache-Control"] == "public, max-age=5"
    english = client.get("/tra-cuu", query_string={"receipt_id": gifts["mine"], "lang": "en"})
    assert english.headers["Location"] == f"/r/{gifts['mine']}?lang=en"
    assert client.get(english.headers["Location"]).status_code == 200


def test_a_well_formed_code_of_no_gift_says_nothing_was_found(
    client: FlaskClient, gifts: dict[str, str]
) -> None:
    page = client.get("/tra-cuu?receipt_id=0000-0000-0000-0000")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="find-nothing"' in text
    assert "Không tìm thấy khoản ủng hộ nào" in text


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"from": "31/02/2026"}, "dd/mm/yyyy"),
        ({"to": "2026-3-5x"}, "dd/mm/yyyy"),
        ({"min_amount": "một triệu"}, "500.000"),
        ({"max_amount": "-5"}, "500.000"),
        ({"max_amount": "9" * 30}, "500.000"),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "không được trước"),
        ({"min_amount": "2000", "max_amount": "1000"}, "không được nhỏ hơn"),
        ({"receipt_id": "not a code"}, "16 chữ và số"),
        ({"donor": "..."}, "vài chữ cái"),
        ({"donor": "x" * 201}, "quá dài"),
        ({"reference": "FT\x00"}, "ký tự không hợp lệ"),
        ({"donor": "an", "after": "later"}, "trang sau"),
    ],
)
def test_bad_input_shows_the_form_again_with_a_message(
    client: FlaskClient, gifts: dict[str, str], query: dict[str, str], says: str
) -> None:
    page = client.get("/tra-cuu", query_string=query)
    assert page.status_code == 400
    assert page.mimetype == "text/html"
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    problems = text[text.index('id="find-problems"') : text.index("</div>")]
    assert says in problems
    assert '<form class="find-form"' in text
    assert "find-results" not in text


def test_the_form_keeps_what_was_typed(client: FlaskClient) -> None:
    query = {"donor": "Nguyễn", "from": "05/03/2026", "min_amount": "abc"}
    text = client.get("/tra-cuu", query_string=query).get_data(as_text=True)
    assert 'name="donor" value="Nguyễn"' in text
    assert 'name="from" type="date" value="2026-03-05"' in text
    assert 'name="min_amount" value="abc"' in text


def test_a_hostile_donor_name_is_shown_as_text(client: FlaskClient, funds: Any) -> None:
    gift = funds.give(700_000, donor={"display": HOSTILE, "type": "individual"})
    page = client.get("/tra-cuu", query_string={"donor": "script alert"})
    text = page.get_data(as_text=True)
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert gift.extra["receipt_id"] in text
    typed = client.get("/tra-cuu", query_string={"donor": HOSTILE}).get_data(as_text=True)
    assert HOSTILE not in typed
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in typed


def test_results_are_paged_by_key(
    client: FlaskClient, funds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(find, "PAGE_SIZE", 2)
    receipts = [funds.give(100_000 + i).extra["receipt_id"] for i in range(5)]
    seen: list[str] = []
    url: str | None = "/tra-cuu?min_amount=100000&max_amount=100004"
    while url is not None:
        text = client.get(url).get_data(as_text=True)
        seen += re.findall(r'class="receipt-link" href="/r/([0-9A-Z]+)"', text)
        following = re.search(r'rel="next" href="([^"]+)"', text)
        url = following[1].replace("&amp;", "&") if following else None
    assert seen == list(reversed(receipts))


def test_find_my_gift_in_english(client: FlaskClient, gifts: dict[str, str]) -> None:
    page = client.get("/tra-cuu?lang=en&reference=FT26064123456").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Receipt ID" in page and "Results" in page
    assert '<input type="hidden" name="lang" value="en">' in page
    assert "Kết quả" not in page
    bad = client.get("/tra-cuu?lang=en&from=yesterday")
    assert bad.status_code == 400
    assert "write the day as dd/mm/yyyy" in bad.get_data(as_text=True)
