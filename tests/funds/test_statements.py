"""Reading bank statements: the sample files, bad lines, bad files, amounts and memos."""

from __future__ import annotations

import runpy
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import ConfigurationError
from ledger.funds.statements import (
    BankFormat,
    InvalidLine,
    MemoMatch,
    Statement,
    StatementError,
    load_formats,
    match_memo,
    parse_amount,
    parse_statement,
    select_format,
)

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "statements"
FORMATS = load_formats()


def parse(name: str, fmt: str, formats: dict[str, BankFormat] = FORMATS) -> Statement:
    return parse_statement((SAMPLES / name).read_bytes(), name, formats[fmt])


def parse_text(text: str, fmt: str = "generic") -> Statement:
    return parse_statement(text.encode("utf-8"), "statement.csv", FORMATS[fmt])


# --- the sample files ------------------------------------------------------------------


def test_vietcombank_sample_skips_preamble_and_totals() -> None:
    statement = parse("vietcombank.csv", "vietcombank")
    assert statement.format == "vietcombank"
    assert statement.invalid == ()
    assert [line.line for line in statement.lines] == list(range(9, 17))
    assert [(line.credit, line.debit) for line in statement.lines] == [
        (1_000_000, 0),
        (500_000, 0),
        (2_000_000, 0),
        (0, 1_100_000),
        (300_000, 0),
        (5_000_000, 0),
        (0, 11_000),
        (250_000, 0),
    ]
    first, second = statement.lines[:2]
    assert first.reference == "5213.20210901.000101"
    assert first.date == date(2021, 9, 1)
    assert second.date == date(2021, 9, 2)  # "02/09/2021 10:15:22"
    assert second.memo == "Ủng hộ quỹ phòng chống COVID-19 LS21COVID"
    assert first.counterparty is None and first.counterparty_account is None
    assert statement.credits == 9_050_000
    assert statement.debits == 1_111_000
    assert statement.opening_balance == 10_000_000
    assert statement.closing_balance == 17_939_000
    assert statement.check_running_balance() == []


def test_generic_sample_with_semicolons_and_a_signed_amount() -> None:
    statement = parse("generic.csv", "generic")
    assert statement.invalid == ()
    rows = [(s.line, s.reference, s.credit, s.debit, s.balance) for s in statement.lines]
    assert rows == [
        (2, "FT21244001", 1_000_000, 0, 1_000_000),
        (3, "FT21245002", 500_000, 0, 1_500_000),
        (4, "FT21246003", 0, 200_000, 1_300_000),
        (5, "FT21247004", 2_500_000, 0, 3_800_000),
        (7, "FT21248005", 1_000_000, 0, 4_800_000),
    ]
    assert statement.lines[0].counterparty == "NGUYEN THI BINH"
    assert statement.lines[0].counterparty_account == "9990000000002"
    assert statement.lines[2].counterparty is None
    assert statement.lines[3].counterparty == "Lê Thị Dung"
    assert statement.lines[0].date == date(2021, 9, 1)
    assert (statement.opening_balance, statement.closing_balance) == (0, 4_800_000)


def test_xlsx_sample_reads_date_and_number_cells() -> None:
    statement = parse("vietinbank.xlsx", "vietinbank")
    assert statement.invalid == ()
    rows = [(s.line, s.date, s.reference, s.credit, s.debit) for s in statement.lines]
    assert rows == [
        (6, date(2021, 9, 1), "100234", 2_000_000, 0),
        (7, date(2021, 9, 2), "100235", 500_000, 0),
        (8, date(2021, 9, 3), "100236", 0, 750_000),
        (9, date(2021, 9, 4), "FT100237", 1_200_000, 0),
    ]
    assert statement.lines[1].memo == "Ủng hộ đồng bào LSHLHPN"
    assert statement.lines[1].counterparty == "Hội LHPN xã"
    assert statement.lines[0].counterparty_account == "9990000000005"
    assert statement.closing_balance == 2_950_000
    assert statement.check_running_balance() == []


