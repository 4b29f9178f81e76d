"""Statement imports over HTTP: upload, report, scoped settling, and nothing private leaks.

Every check reads what a client sees: status codes, JSON answers, the public fund
pages and the public log.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from support.api import API, MakeToken, auth, log_size
from support.statements import Sheet
from werkzeug.test import TestResponse

from ledger.funds.access import AUDITOR, AWARDS_BOARD, FUND_MANAGER, command_line
from ledger.funds.bank_formats import load_formats
from ledger.funds.imports import import_statement
from public_api.import_schemas import XLSX
from public_api.import_views import MAX_STATEMENT_BYTES

DATA = Path(__file__).resolve().parents[1] / "data"
HEX64 = re.compile(r"[0-9a-f]{64}")

# Private: what the bank printed about senders. None of it may reach a leaf or a public page.
SECRETS = (
    "9990000000001",
    "9990000000002",
    "9990000000003",
    "0912345678",
    "MBVCB",
    "ung ho dong bao",
    "NGUYEN VAN AN",
    "TRAN THI BINH",
    "LE VAN CUONG",
)


def sample(funds: Any) -> Sheet:
    """Two gifts to LS-2026, one to CL-2026, one credit naming no campaign, one debit."""
    return (
        Sheet(funds.today)
        .credit(
            5, "FT26001", 1_000_000, "LS26COVID LSHLHPN ung ho", "NGUYEN VAN AN", "9990000000001"
        )
        .credit(
            4,
            "FT26002",
            2_000_000,
            "MBVCB.123.LS26COVIDLSHLHPN.CT tu 9990000000002 TRAN THI BINH",
            "TRAN THI BINH",
            "9990000000002",
        )
        .credit(
            4,
            "FT26003",
            300_000,
            "ung ho dong bao SDT 0912345678",
            "LE VAN CUONG",
            "9990000000003",
        )
        .debit(3, "FT26004", 100_000, "Phi SMS")
        .credit(2, "FT26005", 5_000_000, "CL26COVID ung ho", "CONG TY TNHH HOA BINH")
    )


def upload(
    client: FlaskClient,
    data: bytes,
    token: str | None,
    query: str = "format=vietcombank",
    key: str | None = None,
    content_type: str = "text/csv",
    **headers: str,
) -> TestResponse:
    return client.post(
        f"{API}/imports?{query}",
        data=data,
        content_type=content_type,
        headers=auth(token, key, **headers),
    )


def form(
    client: FlaskClient, data: bytes, token: str, filename: str, field: str = "file"
) -> TestResponse:
    """A multipart upload, encoded here: the test client spools large forms to a file it
    never closes, which the warnings-as-errors run would report."""
    boundary = "sao-ke-boundary-7d3f"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(
        f"{API}/imports?format=vietcombank",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=auth(token),
    )


def get(client: FlaskClient, path: str, token: str | None) -> TestResponse:
    return client.get(f"{API}/{path}", headers=auth(token))


def settle(
    client: FlaskClient, row: int, action: str, body: Any, token: str | None, key: str | None = None
) -> TestResponse:
    return client.post(f"{API}/imports/rows/{row}/{action}", json=body, headers=auth(token, key))


def answer(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    problem: dict[str, Any] = response.get_json()["error"]
    assert problem["message"] and "Traceback" not in problem["message"]
    if code is not None:
        assert problem["code"] == code, problem
    return problem


def received(client: FlaskClient, fund: str) -> int:
    balance = client.get(f"{API}/funds/{fund}").get_json()["balance"]
    assert balance["available"] == balance["received"]  # nothing allocated in these tests
    amount: int = balance["received"]
    return amount


def rows(client: FlaskClient, token: str, status: str = "unmatched") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = answer(get(client, f"imports/rows?status={status}", token))[
        "rows"
    ]
    return found


# --- uploading ----------------------------------------------------------------------


def test_an_upload_records_the_credits_and_answers_the_report(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    before = log_size(client)
    sheet = sample(funds)
    response = upload(
        client,
        sheet.csv(),
        admin,
        f"format=vietcombank&closing_balance={sheet.balance}",
        **{"X-Filename": "sao-k%C3%AA%20th%C3%A1ng%203.csv"},
    )
    report = answer(response, 201)
    assert response.headers["Location"] == f"{API}/imports/{report['batch_id']}"
    assert report["recorded"] is True and report["format"] == "vietcombank"
    assert report["filename"] == "sao-kê tháng 3.csv"
    assert [(c["line"], c["amount"]) for c in report["created"]] == [
        (2, 1_000_000),
        (3, 2_000_000),
        (6, 5_000_000),
    ]
    assert [(u["line"], u["amount"]) for u in report["unmatched"]] == [(4, 300_000)]
    assert report["duplicates"] == [] and report["invalid"] == [] and report["debits"] == 1
    assert report["totals"]["created"] == 8_000_000 and report["totals"]["unmatched"] == 300_000
    assert report["assertion"]["ok"] is True
    assert report["assertion"]["closing_balance"]["ok"] is True
    assert report["unit"] is None and report["imported_by"] == "ls-admin"
    assert HEX64.fullmatch(report["sha256"])
    assert log_size(client) == before + 3
    assert received(client, funds.fund) == 3_000_000
    assert received(client, funds.district_fund) == 5_000_000
    assert received(client, funds.other_fund) == 0

    entry = client.get(f"{API}/log/entries/{report['created'][0]['index']}").get_json()
    assert entry["entry"]["body"]["receipt_id"] == report["created"][0]["receipt_id"]
    assert entry["entry"]["actor"] == "ls-admin"

    stored = answer(get(client, f"imports/{report['batch_id']}", admin))
    assert stored == report


def test_a_workbook_as_a_form_field_imports_like_a_csv(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    response = form(client, sample(funds).xlsx(), admin, "sao-ke.xlsx")
    report = answer(response, 201)
    assert report["filename"] == "sao-ke.xlsx"
    assert [c["line"] for c in report["created"]] == [3, 4, 7]  # a title row comes first
    assert received(client, funds.fund) == 3_000_000
    no_file = form(client, b"x", admin, "x.csv", field="statement")
    assert "file" in error(no_file, 422)["fields"]


def test_uploading_the_same_statement_again_creates_nothing(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    data = sample(funds).csv()
    first = answer(upload(client, data, admin), 201)
    before = log_size(client)
    again = answer(upload(client, data, admin, content_type="application/octet-stream"), 201)
    assert again["batch_id"] != first["batch_id"]
    assert again["created"] == [] and again["unmatched"] == []
    assert [d["line"] for d in again["duplicates"]] == [2, 3, 4, 6]
    assert again["assertion"]["ok"] is True
    assert log_size(client) == before
    assert received(client, funds.fund) == 3_000_000
    assert len(rows(client, admin)) == 1


def test_all_or_nothing_with_a_bad_line_answers_409_and_records_nothing(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    sheet = sample(funds).bad(1, "FT26006", "12,5")
    before = log_size(client)
    response = upload(client, sheet.csv(), admin, "format=vietcombank&all_or_nothing=true")
    problem = error(response, 409, "import_refused")
    assert "nothing was recorded" in problem["message"]
    report = problem["report"]
    assert report["recorded"] is False and report["batch_id"] is None
    assert [i["line"] for i in report["invalid"]] == [7]
    assert "'12,5'" in report["invalid"][0]["reason"]
    assert len(report["created"]) == 3  # what would have been
    assert log_size(client) == before
    assert received(client, funds.fund) == 0
    assert rows(client, admin) == []

    kept = answer(upload(client, sheet.csv(), admin, "format=vietcombank&all_or_nothing=0"), 201)
    assert [i["line"] for i in kept["invalid"]] == [7] and len(kept["created"]) == 3
    assert log_size(client) == before + 3


def test_a_file_that_cannot_be_read_answers_422(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    before = log_size(client)
    wrong = (DATA / "statements" / "wrong_encoding.csv").read_bytes()
    problem = error(upload(client, wrong, admin), 422, "invalid_statement")
    assert "not valid UTF-8" in problem["message"] and "file" in problem["fields"]
    assert "empty" in error(upload(client, b"", admin), 422, "invalid_statement")["message"]
    assert error(upload(client, b"a,b\n1,2\n", admin), 422, "invalid_statement")
    assert log_size(client) == before


def test_nul_characters_and_odd_names_are_no_server_error(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    sheet = (
        Sheet(funds.today)
        .credit(2, "FT26301", 100_000, "ung ho\x00 lu", "AN\x00 BINH", "12\x0034")
        .credit(2, "FT26302\x00", 200_000, "LS26COVID")
        .credit(1, "FT26303", 300_000, "LS26COVID", "NGUYEN\x00 VAN", "56\x0078")
    )
    name = "..%2F..%2Fetc%2Fsao%00ke%0A.csv"
    report = answer(upload(client, sheet.csv(), admin, **{"X-Filename": name}), 201)
    assert report["filename"] == "saoke.csv"
    assert [c["line"] for c in report["created"]] == [4]
    (invalid,) = report["invalid"]
    assert invalid["line"] == 3 and "NUL" in invalid["reason"]
    (row,) = rows(client, admin)
    assert (row["memo"], row["counterparty"], row["account"]) == ("ung ho lu", "AN BINH", "…1234")
    assert received(client, funds.fund) == 300_000


@pytest.mark.parametrize(
    ("query", "field", "mentions"),
    [
        ("", "format", "vietcombank"),
        ("format=acb", "format", "vietcombank, vietinbank"),
        ("format=vietcombank&campaign=NO-SUCH", "campaign", "NO-SUCH"),
        ("format=vietcombank&campaign=bad%20code", "campaign", ""),
        ("format=vietcombank&closing_balance=lots", "closing_balance", "lots"),
        ("format=vietcombank&all_or_nothing=maybe", "all_or_nothing", ""),
        ("format=vietcombank&all-or-nothing=true", "all-or-nothing", ""),
    ],
)
def test_bad_parameters_answer_422_naming_them(
    client: FlaskClient, funds: Any, admin: str, query: str, field: str, mentions: str
) -> None:
    problem = error(upload(client, sample(funds).csv(), admin, query), 422)
    assert field in problem["fields"], problem
    assert mentions in problem["message"]
    assert rows(client, admin, "all") == []


def test_a_statement_over_10_mib_answers_413(client: FlaskClient, funds: Any, admin: str) -> None:
    too_big = b"x" * (MAX_STATEMENT_BYTES + 1)
    error(upload(client, too_big, admin), 413, "too_large")
    response = form(client, too_big, admin, "big.csv")
    error(response, 413, "too_large")


def test_a_retried_upload_with_its_key_answers_the_first_report(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    data = sample(funds).csv()
    first = upload(client, data, admin, key="sao-ke-03")
    report = answer(first, 201)
    before = log_size(client)
    retry = upload(client, data, admin, key="sao-ke-03")
    assert answer(retry, 201) == report
    assert retry.headers["Idempotency-Replayed"] == "true"
    assert retry.headers["Location"] == first.headers["Location"]
    assert log_size(client) == before
    other = upload(client, data, admin, "format=vietcombank&all_or_nothing=true", key="sao-ke-03")
    error(other, 409, "idempotency_key_reused")
    error(upload(client, data + b"\n", admin, key="sao-ke-03"), 409, "idempotency_key_reused")


# --- who may do what ----------------------------------------------------------------


def test_every_import_endpoint_needs_a_token(client: FlaskClient, funds: Any) -> None:
    before = log_size(client)
    for response in (
        upload(client, sample(funds).csv(), None),
        get(client, "imports/rows", None),
        get(client, "imports/1", None),
        settle(client, 1, "assign", {"campaign": funds.campaign}, None),
        settle(client, 1, "dismiss", {"note": "hoàn tiền"}, None),
        upload(client, sample(funds).csv(), "lt_00000000_" + "A" * 43),
    ):
        error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert log_size(client) == before


def test_an_auditor_reads_imports_but_may_not_import_or_settle(
    client: FlaskClient, funds: Any, admin: str, make_token: MakeToken
) -> None:
    report = answer(upload(client, sample(funds).csv(), admin), 201)
    (row,) = report["unmatched"]
    auditor = make_token(AUDITOR)
    before = log_size(client)
    error(upload(client, sample(funds).csv(), auditor), 403, "forbidden")
    error(settle(client, row["row_id"], "assign", {"campaign": funds.campaign}, auditor), 403)
    error(settle(client, row["row_id"], "dismiss", {"note": "hoàn tiền"}, auditor), 403)
    assert [r["id"] for r in rows(client, auditor)] == [row["row_id"]]
    assert answer(get(client, f"imports/{report['batch_id']}", auditor)) == report
    assert log_size(client) == before

    board = make_token(AWARDS_BOARD)
    error(get(client, "imports/rows", board), 403, "forbidden")
    error(get(client, f"imports/{report['batch_id']}", board), 403, "forbidden")


def test_a_district_sees_and_settles_only_the_rows_its_district_imported(
    client: FlaskClient, funds: Any, admin: str, make_token: MakeToken
) -> None:
    cl = make_token(FUND_MANAGER, funds.district, name="cl-manager")
    vl = make_token(FUND_MANAGER, funds.other_district, name="vl-manager")
    province = make_token(FUND_MANAGER, funds.province, name="ls-manager")
    sheet = (
        Sheet(funds.today)
        .credit(3, "FT26101", 400_000, "CL26COVID ung ho")
        .credit(3, "FT26102", 600_000, "VL26COVID ung ho")
        .credit(2, "FT26103", 250_000, "ung ho bao lu", "PHAM THI MAI", "0011223344")
    )
    other = f"format=vietcombank&campaign={funds.other_campaign}"
    error(upload(client, sheet.csv(), cl, other), 403, "forbidden")
    report = answer(upload(client, sheet.csv(), cl), 201)
    assert report["unit"] == funds.district and report["imported_by"] == "cl-manager"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", report["imported_at"])
    assert [c["line"] for c in report["created"]] == [2]
    (invalid,) = report["invalid"]  # the other district's campaign
    assert invalid["line"] == 3 and "acts for unit LS-CL" in invalid["reason"]
    (unmatched,) = report["unmatched"]
    row_id = unmatched["row_id"]

    # A command-line import belongs to every unit: no district sees its rows.
    import_statement(
        funds.db,
        funds.settings,
        command_line("cli"),
        Sheet(funds.today).credit(1, "FT26104", 90_000, "ung ho").csv(),
        "cli.csv",
        load_formats()["vietcombank"],
    )

    before = log_size(client)
    assert rows(client, vl) == []
    error(get(client, f"imports/{report['batch_id']}", vl), 403, "forbidden")
    error(settle(client, row_id, "assign", {"campaign": funds.other_campaign}, vl), 403)
    error(settle(client, row_id, "dismiss", {"note": "không phải của huyện"}, vl), 403)
    assert log_size(client) == before

    assert [r["id"] for r in rows(client, cl)] == [row_id]
    assert [r["id"] for r in rows(client, province)] == [row_id]
    assert [r["reference"] for r in rows(client, admin)] == ["FT26103", "FT26104"]
    # The district may settle its row, but only into its own campaigns.
    error(settle(client, row_id, "assign", {"campaign": funds.other_campaign}, cl), 403)
    assigned = answer(
        settle(client, row_id, "assign", {"campaign": funds.district_campaign}, cl), 201
    )
    assert assigned["row_id"] == row_id
    assert received(client, funds.district_fund) == 650_000
    assert rows(client, cl) == []
    (settled,) = rows(client, admin, "assigned")
    assert settled["settled_by"] == "cl-manager" and settled["entry_index"] == assigned["index"]


def test_an_admin_settles_any_district_rows(
    client: FlaskClient, funds: Any, admin: str, make_token: MakeToken
) -> None:
    cl = make_token(FUND_MANAGER, funds.district)
    sheet = Sheet(funds.today).credit(2, "FT26201", 700_000, "ung ho", "DO VAN HUNG", "55667788")
    (unmatched,) = answer(upload(client, sheet.csv(), cl), 201)["unmatched"]
    (row,) = rows(client, admin)
    assert row["id"] == unmatched["row_id"]
    answer(settle(client, row["id"], "assign", {"campaign": funds.other_campaign}, admin), 201)
    assert received(client, funds.other_fund) == 700_000


# --- settling unmatched rows --------------------------------------------------------


def test_a_row_is_assigned_once(client: FlaskClient, funds: Any, admin: str, settings: Any) -> None:
    report = answer(upload(client, sample(funds).csv(), admin), 201)
    (row,) = rows(client, admin)
    assert row["memo"] == "ung ho dong bao SDT 0912345678"
    assert row["counterparty"] == "LE VAN CUONG" and row["account"] == "…0003"
    assert (row["status"], row["amount"], row["reference"]) == ("unmatched", 300_000, "FT26003")
    assert row["batch_id"] == report["batch_id"] and row["line"] == 4

    before = log_size(client)
    body = {"campaign": funds.campaign, "mobilizer": funds.mobilizer}
    response = settle(client, row["id"], "assign", body, admin)
    assigned = answer(response, 201)
    assert assigned["row_id"] == row["id"] and assigned["kind"] == "contribution"
    assert HEX64.fullmatch(assigned["leaf_hash"])
    assert assigned["receipt_url"] == f"{settings.base_url}/r/{assigned['receipt_id']}"
    assert response.headers["Location"] == f"{API}/log/entries/{assigned['index']}"
    published = client.get(f"{API}/log/entries/{assigned['index']}").get_json()
    assert published["leaf_hash"] == assigned["leaf_hash"]
    gift = published["entry"]["body"]
    assert (gift["campaign"], gift["amount"], gift["reference"]) == (
        funds.campaign,
        300_000,
        "FT26003",
    )
    assert gift["mobilizer"] == funds.mobilizer and gift["donor"]["display"] == "LE V. C."
    assert log_size(client) == before + 1
    assert received(client, funds.fund) == 3_300_000

    again = settle(client, row["id"], "assign", {"campaign": funds.campaign}, admin)
    assert "already assigned by ls-admin" in error(again, 409, "conflict")["message"]
    error(settle(client, row["id"], "dismiss", {"note": "nhầm"}, admin), 409)
    assert log_size(client) == before + 1
    assert rows(client, admin) == []
    assert [r["id"] for r in rows(client, admin, "assigned")] == [row["id"]]


def test_assigning_checks_the_row_and_the_body(client: FlaskClient, funds: Any, admin: str) -> None:
    answer(upload(client, sample(funds).csv(), admin), 201)
    (row,) = rows(client, admin)
    before = log_size(client)
    for missing in (999, 0, 2**40):
        error(settle(client, missing, "assign", {"campaign": funds.campaign}, admin), 404)
        error(settle(client, missing, "dismiss", {"note": "x"}, admin), 404)
    error(get(client, "imports/999", admin), 404, "not_found")
    error(get(client, f"imports/{2**40}", admin), 404, "not_found")
    assign = f"{API}/imports/rows/{row['id']}/assign"
    leading_zero = f"{API}/imports/rows/0{row['id']}/assign"
    error(client.post(leading_zero, json={"campaign": funds.campaign}, headers=auth(admin)), 404)
    for body, field in (
        ({}, "campaign"),
        ({"campaign": "NO-SUCH"}, "campaign"),
        ({"campaign": funds.campaign, "mobilizer": "NOBODY"}, "mobilizer"),
        ({"campaign": funds.campaign, "amount": 1}, "amount"),
        ([funds.campaign], "_schema"),
    ):
        problem = error(client.post(assign, json=body, headers=auth(admin)), 422)
        assert field in problem["fields"], (body, problem)
    error(
        client.post(assign, data=b"{", headers=auth(admin, **{"Content-Type": "application/json"})),
        422,
    )
    error(get(client, "imports/rows?status=lost", admin), 422)
    assert log_size(client) == before
    assert [r["id"] for r in rows(client, admin)] == [row["id"]]


def test_a_dismissed_row_leaves_the_log_alone(client: FlaskClient, funds: Any, admin: str) -> None:
    answer(upload(client, sample(funds).csv(), admin), 201)
    (row,) = rows(client, admin)
    before = log_size(client)
    error(settle(client, row["id"], "dismiss", {"note": "   "}, admin), 422)
    error(settle(client, row["id"], "dismiss", {}, admin), 422)
    dismissed = answer(
        settle(client, row["id"], "dismiss", {"note": "hoàn tiền giao dịch lỗi"}, admin, "d-1")
    )
    assert (dismissed["id"], dismissed["status"]) == (row["id"], "dismissed")
    assert dismissed["note"] == "hoàn tiền giao dịch lỗi" and dismissed["settled_by"] == "ls-admin"
    retry = settle(client, row["id"], "dismiss", {"note": "hoàn tiền giao dịch lỗi"}, admin, "d-1")
    assert answer(retry) == dismissed and retry.headers["Idempotency-Replayed"] == "true"
    again = settle(client, row["id"], "dismiss", {"note": "lại"}, admin)
    assert "already dismissed" in error(again, 409, "conflict")["message"]
    error(settle(client, row["id"], "assign", {"campaign": funds.campaign}, admin), 409)
    assert log_size(client) == before
    assert rows(client, admin) == []
    assert [r["note"] for r in rows(client, admin, "dismissed")] == ["hoàn tiền giao dịch lỗi"]
    assert len(rows(client, admin, "all")) == 1


def test_a_retried_assignment_with_its_key_records_once(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    answer(upload(client, sample(funds).csv(), admin), 201)
    (row,) = rows(client, admin)
    body = {"campaign": funds.campaign}
    first = answer(settle(client, row["id"], "assign", body, admin, "assign-1"), 201)
    before = log_size(client)
    retry = settle(client, row["id"], "assign", body, admin, "assign-1")
    assert answer(retry, 201) == first and retry.headers["Idempotency-Replayed"] == "true"
    assert log_size(client) == before


# --- privacy ------------------------------------------------------------------------


def public_pages(client: FlaskClient, funds: Any) -> bytes:
    """Every public JSON answer about the ledger: each entry and each fund page."""
    paths = ["log/entries?start=0&limit=1000", "funds", "units", "campaigns", "mobilizers"]
    paths += [f"funds/{code}" for code in (funds.fund, funds.district_fund, funds.other_fund)]
    paths += [f"campaigns/{code}" for code in (funds.campaign, funds.district_campaign)]
    paths += [f"units/{code}" for code in (funds.province, funds.district)]
    paths += [f"log/entries/{index}" for index in range(log_size(client))]
    pages = []
    for path in paths:
        response = client.get(f"{API}/{path}")
        assert response.status_code == 200, path
        pages.append(response.get_data())
    return b"\n".join(pages)


def test_memos_and_accounts_reach_no_leaf_and_no_public_page(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    report = answer(upload(client, sample(funds).csv(), admin), 201)
    (row,) = report["unmatched"]
    answer(settle(client, row["row_id"], "assign", {"campaign": funds.campaign}, admin), 201)
    public = public_pages(client, funds)
    for secret in SECRETS:
        assert secret.encode() not in public, secret
    assert json.dumps(report).find("0912345678") == -1  # the report names lines, not memos
    for path in ("imports/rows", f"imports/{report['batch_id']}"):
        assert get(client, path, None).status_code == 401
    private = get(client, "imports/rows?status=all", admin).get_data(as_text=True)
    assert "0912345678" in private  # the manager who settles the line reads the memo
    assert "9990000000003" not in private  # but never the sender's whole account


# --- documentation ------------------------------------------------------------------


def test_openapi_documents_the_import_endpoints(client: FlaskClient, funds: Any) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    paths = document["paths"]
    expected = {
        ("/imports", "post"): {"201", "401", "403", "409", "413", "422"},
        ("/imports/rows", "get"): {"200", "401", "403", "422"},
        ("/imports/{batch_id}", "get"): {"200", "401", "403", "404"},
        ("/imports/rows/{row_id}/assign", "post"): {"201", "401", "403", "404", "409", "422"},
        ("/imports/rows/{row_id}/dismiss", "post"): {"200", "401", "403", "404", "409", "422"},
    }
    for (path, method), statuses in expected.items():
        operation = paths[f"{API}{path}"][method]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert statuses <= set(operation["responses"]), path
    upload_doc = paths[f"{API}/imports"]["post"]
    assert {"text/csv", XLSX, "multipart/form-data"} <= set(upload_doc["requestBody"]["content"])
    assert {"format", "campaign", "all_or_nothing", "closing_balance", "Idempotency-Key"} <= {
        parameter["name"] for parameter in upload_doc["parameters"]
    }
    refused = upload_doc["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    body = document["components"]["schemas"][refused.rsplit("/", 1)[1]]
    assert "error" in body["properties"]
