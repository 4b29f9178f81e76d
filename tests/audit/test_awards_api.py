"""The awards over HTTP and on the command line: reading, the board's writes, the exports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from pypdf import PdfReader
from support.api import API, MakeToken, auth, log_size
from support.cli import error_line, ok

from audit.awards import nominations as n
from ledger.cli import main
from ledger.funds.access import AUDITOR, AWARDS_BOARD, FUND_MANAGER
from public_api import create_app

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
AWARDS = f"{API}/awards"


@pytest.fixture
def criteria(tmp_path: Path) -> Path:
    path = tmp_path / "criteria.toml"
    path.write_text(CRITERIA, encoding="utf-8")
    return path


@pytest.fixture
def board_app(env: dict[str, str], funds: Any, criteria: Path) -> Iterator[Flask]:
    app = create_app({**env, "TESTING": True, "LEDGER_AWARDS_CRITERIA": str(criteria)})
    yield app
    app.extensions["ledger.database"].dispose()


@pytest.fixture
def web(board_app: Flask) -> FlaskClient:
    return board_app.test_client()


@pytest.fixture
def board(make_token: MakeToken) -> str:
    return make_token(AWARDS_BOARD, name="ls-board")


def mobilised(funds: Any) -> None:
    """A women's union of Cao Lộc (2.3 million, 3 donors) and a person (600,000)."""
    for code, name, kind, unit in (
        ("CL-HPN", "Hội Liên hiệp Phụ nữ huyện Cao Lộc", "collective", "LS-CL"),
        ("P-HOA", "Bà Nguyễn Thị Hoà", "individual", "LS-VL"),
    ):
        funds.record("mobilizer", {"code": code, "name": name, "type": kind, "unit": unit})
    for amount, donor in (
        (1_500_000, "Đỗ Văn Khải"),
        (500_000, "Lương Thị Mận"),
        (300_000, "Hà An"),
    ):
        funds.give(amount, mobilizer="CL-HPN", donor={"display": donor, "type": "individual"})
    funds.give(
        600_000, mobilizer="P-HOA", donor={"display": "Công ty Tân Thanh", "type": "organization"}
    )


def propose(web: FlaskClient, token: str | None, key: str | None = None, **body: Any) -> Any:
    return web.post(
        f"{AWARDS}/nominations", json={"campaign": "LS-2026", **body}, headers=auth(token, key)
    )


def proposed(web: FlaskClient, funds: Any, board: str) -> dict[str, str]:
    mobilised(funds)
    answer = propose(web, board)
    assert answer.status_code == 201, answer.get_json()
    return {item["awardee"]["code"]: item["id"] for item in answer.get_json()["nominations"]}


def move(web: FlaskClient, token: str | None, nomination_id: str, to: str, **more: Any) -> Any:
    body = {"to": to, "reason": f"Biên bản họp Hội đồng: {to}", **more}
    return web.post(f"{AWARDS}/{nomination_id}/transitions", json=body, headers=auth(token))


# -- the board's writes ----------------------------------------------------------------------


def test_the_board_proposes_and_the_answer_names_each_nomination(
    web: FlaskClient, funds: Any, board: str
) -> None:
    mobilised(funds)
    answer = propose(web, board, key="de-nghi-1")
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    document = answer.get_json()
    assert [
        (i["awardee"]["code"], i["form"], i["rank"], i["figures"]["net_amount"])
        for i in document["nominations"]
    ] == [
        ("CL-HPN", "BK-UBND-TINH", 1, 2_300_000),
        ("P-HOA", "BK-MTTQ-TINH", 1, 600_000),
    ]
    assert document["skipped"] == []
    before = log_size(web)
    replayed = propose(web, board, key="de-nghi-1")
    assert replayed.status_code == 201 and replayed.headers["Idempotency-Replayed"] == "true"
    assert replayed.get_json() == document
    again = propose(web, board)
    assert again.status_code == 201
    assert again.get_json()["nominations"] == []
    assert [s["mobilizer"] for s in again.get_json()["skipped"]] == ["CL-HPN", "P-HOA"]
    assert log_size(web) == before


