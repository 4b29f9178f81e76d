"""Public fund pages: funds, units, campaigns and mobilizers with exact balances, no token."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger.settings import FUND_KINDS

API = "/api/v1"
COVID_NAME = FUND_KINDS["covid19"]
CONTACT = "0987 654 321"
IN_KIND = {
    "description": "Khẩu trang y tế 4 lớp",
    "quantity": 1000,
    "unit": "hộp",
    "valuation": "Theo hóa đơn số 0001234",
}


def ok(client: FlaskClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    assert_short_lived(response)
    return response.get_json()


def assert_short_lived(response: TestResponse) -> None:
    cache = response.headers["Cache-Control"]
    found = re.search(r"max-age=(\d+)", cache)
    assert cache.startswith("public") and found and 0 < int(found.group(1)) <= 60, cache
    assert "immutable" not in cache


def zero_balance(**amounts: int) -> dict[str, int]:
    accounts = (
        "available",
        "committed",
        "disbursed",
        "in_kind",
        "in_kind_committed",
        "in_kind_disbursed",
        "received",
        "received_in_kind",
    )
    return {account: amounts.get(account, 0) for account in accounts}


@pytest.fixture
def activity(funds: Any) -> Any:
    """Three cash gifts, one in-kind gift and an allocation, across two funds."""
    funds.give(1_000_000)
    funds.give(
        250_000, donor={"display": "Trần Văn Bình", "type": "individual", "contact": CONTACT}
    )
    funds.give(300_000, fund=funds.district_fund)
    funds.give(2_000_000, channel="in_kind", in_kind=IN_KIND)
    funds.allocate(400_000)
    return funds


LS_BALANCE = zero_balance(
    available=850_000,
    committed=400_000,
    in_kind=2_000_000,
    received=1_250_000,
    received_in_kind=2_000_000,
)
CL_BALANCE = zero_balance(available=300_000, received=300_000)


def test_funds_list_every_fund_with_exact_balances(client: FlaskClient, activity: Any) -> None:
    document = ok(client, f"{API}/funds")
    assert set(document) == {"funds"}
    funds = {fund["code"]: fund for fund in document["funds"]}
    assert list(funds) == ["CL-COVID", "LS-COVID", "VL-COVID"]
    ls = funds["LS-COVID"]
    assert ls["balance"] == LS_BALANCE
    assert ls["name"] == f"{COVID_NAME} tỉnh Lạng Sơn"
    assert (ls["unit"], ls["unit_name"], ls["kind"], ls["kind_name"]) == (
        "LS",
        "Tỉnh Lạng Sơn",
        "covid19",
        COVID_NAME,
    )
    assert isinstance(ls["entry_index"], int)
    assert funds["CL-COVID"]["balance"] == CL_BALANCE
    assert funds["VL-COVID"]["balance"] == zero_balance()


def test_balances_follow_new_entries(client: FlaskClient, funds: Any) -> None:
    assert ok(client, f"{API}/funds/LS-COVID")["balance"] == zero_balance()
    funds.give(700_000)
    funds.allocate(200_000)
    assert ok(client, f"{API}/funds/LS-COVID")["balance"] == zero_balance(
        available=500_000, committed=200_000, received=700_000
    )


def test_one_fund_with_its_campaigns(client: FlaskClient, activity: Any) -> None:
    document = ok(client, f"{API}/funds/LS-COVID")
    assert document["code"] == "LS-COVID" and document["balance"] == LS_BALANCE
    assert [c["code"] for c in document["campaigns"]] == ["LS-2026"]
    assert document["campaigns"][0]["status"] == "open"


def test_units_form_a_tree_parents_first(client: FlaskClient, funds: Any) -> None:
    funds.record(
        "unit", {"code": "LS-CL-HT", "name": "Xã Hợp Thành", "parent": "LS-CL", "level": "commune"}
    )
    units = ok(client, f"{API}/units")["units"]
    assert [(u["code"], u["parent"], u["level"]) for u in units] == [
        ("LS", None, "province"),
        ("LS-CL", "LS", "district"),
        ("LS-CL-HT", "LS-CL", "commune"),
        ("LS-VL", "LS", "district"),
    ]
    assert units[0]["name"] == "Tỉnh Lạng Sơn"


def test_a_unit_balance_covers_the_units_below_it(client: FlaskClient, activity: Any) -> None:
    province = ok(client, f"{API}/units/LS")
    assert province["children"] == ["LS-CL", "LS-VL"] and province["ancestors"] == []
    assert province["funds"] == ["LS-COVID"]
    assert province["balance"] == {
        account: LS_BALANCE[account] + CL_BALANCE[account] for account in LS_BALANCE
    }
    district = ok(client, f"{API}/units/LS-CL")
    assert district["parent"] == "LS" and district["ancestors"] == ["LS"]
    assert district["children"] == [] and district["balance"] == CL_BALANCE
    assert ok(client, f"{API}/units/LS-VL")["balance"] == zero_balance()


def test_campaigns_with_account_status_balance_and_pledges(
    client: FlaskClient, activity: Any
) -> None:
    promised = activity.record(
        "pledge",
        {
            "fund": "LS-COVID",
            "amount": 900_000,
            "donor": {"display": "Công ty CP Đồng Đăng", "type": "organization"},
        },
    )
    activity.give(600_000, pledge=promised.extra["pledge_id"])
    campaigns = {c["code"]: c for c in ok(client, f"{API}/campaigns")["campaigns"]}
    assert set(campaigns) == {"LS-2026", "CL-2026", "VL-2026"}
    ls = campaigns["LS-2026"]
    assert ls["fund"] == "LS-COVID" and ls["reference"] == "LS26COVID"
    assert ls["status"] == "open"
    assert ls["opens"] < activity.today < ls["closes"] and ls["distribute_by"] == ls["closes"]
    assert ls["account"]["bank_bin"] == "970436" and ls["account"]["bank_name"]
    assert ls["account"]["number"] == "0011001234567"
    assert ls["account"]["holder"] == "Ủy ban MTTQ Việt Nam tỉnh Lạng Sơn"
    # The allocation named no campaign, so it does not draw on this campaign's balance.
    assert ls["balance"] == zero_balance(
        available=1_850_000, received=1_850_000, in_kind=2_000_000, received_in_kind=2_000_000
    )
    assert ls["pledged"] == {"total": 900_000, "fulfilled": 600_000}
    assert campaigns["CL-2026"]["balance"] == CL_BALANCE
    assert campaigns["VL-2026"]["pledged"] == {"total": 0, "fulfilled": 0}
    assert ok(client, f"{API}/campaigns/LS-2026") == ls


def test_a_campaign_that_ended_is_closed(client: FlaskClient, funds: Any) -> None:
    today = date.fromisoformat(funds.today)
    funds.record(
        "campaign",
        {
            "code": "LS-2025",
            "fund": "LS-COVID",
            "name": "Đợt vận động năm 2025",
            "purpose": "Hỗ trợ tiêm chủng",
            "reference": "LS25COVID",
            "opens": (today - timedelta(days=400)).isoformat(),
            "closes": (today - timedelta(days=100)).isoformat(),
            "distribute_by": (today - timedelta(days=70)).isoformat(),
            "account": {"bank_bin": "970436", "number": "0011001234567", "holder": "UBMTTQ"},
        },
    )
    campaigns = ok(client, f"{API}/campaigns?fund=LS-COVID")["campaigns"]
    assert [(c["code"], c["status"]) for c in campaigns] == [
        ("LS-2025", "closed"),
        ("LS-2026", "open"),
    ]
    assert ok(client, f"{API}/campaigns/LS-2025")["balance"] == zero_balance()


def test_campaigns_of_one_fund(client: FlaskClient, funds: Any) -> None:
    codes = [c["code"] for c in ok(client, f"{API}/campaigns?fund=CL-COVID")["campaigns"]]
    assert codes == ["CL-2026"]
    assert ok(client, f"{API}/campaigns?fund=NOPE")["campaigns"] == []
    response = client.get(f"{API}/campaigns?fund=bad%20code")
    assert response.status_code == 400 and "fund" in response.get_json()["error"]["message"]


def test_mobilizers(client: FlaskClient, funds: Any) -> None:
    mobilizers = ok(client, f"{API}/mobilizers")["mobilizers"]
    assert mobilizers == [
        {
            "code": "LS-HLHPN",
            "name": "Hội LHPN tỉnh",
            "type": "collective",
            "unit": "LS",
            "unit_name": "Tỉnh Lạng Sơn",
            "reference": "LSHLHPN",
            "entry_index": mobilizers[0]["entry_index"],
        }
    ]


@pytest.mark.parametrize(
    "url", ["funds/NOPE", "units/NOPE", "campaigns/NOPE", "funds/a%20b", "units/%C4%91"]
)
def test_what_does_not_exist_answers_404(client: FlaskClient, funds: Any, url: str) -> None:
    response = client.get(f"{API}/{url}")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert response.headers["Cache-Control"] == "no-store"


def test_answers_are_conditional(client: FlaskClient, activity: Any) -> None:
    first = client.get(f"{API}/funds")
    assert first.headers["ETag"]
    again = client.get(f"{API}/funds", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    activity.give(1)
    changed = client.get(f"{API}/funds", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200


def test_no_private_data_in_public_pages(client: FlaskClient, activity: Any) -> None:
    for url in ("funds", "funds/LS-COVID", "units/LS", "campaigns", "campaigns/LS-2026"):
        text = client.get(f"{API}/{url}").get_data(as_text=True)
        assert CONTACT not in text and "Trần Văn Bình" not in text


def test_openapi_lists_the_fund_pages(client: FlaskClient, funds: Any) -> None:
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    for path in (
        "funds",
        "funds/{code}",
        "units",
        "units/{code}",
        "campaigns",
        "campaigns/{code}",
        "mobilizers",
    ):
        operation = paths[f"{API}/{path}"]["get"]
        assert "200" in operation["responses"], path
        assert "security" not in operation, path


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/funds/a%00",
        "/api/v1/units/a%00",
        "/api/v1/campaigns/a%00",
        "/api/v1/campaigns/a%00/vietqr.png",
    ],
)
def test_a_code_no_ledger_could_hold_is_simply_not_found(
    funds: Any, client: FlaskClient, path: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "not_found"


def test_a_malformed_mobiliser_in_a_donation_code_is_a_bad_request(
    funds: Any, client: FlaskClient
) -> None:
    answer = client.get(f"/api/v1/campaigns/{funds.campaign}/vietqr?mobilizer=a%00")
    assert answer.status_code == 400
    assert "mobilizer" in answer.get_json()["error"]["message"]