def test_malformed_lines_are_reported_and_the_others_survive() -> None:
    statement = parse("malformed.csv", "generic")
    assert statement.invalid == (
        InvalidLine(3, "credit amount '12,5' is not a whole number of đồng"),
        InvalidLine(4, "date '31/02/2021' is not a valid date"),
        InvalidLine(5, "no reference"),
        InvalidLine(8, "both credit and debit are empty"),
    )
    good = [(s.line, s.reference, s.credit, s.debit) for s in statement.lines]
    # REF005's memo spans lines 6 and 7, so the next row starts on line 8.
    assert good == [(2, "REF001", 100_000, 0), (6, "REF005", 400_000, 0), (9, "REF007", 0, 500_000)]
    assert statement.lines[1].memo == "a memo that spans two lines LS21COVID"
    assert statement.opening_balance is None and statement.closing_balance is None


def test_the_sample_files_are_rebuilt_byte_for_byte() -> None:
    script = runpy.run_path(str(SAMPLES / "make_statements.py"))
    for name, build in script["FILES"].items():
        assert build() == (SAMPLES / name).read_bytes(), name


# --- whole-file errors -----------------------------------------------------------------


def test_a_file_in_the_wrong_encoding_names_the_offset() -> None:
    data = (SAMPLES / "wrong_encoding.csv").read_bytes()
    offset = next(i for i, byte in enumerate(data) if byte >= 0x80)
    with pytest.raises(StatementError) as caught:
        parse("wrong_encoding.csv", "vietcombank")
    assert caught.value.code == "invalid_statement"
    assert f"not valid UTF-8 (byte 0x{data[offset]:02X} at offset {offset})" in str(caught.value)
    assert "save it as UTF-8 or set encoding in the bank format" in str(caught.value)


def test_the_offset_counts_the_byte_order_mark() -> None:
    data = "\ufeffDate,Reference,Credit\n".encode() + b"01/09/2021,R1,\xe9\n"
    assert data.index(b"\xe9") == 39
    with pytest.raises(StatementError, match=r"byte 0xE9 at offset 39\)"):
        parse_statement(data, "x.csv", FORMATS["generic"])


def test_a_user_format_overrides_a_builtin_one(tmp_path: Path) -> None:
    extra = tmp_path / "formats.toml"
    extra.write_text(
        '[vietcombank]\ntitle = "Vietcombank, old Excel export"\nencoding = "cp1258"\n'
        '[vietcombank.columns]\ndate = "Ngày giao dịch"\nreference = "Số tham chiếu"\n'
        'credit = "Số tiền ghi có"\ndebit = "Số tiền ghi nợ"\nmemo = "Nội dung chi tiết"\n'
        '[mybank.columns]\ndate = "Ngày"\nreference = "Mã"\namount = "Tiền"\n',
        encoding="utf-8",
    )
    formats = load_formats(extra)
    assert formats["vietcombank"].title == "Vietcombank, old Excel export"
    assert "balance" not in formats["vietcombank"].columns  # replaced whole, not merged
    assert formats["mybank"].columns["amount"] == ("Tiền",)
    assert formats["bidv"] == FORMATS["bidv"]
    decoded = parse("wrong_encoding.csv", "vietcombank", formats)
    original = parse("vietcombank.csv", "vietcombank")
    assert [(s.line, s.memo, s.credit) for s in decoded.lines] == [
        (s.line, s.memo, s.credit) for s in original.lines
    ]


