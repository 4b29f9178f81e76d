"""The home page and the pages of a fund, a campaign and a unit show the API's figures.

Every amount on a page is compared with what the public API answers for the same
ledger (``/api/v1/statistics``, ``/funds``, ``/campaigns``, ``/units``), so the pages
cannot drift from the figures auditors check. Names supplied by donors and managers
hold markup, and must come out as text, in the HTML and in the charts' SVG alike.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient
from support.api import API
from support.documents import add_document

from ledger.funds.access import command_line
from ledger.funds.recorder import record
from ledger.receipt_ids import grouped
from ledger.receipt_pdf import money

HOSTILE_DONOR = "<script>alert(1)</script>"
HOSTILE_FUND = '<img src=x onerror=alert(2)> "Quỹ" & co'
HOSTILE_UNIT = "Thị trấn <b>Đồng Đăng</b> & 'Na'"
SVG = re.compile(r"<svg\b.*?</svg>", re.S)
SVG_NS = "{http://www.w3.org/2000/svg}"


class Page(HTMLParser):
    """The text of every element with an ``id``, and of every ``data-col`` cell by row."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.by_id: dict[str, str] = {}
        self.cells: dict[tuple[str, str], str] = {}
        self.row_ids: list[str] = []
        self._open: list[tuple[str, str | None, str | None]] = []  # tag, id, data-col
        self._text: dict[int, list[str]] = defaultdict(list)
        self._row: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr":
            self._row = found.get("id")
            if self._row:
                self.row_ids.append(self._row)
        if tag in {"br", "img", "input", "meta", "link", "rect", "path"}:
            return
        self._open.append((tag, found.get("id"), found.get("data-col")))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            name, element_id, column = self._open.pop()
            text = " ".join("".join(self._text.pop(len(self._open), [])).split())
            if self._open:
                self._text[len(self._open) - 1].append(text)
            if element_id:
                self.by_id[element_id] = text
            if column and self._row:
                self.cells[(self._row, column)] = text
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text[len(self._open) - 1].append(data)


def page_of(client: FlaskClient, url: str, status: int = 200) -> tuple[str, Page]:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    return html, Page(html)


def svgs(html: str) -> list[ET.Element]:
    """Every chart of a page, parsed as the XML it must be (our own output, not input)."""
    return [ET.fromstring(found) for found in SVG.findall(html)]  # noqa: S314


def days_ago(funds: Any, days: int) -> str:
    return (date.fromisoformat(funds.today) - timedelta(days=days)).isoformat()


@pytest.fixture
def seeded(funds: Any) -> dict[str, Any]:
    """Gifts on several days to three funds, in cash, by bank and in kind, one reversed;
    allocations with a decision and a document, a payment, a transfer; markup in names."""
    opens, closes = days_ago(funds, 50), days_ago(funds, -30)
    funds.record(
        "unit", {"code": "LS-CL-DD", "name": HOSTILE_UNIT, "parent": "LS-CL", "level": "commune"}
    )
    funds.record(
        "fund", {"code": "DD-COVID", "unit": "LS-CL-DD", "kind": "covid19", "name": HOSTILE_FUND}
    )
    funds.record(
        "campaign",
        {
            "code": "DD-2026",
            "fund": "DD-COVID",
            "name": "Đồng Đăng <chung tay>",
            "purpose": "Hỗ trợ người dân",
            "reference": "DD26COVID",
            "opens": opens,
            "closes": closes,
            "distribute_by": closes,
            "account": {"bank_bin": "970436", "number": "0011009999999", "holder": "MTTQ"},
        },
    )
    funds.give(2_000_000, channel="bank", reference="FT26001", received_on=days_ago(funds, 30))
    funds.give(
        5_000_000,
        channel="in_kind",
        in_kind={"description": "Khẩu trang y tế", "quantity": 1000, "unit": "hộp"},
        received_on=days_ago(funds, 9),
    )
    funds.give(700_000, fund=funds.district_fund, received_on=days_ago(funds, 20))
    funds.give(
        450_000,
        fund="DD-COVID",
        donor={"display": "Bà <i>Lan</i>", "type": "individual"},
        received_on=days_ago(funds, 5),
    )
    wrong = funds.give(9_000_000, received_on=days_ago(funds, 8))
    funds.record("reversal", {"target": wrong.index, "reason": "Ghi trùng"})
    funds.give(300_000, donor={"anonymous": True}, received_on=days_ago(funds, 10))
    hostile = funds.give(  # the latest gift, so that the home page lists it
        1_250_000,
        donor={"display": HOSTILE_DONOR, "type": "individual"},
        received_on=days_ago(funds, 40),
    )
    proof = add_document(funds)
    grant = funds.allocate(
        1_000_000,
        decision={"number": "12/QĐ-MTTQ", "date": days_ago(funds, 3), "approver": "Ông <b>A</b>"},
        documents=[proof],
        campaign=funds.campaign,
    )
    funds.record(
        "disbursement",
        {
            "allocation": grant.index,
            "amount": 600_000,
            "documents": [proof],
            "paid_on": funds.today,
        },
    )
    funds.allocate(200_000, fund=funds.district_fund, decision_ref="05/QĐ-CL")
    funds.record(
        "transfer", {"from_fund": funds.district_fund, "to_fund": funds.fund, "amount": 100_000}
    )
    return {"hostile": hostile, "proof": proof, "grant": grant}


