"""Every operation of the OpenAPI document against the live app: no 5xx, no broken schema.

schemathesis reads ``/api/v1/openapi.json`` from the app itself, so whatever
endpoints exist when the suite runs are covered, one test per operation. The ledger
holds real data (units, funds, campaigns, gifts, an allocation paid out, a reversal,
a statement import with unmatched lines) and every request carries an admin token,
so the writers' endpoints are exercised past authentication. Path parameters are
drawn both freely and from the ledger's real codes, indices and receipt IDs, so
that successful answers are checked as well as refusals. Rate limits are off: the
fuzzer sends far more requests than any reader would.

Each answer must be a documented status (the catch-all ``default`` is the error
shape) and match the schema documented for it. A second test makes one real,
successful request of each kind and checks its answer against the document.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.transport import Response as CheckedResponse
from support.api import API, auth
from support.statements import Sheet
from werkzeug.test import TestResponse

from public_api import create_app

METHODS = ("get", "head", "post", "put", "patch", "delete")
# Examples per operation; LEDGER_FUZZ_EXAMPLES=500 for a deeper search before a release.
EXAMPLES = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "30"))
IDENTITY = {"Accept-Encoding": "identity"}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
]
DOCUMENT = b"%PDF-1.4 bien ban ban giao may do SpO2"


@dataclass(frozen=True)
class Live:
    """The app over a filled ledger, and real values for every kind of path parameter."""

    app: Flask
    values: dict[str, list[Any]]
    codes: dict[str, list[str]]

    def for_route(self, route: str) -> dict[str, list[Any]]:
        """Real values for ``route``'s parameters: ``/funds/{code}`` takes fund codes."""
        before = route.split("/{code}")[0].rsplit("/", 1)[-1]
        every = [code for codes in self.codes.values() for code in codes]
        return {**self.values, "code": self.codes.get(before, every)}


def _import(client: FlaskClient, today: str, admin: str, *references: str) -> dict[str, Any]:
    """A statement with a gift to LS-2026 and, per reference, a credit naming no campaign."""
    sheet = Sheet(today).credit(
        3, "FT26900", 400_000, "LS26COVID ung ho", "NGUYEN VAN AN", "9990000000001"
    )
    for number, reference in enumerate(references):
        sheet = sheet.credit(2, reference, 250_000 + number, "ung ho", "TRAN THI BINH")
    answer = client.post(
        f"{API}/imports?format=vietcombank",
        data=sheet.csv(),
        content_type="text/csv",
        headers=auth(admin),
    )
    assert answer.status_code == 201, answer.get_json()
    report: dict[str, Any] = answer.get_json()
    return report


@pytest.fixture
def live(env: dict[str, str], funds: Any, admin: str) -> Iterator[Live]:
    app = create_app({**env, "TESTING": True, "LEDGER_RATELIMIT_ENABLED": "false"})
    client = app.test_client()
    gifts = [funds.give(amount) for amount in (5_000_000, 1_200_000, 750_000)]
    gifts.append(funds.give(2_000_000, fund=funds.district_fund, mobilizer=funds.mobilizer))
    stored = client.post(
        f"{API}/documents", data=DOCUMENT, content_type="application/pdf", headers=auth(admin)
    )
    assert stored.status_code == 201, stored.get_json()
    papers = [stored.get_json()["sha256"]]
    allocation = funds.allocate(3_000_000, documents=papers)
    funds.record(
        "disbursement", {"allocation": allocation.index, "amount": 1_000_000, "documents": papers}
    )
    funds.record("reversal", {"target": gifts[2].index, "reason": "Nhập trùng"})
    report = _import(client, funds.today, admin, "FT26901", "FT26902")
    size = len(client.get(f"{API}/log/entries?limit=1000").get_json()["entries"])
    codes = {
        listing: [item["code"] for item in client.get(f"{API}/{listing}").get_json()[listing]]
        for listing in ("units", "funds", "campaigns", "mobilizers")
    }
    values = {
        "index": list(range(size)),
        "receipt_id": [gift.extra["receipt_id"] for gift in gifts],
        "batch_id": [report["batch_id"]],
        "row_id": [row["row_id"] for row in report["unmatched"]],
    }
    yield Live(app, values, codes)
    app.extensions["ledger.database"].dispose()


