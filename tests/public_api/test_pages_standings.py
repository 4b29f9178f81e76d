"""The leaderboard and award pages show what the rankings and awards API answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.api import API, MakeToken, auth

from audit.awards import nominations as n
from ledger.funds.access import AWARDS_BOARD
from public_api import create_app
from public_api.pages import standings

CRITERIA = """
[list]
place = "Lạng Sơn"
signer_title = "TM. BAN THƯỜNG TRỰC"
signer_role = "CHỦ TỊCH"

[[forms]]
code = "BK-UBND-TINH"
name = "Bằng khen của Chủ tịch UBND tỉnh"
decided_by = "province_people_committee"
proposed_upward = true
[forms.collective]
min_net_amount = 2_000_000
min_donors = 2

[[forms]]
code = "BK-MTTQ-TINH"
name = "Bằng khen của Ủy ban MTTQ Việt Nam tỉnh"
decided_by = "province_front_committee"
proposed_upward = false
[forms.individual]
min_net_amount = 500_000
"""
HOSTILE = "<script>alert(1)</script>"
BLOCKING_GIFT = 150_000_000  # cash without a reference: a blocking finding by default


@pytest.fixture
def web(env: dict[str, str], funds: Any, tmp_path: Path) -> Iterator[FlaskClient]:
    criteria = tmp_path / "criteria.toml"
    criteria.write_text(CRITERIA, encoding="utf-8")
    app: Flask = create_app({**env, "TESTING": True, "LEDGER_AWARDS_CRITERIA": str(criteria)})
    yield app.test_client()
    app.extensions["ledger.database"].dispose()


@pytest.fixture
def board(make_token: MakeToken) -> str:
    return make_token(AWARDS_BOARD, name="ls-board")


def mobilised(funds: Any) -> dict[str, str]:
    """A women's union of Cao Lộc (2.3 million, 3 donors), a person (600,000), and a
    collective of Văn Lãng with a hostile name; returns the first gift of each."""
    for code, name, kind, unit in (
        ("CL-HPN", "Hội Liên hiệp Phụ nữ huyện Cao Lộc", "collective", "LS-CL"),
        ("P-HOA", "Bà Nguyễn Thị Hoà", "individual", "LS-VL"),
        ("VL-DOAN", f"Đoàn {HOSTILE}", "collective", "LS-VL"),
    ):
        funds.record("mobilizer", {"code": code, "name": name, "type": kind, "unit": unit})
    first = {}
    for amount, donor, mobilizer in (
        (1_500_000, "Đỗ Văn Khải", "CL-HPN"),
        (500_000, "Lương Thị Mận", "CL-HPN"),
        (300_000, "Hà An", "CL-HPN"),
        (600_000, "Công ty Tân Thanh", "P-HOA"),
        (200_000, "Vi Văn Tám", "VL-DOAN"),
    ):
        gift = funds.give(
            amount, mobilizer=mobilizer, donor={"display": donor, "type": "individual"}
        )
        first.setdefault(mobilizer, gift.extra["receipt_id"])
    return first


def rows(page: str, attribute: str) -> dict[str, str]:
    """Each table row with ``attribute``, by its value: the row's HTML."""
    found = re.findall(rf'<tr {attribute}="([^"]+)">(.*?)</tr>', page, re.S)
    return dict(found)


def figures(row: str) -> list[int]:
    return [int(value) for value in re.findall(r'data-value="(\d+)"', row)]


def ranking(web: FlaskClient, kind: str, **query: str) -> dict[str, Any]:
    answer = web.get(f"{API}/rankings", query_string={"type": kind, **query})
    assert answer.status_code == 200, answer.get_json()
    document: dict[str, Any] = answer.get_json()
    return document


def section(page: str, kind: str) -> str:
    start = page.index(f'id="rank-{kind}"')
    return page[start : page.index("</section>", start)]