@pytest.mark.parametrize("role", [FUND_MANAGER, AUDITOR])
def test_fund_managers_and_auditors_may_not_propose_or_decide(
    web: FlaskClient, funds: Any, board: str, make_token: MakeToken, role: str
) -> None:
    ids = proposed(web, funds, board)
    before = log_size(web)
    other = make_token(role)
    assert propose(web, other).status_code == 403
    refused = move(web, other, ids["CL-HPN"], n.UNDER_REVIEW)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    assert log_size(web) == before


def test_without_a_token_writes_are_401(web: FlaskClient, funds: Any, board: str) -> None:
    ids = proposed(web, funds, board)
    assert propose(web, None).status_code == 401
    assert move(web, None, ids["CL-HPN"], n.UNDER_REVIEW).status_code == 401


def test_transitions_over_http_legal_then_illegal(web: FlaskClient, funds: Any, board: str) -> None:
    ids = proposed(web, funds, board)
    collective = ids["CL-HPN"]
    for to in (n.UNDER_REVIEW, n.APPROVED):
        answer = move(web, board, collective, to)
        assert answer.status_code == 201, answer.get_json()
        assert answer.get_json()["state"] == to
    before = log_size(web)
    refused = move(web, board, collective, n.CONFERRED)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "illegal_transition"
    assert "only proposed upward" in refused.get_json()["error"]["message"]
    assert log_size(web) == before
    decision = {"number": "45/QĐ-UBND", "date": "2026-04-02", "approver": "Chủ tịch UBND tỉnh"}
    forwarded = move(web, board, collective, n.FORWARDED, decision=decision)
    assert forwarded.status_code == 201
    shown = web.get(f"{AWARDS}/{collective}").get_json()
    assert shown["state"] == n.FORWARDED and shown["next_states"] == []
    assert [(h["from"], h["to"]) for h in shown["history"]] == [
        (n.PROPOSED, n.UNDER_REVIEW),
        (n.UNDER_REVIEW, n.APPROVED),
        (n.APPROVED, n.FORWARDED),
    ]
    assert shown["history"][-1]["decision"] == decision
    assert move(web, board, collective, n.REJECTED).status_code == 409


def test_transition_requests_are_checked(web: FlaskClient, funds: Any, board: str) -> None:
    ids = proposed(web, funds, board)
    assert move(web, board, ids["P-HOA"], "finished").status_code == 422
    missing = web.post(
        f"{AWARDS}/{ids['P-HOA']}/transitions", json={"to": n.UNDER_REVIEW}, headers=auth(board)
    )
    assert missing.status_code == 422 and "reason" in missing.get_json()["error"]["fields"]
    named = move(web, board, ids["P-HOA"], n.UNDER_REVIEW, nomination=ids["CL-HPN"])
    assert named.status_code == 422
    unknown = move(web, board, "K" + "0" * 16, n.UNDER_REVIEW)
    assert unknown.status_code == 404
    assert move(web, board, "not-an-id", n.UNDER_REVIEW).status_code == 422
    bad_proposal = propose(web, board, until="2020-01-01", since="2021-01-01")
    assert bad_proposal.status_code == 422
    assert propose(web, board, campaign="NO-SUCH").status_code == 404


# -- reading ---------------------------------------------------------------------------------


