"""Write the sample bank statements under ``tests/data/statements/``.

Every byte is fixed (the workbook's timestamps included), so running this again
writes the same files; ``tests/funds/test_statements.py`` checks that it does. The
account numbers, names and references are made up. See ``README.md``.

Run from the repository root: ``.venv/bin/python tests/data/statements/make_statements.py``
(or pass another folder to write there instead).
"""

from __future__ import annotations

import csv
import io
import re
import sys
import unicodedata
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
FIXED_TIME = (2021, 10, 1, 0, 0, 0)

VIETCOMBANK_ROWS: list[list[str]] = [
    ["NGÂN HÀNG TMCP NGOẠI THƯƠNG VIỆT NAM"],
    ["SAO KÊ TÀI KHOẢN"],
    ["Số tài khoản:", "0000000000001"],
    ["Tên tài khoản:", "BAN VẬN ĐỘNG QUỸ PHÒNG CHỐNG COVID-19"],
    ["Từ ngày:", "01/09/2021", "Đến ngày:", "30/09/2021"],
    ["Số dư đầu kỳ:", "10.000.000"],
    [],
    [
        "STT",
        "Ngày giao dịch",
        "Số tham chiếu",
        "Số tiền ghi nợ",
        "Số tiền ghi có",
        "Số dư",
        "Nội dung chi tiết",
    ],
    [
        "1",
        "01/09/2021",
        "5213.20210901.000101",
        "",
        "1.000.000",
        "11.000.000",
        "MBVCB.1234567.LS21COVIDLSHLHPN.CT tu 9990000000001 NGUYEN VAN AN toi 0000000000001",
    ],
    [
        "2",
        "02/09/2021 10:15:22",
        "5213.20210902.000102",
        "",
        "500.000",
        "11.500.000",
        "Ủng hộ quỹ phòng chống COVID-19 LS21COVID",
    ],
    [
        "3",
        "03/09/2021",
        "5213.20210903.000103",
        "",
        "2.000.000",
        "13.500.000",
        "Công ty TNHH Hòa Bình ủng hộ LS21COVID LSHLHPN",
    ],
    [
        "4",
        "05/09/2021",
        "5213.20210905.000104",
        "1.100.000",
        "",
        "12.400.000",
        "Chi hỗ trợ khu cách ly xã Tân Hòa",
    ],
    [
        "5",
        "06/09/2021",
        "5213.20210906.000105",
        "",
        "300.000",
        "12.700.000",
        "IBFT LS21COVID ung ho dong bao",
    ],
    [
        "6",
        "07/09/2021",
        "5213.20210907.000106",
        "",
        "5.000.000",
        "17.700.000",
        "Hội Liên hiệp Phụ nữ huyện ủng hộ đợt 2",
    ],
    [
        "7",
        "08/09/2021",
        "5213.20210908.000107",
        "11.000",
        "",
        "17.689.000",
        "Phí dịch vụ SMS tháng 08/2021",
    ],
    [
        "8",
        "10/09/2021",
        "5213.20210910.000108",
        "",
        "250.000",
        "17.939.000",
        "MBVCB.7654321.LSHLHPNLS21COVID.ung ho",
    ],
    ["Tổng cộng", "", "", "1.111.000", "9.050.000", "", ""],
    ["Số dư cuối kỳ:", "", "", "", "", "17.939.000", ""],
]