def test_builtin_formats() -> None:
    assert set(FORMATS) == {
        "generic",
        "vietcombank",
        "vietinbank",
        "bidv",
        "agribank",
        "mb",
        "techcombank",
    }
    assert all(f.encoding == "utf-8-sig" and f.delimiter is None for f in FORMATS.values())


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[x.columns]\ndate = 'D'\nreference = 'R'\n", "'credit' or a signed 'amount'"),
        ("[x.columns]\ndate = 'D'\nreference = 'R'\ncredit = 'C'\nwho = 'W'\n", "'who'"),
        ("[x.columns]\ndate = 'D'\nreference = 'D'\ncredit = 'C'\n", "both 'date' and"),
        ("[x]\nencoding = 'klingon'\n[x.columns]\ndate='D'\nreference='R'\namount='A'\n", "klin"),
        ("[x.columns]\ndate = 5\nreference = 'R'\namount = 'A'\n", "'date' must be a string"),
        ("[x]\ndelimiter = 5\n[x.columns]\ndate='D'\nreference='R'\namount='A'\n", "single"),
        ("[x\n", "not valid TOML"),
    ],
)
def test_a_bad_format_file_is_a_configuration_error(
    tmp_path: Path, toml: str, message: str
) -> None:
    extra = tmp_path / "formats.toml"
    extra.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_formats(extra)
    assert str(extra) in str(caught.value)


def test_a_missing_format_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the bank format file"):
        load_formats(tmp_path / "nope.toml")


def test_a_format_built_in_code() -> None:
    fmt = BankFormat("mine", "Mine", {"date": ("Ngày",), "reference": ("Mã",), "amount": ("Tiền",)})
    statement = parse_statement(b"Ngay\tMa\tTien\n2021-09-01\tX\t-5\n", "t.tsv", fmt)
    assert [(s.reference, s.debit) for s in statement.lines] == [("X", 5)]


def test_an_unknown_format_name() -> None:
    with pytest.raises(StatementError, match="unknown bank format 'acb'; use one of agribank"):
        select_format(FORMATS, "acb")
    assert select_format(FORMATS, "mb") is FORMATS["mb"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b" \r\n\r\n", "the file is empty"),
        (b"PK\x03\x04 not really a workbook", "not a readable Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old-style Excel .xls"),
        (b'date,reference,credit\n"' + b"x" * 200_000, "line 2 is not valid CSV"),
    ],
)
def test_files_that_cannot_be_read(data: bytes, message: str) -> None:
    with pytest.raises(StatementError, match=message):
        parse_statement(data, "upload.csv", FORMATS["generic"])


def test_no_header_row_says_which_columns_are_missing() -> None:
    with pytest.raises(StatementError) as caught:
        parse("vietcombank.csv", "generic")
    message = str(caught.value)
    assert message.startswith("vietcombank.csv: no header row found for bank format 'generic'")
    assert "date: date / transaction date / value date" in message
    assert "choose another format" in message


# --- headers and rows ------------------------------------------------------------------


def test_headers_match_without_diacritics_case_or_units() -> None:
    text = (
        "NGAY GIAO DICH;so tham chieu;So tien ghi co (VND);Số  dư:\n"
        "01/09/2021;R1;500.000đ;500.000\n"
        "Ngày giao dịch;Số tham chiếu;Số tiền ghi có;Số dư\n"  # repeated on a new page
        "02/09/2021;R2;1.000.000;1.500.000\n"
    )
    statement = parse_text(text, "vietcombank")
    assert statement.invalid == ()
    assert [(s.reference, s.credit, s.balance) for s in statement.lines] == [
        ("R1", 500_000, 500_000),
        ("R2", 1_000_000, 1_500_000),
    ]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("01/09/2021,R,-500.000,,", "credit amount '-500.000' is negative"),
        ("01/09/2021,R,500.000,100.000,", "both credit and debit are set on one line"),
        ("01/09/2021,R,0,0,", "both credit and debit are zero"),
        ("01/09/2021,R,1.5000,,", "credit amount '1.5000' has an ambiguous separator"),
        ("01/09/2021,R,abc,,", "credit amount 'abc' is not a number"),
        ("2021/09/01,R,500,,", "date '2021/09/01' is not in a known layout (%d/%m/%Y"),
        (",R,500,,", "no date"),
        ("31/02/2021,,12,5,", "date '31/02/2021' is not a valid date; no reference"),
        ("01/09/2021,R,500,,x1", "balance amount 'x1' is not a number"),
        ("Tổng cộng,R,500,,", "date 'Tổng cộng' is not in a known layout"),
    ],
)
def test_row_reasons(row: str, reason: str) -> None:
    statement = parse_text(f"date,reference,credit,debit,balance\n{row}\n")
    assert len(statement.invalid) == 1
    assert statement.invalid[0].line == 2
    assert statement.invalid[0].reason.startswith(reason)


