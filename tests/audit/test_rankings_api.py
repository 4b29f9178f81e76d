"""Rankings as the public reads them (``GET /api/v1/rankings``) and as ``ledger rankings``
prints them: the same figures, the checkpoint they hold at, blocked gifts left out."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from support.api import API
from support.cli import error_line, ok

import audit
from ledger import log
from ledger.cli import main

LARGE_CASH = 150_000_000  # over the default threshold of the blocking large_cash_gift rule
GOODS = {"description": "Gạo", "quantity": 2, "unit": "tấn"}


def person(name: str) -> dict[str, str]:
    return {"display": name, "type": "individual"}


@pytest.fixture
def gifts(funds: Any) -> dict[str, int]:
    """Two collectives and an individual with gifts; a reversed gift; one in kind."""
    funds.record(
        "unit", {"code": "LS-CL-HT", "name": "Xã Hợp Thành", "parent": "LS-CL", "level": "commune"}
    )
    for code, kind, unit in (("HT-DOAN", "collective", "LS-CL-HT"), ("P-AN", "individual", "LS")):
        funds.record(
            "mobilizer",
            {"code": code, "name": f"Người vận động {code}", "type": kind, "unit": unit},
        )
    yesterday = (date.fromisoformat(funds.today) - timedelta(days=1)).isoformat()
    made = {
        "ht_first": funds.give(
            2_000_000, mobilizer="HT-DOAN", donor=person("Mai Anh"), received_on=yesterday
        ).index,
        "province": funds.give(1_500_000, mobilizer=funds.mobilizer, donor=person("Lý Phúc")).index,
        "ht_goods": funds.give(
            700_000, mobilizer="HT-DOAN", channel="in_kind", in_kind=GOODS, donor=person("Mai Anh")
        ).index,
        "person": funds.give(300_000, mobilizer="P-AN", donor=person("Hà Tư")).index,
    }
    wrong = funds.give(9_000_000, mobilizer=funds.mobilizer, donor=person("Ghi nhầm"))
    funds.record("reversal", {"target": wrong.index, "reason": "ghi nhầm"})
    return made


def ok_json(client: FlaskClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=5"
    return response.get_json()


def refused(client: FlaskClient, url: str, status: int) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True))
    assert response.headers["Cache-Control"] == "no-store"
    message: str = response.get_json()["error"]["message"]
    return message


def latest(funds: Any) -> log.StoredCheckpoint:
    with funds.db.session() as session:
        return log.latest_checkpoint(session)


# -- the route ---------------------------------------------------------------------------


def test_the_ranking_names_its_checkpoint_and_hides_the_evidence_unless_asked(
    client: FlaskClient, funds: Any, gifts: dict[str, int]
) -> None:
    document = ok_json(client, f"{API}/rankings?type=collective")
    checkpoint = latest(funds)
    assert document == {
        "type": "collective",
        "campaign": None,
        "unit": None,
        "since": None,
        "until": None,
        "tree_size": checkpoint.tree_size,
        "root": checkpoint.root.hex(),
        "withheld": 0,
        "mobilizers": [
            {
                "rank": 1,
                "mobilizer": "HT-DOAN",
                "name": "Người vận động HT-DOAN",
                "type": "collective",
                "unit": "LS-CL-HT",
                "net_amount": 2_000_000,
                "in_kind_value": 700_000,
                "donors": 1,
                "gifts": 2,
            },
            {
                "rank": 2,
                "mobilizer": "LS-HLHPN",
                "name": "Hội LHPN tỉnh",
                "type": "collective",
                "unit": "LS",
                "net_amount": 1_500_000,  # the reversed 9.000.000 does not count
                "in_kind_value": 0,
                "donors": 1,
                "gifts": 1,
            },
        ],
    }
    evidence = ok_json(client, f"{API}/rankings?type=collective&evidence=1")
    assert [m["gift_indices"] for m in evidence["mobilizers"]] == [
        [gifts["ht_first"], gifts["ht_goods"]],
        [gifts["province"]],
    ]
    assert evidence["checkpoint"] == checkpoint.note
    assert evidence["withheld_gifts"] == []


def test_the_filters_reach_the_ranking(
    client: FlaskClient, funds: Any, gifts: dict[str, int]
) -> None:
    def ranked(query: str) -> list[str]:
        return [m["mobilizer"] for m in ok_json(client, f"{API}/rankings?{query}")["mobilizers"]]

    assert ranked("type=individual") == ["P-AN"]
    assert ranked("type=collective&unit=LS-CL") == ["HT-DOAN"]
    assert ranked("type=collective&campaign=LS-2026") == ["HT-DOAN", "LS-HLHPN"]
    assert ranked("type=collective&campaign=CL-2026") == []
    yesterday = (date.fromisoformat(funds.today) - timedelta(days=1)).isoformat()
    document = ok_json(client, f"{API}/rankings?type=collective&until={yesterday}")
    assert [(m["mobilizer"], m["net_amount"], m["gifts"]) for m in document["mobilizers"]] == [
        ("HT-DOAN", 2_000_000, 1)
    ]
    assert document["until"] == yesterday
    since = ok_json(client, f"{API}/rankings?type=collective&since={funds.today}")
    assert [m["mobilizer"] for m in since["mobilizers"]] == ["LS-HLHPN", "HT-DOAN"]


def test_a_large_cash_gift_without_reference_is_withheld_until_acknowledged(
    client: FlaskClient, funds: Any, gifts: dict[str, int]
) -> None:
    big = funds.give(LARGE_CASH, mobilizer=funds.mobilizer, donor=person("Công ty Đại Phát"))
    held = ok_json(client, f"{API}/rankings?type=collective&evidence=1")
    assert [(m["mobilizer"], m["net_amount"]) for m in held["mobilizers"]] == [
        ("HT-DOAN", 2_000_000),
        ("LS-HLHPN", 1_500_000),
    ]
    assert (held["withheld"], held["withheld_gifts"]) == (1, [big.index])
    # Another type's ranking does not hold the gift back: it is not among its gifts.
    assert ok_json(client, f"{API}/rankings?type=individual")["withheld"] == 0

    audit.load_all()
    funds.record(
        "acknowledgement",
        {"finding": f"large_cash_gift:{big.index}", "reason": "Đã đối chiếu phiếu thu số 12"},
    )
    cleared = ok_json(client, f"{API}/rankings?type=collective&evidence=1")
    assert [(m["mobilizer"], m["net_amount"]) for m in cleared["mobilizers"]] == [
        ("LS-HLHPN", 1_500_000 + LARGE_CASH),
        ("HT-DOAN", 2_000_000),
    ]
    assert cleared["mobilizers"][0]["gift_indices"] == [gifts["province"], big.index]
    assert cleared["withheld"] == 0 and cleared["tree_size"] == held["tree_size"] + 1


def test_the_ranking_as_csv(client: FlaskClient, funds: Any, gifts: dict[str, int]) -> None:
    def rows(query: str, filename: str) -> list[dict[str, str]]:
        response = client.get(f"{API}/rankings?{query}")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
        assert response.headers["Cache-Control"] == "public, max-age=5"
        assert response.get_data().startswith("\ufeff".encode())
        text = response.get_data().decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text, newline="")))

    plain = rows("type=collective&format=csv", "rankings-collective.csv")
    assert plain[0] == {
        "rank": "1",
        "mobilizer": "HT-DOAN",
        "name": "Người vận động HT-DOAN",
        "type": "collective",
        "unit": "LS-CL-HT",
        "net_amount": "2000000",
        "in_kind_value": "700000",
        "donors": "1",
        "gifts": "2",
    }
    assert [row["mobilizer"] for row in plain] == ["HT-DOAN", "LS-HLHPN"]
    evidence = rows("type=individual&format=csv&evidence=1", "rankings-individual.csv")
    assert evidence == [
        {
            "rank": "1",
            "mobilizer": "P-AN",
            "name": "Người vận động P-AN",
            "type": "individual",
            "unit": "LS",
            "net_amount": "300000",
            "in_kind_value": "0",
            "donors": "1",
            "gifts": "1",
            "gift_indices": str(gifts["person"]),
        }
    ]


def test_an_unchanged_ranking_is_not_sent_again(
    client: FlaskClient, funds: Any, gifts: dict[str, int]
) -> None:
    first = client.get(f"{API}/rankings?type=collective")
    etag = first.headers["ETag"]
    again = client.get(f"{API}/rankings?type=collective", headers={"If-None-Match": etag})
    assert again.status_code == 304
    funds.give(100_000, mobilizer="HT-DOAN")
    changed = client.get(f"{API}/rankings?type=collective", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.get_json()["mobilizers"][0]["net_amount"] == 2_100_000


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("", "type"),
        ("type=everyone", "type"),
        ("type=collective&since=2026-02-30", "since"),
        ("type=collective&until=yesterday", "until"),
        ("type=collective&since=2026-03-02&until=2026-03-01", "until"),
        ("type=collective&unit=not%20a%20code", "unit"),
        ("type=collective&campaign=" + "C" * 49, "campaign"),
        ("type=collective&evidence=maybe", "evidence"),
        ("type=collective&format=xlsx", "format"),
    ],
)
def test_bad_parameters_are_a_400(
    client: FlaskClient, funds: Any, query: str, mentions: str
) -> None:
    response = client.get(f"{API}/rankings?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert mentions in json.dumps(error["fields"]), error


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("campaign=NO-SUCH", "no campaign with code 'NO-SUCH'"),
        ("unit=NO-SUCH", "no unit with code 'NO-SUCH'"),
    ],
)
def test_an_unknown_campaign_or_unit_is_a_404(
    client: FlaskClient, funds: Any, query: str, mentions: str
) -> None:
    assert mentions in refused(client, f"{API}/rankings?type=collective&{query}", 404)


def test_the_route_is_documented_with_its_parameters_and_refusals(
    client: FlaskClient, funds: Any
) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    operation = document["paths"][f"{API}/rankings"]["get"]
    assert {"200", "400", "404", "429"} <= set(operation["responses"])
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {"type", "campaign", "unit", "since", "until", "evidence", "format"}
    assert parameters["type"]["required"] is True
    assert parameters["type"]["schema"]["enum"] == ["collective", "individual"]
    assert "text/csv" in operation["responses"]["200"]["content"]
    assert not operation.get("security")


# -- the command line ---------------------------------------------------------------------


def test_the_command_prints_a_table_with_its_checkpoint(
    runner: CliRunner, funds: Any, gifts: dict[str, int]
) -> None:
    checkpoint = latest(funds)
    lines = ok(runner.invoke(main, ["rankings", "--type", "collective"])).splitlines()
    assert lines[0].split() == [
        "rank",
        "code",
        "name",
        "unit",
        "net",
        "amount",
        "in",
        "kind",
        "donors",
        "gifts",
    ]
    assert lines[1].split() == [
        "1",
        "HT-DOAN",
        "Người",
        "vận",
        "động",
        "HT-DOAN",
        "LS-CL-HT",
        "2.000.000",
        "700.000",
        "1",
        "2",
    ]
    assert lines[2].split()[:2] == ["2", "LS-HLHPN"] and "1.500.000" in lines[2]
    assert lines[3] == f"as of tree size {checkpoint.tree_size}, root {checkpoint.root.hex()}"
    district = ok(runner.invoke(main, ["rankings", "--type", "collective", "--unit", "LS-CL"]))
    assert "HT-DOAN" in district and "LS-HLHPN" not in district
    nobody = ok(
        runner.invoke(main, ["rankings", "--type", "individual", "--campaign", "CL-2026"])
    ).splitlines()
    assert nobody[0] == "no individual mobiliser has a gift that counts"


def test_the_command_gives_json_with_the_evidence(
    runner: CliRunner, funds: Any, gifts: dict[str, int]
) -> None:
    yesterday = (date.fromisoformat(funds.today) - timedelta(days=1)).isoformat()
    out = ok(
        runner.invoke(
            main,
            [
                "rankings",
                "--type",
                "collective",
                "--since",
                yesterday,
                "--until",
                yesterday,
                "--json",
            ],
        )
    )
    document = json.loads(out)
    assert document["tree_size"] == latest(funds).tree_size
    assert document["checkpoint"] == latest(funds).note
    assert [
        (m["rank"], m["mobilizer"], m["net_amount"], m["gift_indices"])
        for m in document["mobilizers"]
    ] == [(1, "HT-DOAN", 2_000_000, [gifts["ht_first"]])]


@pytest.mark.parametrize(
    ("options", "mentions"),
    [
        (["--type", "everyone"], "type must be collective or individual"),
        (["--type", "collective", "--since", "1/3/2026"], "since must be a day"),
        (["--type", "collective", "--unit", "NOPE"], "no unit with code 'NOPE'"),
        (["--type", "collective", "--campaign", "NOPE"], "no campaign with code 'NOPE'"),
    ],
)
def test_the_command_refuses_in_one_line(
    runner: CliRunner, funds: Any, options: list[str], mentions: str
) -> None:
    error_line(runner.invoke(main, ["rankings", *options]), mentions)
