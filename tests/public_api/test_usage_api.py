"""GET /api/v1/contributions/{receipt_id}/usage: where a donor's gift went.

The worked example of docs/usage.md is recorded through the real write path (with
the log's own indices instead of the page's) and read back as a donor would.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from support.api import API
from support.documents import add_document

from ledger.funds.recorder import today_in_vietnam

FRONT_LINE = {"purpose": "Hỗ trợ lực lượng tuyến đầu"}
NURSE = {
    "display": "Hoàng Thị Mai",
    "type": "individual",
    "unit": "LS-CL",
    "national_id": "020187001234",
}


def usage(client: FlaskClient, receipt_id: str) -> dict[str, Any]:
    response = client.get(f"{API}/contributions/{receipt_id}/usage")
    assert response.status_code == 200, response.get_data(as_text=True)
    cache = response.headers["Cache-Control"]
    assert cache.startswith("public") and "immutable" not in cache
    assert int(re.search(r"max-age=(\d+)", cache).group(1)) <= 60  # type: ignore[union-attr]
    document: dict[str, Any] = response.get_json()
    return document


def parts(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (u["allocation_index"], u["amount"], u["disbursed"], u["via"], u["reversal_index"])
        for u in document["used"]
    ]


@pytest.fixture
def proof(funds: Any) -> str:
    return add_document(funds)


@pytest.fixture
def worked(funds: Any, proof: str) -> dict[str, Any]:
    """docs/usage.md's example: A is the province's fund, B the district's."""
    a, b = funds.fund, funds.district_fund
    at: dict[str, Any] = {}
    at["g1"] = funds.give(3_000_000)
    at["g2"] = funds.give(2_000_000, earmark=FRONT_LINE)
    at["g3"] = funds.give(5_000_000)
    at["x1"] = funds.allocate(4_000_000, beneficiary=NURSE, decision_ref="15/QĐ-MTTQ")
    funds.record("disbursement", {"allocation": at["x1"].index, "amount": 3_500_000} | {
        "documents": [proof]
    })  # fmt: skip
    at["x2"] = funds.allocate(1_500_000, earmark=FRONT_LINE)
    at["t"] = funds.record("transfer", {"from_fund": a, "to_fund": b, "amount": 2_500_000})
    at["g4"] = funds.give(3_000_000, fund=b)
    at["x3"] = funds.allocate(2_000_000, fund=b)
    at["g5"] = funds.give(4_000_000)
    return at


def reverse(funds: Any, recorded: Any) -> int:
    index: int = funds.record("reversal", {"target": recorded.index, "reason": "ghi nhầm"}).index
    return index


def test_a_gift_used_by_allocations_and_a_transfer(
    client: FlaskClient, funds: Any, worked: dict[str, Any]
) -> None:
    x1, x3, t = worked["x1"].index, worked["x3"].index, worked["t"].index
    third = usage(client, worked["g3"].extra["receipt_id"])
    assert parts(third) == [(x1, 1_000_000, 500_000, [], None), (x3, 2_000_000, 0, [t], None)]
    assert third["unused_in"] == [  # by fund code
        {"fund": funds.district_fund, "via": [t], "amount": 500_000},
        {"fund": funds.fund, "via": [], "amount": 1_500_000},
    ]
    assert (third["amount"], third["used_total"], third["unused"]) == (
        5_000_000,
        3_000_000,
        2_000_000,
    )
    first = usage(client, worked["g1"].extra["receipt_id"])
    part = first["used"][0]
    assert part["beneficiary"] == {"display": "Hoàng T. M.", "type": "individual", "unit": "LS-CL"}
    assert (part["amount"], part["disbursed"], part["decision_ref"]) == (
        3_000_000,
        3_000_000,
        "15/QĐ-MTTQ",
    )
    assert part["date"] == today_in_vietnam().isoformat()
    assert part["purpose"] == "Mua vật tư y tế"
    earmarked = usage(client, worked["g2"].extra["receipt_id"])
    assert parts(earmarked) == [(worked["x2"].index, 1_500_000, 0, [], None)]
    assert earmarked["earmark"] == FRONT_LINE


def test_reversals_undo_their_share_and_keep_allocations_attributed(
    client: FlaskClient, funds: Any, worked: dict[str, Any]
) -> None:
    x1, x3, t = worked["x1"].index, worked["x3"].index, worked["t"].index
    r1 = reverse(funds, worked["x2"])
    r2 = reverse(funds, worked["g1"])
    r3 = reverse(funds, worked["t"])

    first = usage(client, worked["g1"].extra["receipt_id"])
    assert (first["reversed"], first["reversal_index"], first["unused"]) == (True, r2, 0)
    assert parts(first) == [(x1, 3_000_000, 3_000_000, [], r2)]
    assert first["used"][0]["reversed"] is True
    second = usage(client, worked["g2"].extra["receipt_id"])
    assert parts(second) == [(worked["x2"].index, 1_500_000, 0, [], r1)]
    assert second["unused"] == 2_000_000
    third = usage(client, worked["g3"].extra["receipt_id"])
    assert parts(third) == [(x1, 2_500_000, 2_000_000, [], None), (x3, 2_000_000, 0, [t], r3)]
    assert third["unused_in"] == [{"fund": funds.fund, "via": [], "amount": 2_500_000}]
    fourth = usage(client, worked["g4"].extra["receipt_id"])
    assert parts(fourth) == [(x3, 2_000_000, 0, [], None)]
    assert fourth["unused"] == 1_000_000
    fifth = usage(client, worked["g5"].extra["receipt_id"])
    assert parts(fifth) == [(x1, 1_500_000, 1_500_000, [], None)]
    assert (fifth["unused"], fifth["tree_size"]) == (2_500_000, r3 + 1)