# -- the figures are the API's -----------------------------------------------------------------


def test_the_home_page_shows_the_statistics_of_the_api(
    client: FlaskClient, seeded: dict[str, Any]
) -> None:
    html, page = page_of(client, "/")
    statistics = client.get(f"{API}/statistics").get_json()
    for name in ("received", "allocated", "disbursed", "available"):
        assert page.by_id[f"total-{name}"] == money(statistics["amounts"][name])
    assert len(statistics["funds"]) == 4
    for fund in statistics["funds"]:
        for name in ("received", "allocated", "disbursed", "available"):
            assert page.cells[(f"fund-{fund['code']}", name)] == money(fund["amounts"][name])
    for campaign in client.get(f"{API}/campaigns").get_json()["campaigns"]:
        balance, row = campaign["balance"], f"campaign-{campaign['code']}"
        assert page.cells[(row, "received")] == money(balance["received"])
        assert page.cells[(row, "allocated")] == money(balance["committed"] + balance["disbursed"])
        assert page.cells[(row, "disbursed")] == money(balance["disbursed"])
    assert "1.250.000 ₫" in html  # amounts as Vietnamese readers write them


def test_the_home_page_lists_the_latest_gifts_and_allocations_with_their_receipts(
    client: FlaskClient, seeded: dict[str, Any]
) -> None:
    html, page = page_of(client, "/")
    latest = client.get(f"{API}/contributions?limit=5").get_json()["contributions"]
    shown = [row for row in page.row_ids if row.startswith("gift-")]
    assert shown == [f"gift-{gift['index']}" for gift in latest]  # newest first
    for gift in latest:
        assert f'href="/r/{gift["receipt_id"]}"' in html
        assert grouped(gift["receipt_id"]) in html
    allocations = client.get(f"{API}/allocations?limit=5").get_json()["allocations"]
    shown = [row for row in page.row_ids if row.startswith("allocation-")]
    assert shown == [f"allocation-{item['index']}" for item in allocations]
    assert "Nhà hảo tâm ẩn danh" in html
    assert "Đã hủy" in html  # the reversed gift is listed, marked


def test_a_fund_page_shows_its_balance_and_campaigns_as_the_api_does(
    client: FlaskClient, funds: Any, seeded: dict[str, Any]
) -> None:
    for code in (funds.fund, funds.district_fund, "DD-COVID"):
        _html, page = page_of(client, f"/quy/{code}")
        fund = client.get(f"{API}/funds/{code}").get_json()
        for name, amount in fund["balance"].items():
            if f"balance-{name}" in page.by_id or amount:
                assert page.by_id[f"balance-{name}"] == money(amount), (code, name)
        campaigns = client.get(f"{API}/campaigns?fund={code}").get_json()["campaigns"]
        for campaign in campaigns:
            cell = page.cells[(f"campaign-{campaign['code']}", "received")]
            assert cell == money(campaign["balance"]["received"])
    _html, page = page_of(client, f"/quy/{funds.fund}")
    assert page.by_id["balance-received_in_kind"] == "5.000.000 ₫"


