"""``ledger import``: statements in, a report out, exit statuses a nightly script can trust."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import func, select
from support.cli import error_line, ok
from support.statements import day

from ledger import log
from ledger.cli import main
from ledger.funds.models import ContributionRow, ImportBatchRow

DATA = Path(__file__).resolve().parents[1] / "data"
HEADER = "Date,Reference,Credit,Debit,Memo,Counterparty,Counterparty account,Balance"


def statement(funds: Any, tmp_path: Path, *lines: str, name: str = "sao-ke.csv") -> Path:
    """``lines`` are CSV rows after the header, with ``{d1}``..``{d5}`` for recent days."""
    days = {f"d{n}": day(funds.today, n) for n in range(1, 6)}
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *(line.format(**days) for line in lines)]) + "\n")
    return path


GOOD = (
    "{d5},FT26001,1.000.000,,LS26COVID LSHLHPN ung ho,NGUYEN VAN AN,9990000000001,11.000.000",
    "{d4},FT26002,2.000.000,,MBVCB.123.LS26COVIDLSHLHPN.CT,TRAN THI BINH,,13.000.000",
    "{d4},FT26003,300.000,,ung ho dong bao 0912345678,LE VAN CUONG,9990000000003,13.300.000",
    "{d3},FT26004,,100.000,Phi SMS,,,13.200.000",
    "{d2},FT26005,5.000.000,,CL26COVID,CONG TY TNHH HOA BINH,,18.200.000",
)
CLOSING = "18.200.000"
BAD = (
    "{d3},FT26101,100.000,,LS26COVID,,,",
    '{d3},FT26102,"12,5",,LS26COVID,,,',
    "31/02/2026,FT26103,200.000,,LS26COVID,,,",
    "{d2},FT26104,300.000,,LS26COVID,,,",
)


def size(funds: Any) -> int:
    with funds.db.session() as session:
        return log.tree_size(session)


def count(funds: Any, table: Any) -> int:
    with funds.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, ["import", *args])


def test_a_statement_is_imported_and_reported(
    funds: Any, runner: CliRunner, tmp_path: Path
) -> None:
    path = statement(funds, tmp_path, *GOOD)
    before = size(funds)
    out = ok(
        invoke(runner, "statement", str(path), "--bank", "generic", "--closing-balance", CLOSING)
    )
    assert "statement sao-ke.csv (generic): 5 lines, import batch 1" in out
    assert "created 3: 8.000.000 đồng" in out
    assert "duplicates 0" in out
    assert "unmatched 1: 300.000 đồng" in out
    assert "  line 4: row 1, 300.000 đồng" in out
    assert "invalid 0" in out
    assert "debits 1" in out
    assert "closing balance: 18.200.000 đồng, as asserted" in out
    assert "assertion: OK" in out
    assert size(funds) == before + 3

    again = ok(invoke(runner, "statement", str(path), "--bank", "generic"))
    assert "created 0" in again and "duplicates 4" in again and "unmatched 0" in again
    assert "  line 2: reference FT26001 is already imported" in again
    assert "assertion: OK" in again
    assert size(funds) == before + 3


def test_the_report_as_json(funds: Any, runner: CliRunner, tmp_path: Path) -> None:
    path = statement(funds, tmp_path, *GOOD)
    out = ok(invoke(runner, "statement", str(path), "--bank", "generic", "--json"))
    report = json.loads(out)
    assert report["recorded"] is True and report["batch_id"] == 1
    assert [c["line"] for c in report["created"]] == [2, 3, 6]
    assert report["unmatched"] == [{"line": 4, "row_id": 1, "amount": 300_000}]
    assert report["debits"] == 1 and report["assertion"]["ok"] is True
    assert "0912345678" not in out and "9990000000001" not in out


def test_bad_lines_are_listed_and_the_rest_recorded(
    funds: Any, runner: CliRunner, tmp_path: Path
) -> None:
    path = statement(funds, tmp_path, *BAD)
    out = ok(invoke(runner, "statement", str(path), "--bank", "generic"))
    assert "created 2" in out and "invalid 2" in out
    assert "  line 3: credit amount '12,5'" in out
    assert "  line 4: date '31/02/2026' is not a valid date" in out
    assert count(funds, ContributionRow) == 2


def test_all_or_nothing_refuses_and_records_nothing(
    funds: Any, runner: CliRunner, tmp_path: Path
) -> None:
    path = statement(funds, tmp_path, *BAD)
    before = size(funds)
    result = invoke(runner, "statement", str(path), "--bank", "generic", "--all-or-nothing")
    error_line(result, "2 invalid lines", "nothing was recorded")
    assert "NOTHING RECORDED" in result.stdout
    assert "  line 3: credit amount '12,5'" in result.stdout
    assert "created 0 (2 without --all-or-nothing)" in result.stdout
    assert "ledger check: not made" in result.stdout
    assert size(funds) == before
    assert count(funds, ImportBatchRow) == 0


def test_a_file_that_cannot_be_read_is_one_error(
    funds: Any, runner: CliRunner, tmp_path: Path
) -> None:
    before = size(funds)
    wrong = DATA / "statements" / "wrong_encoding.csv"
    error_line(invoke(runner, "statement", str(wrong), "--bank", "vietcombank"), "not valid UTF-8")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        f"{HEADER}\n{day(funds.today, 2)},FT1,1,,LS26COVID,Công ty Hòa,,\n".encode("latin-1")
    )
    error_line(invoke(runner, "statement", str(latin), "--bank", "generic"), "0xF4")
    error_line(
        invoke(runner, "statement", str(tmp_path / "missing.csv"), "--bank", "generic"),
        "missing.csv",
    )
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    error_line(invoke(runner, "statement", str(empty), "--bank", "generic"), "empty")
    assert size(funds) == before and count(funds, ImportBatchRow) == 0


def test_a_bank_format_file_reads_another_encoding(
    funds: Any, runner: CliRunner, tmp_path: Path
) -> None:
    formats = tmp_path / "formats.toml"
    formats.write_text(
        '[vcb1258]\nencoding = "cp1258"\n[vcb1258.columns]\n'
        'date = "Ngày giao dịch"\nreference = "Số tham chiếu"\ncredit = "Số tiền ghi có"\n'
        'debit = "Số tiền ghi nợ"\nmemo = "Nội dung chi tiết"\nbalance = "Số dư"\n',
        encoding="utf-8",
    )
    wrong = DATA / "statements" / "wrong_encoding.csv"
    args = ["statement", str(wrong), "--bank", "vcb1258", "--formats", str(formats)]
    out = ok(invoke(runner, *args, "--campaign", funds.campaign))
    assert "created 0" in out and "invalid 6" in out and "debits 2" in out
    assert f"  line 9: campaign {funds.campaign} takes gifts from" in out


def test_options_are_checked_with_one_error_line(
    funds: Any, runner: CliRunner, tmp_path: Path
) -> None:
    path = statement(funds, tmp_path, *GOOD)
    error_line(invoke(runner, "statement", str(path)), "--bank is required", "vietcombank")
    error_line(invoke(runner, "statement", str(path), "--bank", "acb"), "unknown bank format")
    error_line(
        invoke(runner, "statement", str(path), "--bank", "generic", "--closing-balance", "lots"),
        "--closing-balance",
    )
    error_line(
        invoke(runner, "statement", str(path), "--bank", "generic", "--campaign", "NO-SUCH"),
        "no campaign",
    )
    assert count(funds, ImportBatchRow) == 0


def test_a_failed_closing_balance_assertion_exits_1(
    funds: Any, runner: CliRunner, tmp_path: Path
) -> None:
    path = statement(funds, tmp_path, *GOOD)
    result = invoke(
        runner, "statement", str(path), "--bank", "generic", "--closing-balance", "18.000.000"
    )
    error_line(
        result,
        "closing-balance assertion failed",
        "closes at 18.200.000, not at the asserted 18.000.000",
        "were recorded",
    )
    assert "closing balance: 18.200.000 đồng, NOT the asserted 18.000.000 đồng" in result.stdout
    assert "assertion: FAILED" in result.stdout
    assert count(funds, ContributionRow) == 3


def test_unmatched_rows_are_listed_assigned_and_dismissed(
    funds: Any, runner: CliRunner, tmp_path: Path
) -> None:
    ok(
        invoke(
            runner, "statement", str(DATA / "imports" / "unmatched.csv"), "--bank", "vietcombank"
        )
    )
    path = statement(funds, tmp_path, "{d2},FT26201,450.000,,ung ho LSHLHPN,PHAM THI MAI,0011,")
    ok(invoke(runner, "statement", str(path), "--bank", "generic"))

    listed = ok(invoke(runner, "rows"))
    assert listed.count("[unmatched]") == 4
    assert "row 1 [unmatched] 2024-03-01 200.000 đồng ref 5213.20240301.000201" in listed
    assert "from NGUYEN VAN AN, account …0011 (batch 1 line 4): ung ho dong bao" in listed
    assert "9990000000011" not in listed

    assigned = ok(invoke(runner, "assign", "4", "--campaign", funds.campaign, "--actor", "mai"))
    assert "row 4 assigned: index" in assigned
    assert f"to {funds.fund} (campaign {funds.campaign}) from PHAM T. M." in assigned
    assert "receipt " in assigned
    error_line(invoke(runner, "assign", "4", "--campaign", funds.campaign), "already assigned")

    dismissed = ok(invoke(runner, "dismiss", "3", "--note", "hoàn tiền giao dịch lỗi"))
    assert dismissed.strip() == "row 3 dismissed by cli:local: hoàn tiền giao dịch lỗi"
    error_line(invoke(runner, "dismiss", "3", "--note", "again"), "already dismissed")

    assert ok(invoke(runner, "rows")).count("[unmatched]") == 2
    settled = json.loads(ok(invoke(runner, "rows", "--status", "all", "--json")))
    assert [(r["id"], r["status"]) for r in settled] == [
        (1, "unmatched"),
        (2, "unmatched"),
        (3, "dismissed"),
        (4, "assigned"),
    ]
    assert settled[3]["settled_by"] == "cli:mai" and settled[3]["entry_index"] is not None
    dismissed_rows = ok(invoke(runner, "rows", "--status", "dismissed"))
    assert dismissed_rows.startswith("row 3 [dismissed]")
    assert dismissed_rows.strip().endswith("by cli:local: hoàn tiền giao dịch lỗi")


def test_settling_commands_check_their_arguments(funds: Any, runner: CliRunner) -> None:
    error_line(invoke(runner, "assign", "1"), "--campaign is required")
    error_line(invoke(runner, "assign", "one", "--campaign", funds.campaign), "ROW_ID")
    error_line(invoke(runner, "assign", "7", "--campaign", funds.campaign), "no import row 7")
    error_line(invoke(runner, "dismiss", "7"), "note")
    error_line(invoke(runner, "rows", "--status", "lost"), "status")
    assert ok(invoke(runner, "rows")).strip() == "no unmatched import rows"


def test_assign_answers_in_json(funds: Any, runner: CliRunner, tmp_path: Path) -> None:
    path = statement(funds, tmp_path, "{d2},FT26301,450.000,,ung ho,,,")
    ok(invoke(runner, "statement", str(path), "--bank", "generic"))
    out = ok(invoke(runner, "assign", "1", "--campaign", funds.district_campaign, "--json"))
    answer = json.loads(out)
    assert answer["row_id"] == 1 and answer["kind"] == "contribution"
    assert answer["receipt_url"].endswith(answer["receipt_id"])