def test_the_public_list_with_filters_and_csv(web: FlaskClient, funds: Any, board: str) -> None:
    ids = proposed(web, funds, board)
    move(web, board, ids["P-HOA"], n.UNDER_REVIEW)
    listed = web.get(AWARDS)
    assert listed.status_code == 200
    assert listed.headers["Cache-Control"] == "public, max-age=5"
    items = listed.get_json()["nominations"]
    assert [(i["id"], i["state"], i["form"]["code"]) for i in items] == [
        (ids["CL-HPN"], n.PROPOSED, "BK-UBND-TINH"),
        (ids["P-HOA"], n.UNDER_REVIEW, "BK-MTTQ-TINH"),
    ]
    assert items[0]["figures"] == {
        "net_amount": 2_300_000,
        "donors": 3,
        "gifts": 3,
        "in_kind_value": 0,
    }
    assert items[0]["period"] == {"since": None, "until": None}
    assert [i["id"] for i in web.get(f"{AWARDS}?state=under_review").get_json()["nominations"]] == [
        ids["P-HOA"]
    ]
    assert [i["id"] for i in web.get(f"{AWARDS}?form=BK-UBND-TINH").get_json()["nominations"]] == [
        ids["CL-HPN"]
    ]
    assert web.get(f"{AWARDS}?campaign=CL-2026").get_json()["nominations"] == []
    assert web.get(f"{AWARDS}?state=lost").status_code == 400
    table = web.get(f"{AWARDS}?format=csv")
    assert table.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(table.get_data(as_text=True).removeprefix("\ufeff"))))
    assert [(r["id"], r["awardee.name"], r["figures.net_amount"]) for r in rows] == [
        (ids["CL-HPN"], "Hội Liên hiệp Phụ nữ huyện Cao Lộc", "2300000"),
        (ids["P-HOA"], "Bà Nguyễn Thị Hoà", "600000"),
    ]


def test_one_nomination_and_its_spellings(web: FlaskClient, funds: Any, board: str) -> None:
    ids = proposed(web, funds, board)
    nomination = ids["CL-HPN"]
    shown = web.get(f"{AWARDS}/{nomination}")
    assert shown.status_code == 200
    document = shown.get_json()
    assert document["next_states"] == [n.UNDER_REVIEW]
    assert len(document["evidence"]["gifts"]) == 3
    assert document["evidence"]["checkpoint"].startswith(funds.settings.origin + "\n")
    moved = web.get(f"{AWARDS}/{nomination.lower()}")
    assert moved.status_code == 301 and moved.headers["Location"].endswith(f"/awards/{nomination}")
    assert web.get(f"{AWARDS}/K{'0' * 16}").status_code == 404
    assert web.get(f"{AWARDS}/export").status_code == 400


def test_the_evidence_endpoint_verifies_and_pages_the_proofs(
    web: FlaskClient, funds: Any, board: str
) -> None:
    ids = proposed(web, funds, board)
    answer = web.get(f"{AWARDS}/{ids['CL-HPN']}/evidence?start=1&limit=1")
    assert answer.status_code == 200
    report = answer.get_json()
    assert report["verified"] is True and report["problems"] == []
    assert report["recomputed"] == {
        "net_amount": 2_300_000,
        "donors": 3,
        "gifts": 3,
        "in_kind_value": 0,
    }
    (gift,) = report["gifts"]
    counted = web.get(f"{AWARDS}/{ids['CL-HPN']}").get_json()["evidence"]["gifts"]
    assert gift["index"] == counted[1] and report["next"] == 2
    proof = web.get(
        f"{API}/log/proofs/inclusion?index={gift['index']}&tree_size={report['tree_size']}"
    )
    assert proof.get_json()["hashes"] == gift["inclusion_proof"]
    funds.record("reversal", {"target": counted[0], "reason": "Ghi nhầm"})
    later = web.get(f"{AWARDS}/{ids['CL-HPN']}/evidence").get_json()
    assert later["verified"] is True
    assert [r["gift"] for r in later["reversed_since"]] == [counted[0]]
    assert web.get(f"{AWARDS}/{ids['CL-HPN']}/evidence?limit=5000").status_code == 400


# -- exports -----------------------------------------------------------------------------------