def test_a_campaign_page_shows_its_balance_as_the_api_does(
    client: FlaskClient, funds: Any, seeded: dict[str, Any]
) -> None:
    for code in (funds.campaign, funds.district_campaign, "DD-2026", funds.other_campaign):
        html, page = page_of(client, f"/chien-dich/{code}")
        campaign = client.get(f"{API}/campaigns/{code}").get_json()
        for name in ("received", "available", "committed", "disbursed"):
            assert page.by_id[f"balance-{name}"] == money(campaign["balance"][name]), code
        assert campaign["account"]["number"] == page.by_id["account-number"]
        assert f"/api/v1/campaigns/{code}/vietqr.svg" in html  # open today: a code to scan


def test_a_unit_page_rolls_up_the_units_below_it_as_the_api_does(
    client: FlaskClient, funds: Any, seeded: dict[str, Any]
) -> None:
    _html, page = page_of(client, f"/don-vi/{funds.province}")
    unit = client.get(f"{API}/units/{funds.province}").get_json()
    for name in ("received", "available", "committed", "disbursed"):
        assert page.by_id[f"balance-{name}"] == money(unit["balance"][name])
    for child in unit["children"]:
        balance = client.get(f"{API}/units/{child}").get_json()["balance"]
        for name in ("received", "available", "committed", "disbursed"):
            assert page.cells[(f"unit-{child}", name)] == money(balance[name])
    for code in unit["funds"]:
        balance = client.get(f"{API}/funds/{code}").get_json()["balance"]
        assert page.cells[(f"fund-{code}", "received")] == money(balance["received"])
    # The gifts of every fund below the province, newest first; the API's list of all.
    everything = client.get(f"{API}/contributions?limit=20").get_json()["contributions"]
    shown = [row for row in page.row_ids if row.startswith("gift-")]
    assert shown == [f"gift-{gift['index']}" for gift in everything]
    _html, district = page_of(client, f"/don-vi/{funds.district}")
    below = client.get(f"{API}/units/{funds.district}").get_json()["balance"]
    assert district.by_id["balance-received"] == money(below["received"])
    assert "unit-LS-CL-DD" in district.row_ids


def test_allocations_show_their_decisions_and_documents(
    client: FlaskClient, funds: Any, seeded: dict[str, Any]
) -> None:
    html, page = page_of(client, f"/chien-dich/{funds.campaign}")
    grant = seeded["grant"].index
    assert f"allocation-{grant}" in page.row_ids
    assert seeded["proof"] in html  # no public route serves documents: the hash is shown
    assert "12/QĐ-MTTQ" in html
    assert "Ông &lt;b&gt;A&lt;/b&gt;" in html
    assert "600.000 ₫" in html
    assert days_ago(funds, 3) not in html  # dates are dd/mm/yyyy
    assert date.fromisoformat(days_ago(funds, 3)).strftime("%d/%m/%Y") in html


# -- paging --------------------------------------------------------------------------------


def _shown(page: Page, kind: str) -> list[str]:
    return [row for row in page.row_ids if row.startswith(f"{kind}-")]


def _listed(client: FlaskClient, path: str, kind: str) -> tuple[list[str], int | None]:
    """The rows a page should show: the API's list, as row ids, and its ``next``."""
    answer = client.get(f"{API}/{path}").get_json()
    key = "contributions" if kind == "gift" else "allocations"
    return [f"{kind}-{item['index']}" for item in answer[key]], answer["next"]