def test_the_document_has_the_published_shape(client: FlaskClient, funds: Any) -> None:
    gift = funds.give(900_000)
    grant = funds.allocate(400_000, program="NQ68")
    document = usage(client, gift.extra["receipt_id"])
    assert {
        "receipt_id",
        "index",
        "fund",
        "campaign",
        "amount",
        "channel",
        "reversed",
        "reversal_index",
        "used",
        "unused",
        "tree_size",
    } <= set(document)
    assert (document["receipt_id"], document["index"]) == (gift.extra["receipt_id"], gift.index)
    assert (document["fund"], document["campaign"], document["channel"]) == (
        funds.fund,
        funds.campaign,
        "cash",
    )
    assert document["used"] == [
        {
            "allocation_index": grant.index,
            "fund": funds.fund,
            "form": "cash",
            "amount": 400_000,
            "disbursed": 0,
            "purpose": "Mua vật tư y tế",
            "beneficiary": {
                "display": "Trung tâm Y tế huyện Cao Lộc",
                "type": "organization",
                "unit": None,
            },
            "program": "NQ68",
            "decision_ref": None,
            "decision": None,
            "date": today_in_vietnam().isoformat(),
            "via": [],
            "reversed": False,
            "reversal_index": None,
        }
    ]
    assert (document["unused"], document["reversed"], document["reversal_index"]) == (
        500_000,
        False,
        None,
    )


def test_no_private_data_in_the_answer(client: FlaskClient, funds: Any) -> None:
    contact = "0912 345 678"
    donor = {"display": "Lê Văn Cường", "type": "individual", "anonymous": True, "contact": contact}
    gift = funds.give(600_000, donor=donor)
    funds.allocate(600_000, beneficiary=NURSE)
    text = client.get(f"{API}/contributions/{gift.extra['receipt_id']}/usage").get_data(
        as_text=True
    )
    for secret in ("Lê Văn Cường", contact, "Hoàng Thị Mai", NURSE["national_id"]):
        assert secret not in text


def test_answers_follow_the_log_and_are_conditional(client: FlaskClient, funds: Any) -> None:
    receipt = funds.give(1_000_000).extra["receipt_id"]
    url = f"{API}/contributions/{receipt}/usage"
    first = client.get(url)
    assert first.get_json()["unused"] == 1_000_000
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    funds.allocate(250_000)
    changed = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert changed.get_json()["unused"] == 750_000


def test_a_receipt_id_as_a_donor_types_it_redirects_to_the_canonical_url(
    client: FlaskClient, funds: Any
) -> None:
    receipt = funds.give(1_000).extra["receipt_id"]
    typed = "-".join(receipt[i : i + 4] for i in range(0, 16, 4)).lower()
    response = client.get(f"{API}/contributions/{typed}/usage")
    assert response.status_code == 301
    assert response.headers["Location"].endswith(f"{API}/contributions/{receipt}/usage")


@pytest.mark.parametrize(
    ("receipt_id", "status", "code"),
    [
        ("7KQ29XHM4T0VPJ3R", 404, "not_found"),
        ("not-a-receipt", 400, "bad_request"),
        ("7KQ29XHM4T0VPJ3", 400, "bad_request"),
        ("UUUUUUUUUUUUUUUU", 400, "bad_request"),
    ],
)
def test_unknown_and_malformed_receipt_ids(
    client: FlaskClient, funds: Any, receipt_id: str, status: int, code: str
) -> None:
    response = client.get(f"{API}/contributions/{receipt_id}/usage")
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]


def test_a_pledge_is_not_a_gift(client: FlaskClient, funds: Any) -> None:
    pledge = funds.record(
        "pledge",
        {
            "fund": funds.fund,
            "amount": 5_000_000,
            "donor": {"display": "Công ty TNHH Minh An", "type": "organization"},
        },
    )
    pledge_id = pledge.extra.get("pledge_id") or pledge.body["pledge_id"]
    response = client.get(f"{API}/contributions/{pledge_id[1:]}/usage")
    assert response.status_code == 404


def test_openapi_documents_the_endpoint(client: FlaskClient, funds: Any) -> None:
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    operation = paths[f"{API}/contributions/{{receipt_id}}/usage"]["get"]
    assert {"200", "400", "404"} <= set(operation["responses"])
    assert "security" not in operation
