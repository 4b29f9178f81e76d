"""The public lists over HTTP: a donor finds their gift, pages add up, CSV says the same."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, TestResponse

from ledger.funds import listing
from ledger.funds.documents import store_document
from public_api import create_app, list_views

API = "/api/v1"
CONTACT = "0912 345 678"
INJECTION = '=HYPERLINK("http://evil.example/x","Nhận quà")'
GOODS = {"description": "Khẩu trang", "quantity": 1000, "unit": "hộp", "valuation": "Hóa đơn 5"}


def ok(client: FlaskClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=5"
    return response.get_json()


def refused(client: FlaskClient, url: str, status: int = 400) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    message: str = response.get_json()["error"]["message"]
    return message


def indices(client: FlaskClient, url: str, key: str = "contributions") -> list[int]:
    return [item["index"] for item in ok(client, url)[key]]


def csv_rows(response: TestResponse, filename: str) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def shown(value: Any) -> str:
    """A JSON value as its CSV cell should read."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(map(str, value))
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def leaves(document: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in document.items():
        if isinstance(value, dict):
            yield from leaves(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def at(item: dict[str, Any], path: str) -> Any:
    for name in path.split("."):
        item = item.get(name) if isinstance(item, dict) else None  # type: ignore[assignment]
    return item


def assert_same_rows(items: list[dict[str, Any]], rows: list[dict[str, str]]) -> None:
    assert len(rows) == len(items) > 0
    columns = list(rows[0])
    for item, row in zip(items, rows, strict=True):
        assert row == {column: shown(at(item, column)) for column in columns}
        # Nothing the JSON says is missing from the file.
        missing = [path for path, value in leaves(item) if value is not None and path not in row]
        assert missing == []


@pytest.fixture
def proof(funds: Any) -> str:
    with funds.db.writing() as session:
        return store_document(session, b"%PDF-1.4 UNC", "unc.pdf", "application/pdf", "tester")


@pytest.fixture
def ledger_activity(funds: Any, proof: str) -> dict[str, Any]:
    """Gifts of every sort, an allocation with a payment, a reversal."""
    made: dict[str, Any] = {}
    made["mine"] = funds.give(
        500_000,
        channel="bank",
        reference="FT26033012345",
        donor={"display": "Nguyễn V. A.", "type": "individual", "contact": CONTACT},
        mobilizer=funds.mobilizer,
    )
    made["other"] = funds.give(
        1_500_000, donor={"display": "Nguyễn Thị Bình", "type": "individual"}
    )
    made["goods"] = funds.give(
        2_000_000, channel="in_kind", in_kind=GOODS, earmark={"unit": "LS-CL"}, mobilizer="LS-HLHPN"
    )
    made["anonymous"] = funds.give(
        700_000, donor={"display": "Đặng Văn Ẩn", "type": "individual", "anonymous": True}
    )
    made["wrong"] = funds.give(50_000, fund=funds.district_fund)
    funds.record("reversal", {"target": made["wrong"].index, "reason": "ghi nhầm"})
    made["grant"] = funds.allocate(
        1_000_000,
        program="NQ68",
        decision={"number": "12/QĐ-MTTQ", "date": "2026-03-01", "approver": "Chủ tịch"},
        documents=[proof],
        beneficiary={"display": "Lò Văn Páo", "type": "individual", "unit": "LS-CL"},
        earmark={"unit": "LS-CL"},
        form="in_kind",
    )
    made["paid"] = funds.record(
        "disbursement",
        {
            "allocation": made["grant"].index,
            "amount": 400_000,
            "documents": [proof],
            "note": "Bàn giao tại xã",
        },
    )
    return made


# -- a donor looks for their gift ---------------------------------------------------------


def test_a_donor_finds_their_transfer_by_reference_name_amount_and_day(
    client: FlaskClient, funds: Any, ledger_activity: dict[str, Any]
) -> None:
    mine = ledger_activity["mine"]
    url = f"{API}/contributions"
    assert indices(client, f"{url}?reference=FT26033012345") == [mine.index]
    assert indices(client, f"{url}?donor=nguyen%20v") == [mine.index]
    assert indices(client, f"{url}?donor=NGUY%E1%BB%84N") == [  # "NGUYỄN"
        ledger_activity["other"].index,
        mine.index,
    ]
    day = funds.today
    ranged = f"{url}?min_amount=400000&max_amount=600000&from={day}&to={day}"
    assert indices(client, ranged) == [mine.index]
    assert indices(client, f"{url}?to=2020-12-31") == []
    receipt = mine.extra["receipt_id"]
    found = ok(client, f"{url}?receipt_id={receipt.lower()}")["contributions"]
    assert [item["index"] for item in found] == [mine.index]
    item = found[0]
    assert item["receipt_url"] == f"https://quy.example.vn/r/{receipt}"
    assert item["donor"] == {"display": "Nguyễn V. A.", "type": "individual", "anonymous": False}
    assert (item["amount"], item["channel"], item["mobilizer"]) == (500_000, "bank", "LS-HLHPN")
    assert item["reversed"] is False and item["earmark"] is None and item["in_kind"] is None


def test_nothing_private_is_listed(client: FlaskClient, ledger_activity: dict[str, Any]) -> None:
    for path in ("contributions", "allocations", "disbursements"):
        for form in ("json", "csv"):
            body = client.get(f"{API}/{path}?format={form}").get_data(as_text=True)
            assert CONTACT not in body and "Đặng Văn Ẩn" not in body, path
            assert "Lò Văn Páo" not in body and "contact_hash" not in body, path


def test_a_reversed_gift_is_marked(client: FlaskClient, ledger_activity: dict[str, Any]) -> None:
    wrong = ledger_activity["wrong"].index
    items = ok(client, f"{API}/contributions?fund=CL-COVID")["contributions"]
    assert [(item["index"], item["reversed"]) for item in items] == [(wrong, True)]


# -- paging --------------------------------------------------------------------------------


def test_following_next_gives_every_gift_once_even_as_new_ones_arrive(
    client: FlaskClient, funds: Any
) -> None:
    recorded = [funds.give(10_000 + n).index for n in range(11)]
    seen: list[int] = []
    url = f"{API}/contributions?limit=4"
    arrived = []
    while True:
        page = ok(client, url)
        assert page["limit"] == 4 and len(page["contributions"]) <= 4
        seen += [item["index"] for item in page["contributions"]]
        if page["next"] is None:
            break
        arrived.append(funds.give(77_000).index)  # a gift recorded between two pages
        url = f"{API}/contributions?limit=4&after={page['next']}"
    assert seen == sorted(recorded, reverse=True)
    assert len(seen) == len(set(seen)) and not set(arrived) & set(seen)
    assert indices(client, f"{API}/contributions?limit=3")[0] == arrived[-1]


def test_a_page_too_long_is_refused_with_the_maximum(client: FlaskClient, funds: Any) -> None:
    message = refused(client, f"{API}/contributions?limit=501")
    assert "at most 500" in message and "after" in message
    assert "at most 500" in refused(client, f"{API}/allocations?limit=100000")
    assert ok(client, f"{API}/disbursements?limit=500")["limit"] == 500
    assert ok(client, f"{API}/contributions")["limit"] == 50


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("after=-1", "after"),
        ("from=2026-02-30", "from"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("min_amount=5&max_amount=4", "max_amount"),
        ("channel=crypto", "channel"),
        ("fund=%00", "fund"),
        ("format=xlsx", "format"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(
    client: FlaskClient, funds: Any, query: str, named: str
) -> None:
    assert named in refused(client, f"{API}/contributions?{query}")


@pytest.mark.parametrize("path", ["contributions", "allocations", "disbursements"])
def test_the_first_and_last_days_a_date_can_hold_are_accepted(
    client: FlaskClient, ledger_activity: dict[str, Any], path: str
) -> None:
    assert ok(client, f"{API}/{path}?from=0001-01-01&to=9999-12-31")[path]


def test_bad_searches_and_unknown_codes(client: FlaskClient, funds: Any) -> None:
    assert "receipt ID" in refused(client, f"{API}/contributions?receipt_id=12345")
    assert "letters or digits" in refused(client, f"{API}/contributions?donor=...")
    assert "NO-FUND" in refused(client, f"{API}/contributions?fund=NO-FUND", 404)
    assert "XX" in refused(client, f"{API}/allocations?unit=XX", 404)
    assert "XX" in refused(client, f"{API}/mobilizers/leaderboard?unit=XX", 404)
    assert "XX" in refused(client, f"{API}/contributions?fund=XX&format=csv", 404)


def test_lists_are_cached_briefly_and_answer_304_when_unchanged(
    client: FlaskClient, funds: Any
) -> None:
    funds.give(100_000)
    for url in (
        f"{API}/contributions",
        f"{API}/contributions?format=csv",
        f"{API}/funds?format=csv",
    ):
        first = client.get(url)
        assert first.headers["Cache-Control"] == "public, max-age=5"
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, url
    etag = client.get(f"{API}/contributions?format=csv").headers["ETag"]
    funds.give(200_000)
    assert client.get(f"{API}/contributions?format=csv").headers["ETag"] != etag


# -- spending, leaderboard, statistics -----------------------------------------------------


def test_allocations_and_disbursements_as_recorded(
    client: FlaskClient, funds: Any, ledger_activity: dict[str, Any], proof: str
) -> None:
    grant, paid = ledger_activity["grant"].index, ledger_activity["paid"].index
    (item,) = ok(client, f"{API}/allocations?beneficiary_unit=LS-CL&form=in_kind")["allocations"]
    assert item["index"] == grant and item["disbursed"] == 400_000 and not item["reversed"]
    assert item["beneficiary"] == {"display": "Lò V. P.", "type": "individual", "unit": "LS-CL"}
    assert item["decision"]["number"] == "12/QĐ-MTTQ" and item["documents"] == [proof]
    assert item["program"] == "NQ68" and item["date"] == funds.today
    assert indices(client, f"{API}/allocations?unit=LS-CL", "allocations") == []
    assert indices(client, f"{API}/allocations?unit=LS", "allocations") == [grant]
    payments = ok(client, f"{API}/disbursements?fund=LS-COVID&allocation={grant}")
    assert [(p["index"], p["amount"], p["note"]) for p in payments["disbursements"]] == [
        (paid, 400_000, "Bàn giao tại xã")
    ]


def test_the_leaderboard_route(client: FlaskClient, ledger_activity: dict[str, Any]) -> None:
    board = ok(client, f"{API}/mobilizers/leaderboard")
    (row,) = board["mobilizers"]
    assert (row["rank"], row["code"], row["amount"], row["in_kind"]) == (
        1,
        "LS-HLHPN",
        500_000,
        2_000_000,
    )
    assert (row["gifts"], row["donors"]) == (2, 2)
    assert ok(client, f"{API}/mobilizers/leaderboard?type=individual")["mobilizers"] == []
    assert "type" in refused(client, f"{API}/mobilizers/leaderboard?type=robot")


def test_statistics_at_a_tree_size(client: FlaskClient, ledger_activity: dict[str, Any]) -> None:
    stats = ok(client, f"{API}/statistics")
    size = ok(client, f"{API}/log/entries?limit=1000")
    assert stats["tree_size"] == len(size["entries"])
    assert stats["counts"] == {
        "gifts": 4,
        "donors": 4,
        "allocations": 1,
        "disbursements": 1,
        "reversals": 1,
    }
    assert stats["amounts"]["received"] == 2_700_000
    assert stats["amounts"]["received_in_kind"] == 2_000_000
    assert stats["amounts"]["allocated_in_kind"] == 1_000_000
    assert stats["amounts"]["disbursed_in_kind"] == 400_000
    funds_listed = {fund["code"]: fund for fund in ok(client, f"{API}/funds")["funds"]}
    for fund in stats["funds"]:
        assert fund["amounts"]["available"] == funds_listed[fund["code"]]["balance"]["available"]


# -- CSV -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("contributions", "contributions"),
        ("allocations", "allocations"),
        ("disbursements", "disbursements"),
        ("mobilizers/leaderboard", "mobilizers"),
        ("funds", "funds"),
        ("units", "units"),
        ("campaigns", "campaigns"),
        ("mobilizers", "mobilizers"),
    ],
)
def test_every_list_as_csv_reads_back_to_the_json_rows(
    client: FlaskClient, ledger_activity: dict[str, Any], path: str, key: str
) -> None:
    items = ok(client, f"{API}/{path}")[key]
    filename = "leaderboard.csv" if path.endswith("leaderboard") else f"{key}.csv"
    assert_same_rows(items, csv_rows(client.get(f"{API}/{path}?format=csv"), filename))


def test_csv_takes_the_same_filters(client: FlaskClient, ledger_activity: dict[str, Any]) -> None:
    rows = csv_rows(client.get(f"{API}/contributions?format=csv&donor=nguyen"), "contributions.csv")
    assert [row["donor.display"] for row in rows] == ["Nguyễn Thị Bình", "Nguyễn V. A."]
    assert rows[1]["reference"] == "FT26033012345" and rows[1]["amount"] == "500000"


def test_a_formula_in_a_name_comes_out_as_text(client: FlaskClient, funds: Any) -> None:
    funds.give(100_000, donor={"display": INJECTION, "type": "organization"})
    funds.give(100_000, donor={"display": "@SUM(1+1)", "type": "organization"})
    (item, _) = ok(client, f"{API}/contributions?limit=2")["contributions"][::-1]
    assert item["donor"]["display"] == INJECTION  # JSON keeps the text as recorded
    rows = csv_rows(client.get(f"{API}/contributions?format=csv"), "contributions.csv")
    assert rows[0]["donor.display"] == "'@SUM(1+1)"
    assert rows[1]["donor.display"] == "'" + INJECTION
    assert rows[1]["amount"] == "100000"  # numbers stay numbers


def test_csv_streams_the_whole_list_past_the_page_maximum(
    env: dict[str, str], funds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app({**env, "LEDGER_MAX_PAGE_SIZE": "3", "TESTING": True})
    client = app.test_client()
    monkeypatch.setattr(list_views, "CSV_BATCH", 2)  # several batches for a few gifts
    recorded = [funds.give(1_000 * (n + 1)).index for n in range(7)]
    try:
        assert "at most 3" in refused(client, f"{API}/contributions?limit=4")
        response = client.get(f"{API}/contributions?format=csv")
        assert response.is_streamed
        rows = csv_rows(response, "contributions.csv")
        assert [int(row["index"]) for row in rows] == sorted(recorded, reverse=True)
        capped = csv_rows(
            client.get(f"{API}/contributions?format=csv&limit=5&after={recorded[-1]}"),
            "contributions.csv",
        )
        assert [int(row["index"]) for row in capped] == sorted(recorded[:-1], reverse=True)[:5]
    finally:
        app.extensions["ledger.database"].dispose()


def test_a_csv_list_is_read_while_it_is_sent_not_before(
    app: Flask, funds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = [funds.give(1_000 * (n + 1)).index for n in range(7)]
    monkeypatch.setattr(list_views, "CSV_BATCH", 2)
    pages: list[int | None] = []
    real_page = listing.Listing.page

    def counted(self: listing.Listing, limit: int, after: int | None = None) -> listing.Page:
        pages.append(after)
        return real_page(self, limit, after)

    monkeypatch.setattr(listing.Listing, "page", counted)
    environ = EnvironBuilder(
        path=f"{API}/contributions", query_string="format=csv", headers={"Accept-Encoding": "gzip"}
    ).get_environ()
    started: dict[str, Any] = {}
    body = app.wsgi_app(environ, lambda status, headers, *_: started.update(headers=headers))
    try:
        assert pages == [None]  # the answer has started; one batch of two is read so far
        assert "Content-Length" not in dict(started["headers"])
        chunks = b"".join(body)
    finally:
        body.close()  # type: ignore[attr-defined]
    assert len(pages) == 4
    # Every connection the download used is back: none stays open in a transaction.
    assert app.extensions["ledger.database"].engine.pool.checkedout() == 0
    text = gzip.decompress(chunks).decode("utf-8-sig")
    assert [int(row["index"]) for row in csv.DictReader(io.StringIO(text))] == recorded[::-1]


def test_the_openapi_document_lists_the_new_lists(client: FlaskClient, funds: Any) -> None:
    paths = ok_document(client)["paths"]
    for path in ("contributions", "allocations", "disbursements", "mobilizers/leaderboard"):
        operation = paths[f"{API}/{path}"]["get"]
        assert {"application/json", "text/csv"} <= set(operation["responses"]["200"]["content"])
        assert "format" in {parameter["name"] for parameter in operation["parameters"]}
    assert "text/csv" in paths[f"{API}/funds"]["get"]["responses"]["200"]["content"]
    assert "200" in paths[f"{API}/statistics"]["get"]["responses"]


def ok_document(client: FlaskClient) -> Any:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    return response.get_json()