def test_the_xlsx_list_reads_back_in_the_usual_layout(
    web: FlaskClient, funds: Any, board: str
) -> None:
    proposed(web, funds, board)
    answer = web.get(f"{AWARDS}/export.xlsx?campaign=LS-2026&date=2026-03-05")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(answer.data)).active
    values = [
        [cell for cell in row if cell is not None] for row in sheet.iter_rows(values_only=True)
    ]
    text = [row for row in values if row]
    assert text[0] == ["ỦY BAN MTTQ VIỆT NAM", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"]
    assert text[1] == ["TỈNH LẠNG SƠN", "Độc lập - Tự do - Hạnh phúc"]
    assert text[2] == ["Lạng Sơn, ngày 05 tháng 03 năm 2026"]
    assert text[3] == ["DANH SÁCH ĐỀ NGHỊ KHEN THƯỞNG"]
    assert text[5][:4] == ["STT", "Tên tập thể, cá nhân", "Đơn vị", "Thành tích"]
    assert text[7] == ["I. Bằng khen của Chủ tịch UBND tỉnh"]
    assert text[8][:6] == [
        1,
        "Hội Liên hiệp Phụ nữ huyện Cao Lộc",
        "Huyện Cao Lộc",
        2_300_000,
        3,
        "Bằng khen của Chủ tịch UBND tỉnh",
    ]
    assert text[9] == ["II. Bằng khen của Ủy ban MTTQ Việt Nam tỉnh"]
    assert text[10][:5] == [1, "Bà Nguyễn Thị Hoà", "Huyện Văn Lãng", 600_000, 1]
    assert text[10][6].startswith("Đề nghị; Mã K")
    assert ["TM. BAN THƯỜNG TRỰC"] in [row[-1:] for row in text[11:]]


def test_the_pdf_list_keeps_its_vietnamese(web: FlaskClient, funds: Any, board: str) -> None:
    ids = proposed(web, funds, board)
    for to in (n.UNDER_REVIEW, n.REJECTED):
        move(web, board, ids["P-HOA"], to)
    answer = web.get(f"{AWARDS}/export.pdf?date=2026-03-05")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.data)).pages)
    for expected in (
        "ỦY BAN MTTQ VIỆT NAM",
        "TỈNH LẠNG SƠN",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Lạng Sơn, ngày 05 tháng 03 năm 2026",
        "DANH SÁCH ĐỀ NGHỊ KHEN THƯỞNG",
        "I. Bằng khen của Chủ tịch UBND tỉnh",
        "Hội Liên hiệp Phụ nữ huyện Cao Lộc",
        "2.300.000",
        "TM. BAN THƯỜNG TRỰC",
    ):
        assert expected in text, expected
    assert "Bà Nguyễn Thị Hoà" not in text  # rejected: off the list unless asked for
    rejected = web.get(f"{AWARDS}/export.pdf?state=rejected").data
    rejected_text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(rejected)).pages)
    assert "Bà Nguyễn Thị Hoà" in rejected_text and "Không thông qua" in rejected_text


def test_the_csv_list(web: FlaskClient, funds: Any, board: str) -> None:
    proposed(web, funds, board)
    answer = web.get(f"{AWARDS}/export.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    body = answer.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert rows[0] == [
        "STT",
        "Tên tập thể, cá nhân",
        "Đơn vị",
        "Thành tích: số tiền vận động (đồng)",
        "Thành tích: số nhà hảo tâm",
        "Hình thức đề nghị",
        "Ghi chú",
    ]
    assert [row[:6] for row in rows[1:]] == [
        [
            "1",
            "Hội Liên hiệp Phụ nữ huyện Cao Lộc",
            "Huyện Cao Lộc",
            "2300000",
            "3",
            "Bằng khen của Chủ tịch UBND tỉnh",
        ],
        [
            "1",
            "Bà Nguyễn Thị Hoà",
            "Huyện Văn Lãng",
            "600000",
            "1",
            "Bằng khen của Ủy ban MTTQ Việt Nam tỉnh",
        ],
    ]