def test_signed_amount_column_reasons() -> None:
    text = "date,reference,amount\n01/09/2021,A,0\n01/09/2021,B,\n01/09/2021,C,-1.000\n"
    statement = parse_text(text)
    assert statement.invalid == (InvalidLine(2, "amount is zero"), InvalidLine(3, "no amount"))
    assert (statement.lines[0].credit, statement.lines[0].debit) == (0, 1_000)


def test_summary_and_footer_rows_are_skipped() -> None:
    text = (
        "date,reference,credit,memo\n"
        "01/09/2021,R1,100,\n"
        ",,,\n"
        "Tổng cộng,,100,\n"
        ",,100,Total\n"
        ",,,Người lập biểu\n"
    )
    statement = parse_text(text)
    assert statement.invalid == ()
    assert [s.reference for s in statement.lines] == ["R1"]


def test_a_row_without_date_and_reference_but_with_money_is_reported() -> None:
    statement = parse_text("date,reference,credit\n01/09/2021,R1,100\n,,200\n")
    assert statement.invalid == (InvalidLine(3, "no date; no reference"),)


# --- running balance -------------------------------------------------------------------


def test_running_balance_check_finds_a_doctored_line() -> None:
    data = (SAMPLES / "vietcombank.csv").read_bytes().replace(b",2.000.000,", b",2.500.000,")
    statement = parse_statement(data, "vietcombank.csv", FORMATS["vietcombank"])
    problems = statement.check_running_balance()
    assert [p.line for p in problems] == [11]
    assert problems[0].reason == (
        "balance 13.500.000 does not follow: previous balance 11.500.000 + credit "
        "2.500.000 - debit 0 = 14.000.000"
    )


def test_running_balance_names_an_invalid_line_in_between() -> None:
    text = (
        "date,reference,credit,debit,balance\n"
        "01/09/2021,R1,100,,100\n"
        "02/09/2021,R2,12.5,,112\n"
        "03/09/2021,R3,10,,122\n"
        "04/09/2021,R4,10,,\n"
        "05/09/2021,R5,10,,142\n"
    )
    statement = parse_text(text)
    problems = statement.check_running_balance()
    assert [p.line for p in problems] == [4]
    assert problems[0].reason.endswith("= 110 (invalid line 3 in between)")


# --- amounts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1.000.000", 1_000_000),
        ("1,000,000", 1_000_000),
        ("1 000 000", 1_000_000),
        ("1\u00a0000\u00a0000", 1_000_000),
        ("1000000", 1_000_000),
        ("1,000,000.00", 1_000_000),
        ("1.000.000,00", 1_000_000),
        ("1 000 000,00", 1_000_000),
        ("500000 VND", 500_000),
        ("500.000đ", 500_000),
        ("500.000 VNĐ", 500_000),
        ("₫500.000", 500_000),
        ("+500.000", 500_000),
        (" 42 ", 42),
        ("1.500", 1_500),
        ("1,500", 1_500),
        ("1500,00", 1_500),
        ("1500.0", 1_500),
        ("0", 0),
        ("0,00", 0),
    ],
)
def test_parse_amount(text: str, amount: int) -> None:
    assert parse_amount(text) == amount


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1500,50", "amount '1500,50' is not a whole number of đồng"),
        ("12,5", "amount '12,5' is not a whole number of đồng"),
        ("1.000.000,01", "is not a whole number of đồng"),
        ("-500.000", "amount '-500.000' is negative"),
        ("500k", "is not a number"),
        ("abc", "is not a number"),
        ("12 USD", "is not a number"),
        ("", "amount is empty"),
        ("VND", "is not a number"),
        ("1.5000", "has an ambiguous separator"),
        ("1.000.00", "has misplaced thousands separators"),
        ("10.00.000", "has misplaced thousands separators"),
        ("1,000 000", "mixes thousands separators"),
        ("1..000", "is not a number"),
        ("1,000,000,000,000,001", "is larger than any gift"),  # would overflow a bigint
        ("9" * 5000, "is larger than any gift"),
    ],
)
def test_parse_amount_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_amount(text)


