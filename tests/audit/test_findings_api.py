"""The auditors' API for anomaly findings: reading them and acknowledging one."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from support.api import API, MakeToken, auth, log_size

from ledger.funds.access import AUDITOR, AWARDS_BOARD, FUND_MANAGER

FINDINGS = f"{API}/audit/findings"
ACKNOWLEDGEMENTS = f"{API}/audit/acknowledgements"
REASON = "Đã đối chiếu biên lai thu tiền mặt số 0012"


def crafted(funds: Any) -> tuple[int, int]:
    """A blocking finding (a large cash gift) and a warning (a person paid twice)."""
    gift = funds.give(200_000_000)
    person = {"display": "Lý Văn Khánh", "type": "individual", "national_id": "001203004567"}
    funds.allocate(1_000_000, program="NQ68", beneficiary=person)
    twice = funds.allocate(1_000_000, program="NQ68", beneficiary=person)
    return gift.index, twice.index


def ids(client: FlaskClient, token: str, query: str = "") -> list[str]:
    answer = client.get(f"{FINDINGS}{query}", headers=auth(token))
    assert answer.status_code == 200, answer.get_json()
    return [finding["id"] for finding in answer.get_json()["findings"]]


def test_an_auditor_reads_every_finding_never_cached(
    client: FlaskClient, funds: Any, make_token: MakeToken
) -> None:
    gift, twice = crafted(funds)
    auditor = make_token(AUDITOR, name="kttv")

    answer = client.get(FINDINGS, headers=auth(auditor))

    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    document = answer.get_json()
    assert document["tree_size"] == log_size(client)
    blocking, warning = document["findings"]
    assert blocking == {
        "id": f"large_cash_gift:{gift}",
        "check": "large_cash_gift",
        "severity": "blocking",
        "index": gift,
        "message": blocking["message"],
        "related": [],
        "acknowledged_by": None,
        "acknowledged_reason": None,
        "details": {"amount": 200_000_000, "fund": funds.fund, "campaign": funds.campaign},
    }
    assert "200.000.000 đồng" in blocking["message"]
    assert (warning["id"], warning["severity"]) == (f"duplicate_beneficiary:{twice}", "warning")
    assert "001203004567" not in answer.get_data(as_text=True)


def test_an_auditor_acknowledges_and_the_finding_stays_listed(
    client: FlaskClient, funds: Any, make_token: MakeToken
) -> None:
    gift, twice = crafted(funds)
    auditor = make_token(AUDITOR, name="kttv")
    body = {"finding": f"large_cash_gift:{gift}", "reason": REASON}

    answer = client.post(ACKNOWLEDGEMENTS, json=body, headers=auth(auditor, "ack-1"))

    assert answer.status_code == 201, answer.get_json()
    recorded = answer.get_json()
    assert recorded["index"] == twice + 1
    assert recorded["kind"] == "acknowledgement"
    assert len(recorded["leaf_hash"]) == 64
    assert answer.headers["Location"] == f"{API}/log/entries/{recorded['index']}"
    entry = client.get(f"{API}/log/entries/{recorded['index']}").get_json()["entry"]
    assert entry["actor"] == "kttv"
    assert entry["body"] == {
        "finding": f"large_cash_gift:{gift}",
        "check": "large_cash_gift",
        "index": gift,
        "reason": REASON,
    }
    listed = client.get(FINDINGS, headers=auth(auditor)).get_json()["findings"]
    assert (listed[0]["acknowledged_by"], listed[0]["acknowledged_reason"]) == (
        recorded["index"],
        REASON,
    )
    assert ids(client, auditor, "?unacknowledged=true") == [f"duplicate_beneficiary:{twice}"]
    assert ids(client, auditor, "?severity=blocking") == [f"large_cash_gift:{gift}"]
    assert ids(client, auditor, "?severity=info") == []


def test_a_retry_with_the_idempotency_key_writes_once(
    client: FlaskClient, funds: Any, make_token: MakeToken
) -> None:
    gift, _twice = crafted(funds)
    auditor = make_token(AUDITOR, name="kttv")
    body = {"finding": f"large_cash_gift:{gift}", "reason": REASON}
    first = client.post(ACKNOWLEDGEMENTS, json=body, headers=auth(auditor, "ack-1"))
    size = log_size(client)

    again = client.post(ACKNOWLEDGEMENTS, json=body, headers=auth(auditor, "ack-1"))
    other = client.post(
        ACKNOWLEDGEMENTS, json={**body, "reason": "khác"}, headers=auth(auditor, "ack-1")
    )

    assert again.status_code == 201
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert other.status_code == 409
    assert log_size(client) == size


@pytest.mark.parametrize("role", [FUND_MANAGER, AWARDS_BOARD])
def test_other_roles_are_refused_and_nothing_is_written(
    client: FlaskClient, funds: Any, make_token: MakeToken, role: str
) -> None:
    gift, _twice = crafted(funds)
    token = make_token(role, name="someone")
    size = log_size(client)

    read = client.get(FINDINGS, headers=auth(token))
    write = client.post(
        ACKNOWLEDGEMENTS,
        json={"finding": f"large_cash_gift:{gift}", "reason": REASON},
        headers=auth(token),
    )

    for answer in (read, write):
        assert answer.status_code == 403
        assert answer.get_json()["error"]["code"] == "forbidden"
        assert "auditor's or an admin's token" in answer.get_json()["error"]["message"]
    assert log_size(client) == size


def test_no_token_is_401_and_an_admin_may_do_both(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    gift, twice = crafted(funds)
    body = {"finding": f"large_cash_gift:{gift}", "reason": REASON}
    assert client.get(FINDINGS).status_code == 401
    assert client.post(ACKNOWLEDGEMENTS, json=body).status_code == 401
    assert client.post(ACKNOWLEDGEMENTS, json=body, headers=auth(admin)).status_code == 201
    assert ids(client, admin, "?unacknowledged=1") == [f"duplicate_beneficiary:{twice}"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"finding": "no_such_rule:3", "reason": REASON}, "finding", "not an anomaly rule"),
        ({"finding": "large_cash_gift:99999", "reason": REASON}, "finding", "not in the log"),
        ({"finding": "large_cash_gift:1", "reason": REASON}, "finding", "entry 1 is a unit"),
        ({"finding": "large_cash_gift:3"}, "reason", "Missing data"),
        ({"finding": 3, "reason": REASON}, "finding", "Not a valid string"),
    ],
)
def test_a_bad_acknowledgement_is_422_naming_the_field(
    client: FlaskClient, funds: Any, admin: str, body: dict[str, Any], field: str, words: str
) -> None:
    size = log_size(client)
    answer = client.post(ACKNOWLEDGEMENTS, json=body, headers=auth(admin))
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert words in " ".join(error["fields"][field])
    assert log_size(client) == size


@pytest.mark.parametrize("query", ["?severity=error", "?unacknowledged=perhaps", "?sort=index"])
def test_bad_parameters_are_422(client: FlaskClient, funds: Any, admin: str, query: str) -> None:
    answer = client.get(f"{FINDINGS}{query}", headers=auth(admin))
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"]


def test_the_endpoints_are_documented_with_bearer_security_and_their_errors(
    client: FlaskClient,
) -> None:
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    read = paths["/api/v1/audit/findings"]["get"]
    write = paths["/api/v1/audit/acknowledgements"]["post"]
    assert read["security"] == write["security"] == [{"bearerAuth": []}]
    assert {"200", "401", "403", "422", "429"} <= set(read["responses"])
    assert {"201", "401", "403", "409", "413", "422", "429"} <= set(write["responses"])
    assert {p["name"] for p in read["parameters"]} == {"severity", "unacknowledged"}
    assert "Idempotency-Key" in {p["name"] for p in write["parameters"]}
    assert "requestBody" in write
