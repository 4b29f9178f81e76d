"""The writers' API (CONTRACT.md §5): tokens, scopes, validation, balances, idempotency.

Every check reads what an outside party sees: status codes, JSON answers and the
public log (``/api/v1/log/...``).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from support.api import API, MakeToken, auth, log_size
from werkzeug.test import TestResponse

from ledger.cli import main
from ledger.funds import tokens
from ledger.funds.access import ADMIN, AUDITOR, AWARDS_BOARD, FUND_MANAGER
from ledger.funds.documents import MAX_DOCUMENT_BYTES
from ledger.funds.models import DocumentRow
from ledger.settings import Settings

HEX64 = re.compile(r"[0-9a-f]{64}")


def post(
    client: FlaskClient,
    path: str,
    body: Any,
    token: str | None,
    key: str | None = None,
    **kwargs: Any,
) -> TestResponse:
    headers = auth(token, key, **kwargs.pop("headers", {}))
    if isinstance(body, (bytes, str)):
        return client.post(f"{API}/{path}", data=body, headers=headers, **kwargs)
    return client.post(f"{API}/{path}", json=body, headers=headers, **kwargs)


def gift(fund: str = "LS-COVID", amount: int = 500_000, **extra: Any) -> dict[str, Any]:
    return {
        "fund": fund,
        "amount": amount,
        "channel": "bank",
        "donor": {"display": "Nguyễn Thị Lan", "type": "individual"},
        **extra,
    }


def allocation(fund: str = "LS-COVID", amount: int = 100_000, **extra: Any) -> dict[str, Any]:
    return {
        "fund": fund,
        "amount": amount,
        "beneficiary": {"display": "Trạm Y tế xã Hợp Thành", "type": "organization"},
        "purpose": "Mua máy đo SpO2",
        **extra,
    }


def entry(client: FlaskClient, index: int) -> dict[str, Any]:
    response = client.get(f"{API}/log/entries/{index}")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


def error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"] and "Traceback" not in body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    assert response.headers["Cache-Control"] == "no-store"
    found: dict[str, Any] = body["error"]
    return found


def created(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    document: dict[str, Any] = response.get_json()
    assert isinstance(document["index"], int) and HEX64.fullmatch(document["leaf_hash"])
    assert response.headers["Location"] == f"{API}/log/entries/{document['index']}"
    return document


# --- authentication and scope -------------------------------------------------------


def test_no_token_or_a_bad_one_answers_401(
    client: FlaskClient, funds: Any, make_token: MakeToken
) -> None:
    before = log_size(client)
    expired = make_token(
        ADMIN, expires_in=timedelta(days=1), now=datetime.now(UTC) - timedelta(days=2)
    )
    revoked = make_token(ADMIN, name="revoked")
    with funds.db.writing() as session:
        tokens.revoke_token(session, "revoked")
    good = make_token(ADMIN)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for header in (
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer nonsense",
        f"Bearer {forged}",
        f"Bearer {revoked}",
        f"Bearer {expired}",
    ):
        headers = {} if header is None else {"Authorization": header}
        response = client.post(f"{API}/contributions", json=gift(), headers=headers)
        problem = error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        for secret in (forged, revoked, expired):
            assert secret not in problem["message"]
            assert secret.split("_", 2)[2][:12] not in problem["message"]
    assert log_size(client) == before


def test_every_write_endpoint_needs_a_token(client: FlaskClient, funds: Any) -> None:
    for path in (
        "contributions",
        "pledges",
        "allocations",
        "disbursements",
        "transfers",
        "reversals",
        "units",
        "funds",
        "campaigns",
        "mobilizers",
        "documents",
    ):
        error(client.post(f"{API}/{path}", json={}), 401, "unauthorized")


def test_a_manager_of_one_district_cannot_write_for_another(
    client: FlaskClient, funds: Any, make_token: MakeToken
) -> None:
    before = log_size(client)
    vl = make_token(FUND_MANAGER, "LS-VL", name="vl-manager")
    error(post(client, "contributions", gift("CL-COVID"), vl), 403, "forbidden")
    error(post(client, "allocations", allocation("CL-COVID"), vl), 403, "forbidden")
    transfer = {"from_fund": "CL-COVID", "to_fund": "VL-COVID", "amount": 1}
    error(post(client, "transfers", transfer, vl), 403, "forbidden")
    fund = {"code": "CL-POOR", "unit": "LS-CL", "kind": "poor"}
    error(post(client, "funds", fund, vl), 403, "forbidden")
    assert log_size(client) == before
    assert created(post(client, "contributions", gift("VL-COVID"), vl))["kind"] == "contribution"


def test_a_province_manager_writes_for_the_districts_below(
    client: FlaskClient, funds: Any, make_token: MakeToken
) -> None:
    ls = make_token(FUND_MANAGER, "LS", name="ls-manager")
    answer = created(post(client, "contributions", gift("CL-COVID", 300_000), ls))
    assert entry(client, answer["index"])["entry"]["body"]["fund"] == "CL-COVID"
    created(post(client, "allocations", allocation("CL-COVID", 300_000), ls))


@pytest.mark.parametrize("role", [AUDITOR, AWARDS_BOARD])
def test_roles_that_do_not_record_money_are_refused(
    client: FlaskClient, funds: Any, make_token: MakeToken, role: str
) -> None:
    before = log_size(client)
    token = make_token(role)
    for path, body in (
        ("contributions", gift()),
        ("allocations", allocation()),
        ("reversals", {"target": 1, "reason": "nhầm"}),
        ("units", {"code": "LS-X", "name": "Xã X", "parent": "LS"}),
        ("contributions", "not even json"),
    ):
        error(post(client, path, body, token), 403, "forbidden")
    error(post(client, "documents", b"%PDF-1.4", token, content_type="application/pdf"), 403)
    assert log_size(client) == before


# --- successful writes --------------------------------------------------------------


def test_a_contribution_answers_its_index_leaf_hash_and_receipt(
    client: FlaskClient, funds: Any, admin: str, settings: Settings
) -> None:
    before = log_size(client)
    answer = created(post(client, "contributions", gift(amount=2_500_000), admin))
    assert answer["index"] == before
    assert answer["kind"] == "contribution"
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{16}", answer["receipt_id"])
    assert answer["receipt_url"] == f"{settings.base_url}/r/{answer['receipt_id']}"
    assert answer["receipt_url"] == f"https://quy.example.vn/r/{answer['receipt_id']}"
    published = entry(client, answer["index"])
    assert published["leaf_hash"] == answer["leaf_hash"]
    leaf = base64.b64decode(published["leaf"])
    assert hashlib.sha256(b"\x00" + leaf).hexdigest() == answer["leaf_hash"]
    assert published["entry"]["actor"] == "ls-admin"
    body = published["entry"]["body"]
    assert body["amount"] == 2_500_000 and body["receipt_id"] == answer["receipt_id"]
    assert body["campaign"] == "LS-2026"
    assert log_size(client) == before + 1


def test_the_actor_is_the_token_name(
    client: FlaskClient, funds: Any, make_token: MakeToken
) -> None:
    token = make_token(FUND_MANAGER, "LS-CL")
    with funds.db.session() as session:
        name = tokens.authenticate(session, f"Bearer {token}").actor
    assert name.startswith("fund_manager-")
    answer = created(post(client, "contributions", gift("CL-COVID"), token))
    assert entry(client, answer["index"])["entry"]["actor"] == name


def test_a_donor_contact_never_reaches_the_leaf_or_the_answer(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    contact = "0912 345 678, lan.nguyen@example.vn"
    account = "19036688123012"
    donor = {
        "display": "Nguyễn Thị Lan",
        "type": "individual",
        "contact": contact,
        "account": account,
    }
    response = post(client, "contributions", gift(donor=donor), admin)
    answer = created(response)
    published = entry(client, answer["index"])
    leaf = base64.b64decode(published["leaf"]).decode()
    for private in (contact, "0912 345 678", "0912345678", "lan.nguyen", account):
        assert private not in leaf
        assert private not in response.get_data(as_text=True)
    donor_body = published["entry"]["body"]["donor"]
    assert HEX64.fullmatch(donor_body["contact_hash"])
    assert HEX64.fullmatch(donor_body["account_hash"])


def test_money_moves_through_every_write_endpoint(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    created(post(client, "contributions", gift(amount=1_000_000), admin))
    pledge = {
        "fund": "LS-COVID",
        "amount": 200_000,
        "donor": {"display": "Công ty CP Đồng Đăng", "type": "organization"},
    }
    assert created(post(client, "pledges", pledge, admin))["pledge_id"].startswith("P")
    content = b"%PDF-1.4 bien ban ban giao may do SpO2"
    upload = post(
        client,
        "documents",
        content,
        admin,
        content_type="application/pdf",
        headers={"X-Filename": "bi%C3%AAn-b%E1%BA%A3n.pdf"},
    )
    assert upload.status_code == 201, upload.get_data(as_text=True)
    digest = upload.get_json()["sha256"]
    assert upload.get_json() == {
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
    }
    granted = created(
        post(client, "allocations", allocation(amount=600_000, documents=[digest]), admin)
    )
    paid = {"allocation": granted["index"], "amount": 400_000, "documents": [digest]}
    assert created(post(client, "disbursements", paid, admin))["kind"] == "disbursement"
    moved = {"from_fund": "LS-COVID", "to_fund": "CL-COVID", "amount": 300_000}
    transfer = created(post(client, "transfers", moved, admin))
    undo = created(
        post(client, "reversals", {"target": transfer["index"], "reason": "Chuyển nhầm quỹ"}, admin)
    )
    assert entry(client, undo["index"])["entry"]["body"] == {
        "target": transfer["index"],
        "reason": "Chuyển nhầm quỹ",
    }
    balances = {f["code"]: f["balance"] for f in client.get(f"{API}/funds").get_json()["funds"]}
    assert (
        balances["LS-COVID"]["available"],
        balances["LS-COVID"]["committed"],
        balances["LS-COVID"]["disbursed"],
    ) == (400_000, 200_000, 400_000)
    assert balances["CL-COVID"]["available"] == 0
    with funds.db.session() as session:
        stored = session.get(DocumentRow, digest)
        assert stored.filename == "biên-bản.pdf" and stored.media_type == "application/pdf"
        assert stored.uploaded_by == "ls-admin"


def test_the_structure_is_registered_through_the_api(
    client: FlaskClient, funds: Any, make_token: MakeToken
) -> None:
    ls = make_token(FUND_MANAGER, "LS")
    unit = {"code": "LS-CL-HT", "name": "Xã Hợp Thành", "parent": "LS-CL", "level": "commune"}
    assert created(post(client, "units", unit, ls))["code"] == "LS-CL-HT"
    fund = {"code": "HT-POOR", "unit": "LS-CL-HT", "kind": "poor"}
    assert created(post(client, "funds", fund, ls))["code"] == "HT-POOR"
    today = date.today()
    campaign = {
        "code": "HT-2026",
        "fund": "HT-POOR",
        "name": "Tết vì người nghèo",
        "purpose": "Quà Tết cho hộ nghèo",
        "reference": "HT26TET",
        "opens": (today - timedelta(days=3)).isoformat(),
        "closes": (today + timedelta(days=30)).isoformat(),
        "distribute_by": (today + timedelta(days=40)).isoformat(),
        "account": {"bank_bin": "970436", "number": "0011009998887", "holder": "UBMTTQ xã"},
    }
    assert created(post(client, "campaigns", campaign, ls))["code"] == "HT-2026"
    mobilizer = {
        "code": "HT-DTN",
        "name": "Đoàn Thanh niên xã",
        "type": "collective",
        "unit": "LS-CL-HT",
    }
    assert created(post(client, "mobilizers", mobilizer, ls))["code"] == "HT-DTN"
    top = {"code": "CB", "name": "Tỉnh Cao Bằng", "level": "province"}
    error(post(client, "units", top, ls), 403, "forbidden")


def test_a_token_made_on_the_command_line_works_against_the_api(
    client: FlaskClient, funds: Any, runner: CliRunner
) -> None:
    result = runner.invoke(
        main, ["token", "create", "--role", "fund_manager", "--unit", "LS-CL", "--name", "cao-loc"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.splitlines()[-1]
    answer = created(post(client, "contributions", gift("CL-COVID"), token))
    assert entry(client, answer["index"])["entry"]["actor"] == "cao-loc"
    error(post(client, "contributions", gift("VL-COVID"), token), 403)
    assert runner.invoke(main, ["token", "revoke", "cao-loc"]).exit_code == 0
    error(post(client, "contributions", gift("CL-COVID"), token), 401)


# --- refusals -----------------------------------------------------------------------


INVALID = [
    ({**gift(), "colour": "red"}, "colour"),
    (gift(amount=0), "amount"),
    ({**gift(), "amount": 1.5}, "amount"),
    ({**gift(), "amount": "100"}, "amount"),
    ({**gift(), "amount": True}, "amount"),
    (gift(amount=10**15 + 1), "amount"),
    ({key: value for key, value in gift().items() if key != "donor"}, "donor"),
    ({**gift(), "donor": {"type": "individual"}}, "donor.display"),
    ({**gift(), "channel": "crypto"}, "channel"),
]


@pytest.mark.parametrize(("body", "field"), INVALID)
def test_invalid_bodies_answer_422_field_by_field(
    client: FlaskClient, funds: Any, admin: str, body: dict[str, Any], field: str
) -> None:
    before = log_size(client)
    problem = error(post(client, "contributions", body, admin), 422)
    assert field in problem["fields"], problem
    assert all(isinstance(m, str) and m for m in problem["fields"][field])
    assert log_size(client) == before


def test_the_largest_amount_is_accepted(client: FlaskClient, funds: Any, admin: str) -> None:
    created(post(client, "contributions", gift(amount=10**15), admin))


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        b'"gift"',
        b"null",
        b'{"amount": NaN}',
        b"\xff\xfe",
        b"[" * 100_000,
        b'{"amount": 1' + b"0" * 5000 + b"}",
        # Escapes JSON allows but no stored text can hold (PostgreSQL refuses NUL).
        b'{"fund": "LS-COVID", "amount": 1, "channel": "cash", "pledge": "P\\u0000X",'
        b' "donor": {"display": "An", "type": "individual"}}',
        b'{"donor": {"display": "An \\ud800"}}',
        b'{"\\ud800": 1}',
    ],
)
def test_a_body_that_is_not_a_clean_json_object_answers_422(
    client: FlaskClient, funds: Any, admin: str, raw: bytes
) -> None:
    before = log_size(client)
    problem = error(post(client, "contributions", raw, admin, content_type="application/json"), 422)
    assert problem["fields"]["_schema"]
    assert log_size(client) == before


def test_a_huge_body_answers_413(client: FlaskClient, funds: Any, admin: str) -> None:
    body = {**gift(), "reference": "x" * (2 * 1024 * 1024)}
    error(post(client, "contributions", body, admin), 413, "too_large")


def test_an_allocation_beyond_the_balance_answers_409_and_writes_nothing(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    funds.give(1_000_000)
    before = log_size(client)
    problem = error(post(client, "allocations", allocation(amount=1_000_001), admin), 409)
    assert problem["code"] == "insufficient_funds"
    assert log_size(client) == before
    funds_now = {f["code"]: f for f in client.get(f"{API}/funds").get_json()["funds"]}
    assert funds_now["LS-COVID"]["balance"]["available"] == 1_000_000
    assert funds_now["LS-COVID"]["balance"]["committed"] == 0
    created(post(client, "allocations", allocation(amount=1_000_000), admin))


def test_a_gift_dated_outside_its_campaign_answers_409(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    before = log_size(client)
    long_ago = (date.fromisoformat(funds.today) - timedelta(days=90)).isoformat()
    named = gift(received_on=long_ago, campaign="LS-2026")
    problem = error(post(client, "contributions", named, admin), 409, "outside_campaign")
    assert "LS-2026" in problem["message"] and long_ago in problem["message"]
    problem = error(post(client, "contributions", gift(received_on=long_ago), admin), 409)
    assert problem["code"] == "outside_campaign" and long_ago in problem["message"]
    assert log_size(client) == before


def test_reading_a_write_endpoint_is_not_allowed(client: FlaskClient, funds: Any) -> None:
    response = client.get(f"{API}/transfers")  # contributions have a public list
    error(response, 405)
    assert "POST" in response.headers["Allow"]


# --- idempotency --------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_answer_and_writes_once(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    before = log_size(client)
    first = post(client, "contributions", gift(), admin, key="gift-2026-0001")
    again = post(client, "contributions", gift(), admin, key="gift-2026-0001")
    assert created(first) == created(again)
    assert again.headers["Idempotency-Replayed"] == "true"
    assert log_size(client) == before + 1
    other = post(client, "contributions", gift(), admin, key="gift-2026-0002")
    assert created(other)["index"] == before + 1
    assert log_size(client) == before + 2


def test_the_same_key_with_another_body_answers_409(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    created(post(client, "contributions", gift(amount=100_000), admin, key="k-1"))
    before = log_size(client)
    problem = error(post(client, "contributions", gift(amount=200_000), admin, key="k-1"), 409)
    assert problem["code"] == "idempotency_key_reused"
    problem = error(post(client, "allocations", allocation(), admin, key="k-1"), 409)
    assert problem["code"] == "idempotency_key_reused"
    assert log_size(client) == before


def test_keys_belong_to_one_token(
    client: FlaskClient, funds: Any, admin: str, make_token: MakeToken
) -> None:
    other = make_token(FUND_MANAGER, "LS")
    before = log_size(client)
    first = created(post(client, "contributions", gift(), admin, key="shared"))
    second = created(post(client, "contributions", gift(), other, key="shared"))
    assert first["index"] != second["index"]
    assert log_size(client) == before + 2


def test_a_refused_request_does_not_use_up_its_key(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    error(post(client, "allocations", allocation(amount=5_000_000), admin, key="alloc-7"), 409)
    funds.give(5_000_000)
    created(post(client, "allocations", allocation(amount=5_000_000), admin, key="alloc-7"))


@pytest.mark.parametrize("key", ["", "x" * 256, "khóa", "tab\there"])
def test_a_malformed_key_answers_422(client: FlaskClient, funds: Any, admin: str, key: str) -> None:
    before = log_size(client)
    problem = error(post(client, "contributions", gift(), admin, key=key), 422)
    assert "Idempotency-Key" in problem["fields"]
    assert log_size(client) == before


def test_the_longest_key_is_fine(client: FlaskClient, funds: Any, admin: str) -> None:
    created(post(client, "contributions", gift(), admin, key="~" * 255))


def test_concurrent_retries_with_one_key_write_once(
    app: Flask, client: FlaskClient, funds: Any, admin: str
) -> None:
    before = log_size(client)
    answers: list[TestResponse] = []
    start = threading.Barrier(4)

    def retry() -> None:
        start.wait()
        answers.append(post(app.test_client(), "contributions", gift(), admin, key="race"))

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    documents = [created(response) for response in answers]
    assert len(documents) == 4 and all(d == documents[0] for d in documents)
    assert log_size(client) == before + 1


# --- documents ----------------------------------------------------------------------


def test_uploading_the_same_document_twice_stores_it_once(
    client: FlaskClient, funds: Any, admin: str, make_token: MakeToken
) -> None:
    content = "Quyết định phân bổ số 12/QĐ-MTTQ".encode()
    first = post(client, "documents", content, admin, content_type="text/plain; charset=utf-8")
    second = post(
        client,
        "documents",
        content,
        make_token(FUND_MANAGER, "LS-CL"),
        content_type="application/pdf",
    )
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert first.headers["Cache-Control"] == "no-store"
    with funds.db.session() as session:
        stored = session.get(DocumentRow, first.get_json()["sha256"])
        assert stored.media_type == "text/plain" and stored.uploaded_by == "ls-admin"
        assert stored.filename == "document"
        assert stored.content == content


def test_a_document_upload_honours_its_idempotency_key(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    first = post(client, "documents", b"bien ban 1", admin, key="doc-1")
    again = post(client, "documents", b"bien ban 1", admin, key="doc-1")
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert again.headers["Idempotency-Replayed"] == "true"
    problem = error(post(client, "documents", b"bien ban 2", admin, key="doc-1"), 409)
    assert problem["code"] == "idempotency_key_reused"


def test_documents_are_bounded(client: FlaskClient, funds: Any, admin: str) -> None:
    error(post(client, "documents", b"", admin), 422)
    error(post(client, "documents", b"x", admin, content_type="not a type"), 422)
    too_big = b"\0" * (MAX_DOCUMENT_BYTES + 1)
    error(
        post(client, "documents", too_big, admin, content_type="application/pdf"), 413, "too_large"
    )
    just_right = post(client, "documents", too_big[:-1], admin)
    assert just_right.status_code == 201, just_right.get_data(as_text=True)
    assert just_right.get_json()["size"] == MAX_DOCUMENT_BYTES


def test_an_allocation_naming_an_unknown_document_answers_422(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    funds.give(1_000_000)
    problem = error(post(client, "allocations", allocation(documents=["a" * 64]), admin), 422)
    assert "documents" in problem["fields"]


# --- the OpenAPI document -----------------------------------------------------------


def test_openapi_lists_the_write_endpoints_and_the_bearer_scheme(
    client: FlaskClient, funds: Any
) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for path in (
        "contributions",
        "allocations",
        "transfers",
        "reversals",
        "disbursements",
        "pledges",
        "units",
        "funds",
        "campaigns",
        "mobilizers",
        "documents",
    ):
        operation = document["paths"][f"{API}/{path}"]["post"]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert {"201", "401", "403", "409", "422"} <= set(operation["responses"]), path
        assert "requestBody" in operation, path
    body = document["paths"][f"{API}/contributions"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"fund", "amount", "channel", "donor"} <= set(schema["required"])
    assert schema["properties"]["amount"]["maximum"] == 10**15