def _operation_labels() -> list[str]:
    """Every operation of the document, read from an app with no database behind it.

    Building the app touches nothing, so the operations are known when the tests are
    collected; each becomes its own test, run against a live ledger.
    """
    path = Path(tempfile.gettempdir()) / "no-ledger-here" / "ledger.sqlite3"
    app = create_app({"LEDGER_DATABASE_URL": f"sqlite:///{path}", "TESTING": True})
    document = app.test_client().get(f"{API}/openapi.json").get_json()
    return [
        f"{method.upper()} {route}"
        for route, item in document["paths"].items()
        for method in item
        if method in METHODS
    ]


LABELS = _operation_labels()


def _schema(app: Flask) -> Any:
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)
    schema.validate()  # the OpenAPI 3.0 meta-schema
    return schema


def _real_parameters(operation: Any, values: dict[str, list[Any]]) -> dict[str, Any]:
    names = [parameter.name for parameter in operation.path_parameters]
    return {name: values[name] for name in names if name in values}


@pytest.mark.parametrize("label", LABELS)
def test_every_operation_answers_as_documented(live: Live, admin: str, label: str) -> None:
    operation = _schema(live.app).find_operation_by_label(label)
    assert operation is not None, label
    cases = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    real = _real_parameters(operation, live.for_route(operation.path))
    if real:
        choices = st.fixed_dictionaries({name: st.sampled_from(v) for name, v in real.items()})
        cases.append(choices.flatmap(lambda chosen: operation.as_strategy(path_parameters=chosen)))

    @given(case=st.one_of(cases))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_as_documented(case: Case) -> None:
        # The WSGI transport hands bodies over as sent; gzip has tests of its own.
        case.call_and_validate(headers=auth(admin, **IDENTITY), checks=CHECKS)

    answers_as_documented()


# -- one real request of each kind, checked against the document ----------------------

Request = Callable[[FlaskClient, dict[str, Any]], TestResponse]


def _days(today: str, offset: int) -> str:
    return (date.fromisoformat(today) + timedelta(days=offset)).isoformat()


def _post(path: str, body: Callable[[dict[str, Any]], Any]) -> Request:
    def send(client: FlaskClient, made: dict[str, Any]) -> TestResponse:
        url = path.format(**made)
        return client.post(url, json=body(made), headers=made["headers"])

    return send