def test_long_lists_are_paged_by_key_newest_first(client: FlaskClient, funds: Any) -> None:
    gifts = [funds.give(100_000 + n) for n in range(23)]
    for n in range(12):
        funds.allocate(10_000 + n)
    url, fund = f"/quy/{funds.fund}", funds.fund
    html, page = page_of(client, url)
    newest, after = _listed(client, f"contributions?fund={fund}&limit=20", "gift")
    assert _shown(page, "gift") == newest
    assert newest[0] == f"gift-{gifts[-1].index}"
    assert f'href="{url}?after={after}#gifts"' in html
    assert 'rel="first"' not in html

    html, page = page_of(client, f"{url}?after={after}")
    rest, last = _listed(client, f"contributions?fund={fund}&after={after}", "gift")
    assert _shown(page, "gift") == rest and len(rest) == 3 and last is None
    assert f'href="{url}#gifts"' in html  # back to the newest
    assert '#gifts" rel="next"' not in html  # the gifts end here
    allocations, allocations_after = _listed(
        client, f"allocations?fund={fund}&limit=10", "allocation"
    )
    assert _shown(page, "allocation") == allocations  # the other list stays where it was
    moved = f"{url}?after={after}&amp;allocations_after={allocations_after}#allocations"
    assert f'href="{moved}"' in html  # and moving it keeps this one where it is

    html, page = page_of(client, f"{url}?allocations_after={allocations_after}&lang=en")
    older, _next = _listed(
        client, f"allocations?fund={fund}&after={allocations_after}", "allocation"
    )
    assert _shown(page, "allocation") == older and len(older) == 2
    assert f'href="{url}?lang=en#allocations"' in html  # the language is kept


@pytest.mark.parametrize("after", ["abc", "-1", "1e3", "99999999999999999999", "١٢"])
def test_a_paging_argument_that_is_no_index_is_a_400_page(
    client: FlaskClient, funds: Any, after: str
) -> None:
    for url in (f"/quy/{funds.fund}", f"/chien-dich/{funds.campaign}", f"/don-vi/{funds.province}"):
        response = client.get(url, query_string={"after": after})
        assert response.status_code == 400
        assert response.mimetype == "text/html"
        assert response.headers["Cache-Control"] == "no-store"
        assert 'class="site-nav"' in response.get_data(as_text=True)


# -- not found --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "vietnamese", "english"),
    [
        ("/quy/", "Không có quỹ nào mang mã này.", "No fund has this code."),
        ("/chien-dich/", "Không có cuộc vận động nào mang mã này.", "No campaign has this code."),
        ("/don-vi/", "Không có đơn vị nào mang mã này.", "No unit has this code."),
    ],
)
def test_an_unknown_code_is_a_404_page_in_the_layout(
    client: FlaskClient, funds: Any, path: str, vietnamese: str, english: str
) -> None:
    html, _page = page_of(client, f"{path}KHONG-CO", 404)
    assert vietnamese in html and 'class="site-nav"' in html and '<html lang="vi">' in html
    assert "<code>KHONG-CO</code>" in html
    html, _page = page_of(client, f"{path}KHONG-CO?lang=en", 404)
    assert english in html and '<html lang="en">' in html
    response = client.get(f"{path}%3Cscript%3Ealert(1)%3B%3C%5Cscript%3E")  # not a code
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert "<script>alert" not in text and "&lt;script&gt;alert(1);&lt;\\script&gt;" in text


# -- escaping -------------------------------------------------------------------------------


