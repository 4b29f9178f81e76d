"""``GET /api/v1/audit``: the same report as ``ledger audit --json``, for auditors and admins."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from support.api import API, MakeToken, auth

from ledger import log
from ledger.entries import Draft
from ledger.funds.access import ADMIN, AUDITOR, AWARDS_BOARD, FUND_MANAGER
from ledger.keyring import load_signer

AUDIT = f"{API}/audit"


def overdraw(funds: Any) -> int:
    body = {
        "fund": funds.fund,
        "amount": 1,
        "currency": "VND",
        "form": "cash",
        "beneficiary": {"display": "Ai đó", "type": "organization"},
        "purpose": "rút quỹ trống",
    }
    with funds.db.writing() as session:
        signer = load_signer(funds.settings.signing_key_file, session)
        return log.append(session, [Draft("allocation", body, "intruder")], signer).entries[0].index


def test_no_token_is_401(client: FlaskClient, funds: Any) -> None:
    answer = client.get(AUDIT)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("role", [FUND_MANAGER, AWARDS_BOARD])
def test_roles_that_do_not_audit_get_403(
    client: FlaskClient, make_token: MakeToken, role: str
) -> None:
    answer = client.get(AUDIT, headers=auth(make_token(role)))
    assert answer.status_code == 403
    assert answer.get_json()["error"] == {
        "code": "forbidden",
        "message": f"the role {role} may not read the audit: it is for auditors and admins",
    }


@pytest.mark.parametrize("role", [AUDITOR, ADMIN])
def test_auditors_and_admins_get_the_report_never_cached(
    client: FlaskClient, funds: Any, make_token: MakeToken, role: str
) -> None:
    funds.give(1_000_000)
    answer = client.get(AUDIT, headers=auth(make_token(role, unit=funds.district)))
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in answer.headers  # a token's answer, not public
    document = answer.get_json()
    with funds.db.session() as session:
        size = log.tree_size(session)
        root = log.root(session, size).hex()
    assert (document["size"], document["root"], document["origin"]) == (
        size,
        root,
        funds.settings.origin,
    )
    assert document["ok"] is True and document["findings"] == []
    assert document["rules"] is True and document["source"] == "database"
    assert document["balances"]["funds"][funds.fund]["available"] == 1_000_000


def test_an_error_finding_is_still_a_200_that_says_so(
    client: FlaskClient, funds: Any, make_token: MakeToken
) -> None:
    index = overdraw(funds)
    answer = client.get(f"{AUDIT}?rules=false", headers=auth(make_token(AUDITOR)))
    assert answer.status_code == 200
    document = answer.get_json()
    assert document["ok"] is False and document["first_error"] == index
    assert document["rules"] is False
    assert f"negative_balance:{index}" in [finding["id"] for finding in document["findings"]]


def test_format_text_is_the_lines_ledger_audit_prints(
    client: FlaskClient, funds: Any, make_token: MakeToken
) -> None:
    index = overdraw(funds)
    answer = client.get(f"{AUDIT}?format=text&rules=false", headers=auth(make_token(AUDITOR)))
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    assert answer.headers["Cache-Control"] == "no-store"
    lines = answer.get_data(as_text=True).splitlines()
    assert lines[0].startswith(f"error    {index:>7}  negative_balance: ")
    assert lines[-1].startswith(f"audit of {funds.settings.origin} (database): ")


def test_a_bad_parameter_is_422_naming_it(client: FlaskClient, make_token: MakeToken) -> None:
    answer = client.get(f"{AUDIT}?format=xml", headers=auth(make_token(AUDITOR)))
    assert answer.status_code == 422
    assert "format" in answer.get_json()["error"]["fields"]


def test_the_route_is_documented_with_bearer_security_and_its_errors(
    client: FlaskClient, funds: Any
) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    operation = document["paths"][AUDIT]["get"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert {"200", "401", "403", "422", "429"} <= set(operation["responses"])
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/plain"}