# -- the leaderboard -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", [{}, {"campaign": "LS-2026"}, {"unit": "LS-CL"}, {"campaign": "LS-2026", "unit": "LS"}]
)
def test_the_leaderboard_shows_the_figures_of_the_rankings_api(
    web: FlaskClient, funds: Any, query: dict[str, str]
) -> None:
    mobilised(funds)
    page = web.get("/thi-dua", query_string=query)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "public, max-age=5"
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    text = page.get_data(as_text=True)
    for kind in ("collective", "individual"):
        expected = ranking(web, kind, **query)
        shown = rows(section(text, kind), "data-mobilizer")
        assert list(shown) == [m["mobilizer"] for m in expected["mobilizers"]]
        for mobilizer in expected["mobilizers"]:
            row = shown[mobilizer["mobilizer"]]
            assert re.search(rf"<td class=\"rank\"[^>]*>{mobilizer['rank']}</td>", row)
            assert figures(row) == [
                mobilizer["net_amount"],
                mobilizer["donors"],
                mobilizer["gifts"],
                mobilizer["in_kind_value"],
            ]
        assert f"với {expected['tree_size']} mục" in text
    if not query:
        assert "2.300.000 ₫" in text
        assert "Hội Liên hiệp Phụ nữ huyện Cao Lộc" in text
        assert HOSTILE not in text
        assert "Đoàn &lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_the_leaderboard_says_how_many_gifts_a_blocking_finding_withholds(
    web: FlaskClient, funds: Any
) -> None:
    mobilised(funds)
    funds.give(
        BLOCKING_GIFT, mobilizer="CL-HPN", donor={"display": "Ông Lớn", "type": "individual"}
    )
    expected = ranking(web, "collective")
    assert expected["withheld"] == 1
    page = web.get("/thi-dua").get_data(as_text=True)
    collective = section(page, "collective")
    assert 'data-withheld="1"' in collective
    assert "1 khoản ủng hộ chưa được tính" in collective
    assert figures(rows(collective, "data-mobilizer")["CL-HPN"])[0] == 2_300_000
    assert "data-withheld" not in section(page, "individual")


def test_the_leaderboard_filters_by_selects_and_names_its_commands(
    web: FlaskClient, funds: Any
) -> None:
    mobilised(funds)
    page = web.get("/thi-dua?campaign=LS-2026&unit=LS-VL").get_data(as_text=True)
    assert '<option value="LS-2026" selected>' in page
    assert '<option value="LS-VL" selected>— Huyện Văn Lãng</option>' in page
    assert '<label for="rank-campaign">' in page and '<label for="rank-unit">' in page
    assert list(rows(section(page, "collective"), "data-mobilizer")) == ["VL-DOAN"]
    assert "ledger rankings --type collective --campaign LS-2026 --unit LS-VL" in page
    assert "/api/v1/rankings?type=individual&amp;campaign=LS-2026&amp;unit=LS-VL" in page


@pytest.mark.parametrize("query", ["campaign=NO-SUCH", "unit=NOWHERE", "unit=%00"])
def test_an_unknown_campaign_or_unit_is_a_404_page(
    web: FlaskClient, funds: Any, query: str
) -> None:
    page = web.get(f"/thi-dua?{query}")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert 'id="rank-problem"' in text
    assert '<nav class="site-nav"' in text  # in the layout, with its navigation