def csv_text(rows: list[list[str]], delimiter: str = ",", newline: str = "\r\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue()


def vietcombank_csv() -> bytes:
    """UTF-8 with a BOM, CRLF, the bank's preamble before the header, totals after."""
    return csv_text(VIETCOMBANK_ROWS).encode("utf-8-sig")


def cp1258(text: str) -> bytes:
    """Windows-1258 has few precomposed letters: ``ệ`` is ``ê`` + combining dot below."""
    clusters: list[str] = []
    for c in unicodedata.normalize("NFD", text):
        if clusters and unicodedata.combining(c):
            clusters[-1] += c
        else:
            clusters.append(c)
    return "".join(_cp1258_cluster(c) for c in clusters).encode("cp1258")


def _cp1258_cluster(cluster: str) -> str:
    """A letter with its marks, as one cp1258 letter followed by the marks it lacks."""
    whole = unicodedata.normalize("NFC", cluster)
    if _encodes(whole):
        return whole
    base, marks = cluster[0], cluster[1:]
    for i, mark in enumerate(marks):
        letter = unicodedata.normalize("NFC", base + mark)
        if len(letter) == 1 and _encodes(letter):
            return letter + marks[:i] + marks[i + 1 :]
    return cluster


def _encodes(char: str) -> bool:
    try:
        char.encode("cp1258")
    except UnicodeEncodeError:
        return False
    return True


def wrong_encoding_csv() -> bytes:
    """The Vietcombank sample saved in Windows-1258, as older Excel versions do."""
    return cp1258(csv_text(VIETCOMBANK_ROWS))


def generic_csv() -> bytes:
    """English headers, ';' between cells, a signed amount column, no BOM, LF."""
    rows = [
        [
            "Date",
            "Reference",
            "Amount",
            "Memo",
            "Counterparty",
            "Counterparty account",
            "Balance",
        ],
        [
            "2021-09-01",
            "FT21244001",
            "1,000,000",
            "LS21COVID ung ho",
            "NGUYEN THI BINH",
            "9990000000002",
            "1,000,000",
        ],
        [
            "2021-09-02",
            "FT21245002",
            "500000 VND",
            "ung ho mien Nam",
            "TRAN VAN CUONG",
            "9990000000003",
            "1,500,000",
        ],
        ["2021-09-03", "FT21246003", "-200,000", "Chi mua khau trang", "", "", "1,300,000"],
        [
            "2021-09-04",
            "FT21247004",
            "2,500,000.00",
            "Quỹ khuyến học LS21COVID",
            "Lê Thị Dung",
            "",
            "3,800,000",
        ],
        ["", "", "", "", "", "", ""],
        [
            "2021-09-05",
            "FT21248005",
            "1 000 000",
            "LSHLHPN",
            "PHAM VAN EM",
            "9990000000004",
            "4,800,000",
        ],
        ["Total", "", "4,800,000", "", "", "", ""],
    ]
    return csv_text(rows, delimiter=";", newline="\n").encode("utf-8")


def malformed_csv() -> bytes:
    """Good lines around a bad amount, a bad date, no reference and no amount at all."""
    rows = [
        ["Date", "Reference", "Credit", "Debit", "Memo"],
        ["01/09/2021", "REF001", "100.000", "", "good line"],
        ["02/09/2021", "REF002", "12,5", "", "bad amount"],
        ["31/02/2021", "REF003", "200.000", "", "bad date"],
        ["03/09/2021", "", "300.000", "", "missing reference"],
        ["04/09/2021", "REF005", "400.000", "", "a memo\nthat spans two lines LS21COVID"],
        ["05/09/2021", "REF006", "", "", "no amount"],
        ["06/09/2021", "REF007", "", "500.000", "good line after bad ones"],
    ]
    return csv_text(rows).encode("utf-8")


def vietinbank_xlsx() -> bytes:
    """A workbook with date cells, number cells and a preamble, as VietinBank exports."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Lịch sử giao dịch"
    sheet.append(["NGÂN HÀNG TMCP CÔNG THƯƠNG VIỆT NAM"])
    sheet.append(["LỊCH SỬ GIAO DỊCH TÀI KHOẢN"])
    sheet.append(["Số tài khoản:", "000000000002"])
    sheet.append([])
    sheet.append(
        [
            "STT",
            "Ngày giao dịch",
            "Số giao dịch",
            "Mô tả giao dịch",
            "Nợ TKTT",
            "Có TKTT",
            "Số dư",
            "Tên đối ứng",
            "Tài khoản đối ứng",
        ]
    )
    rows = [
        [
            1,
            datetime(2021, 9, 1, 8, 30),
            100234,
            "CT DEN:123 LS21COVID ung ho",
            None,
            2000000,
            2000000,
            "NGUYEN VAN AN",
            "9990000000005",
        ],
        [
            2,
            date(2021, 9, 2),
            100235,
            "Ủng hộ đồng bào LSHLHPN",
            None,
            500000.0,
            2500000,
            "Hội LHPN xã",
            None,
        ],
        [
            3,
            datetime(2021, 9, 3, 14, 5, 9),
            100236,
            "Chi hỗ trợ hộ nghèo",
            750000,
            None,
            1750000,
            None,
            None,
        ],
        [
            4,
            date(2021, 9, 4),
            "FT100237",
            "MBVCB.999.LS21COVID.tu thien",
            None,
            "1.200.000",
            2950000,
            "LE VAN BINH",
            "9990000000006",
        ],
        [None, None, None, None, None, None, None, None, None],
        ["Tổng cộng", None, None, None, 750000, 3700000, None, None, None],
    ]
    for row in rows:
        sheet.append(row)
    book.properties.creator = "sample"
    book.properties.created = datetime(*FIXED_TIME)
    raw = io.BytesIO()
    book.save(raw)
    return _fixed_zip(raw.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same workbook with fixed entry times and save time, so reruns are identical."""
    stamp = "2021-10-01T00:00:00Z"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "docProps/core.xml":
                text = body.decode("utf-8")
                text = re.sub(r"(<dcterms:modified[^>]*>)[^<]*", rf"\g<1>{stamp}", text)
                body = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            dst.writestr(entry, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


FILES: dict[str, Callable[[], bytes]] = {
    "vietcombank.csv": vietcombank_csv,
    "generic.csv": generic_csv,
    "malformed.csv": malformed_csv,
    "wrong_encoding.csv": wrong_encoding_csv,
    "vietinbank.xlsx": vietinbank_xlsx,
}


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in FILES.items():
        (folder / name).write_bytes(build())


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