def test_the_api_documents_every_award_route(web: FlaskClient) -> None:
    paths = web.get(f"{API}/openapi.json").get_json()["paths"]
    assert set(paths[f"{AWARDS}/nominations"]["post"]["responses"]) >= {
        "201",
        "401",
        "403",
        "409",
        "422",
    }
    assert set(paths[f"{AWARDS}/{{nomination_id}}/transitions"]["post"]["responses"]) >= {
        "201",
        "401",
        "403",
        "404",
        "409",
        "422",
    }
    for route in (
        "",
        "/export.csv",
        "/export.xlsx",
        "/export.pdf",
        "/{nomination_id}",
        "/{nomination_id}/evidence",
    ):
        assert "200" in paths[f"{AWARDS}{route}"]["get"]["responses"], route


# -- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli(env: dict[str, str], criteria: Path) -> CliRunner:
    return CliRunner(env={**env, "LEDGER_AWARDS_CRITERIA": str(criteria)})


def test_the_command_line_workflow(cli: CliRunner, funds: Any, tmp_path: Path) -> None:
    mobilised(funds)
    out = ok(cli.invoke(main, ["awards", "propose", "--campaign", "LS-2026", "--actor", "hd-tdkt"]))
    assert "recorded 2 nominations, skipped 0" in out
    listed = json.loads(ok(cli.invoke(main, ["awards", "list", "--json"])))["nominations"]
    collective = listed[0]["id"]
    assert listed[0]["actor"] == "cli:hd-tdkt"
    shown = ok(cli.invoke(main, ["awards", "show", collective]))
    assert "Bằng khen của Chủ tịch UBND tỉnh" in shown and "next      under_review" in shown
    for to in (n.UNDER_REVIEW, n.APPROVED):
        ok(cli.invoke(main, ["awards", "transition", collective, "--to", to, "--reason", "Họp"]))
    refused = cli.invoke(
        main, ["awards", "transition", collective, "--to", "conferred", "--reason", "x"]
    )
    error_line(refused, collective, "cannot become conferred")
    forwarded = cli.invoke(
        main,
        [
            "awards",
            "transition",
            collective,
            "--to",
            "forwarded",
            "--reason",
            "Trình UBND tỉnh",
            "--decision-number",
            "12/TTr-MTTQ",
            "--decision-date",
            "2026-04-01",
            "--approver",
            "Chủ tịch Ủy ban MTTQ tỉnh",
        ],
    )
    assert "approved → forwarded" in ok(forwarded)
    verified = ok(cli.invoke(main, ["awards", "verify", collective]))
    assert verified.startswith(f"OK: nomination {collective}: 3 gifts proven")
    for kind in ("csv", "xlsx", "pdf"):
        path = tmp_path / f"danh-sach.{kind}"
        assert "wrote 2 nominations" in ok(
            cli.invoke(main, ["awards", "export", "--format", kind, str(path)])
        )
    assert "Hội Liên hiệp Phụ nữ huyện Cao Lộc" in (tmp_path / "danh-sach.csv").read_text(
        "utf-8-sig"
    )
    assert "12/TTr-MTTQ" in (tmp_path / "danh-sach.csv").read_text("utf-8-sig")
    pdf = PdfReader(tmp_path / "danh-sach.pdf")
    assert "Đã trình cấp trên" in " ".join(page.extract_text() for page in pdf.pages)
    assert load_workbook(tmp_path / "danh-sach.xlsx").active["A1"].value == "ỦY BAN MTTQ VIỆT NAM"


def test_the_command_line_names_what_is_wrong(cli: CliRunner, funds: Any) -> None:
    error_line(cli.invoke(main, ["awards", "show", "nothing"]), "nomination ID")
    error_line(cli.invoke(main, ["awards", "verify", f"K{'0' * 16}"]), "no nomination")
    error_line(cli.invoke(main, ["awards", "propose", "--campaign", "NO-SUCH"]), "NO-SUCH")
    error_line(
        cli.invoke(main, ["awards", "propose", "--campaign", "LS-2026", "--since", "2026-13-01"]),
        "since",
    )