def test_parse_amount_allows_negative_when_asked() -> None:
    assert parse_amount("-1.000.000", allow_negative=True) == -1_000_000
    assert parse_amount("-0") == 0


@given(
    st.integers(min_value=0, max_value=10**15),
    st.sampled_from([".", ",", " "]),
    st.booleans(),
)
def test_formatted_amounts_parse_back(amount: int, separator: str, decimals: bool) -> None:
    text = f"{amount:,}".replace(",", separator)
    if decimals:
        text += ".00" if separator == "," else ",00"
    assert parse_amount(text) == amount


# --- memos -----------------------------------------------------------------------------

CAMPAIGNS = {"LS21COVID": "covid19", "LS21LULUT": "floods", "COVID": "covid-short"}
MOBILIZERS = {"LSHLHPN": "women-union", "LSDTN": "youth-union", "HLHPN": "women-other"}


@pytest.mark.parametrize(
    ("memo", "campaign", "mobilizer"),
    [
        ("LS21COVID LSHLHPN ung ho", "covid19", "women-union"),
        ("ung ho ls21covid", "covid19", None),
        ("MBVCB.1234567.LS21COVIDLSHLHPN.CT tu 999 NGUYEN VAN AN", "covid19", "women-union"),
        ("Ủng hộ LS21COVID - LSĐTN", "covid19", "youth-union"),
        ("Quỹ phòng chống COVID-19", "covid-short", None),
        ("ung ho dong bao mien Trung", None, None),
        ("", None, None),
    ],
)
def test_match_memo(memo: str, campaign: str | None, mobilizer: str | None) -> None:
    assert match_memo(memo, CAMPAIGNS, MOBILIZERS) == MemoMatch(campaign, mobilizer)


def test_match_memo_prefers_the_longest_reference() -> None:
    # Glued: "COVID" and "LS21COVID" are both inside; "HLHPN" inside "LSHLHPN".
    assert match_memo("IBFT.LS21COVIDLSHLHPN", CAMPAIGNS, MOBILIZERS) == MemoMatch(
        "covid19", "women-union"
    )
    # As tokens too.
    assert match_memo("COVID LS21COVID HLHPN LSHLHPN", CAMPAIGNS, MOBILIZERS) == MemoMatch(
        "covid19", "women-union"
    )


def test_match_memo_tie_between_different_codes_is_ambiguous() -> None:
    assert match_memo("LS21COVID LS21LULUT LSDTN", CAMPAIGNS, MOBILIZERS) == MemoMatch(
        None, "youth-union"
    )
    assert match_memo("CK.LS21COVIDLS21LULUT", CAMPAIGNS, MOBILIZERS).campaign is None
    # Two references for the same code are not a conflict.
    both = {"LS21COVID": "covid19", "COVID21LS": "covid19"}
    assert match_memo("LS21COVID COVID21LS", both, {}).campaign == "covid19"


def test_match_memo_tokens_before_glued_text() -> None:
    # "COVID" as a whole token wins over the longer "LS21COVID" found only glued.
    assert match_memo("COVID XLS21COVIDX", CAMPAIGNS, {}).campaign == "covid-short"


def test_match_memo_short_references_only_as_tokens() -> None:
    short = {"LS21": "covid19"}
    assert match_memo("ck LS21 ung ho", short, {}).campaign == "covid19"
    assert match_memo("ck.LS21ungho", short, {}).campaign is None
