"""Importing bank statements: credits become gifts, once, and nothing private reaches a leaf."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from support.statements import GENERIC, Sheet, vnd, workbook

from ledger import log
from ledger.errors import (
    ConflictError,
    DuplicateError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from ledger.funds import state
from ledger.funds.access import AUDITOR, FUND_MANAGER, Scope, command_line
from ledger.funds.import_rows import donor_for, is_organisation
from ledger.funds.imports import (
    ImportRefused,
    ImportReport,
    assign_row,
    dismiss_row,
    import_statement,
    list_rows,
)
from ledger.funds.models import ContributionRow, ImportBatchRow, ImportRowRow
from ledger.funds.privacy import ANONYMOUS_DONOR
from ledger.funds.statements import StatementError, load_formats
from ledger.funds.text import fold_ascii

DATA = Path(__file__).resolve().parents[1] / "data"
FORMATS = load_formats()
READER = command_line("reader")


def run(funds: Any, data: bytes, fmt: str = "generic", **options: Any) -> ImportReport:
    scope = options.pop("scope", command_line("importer"))
    return import_statement(
        funds.db, funds.settings, scope, data, "sao-ke.csv", FORMATS[fmt], **options
    )


def size(funds: Any) -> int:
    with funds.db.session() as session:
        return log.tree_size(session)


def body(funds: Any, index: int) -> dict[str, Any]:
    with funds.db.session() as session:
        return log.entry(session, index).body


def count(funds: Any, table: Any) -> int:
    with funds.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def received(funds: Any, fund: str) -> int:
    with funds.db.session() as session:
        return state.fund_balances(session)[fund].received


def leaves(funds: Any) -> bytes:
    with funds.db.session() as session:
        return b"\n".join(e.leaf for e in log.entries(session, 0, 10_000))


def sample(funds: Any) -> Sheet:
    """Four gifts (two of them with glued or spaced codes), one stray credit, one debit."""
    return (
        Sheet(funds.today, GENERIC)
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
        .credit(4, "FT26003", 300_000, "ung ho dong bao SDT 0912345678", "LE VAN CUONG", "99900003")
        .debit(3, "FT26004", 100_000, "Phi SMS")
        .credit(2, "FT26005", 5_000_000, "CL26COVID ung ho", "CONG TY TNHH HOA BINH")
        .credit(1, "FT26006", 250_000, "LS26COVID")
    )


# -- the round trip ------------------------------------------------------------------


def test_credits_become_gifts_to_the_campaign_their_memo_names(funds: Any) -> None:
    before = size(funds)
    sheet = sample(funds)
    report = run(funds, sheet.csv(), closing_balance=sheet.balance)

    assert [(c.line, c.amount) for c in report.created] == [
        (2, 1_000_000),
        (3, 2_000_000),
        (6, 5_000_000),
        (7, 250_000),
    ]
    assert [(u.line, u.amount) for u in report.unmatched] == [(4, 300_000)]
    assert report.duplicates == ()
    assert report.invalid == ()
    assert report.debits == 1
    assert report.totals["created"] == 8_250_000
    assert report.assertion.ok
    assert report.assertion.ledger_expected == report.assertion.ledger_found == 8_250_000
    assert size(funds) == before + 4
    assert received(funds, funds.fund) == 3_250_000
    assert received(funds, funds.district_fund) == 5_000_000
    assert received(funds, funds.other_fund) == 0

    spaced, glued, company, anonymous = (body(funds, c.index) for c in report.created)
    assert spaced["campaign"] == glued["campaign"] == anonymous["campaign"] == funds.campaign
    assert spaced["mobilizer"] == glued["mobilizer"] == funds.mobilizer
    assert company["campaign"] == funds.district_campaign and company["mobilizer"] is None
    assert spaced["channel"] == "bank" and spaced["reference"] == "FT26001"
    assert spaced["received_on"] == (date.fromisoformat(funds.today) - timedelta(5)).isoformat()
    assert spaced["donor"]["display"] == "NGUYEN V. A."
    assert spaced["donor"]["type"] == "individual"
    assert glued["donor"]["display"] == "TRAN T. B."
    assert company["donor"] == {
        "display": "CONG TY TNHH HOA BINH",
        "type": "organization",
        "anonymous": False,
    }
    assert anonymous["donor"]["display"] == ANONYMOUS_DONOR
    assert [c.receipt_id for c in report.created] == [
        body(funds, c.index)["receipt_id"] for c in report.created
    ]


def test_the_batch_and_the_unmatched_line_are_kept(funds: Any) -> None:
    data = sample(funds).csv()
    report = run(funds, data, campaign=None)
    with funds.db.session() as session:
        batch = session.get(ImportBatchRow, report.batch_id)
        (row,) = list_rows(session, READER)
    assert batch is not None
    assert batch.filename == "sao-ke.csv" and batch.bank_format == "generic"
    assert batch.actor == "importer" and len(batch.sha256) == 64
    assert batch.unit is None  # the command line imports for every unit
    assert json.loads(batch.report)["created"][0]["line"] == 2
    assert (row.id, row.batch_id, row.line) == (report.unmatched[0].row_id, batch.id, 4)
    assert (row.reference, row.amount, row.status) == ("FT26003", 300_000, "unmatched")
    assert row.memo == "ung ho dong bao SDT 0912345678"
    assert (row.counterparty, row.counterparty_account) == ("LE VAN CUONG", "99900003")


def test_importing_the_same_statement_again_creates_nothing(funds: Any) -> None:
    data = sample(funds).csv()
    run(funds, data)
    before = size(funds)
    again = run(funds, data)
    assert again.created == () and again.unmatched == ()
    assert [d.line for d in again.duplicates] == [2, 3, 4, 6, 7]
    assert again.duplicates[0].reference == "FT26001"
    assert size(funds) == before
    assert count(funds, ImportRowRow) == 1
    assert count(funds, ImportBatchRow) == 2
    assert again.assertion.ok  # the stray credit is still waiting, not missing
    assert received(funds, funds.fund) == 3_250_000


def test_a_statement_for_one_campaign_takes_its_unnamed_credits(funds: Any) -> None:
    sheet = (
        Sheet(funds.today, GENERIC)
        .credit(3, "FT26101", 400_000, "ung ho", "PHAM VAN DUNG")
        .credit(2, "FT26102", 600_000, "LS26COVID ung ho")  # the memo's campaign wins
    )
    report = run(funds, sheet.csv(), campaign=funds.district_campaign)
    assert report.unmatched == ()
    first, second = (body(funds, c.index) for c in report.created)
    assert first["campaign"] == funds.district_campaign and first["fund"] == funds.district_fund
    assert second["campaign"] == funds.campaign


def test_an_unknown_campaign_option_is_refused_before_anything(funds: Any) -> None:
    before = size(funds)
    with pytest.raises(NotFoundError, match="NO-SUCH"):
        run(funds, sample(funds).csv(), campaign="NO-SUCH")
    assert size(funds) == before and count(funds, ImportBatchRow) == 0


# -- bad lines and bad files ---------------------------------------------------------


def malformed(funds: Any) -> Sheet:
    sheet = Sheet(funds.today, GENERIC, balances=False).credit(3, "FT26201", 100_000, "LS26COVID")
    sheet.bad(3, "FT26202", "12,5")
    sheet.line(date="31/02/2026", reference="FT26203", credit="200.000", memo="LS26COVID")
    return sheet.credit(2, "FT26204", 300_000, "LS26COVID").debit(1, "FT26205", 5_000, "Phi")


def test_bad_lines_are_reported_and_the_good_ones_recorded(funds: Any) -> None:
    report = run(funds, malformed(funds).csv())
    assert [c.line for c in report.created] == [2, 5]
    assert [i.line for i in report.invalid] == [3, 4]
    assert "'12,5'" in report.invalid[0].reason
    assert "31/02/2026" in report.invalid[1].reason
    assert report.debits == 1
    assert report.assertion.ok
    assert received(funds, funds.fund) == 400_000


def test_all_or_nothing_records_nothing_when_a_line_is_bad(funds: Any) -> None:
    before = size(funds)
    with pytest.raises(ImportRefused) as refused:
        run(funds, malformed(funds).csv(), all_or_nothing=True)
    assert isinstance(refused.value, ConflictError)
    report = refused.value.report
    assert not report.recorded and report.batch_id is None
    assert [i.line for i in report.invalid] == [3, 4]
    assert "nothing was recorded" in refused.value.message
    assert size(funds) == before
    assert count(funds, ImportBatchRow) == count(funds, ContributionRow) == 0
    # The lines that would have been gifts name no receipt: none was ever kept.
    would_be = refused.value.report.as_dict()["created"]
    assert would_be and all(set(line) == {"line", "amount"} for line in would_be)


def test_all_or_nothing_records_everything_when_every_line_is_good(funds: Any) -> None:
    report = run(funds, sample(funds).csv(), all_or_nothing=True)
    assert report.recorded and len(report.created) == 4


def test_a_break_in_the_balance_after_a_bad_line_is_explained_by_it(funds: Any) -> None:
    sheet = Sheet(funds.today, GENERIC).credit(3, "FT26301", 100_000, "LS26COVID")
    sheet.line(1_500_000, date=sheet.day(3), reference="FT26302", credit="1,5", memo="LS26COVID")
    sheet.credit(2, "FT26303", 200_000, "LS26COVID")
    report = run(funds, sheet.csv())
    (brk,) = report.assertion.running_balance_errors
    assert brk.line == 4 and "invalid line 3" in brk.reason
    assert report.assertion.ok


@pytest.mark.parametrize("encoding", ["cp1258", "latin-1"])
def test_a_file_in_another_encoding_is_refused_cleanly(funds: Any, encoding: str) -> None:
    if encoding == "cp1258":
        data = (DATA / "statements" / "wrong_encoding.csv").read_bytes()
        fmt = "vietcombank"
    else:
        text = "Date,Reference,Credit,Memo,Counterparty\n01/03/2026,FT1,1,LS26COVID,Công ty Hòa\n"
        data, fmt = text.encode("latin-1"), "generic"
    before = size(funds)
    with pytest.raises(StatementError, match="not valid UTF-8"):
        run(funds, data, fmt)
    assert size(funds) == before and count(funds, ImportBatchRow) == 0


def test_a_line_dated_outside_its_campaign_is_invalid(funds: Any) -> None:
    sheet = (
        Sheet(funds.today, GENERIC)
        .credit(90, "FT26401", 100_000, "LS26COVID old gift")
        .credit(2, "FT26402", 200_000, "LS26COVID")
    )
    report = run(funds, sheet.csv())
    (invalid,) = report.invalid
    assert invalid.line == 2 and f"campaign {funds.campaign} takes gifts from" in invalid.reason
    assert [c.line for c in report.created] == [3]
    assert report.totals["invalid"] == 100_000
    assert report.assertion.ok


def test_a_statement_of_another_year_is_all_out_of_campaign(funds: Any) -> None:
    data = (DATA / "statements" / "vietcombank.csv").read_bytes()
    report = run(funds, data, "vietcombank", campaign=funds.campaign)
    assert report.created == ()
    assert [i.line for i in report.invalid] == [9, 10, 11, 13, 14, 16]
    assert all("takes gifts from" in i.reason for i in report.invalid)
    assert report.debits == 2
    assert report.assertion.ok and report.assertion.ledger_expected == 0


def test_a_workbook_imports_like_a_csv(funds: Any) -> None:
    today = date.fromisoformat(funds.today)
    data = workbook(
        [
            ["Ngày giao dịch", "Số giao dịch", "Có TKTT", "Nợ TKTT", "Mô tả giao dịch"],
            [
                datetime.combine(today - timedelta(2), datetime.min.time()),
                "CT1",
                750_000,
                None,
                "LS26COVID LSHLHPN",
            ],
            [today - timedelta(1), "CT2", "1.250.000", None, "ung ho"],
            [today - timedelta(1), "CT3", None, 20_000, "Phi"],
        ]
    )
    report = import_statement(
        funds.db,
        funds.settings,
        command_line("importer"),
        data,
        "sao-ke.xlsx",
        FORMATS["vietinbank"],
    )
    assert [(c.line, c.amount) for c in report.created] == [(3, 750_000)]
    assert [(u.line, u.amount) for u in report.unmatched] == [(4, 1_250_000)]
    assert report.debits == 1
    assert body(funds, report.created[0].index)["mobilizer"] == funds.mobilizer


# -- the closing-balance assertion ---------------------------------------------------


def test_the_asserted_closing_balance_passes_or_fails(funds: Any) -> None:
    sheet = sample(funds)
    good = run(funds, sheet.csv(), closing_balance=sheet.balance)
    assert good.assertion.ok and good.assertion.closing_ok
    assert good.as_dict()["assertion"]["closing_balance"] == {
        "asserted": sheet.balance,
        "statement": sheet.balance,
        "ok": True,
    }
    bad = run(funds, sheet.csv(), closing_balance=sheet.balance + 1_000)
    assert not bad.assertion.ok
    (problem,) = bad.assertion.problems()
    assert (
        f"closes at {vnd(sheet.balance)}, not at the asserted {vnd(sheet.balance + 1_000)}"
        in problem
    )


def test_a_closing_balance_cannot_be_asserted_without_balances(funds: Any) -> None:
    report = run(funds, malformed(funds).csv(), closing_balance=1)
    assert not report.assertion.ok
    assert "shows no closing balance" in report.assertion.problems()[0]


def test_a_broken_running_balance_fails_the_assertion(funds: Any) -> None:
    sheet = Sheet(funds.today, GENERIC).credit(3, "FT26501", 100_000, "LS26COVID")
    sheet.balance += 50_000  # a movement missing from the statement
    sheet.credit(2, "FT26502", 200_000, "LS26COVID")
    report = run(funds, sheet.csv())
    assert len(report.created) == 2  # recorded all the same: they are real credits
    assert not report.assertion.ok
    assert "line 3: balance" in report.assertion.problems()[0]


def test_the_ledger_check_finds_a_reference_recorded_with_another_amount(funds: Any) -> None:
    # The fixture's campaigns share one account: the bank's FT26601 is that gift, mistyped.
    funds.give(700_000, fund=funds.district_fund, channel="bank", reference="FT26601")
    report = run(
        funds, Sheet(funds.today, GENERIC).credit(2, "FT26601", 1_000_000, "LS26COVID").csv()
    )
    assert (len(report.created), len(report.duplicates)) == (0, 1)
    check = report.assertion
    assert (check.ledger_expected, check.ledger_found, check.ok) == (1_000_000, 700_000, False)


def test_a_bank_reference_is_one_gift_per_receiving_account(funds: Any) -> None:
    """Re-importing under another campaign of the same account creates nothing."""
    sheet = Sheet(funds.today, GENERIC).credit(2, "FT26602", 500_000, "ung ho")
    first = run(funds, sheet.csv(), campaign=funds.campaign)
    again = run(funds, sheet.csv(), campaign=funds.district_campaign)
    assert (len(first.created), len(again.created), len(again.duplicates)) == (1, 0, 1)
    with pytest.raises(DuplicateError, match="FT26602"):
        funds.give(500_000, fund=funds.district_fund, channel="bank", reference="FT26602")


# -- unmatched rows ------------------------------------------------------------------


def test_an_unmatched_line_is_assigned_once(funds: Any) -> None:
    sheet = Sheet(funds.today, GENERIC).credit(
        3, "FT26701", 300_000, "ung ho LSHLHPN", "LE THI HOA", "123"
    )
    (unmatched,) = run(funds, sheet.csv()).unmatched
    before = size(funds)
    scope = command_line("manager")
    entry = assign_row(funds.db, funds.settings, scope, unmatched.row_id, funds.campaign)
    assert size(funds) == before + 1
    assert entry.body["campaign"] == funds.campaign and entry.body["amount"] == 300_000
    assert entry.body["reference"] == "FT26701"
    assert entry.body["mobilizer"] == funds.mobilizer  # from the memo
    assert entry.body["donor"]["display"] == "LE T. H."
    assert "memo" not in json.dumps(entry.body)
    with funds.db.session() as session:
        row = session.get(ImportRowRow, unmatched.row_id)
    assert row is not None
    assert (row.status, row.entry_index, row.settled_by) == ("assigned", entry.index, "manager")

    with pytest.raises(ConflictError, match="already assigned") as again:
        assign_row(funds.db, funds.settings, scope, unmatched.row_id, funds.campaign)
    assert again.value.code == "conflict"  # 409 at the HTTP edge
    assert size(funds) == before + 1

    reimport = run(funds, sheet.csv())
    assert [d.line for d in reimport.duplicates] == [2] and reimport.assertion.ok
    assert reimport.assertion.ledger_found == 300_000


def test_assigning_names_a_mobilizer_and_checks_the_campaign(funds: Any) -> None:
    sheet = (
        Sheet(funds.today, GENERIC)
        .credit(3, "FT26801", 300_000, "ung ho")
        .credit(2, "FT26802", 1, "x")
    )
    first, second = run(funds, sheet.csv()).unmatched
    scope = command_line("manager")
    with pytest.raises(NotFoundError):
        assign_row(funds.db, funds.settings, scope, first.row_id, "NO-SUCH")
    with pytest.raises(NotFoundError):
        assign_row(funds.db, funds.settings, scope, 999, funds.campaign)
    entry = assign_row(
        funds.db, funds.settings, scope, first.row_id, funds.other_campaign, funds.mobilizer
    )
    assert entry.body["fund"] == funds.other_fund and entry.body["mobilizer"] == funds.mobilizer
    with pytest.raises(ValidationError):
        assign_row(funds.db, funds.settings, scope, second.row_id, funds.campaign, "NOBODY")
    with funds.db.session() as session:
        assert [r.id for r in list_rows(session, READER)] == [second.row_id]


def test_a_dismissed_line_leaves_the_log_alone(funds: Any) -> None:
    data = (DATA / "imports" / "unmatched.csv").read_bytes()
    report = run(funds, data, "vietcombank")
    assert [u.line for u in report.unmatched] == [4, 5, 7] and report.debits == 1
    before = size(funds)
    row_id = report.unmatched[2].row_id
    scope = command_line("manager")
    with pytest.raises(ValidationError):
        dismiss_row(funds.db, scope, row_id, "  ")
    row = dismiss_row(funds.db, scope, row_id, "hoàn tiền giao dịch lỗi")
    assert (row.status, row.note, row.settled_by) == (
        "dismissed",
        "hoàn tiền giao dịch lỗi",
        "manager",
    )
    assert size(funds) == before
    with pytest.raises(ConflictError, match="already dismissed"):
        dismiss_row(funds.db, scope, row_id, "again")
    with pytest.raises(ConflictError, match="already dismissed"):
        assign_row(funds.db, funds.settings, scope, row_id, funds.campaign)
    with funds.db.session() as session:
        assert [r.line for r in list_rows(session, READER)] == [4, 5]
        assert [r.line for r in list_rows(session, READER, "dismissed")] == [7]
        assert len(list_rows(session, READER, None)) == 3
        with pytest.raises(ValidationError):
            list_rows(session, READER, "lost")
    again = run(funds, data, "vietcombank")
    assert len(again.duplicates) == 3 and again.assertion.ok


# -- who may import ------------------------------------------------------------------


def test_an_auditor_may_not_import(funds: Any) -> None:
    with pytest.raises(PermissionDeniedError):
        run(funds, sample(funds).csv(), scope=Scope("auditor", AUDITOR))
    assert count(funds, ImportBatchRow) == 0


def test_a_district_manager_records_only_for_its_district(funds: Any) -> None:
    sheet = (
        Sheet(funds.today, GENERIC)
        .credit(3, "FT26901", 100_000, "VL26COVID")
        .credit(2, "FT26902", 200_000, "LS26COVID")
    )
    scope = Scope("vl-manager", FUND_MANAGER, funds.other_district)
    report = run(funds, sheet.csv(), scope=scope)
    assert [c.line for c in report.created] == [2]
    (invalid,) = report.invalid
    assert invalid.line == 3 and "acts for unit LS-VL" in invalid.reason
    with pytest.raises(PermissionDeniedError):
        run(funds, sheet.csv(), scope=scope, campaign=funds.campaign)


# -- privacy -------------------------------------------------------------------------


def test_memos_and_counterparty_accounts_never_reach_a_leaf(funds: Any) -> None:
    report = run(funds, sample(funds).csv())
    with funds.db.session() as session:
        row_id = list_rows(session, READER)[0].id
    assign_row(funds.db, funds.settings, command_line("manager"), row_id, funds.campaign)
    run(funds, (DATA / "imports" / "unmatched.csv").read_bytes(), "vietcombank")
    everything = leaves(funds)
    for secret in (
        "9990000000001",
        "9990000000002",
        "99900003",
        "0912345678",
        "MBVCB",
        "ung ho",
        "LSHLHPN ung",
        "NGUYEN VAN AN",
        "TRAN THI BINH",
        "LE VAN CUONG",
    ):
        assert secret.encode() not in everything, secret
    donor = body(funds, report.created[0].index)["donor"]
    assert len(donor["account_hash"]) == 64 and "account" not in donor


# -- telling organisations from people -----------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "CONG TY TNHH HOA BINH",
        "Công ty Cổ phần Xi măng Đồng Bành",
        "NGAN HANG TMCP NGOAI THUONG VIET NAM CN LANG SON",
        "Hội Liên hiệp Phụ nữ huyện Cao Lộc",
        "TRUONG THPT CAO LOC",
        "UBND XA TAN LIEN",
        "HTX NONG NGHIEP MAU SON",
        "Đoàn Thanh niên xã Hồng Phong",
        "BENH VIEN DA KHOA TINH",
        "Ban vận động quỹ xã Gia Cát",
    ],
)
def test_an_organisation_is_shown_by_its_name(name: str) -> None:
    assert donor_for(name, None) == {"display": name, "type": "organization"}


FAMILY = ["Nguyễn", "Trần", "Lê", "Đoàn", "Trương", "Cao", "Bàn", "Hoàng", "Công", "Ngân"]
MIDDLE = ["Văn", "Thị", "Công", "Trung", "Đăng", "Ngân", "Hữu", "Mạnh", "Thanh", ""]
GIVEN = ["An", "Hằng", "Tâm", "Khoa", "Hợi", "Tý", "Đông", "Uy", "Trường", "Niên", "Bân"]


@given(st.sampled_from(FAMILY), st.sampled_from(MIDDLE), st.sampled_from(GIVEN), st.booleans())
def test_a_person_is_never_shown_in_full(family: str, middle: str, name: str, ascii: bool) -> None:
    full = " ".join(part for part in (family, middle, name) if part)
    shown = fold_ascii(full).upper() if ascii else full
    assert not is_organisation(shown)
    donor = donor_for(shown, "0011-0012-3456")
    assert donor["type"] == "individual" and donor["display"] != shown
    assert donor["account"] == "001100123456"


def test_a_line_without_a_name_is_anonymous() -> None:
    assert donor_for(None, None) == {"anonymous": True}
    assert donor_for(" ", "12 34") == {"anonymous": True, "account": "1234"}