def test_the_leaderboard_in_english(web: FlaskClient, funds: Any) -> None:
    mobilised(funds)
    page = web.get("/thi-dua?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Collectives" in page and "Individuals" in page
    assert '<input type="hidden" name="lang" value="en">' in page
    assert "Tập thể" not in page


# -- the awards ------------------------------------------------------------------------------


def propose(web: FlaskClient, board: str) -> dict[str, str]:
    answer = web.post(
        f"{API}/awards/nominations", json={"campaign": "LS-2026"}, headers=auth(board)
    )
    assert answer.status_code == 201, answer.get_json()
    return {item["awardee"]["code"]: item["id"] for item in answer.get_json()["nominations"]}


def move(web: FlaskClient, board: str, nomination_id: str, to: str, **more: Any) -> None:
    body = {"to": to, "reason": f"Biên bản họp Hội đồng: {to} {HOSTILE}", **more}
    answer = web.post(f"{API}/awards/{nomination_id}/transitions", json=body, headers=auth(board))
    assert answer.status_code == 201, answer.get_json()


@pytest.fixture
def decided(web: FlaskClient, funds: Any, board: str) -> dict[str, str]:
    """Nominations of CL-HPN (forwarded, with a decision) and P-HOA (still proposed)."""
    mobilised(funds)
    ids = propose(web, board)
    collective = ids["CL-HPN"]
    move(web, board, collective, n.UNDER_REVIEW)
    move(web, board, collective, n.APPROVED)
    decision = {"number": "12/TTr-MTTQ", "date": "2026-04-01", "approver": "Hoàng Văn Bình"}
    move(web, board, collective, n.FORWARDED, decision=decision)
    return ids


def test_the_awards_list_shows_each_nomination_with_its_state(
    web: FlaskClient, decided: dict[str, str]
) -> None:
    page = web.get("/khen-thuong")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    listed = rows(text, "data-nomination")
    assert list(listed) == [decided["P-HOA"], decided["CL-HPN"]]  # newest first
    collective = listed[decided["CL-HPN"]]
    assert "Hội Liên hiệp Phụ nữ huyện Cao Lộc" in collective
    assert "Bằng khen của Chủ tịch UBND tỉnh" in collective
    assert "Đã trình cấp trên" in collective
    assert "2.300.000 ₫" in collective
    assert f'href="/khen-thuong/{decided["CL-HPN"]}"' in collective
    assert "Đề nghị" in listed[decided["P-HOA"]]
    assert "600.000 ₫" in listed[decided["P-HOA"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=forwarded", ["CL-HPN"]),
        ("state=proposed", ["P-HOA"]),
        ("form=BK-MTTQ-TINH", ["P-HOA"]),
        ("campaign=LS-2026", ["P-HOA", "CL-HPN"]),
        ("campaign=CL-2026", []),
    ],
)
def test_the_awards_list_filters_as_the_api_does(
    web: FlaskClient, decided: dict[str, str], query: str, expected: list[str]
) -> None:
    page = web.get(f"/khen-thuong?{query}").get_data(as_text=True)
    assert list(rows(page, "data-nomination")) == [decided[code] for code in expected]
    api = web.get(f"{API}/awards?{query}").get_json()["nominations"]
    assert sorted(item["id"] for item in api) == sorted(decided[code] for code in expected)
    if not expected:
        assert 'id="award-none"' in page


def test_the_awards_list_pages_by_key(
    web: FlaskClient, decided: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(standings, "AWARDS_PER_PAGE", 1)
    first = web.get("/khen-thuong").get_data(as_text=True)
    assert list(rows(first, "data-nomination")) == [decided["P-HOA"]]
    following = re.search(r'rel="next" href="([^"]+)"', first)
    assert following is not None
    second = web.get(following[1].replace("&amp;", "&")).get_data(as_text=True)
    assert list(rows(second, "data-nomination")) == [decided["CL-HPN"]]
    assert 'rel="next"' not in second


@pytest.mark.parametrize("query", ["state=lost", "form=bk%20x", "campaign=%3Cx%3E", "after=x"])
def test_a_malformed_awards_filter_is_a_400_page(web: FlaskClient, funds: Any, query: str) -> None:
    page = web.get(f"/khen-thuong?{query}")
    assert page.status_code == 400
    assert page.headers["Cache-Control"] == "no-store"
    assert 'id="award-problems"' in page.get_data(as_text=True)


def test_a_nomination_shows_its_history_and_evidence(
    web: FlaskClient, funds: Any, decided: dict[str, str]
) -> None:
    collective = decided["CL-HPN"]
    page = web.get(f"/khen-thuong/{collective}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    shown = web.get(f"{API}/awards/{collective}").get_json()
    assert "Hội Liên hiệp Phụ nữ huyện Cao Lộc" in text
    assert 'id="award-state">Đã trình cấp trên' in text
    history = text[text.index('id="award-history"') : text.index('id="award-evidence"')]
    assert [step["to"] for step in shown["history"]] == re.findall(r'data-to="(\w+)"', history)
    assert "Đã thông qua → Đã trình cấp trên" in history
    assert "Biên bản họp Hội đồng: forwarded &lt;script&gt;" in history
    assert HOSTILE not in text
    assert "Quyết định số 12/TTr-MTTQ ngày 01/04/2026, người ký: Hoàng Văn Bình" in history
    evidence = shown["evidence"]
    assert f'id="award-tree-size">{evidence["tree_size"]}<' in text
    assert evidence["root"] in text
    assert re.findall(r'<tr data-index="(\d+)">', text) == [str(i) for i in evidence["gifts"]]
    for index in evidence["gifts"]:
        receipt = web.get(f"{API}/log/entries/{index}").get_json()
        assert f'href="/so-cai/{index}"' in text
        assert receipt["index"] == index
    assert "Đỗ Văn Khải" in text and "1.500.000 ₫" in text
    assert f'href="/api/v1/awards/{collective}/evidence"' in text
    assert f"ledger awards verify {collective}" in text
    assert web.get(f"{API}/awards/{collective}/evidence").get_json()["verified"] is True


def test_the_counted_gifts_link_to_their_receipts(web: FlaskClient, funds: Any, board: str) -> None:
    first = mobilised(funds)
    ids = propose(web, board)
    text = web.get(f"/khen-thuong/{ids['CL-HPN']}").get_data(as_text=True)
    assert f'href="/r/{first["CL-HPN"]}"' in text
    assert web.get(f"/r/{first['CL-HPN']}").status_code == 200
    assert "Hội đồng chưa có quyết định nào" in text


def test_the_counted_gifts_are_paged(
    web: FlaskClient, decided: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(standings, "GIFTS_PER_PAGE", 2)
    url = f"/khen-thuong/{decided['CL-HPN']}"
    first = web.get(url).get_data(as_text=True)
    gifts = web.get(f"{API}/awards/{decided['CL-HPN']}").get_json()["evidence"]["gifts"]
    assert re.findall(r'<tr data-index="(\d+)">', first) == [str(i) for i in gifts[:2]]
    assert re.search(r"Khoản 1\W2 trên 3", first)
    assert f'href="{url}?start=2"' in first
    second = web.get(f"{url}?start=2").get_data(as_text=True)
    assert re.findall(r'<tr data-index="(\d+)">', second) == [str(gifts[2])]
    assert 'rel="next"' not in second
    assert web.get(f"{url}?start=-1").status_code == 400


@pytest.mark.parametrize("typed", ["K0000000000000000", "nothing", "K" + "Z" * 20])
def test_an_unknown_nomination_is_a_404_page_in_the_layout(
    web: FlaskClient, funds: Any, typed: str
) -> None:
    page = web.get(f"/khen-thuong/{typed}")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert 'id="award-missing"' in text and '<nav class="site-nav"' in text


def test_a_nomination_id_typed_by_hand_moves_to_its_canonical_spelling(
    web: FlaskClient, decided: dict[str, str]
) -> None:
    collective = decided["CL-HPN"]
    typed = f"{collective[:5]}-{collective[5:]}".lower()
    moved = web.get(f"/khen-thuong/{typed}?lang=en")
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"/khen-thuong/{collective}?lang=en"


def test_the_award_pages_in_english(web: FlaskClient, decided: dict[str, str]) -> None:
    listed = web.get("/khen-thuong?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in listed
    assert "Forwarded upward" in listed
    assert f'href="/khen-thuong/{decided["CL-HPN"]}?lang=en"' in listed
    shown = web.get(f"/khen-thuong/{decided['CL-HPN']}?lang=en").get_data(as_text=True)
    assert "Evidence" in shown and "Approved → Forwarded upward" in shown
    assert "Đã trình cấp trên" not in shown