def _writes(today: str) -> list[tuple[str, Request]]:
    """A valid request for each writer's operation, in an order where each can succeed."""
    donor = {"display": "Công ty CP Đồng Đăng", "type": "organization"}
    account = {"bank_bin": "970436", "number": "0011009876543", "holder": "Ủy ban MTTQ Lộc Bình"}
    campaign = {
        "code": "LB-2026",
        "fund": "LB-COVID",
        "name": "Chung sức phòng, chống dịch",
        "purpose": "Mua vật tư y tế",
        "reference": "LB26COVID",
        "opens": _days(today, -10),
        "closes": _days(today, 30),
        "distribute_by": _days(today, 30),
        "account": account,
    }

    def document(client: FlaskClient, made: dict[str, Any]) -> TestResponse:
        return client.post(
            f"{API}/documents",
            data=DOCUMENT + b" 2",
            content_type="application/pdf",
            headers={**made["headers"], "X-Filename": "bi%C3%AAn-b%E1%BA%A3n.pdf"},
        )

    def statement(client: FlaskClient, made: dict[str, Any]) -> TestResponse:
        sheet = Sheet(today).credit(1, "FT26990", 300_000, "ung ho", "LE VAN CUONG")
        sheet = sheet.credit(1, "FT26991", 200_000, "ung ho", "LE VAN CUONG")
        return client.post(
            f"{API}/imports?format=vietcombank",
            data=sheet.csv(),
            content_type="text/csv",
            headers=made["headers"],
        )

    return [
        ("POST /api/v1/units", _post(f"{API}/units", lambda _: UNIT)),
        (
            "POST /api/v1/funds",
            _post(
                f"{API}/funds", lambda _: {"code": "LB-COVID", "unit": "LS-LB", "kind": "covid19"}
            ),
        ),
        ("POST /api/v1/campaigns", _post(f"{API}/campaigns", lambda _: campaign)),
        (
            "POST /api/v1/mobilizers",
            _post(
                f"{API}/mobilizers",
                lambda _: {
                    "code": "LB-DTN",
                    "name": "Huyện đoàn",
                    "type": "collective",
                    "unit": "LS-LB",
                },
            ),
        ),
        (
            "POST /api/v1/contributions",
            _post(
                f"{API}/contributions",
                lambda _: {
                    "fund": "LB-COVID",
                    "amount": 900_000,
                    "channel": "cash",
                    "donor": donor,
                },
            ),
        ),
        (
            "POST /api/v1/pledges",
            _post(
                f"{API}/pledges", lambda _: {"fund": "LB-COVID", "amount": 200_000, "donor": donor}
            ),
        ),
        ("POST /api/v1/documents", document),
        (
            "POST /api/v1/allocations",
            _post(
                f"{API}/allocations",
                lambda made: {
                    "fund": "LB-COVID",
                    "amount": 500_000,
                    "purpose": "Mua vật tư y tế",
                    "beneficiary": {"display": "Trạm Y tế xã Na Dương", "type": "organization"},
                    "documents": [made["document"]],
                },
            ),
        ),
        (
            "POST /api/v1/disbursements",
            _post(
                f"{API}/disbursements",
                lambda made: {
                    "allocation": made["allocation"],
                    "amount": 300_000,
                    "documents": [made["document"]],
                },
            ),
        ),
        (
            "POST /api/v1/transfers",
            _post(
                f"{API}/transfers",
                lambda _: {"from_fund": "LB-COVID", "to_fund": "LS-COVID", "amount": 100_000},
            ),
        ),
        (
            "POST /api/v1/reversals",
            _post(
                f"{API}/reversals",
                lambda made: {"target": made["transfer"], "reason": "Chuyển nhầm quỹ"},
            ),
        ),
        ("POST /api/v1/imports", statement),
        (
            "POST /api/v1/imports/rows/{row_id}/assign",
            _post(f"{API}/imports/rows/{{row}}/assign", lambda _: {"campaign": "LS-2026"}),
        ),
        (
            "POST /api/v1/imports/rows/{row_id}/dismiss",
            _post(f"{API}/imports/rows/{{other_row}}/dismiss", lambda _: {"note": "Hoàn tiền"}),
        ),
    ]


UNIT = {"code": "LS-LB", "name": "Huyện Lộc Bình", "parent": "LS", "level": "district"}


def _remember(label: str, answer: dict[str, Any], made: dict[str, Any]) -> None:
    """What later requests need from earlier answers."""
    if label.endswith("/documents"):
        made["document"] = answer["sha256"]
    elif label.endswith("/allocations"):
        made["allocation"] = answer["index"]
    elif label.endswith("/transfers"):
        made["transfer"] = answer["index"]
    elif label.endswith("/imports"):
        made["row"], made["other_row"] = (row["row_id"] for row in answer["unmatched"])


def _checked(schema: Any, label: str, response: TestResponse) -> None:
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    schema.validate_response(operation, CheckedResponse.from_any(response))


def _url(route: str, values: dict[str, list[Any]]) -> str | None:
    """``route`` with the first real value of each path parameter; None if one is unknown."""
    url = route
    while "{" in url:
        name = url[url.index("{") + 1 : url.index("}")]
        if name not in values:
            return None
        url = url.replace(f"{{{name}}}", str(values[name][0]))
    return url


def test_real_requests_answer_as_documented(live: Live, admin: str, funds: Any) -> None:
    """Every write succeeds once and every read with real parameters answers 2xx, as documented."""
    client = live.app.test_client()
    schema = _schema(live.app)
    made: dict[str, Any] = {"headers": auth(admin, **IDENTITY)}
    for label, send in _writes(funds.today):
        if label not in LABELS:
            continue
        response = send(client, made)
        assert response.status_code in (200, 201), (label, response.get_json())
        _checked(schema, label, response)
        _remember(label, response.get_json(), made)

    answered = 0
    for label in LABELS:
        method, route = label.split(" ", 1)
        url = _url(route, live.for_route(route))
        if method != "GET" or url is None:
            continue
        response = client.get(url, headers=made["headers"])
        _checked(schema, label, response)
        required = schema.find_operation_by_label(label).query
        if not any(parameter.is_required for parameter in required):
            assert response.status_code < 400, (label, response.get_data(as_text=True)[:300])
            answered += 1
    assert answered >= 20