def test_hostile_names_are_text_in_pages_and_charts(
    client: FlaskClient, funds: Any, seeded: dict[str, Any]
) -> None:
    for url in (
        "/",
        f"/quy/{funds.fund}",
        "/quy/DD-COVID",
        "/don-vi/LS-CL-DD",
        "/chien-dich/DD-2026",
    ):
        html, _page = page_of(client, url)
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "<b>" not in html and "<i>Lan" not in html
        for chart in svgs(html):
            texts = "".join(chart.itertext())
            assert "onerror" not in "".join(chart.attrib.values())
            assert all(child.tag.startswith(SVG_NS) for child in chart.iter())
            if url == "/quy/DD-COVID":
                assert HOSTILE_FUND in texts  # escaped in the markup, itself once parsed
    home, _page = page_of(client, "/")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home
    fund, _page = page_of(client, f"/quy/{funds.fund}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fund
    unit, _page = page_of(client, "/don-vi/LS-CL-DD")
    assert "Thị trấn &lt;b&gt;Đồng Đăng&lt;/b&gt; &amp; &#39;Na&#39;" in unit
    titles = [chart.findtext(f"{SVG_NS}title", "") for chart in svgs(unit)]
    assert titles and all(HOSTILE_UNIT in title for title in titles)


# -- charts ---------------------------------------------------------------------------------


def _figures(html: str) -> dict[str, ET.Element]:
    return {chart.attrib["aria-labelledby"].split("-title")[0]: chart for chart in svgs(html)}


def _table(page_html: str, key: str) -> tuple[list[list[int]], list[int]]:
    """The amounts of a chart's table, by row, and its totals."""
    table = page_html.split(f'id="{key}-table"', 1)[1].split("</table>", 1)[0]
    rows = [
        [int(value) for value in re.findall(r'data-value="(-?\d+)"', row)]
        for row in table.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("</tr>")
        if "data-value" in row
    ]
    totals = [int(value) for value in re.findall(r'data-total="(-?\d+)"', table)]
    return rows, totals


def test_every_chart_parses_and_adds_up_to_its_table_and_to_the_api(
    client: FlaskClient, funds: Any, seeded: dict[str, Any]
) -> None:
    pages = {
        "/": ("ledger", client.get(f"{API}/statistics").get_json()["amounts"]),
        f"/quy/{funds.fund}": (
            "fund",
            client.get(f"{API}/funds/{funds.fund}").get_json()["balance"],
        ),
        f"/chien-dich/{funds.campaign}": (
            "campaign",
            client.get(f"{API}/campaigns/{funds.campaign}").get_json()["balance"],
        ),
        f"/don-vi/{funds.province}": (
            "unit",
            client.get(f"{API}/units/{funds.province}").get_json()["balance"],
        ),
    }
    for url, (prefix, balance) in pages.items():
        html = client.get(url).get_data(as_text=True)
        figures = _figures(html)
        flows = figures[f"{prefix}-flows"]
        bars = [rect for rect in flows.iter(f"{SVG_NS}rect") if "bar" in rect.attrib["class"]]
        money_in = [int(r.attrib["data-value"]) for r in bars if "tone-in" in r.attrib["class"]]
        money_out = [int(r.attrib["data-value"]) for r in bars if "tone-out" in r.attrib["class"]]
        rows, totals = _table(html, f"{prefix}-flows")
        assert money_in == [row[0] for row in rows] and money_out == [row[1] for row in rows]
        assert totals == [sum(money_in), sum(money_out)]
        assert totals == [balance["received"], balance["disbursed"]], url  # cash, reversals out
        assert flows.findtext(f"{SVG_NS}title") and flows.findtext(f"{SVG_NS}desc")
        assert flows.attrib["viewBox"].startswith("0 0 320 ")
        if prefix == "ledger":
            continue
        stack = figures[f"{prefix}-balance"]
        parts = [
            int(r.attrib["data-value"])
            for r in stack.iter(f"{SVG_NS}rect")
            if "bar" in r.attrib["class"]
        ]
        rows, totals = _table(html, f"{prefix}-balance")
        assert (
            parts
            == [row[0] for row in rows]
            == [
                balance["disbursed"],
                balance["committed"],
                balance["available"],
            ]
        )
        assert totals == [sum(parts)]
        widths = [
            float(r.attrib["width"])
            for r in stack.iter(f"{SVG_NS}rect")
            if "bar" in r.attrib["class"]
        ]
        assert sum(widths) == pytest.approx(320, abs=0.3)


def test_a_ledger_without_money_draws_empty_charts(client: FlaskClient, funds: Any) -> None:
    for url in (
        "/",
        f"/quy/{funds.fund}",
        f"/chien-dich/{funds.campaign}",
        f"/don-vi/{funds.province}",
    ):
        html, _page = page_of(client, url)
        for chart in svgs(html):
            assert chart.findtext(f"{SVG_NS}text") in {"Chưa có số liệu.", "Chưa có tiền."}
        assert "Chưa có khoản ủng hộ nào." in html


def test_goods_are_shown_apart_and_left_out_of_money_in_and_out(
    client: FlaskClient, funds: Any
) -> None:
    funds.give(800_000)
    funds.give(
        5_000_000,
        channel="in_kind",
        in_kind={"description": "Gạo", "quantity": 100, "unit": "kg"},
    )
    goods = funds.allocate(2_000_000, form="in_kind")
    proof = add_document(funds)
    funds.record(
        "disbursement", {"allocation": goods.index, "amount": 500_000, "documents": [proof]}
    )
    html, page = page_of(client, f"/quy/{funds.fund}")
    balance = client.get(f"{API}/funds/{funds.fund}").get_json()["balance"]
    for name in ("received_in_kind", "in_kind", "in_kind_committed", "in_kind_disbursed"):
        assert page.by_id[f"balance-{name}"] == money(balance[name])
    _rows, totals = _table(html, "fund-flows")
    assert totals == [800_000, 0]


def test_a_unit_without_funds_has_a_page_with_nothing_in_it(
    client: FlaskClient, funds: Any
) -> None:
    funds.record("unit", {"code": "LS-VL-X", "name": "Xã X", "parent": funds.other_district})
    html, page = page_of(client, "/don-vi/LS-VL-X")
    assert page.by_id["balance-received"] == "0 ₫"
    assert "Đơn vị không trực tiếp quản lý quỹ nào." in html
    assert "Chưa có khoản ủng hộ nào." in html


# -- language, formats, headers ------------------------------------------------------------


def test_pages_speak_english_on_request_and_keep_it_in_their_links(
    client: FlaskClient, funds: Any, seeded: dict[str, Any]
) -> None:
    expected = {
        "/": ("Money in, money out", "By fund", "Latest gifts"),
        f"/quy/{funds.fund}": ("Balances", "The fund's campaigns", "Paid out"),
        f"/chien-dich/{funds.campaign}": ("Account for gifts", "Transfer memo", "Gifts"),
        f"/don-vi/{funds.province}": ("Units below", "Funds this unit manages", "Allocations"),
    }
    for url, phrases in expected.items():
        html, _page = page_of(client, f"{url}?lang=en")
        assert '<html lang="en">' in html
        for phrase in phrases:
            assert phrase in html, (url, phrase)
        assert "Tiền vào, tiền ra" not in html and "Nhà hảo tâm ẩn danh" not in html
        assert 'href="/?lang=en"' in html  # the links keep the language
        assert re.search(r"\d{1,3}(\.\d{3})* ₫", html)  # amounts as in Vietnamese
    html, _page = page_of(client, "/?lang=en")
    assert "Anonymous donor" in html
    assert f'href="/quy/{funds.fund}?lang=en"' in html
    assert re.search(r">\d+(\.\d+)?(bn|M|k)</text>", html)  # the charts' short amounts too


def test_pages_are_cacheable_briefly_and_allow_no_inline_code(
    client: FlaskClient, funds: Any, seeded: dict[str, Any]
) -> None:
    for url in (
        "/",
        f"/quy/{funds.fund}",
        f"/chien-dich/{funds.campaign}",
        f"/don-vi/{funds.province}",
    ):
        response = client.get(url)
        assert response.headers["Cache-Control"] == "public, max-age=5"
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304
        html = response.get_data(as_text=True)
        assert "<script" not in html and " style=" not in html and "<style" not in html


# -- speed -----------------------------------------------------------------------------------


def test_pages_over_ten_thousand_gifts_render_well_under_a_second(
    client: FlaskClient, funds: Any
) -> None:
    """The benchmark of the pages: each reads a page of each list, never every gift.

    On this machine each page takes a few tens of milliseconds on SQLite and PostgreSQL;
    the bound leaves room for a slow runner but not for reading 10,000 gifts a page.
    """
    today = date.fromisoformat(funds.today)
    for start in range(0, 10_000, 2_000):
        batch = [
            (
                "contribution",
                {
                    "fund": (funds.fund, funds.district_fund, funds.other_fund)[n % 3],
                    "amount": 10_000 * (1 + n % 97),
                    "channel": ("bank", "cash")[n % 2],
                    "donor": {"display": f"Nguyễn Văn {n}", "type": "individual"},
                    "received_on": (today - timedelta(days=n % 59)).isoformat(),
                },
            )
            for n in range(start, start + 2_000)
        ]
        record(funds.db, funds.settings, command_line("bench"), batch)
    for n in range(50):
        funds.allocate(100_000 + n)
    assert client.get(f"{API}/statistics").get_json()["counts"]["gifts"] == 10_000
    for url in (
        "/",
        f"/quy/{funds.fund}",
        f"/quy/{funds.fund}?after=6000&allocations_after=10030",
        f"/chien-dich/{funds.campaign}",
        f"/don-vi/{funds.province}",
        f"/don-vi/{funds.province}?after=3000&lang=en",
    ):
        client.get(url)  # templates compiled, caches warm
        times = []
        for _ in range(3):
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
        assert sorted(times)[1] < 0.5, (url, times)
