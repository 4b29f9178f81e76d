"""The fund commands of ``ledger`` as a manager without the web API uses them."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.cli import error_line, ok

from ledger import log
from ledger.cli import main
from ledger.db import Database
from ledger.funds import vietqr
from ledger.funds.state import UnitTree

UNITS = Path(__file__).resolve().parents[1] / "data" / "units"
GIVE = ["contribute", "--fund", "LS-COVID", "--channel", "cash", "--donor", "Nguyễn Văn An"]
LANGSON_DISTRICTS = {
    "Thành phố Lạng Sơn",
    "Huyện Cao Lộc",
    "Huyện Văn Lãng",
    "Huyện Tràng Định",
    "Huyện Bình Gia",
    "Huyện Văn Quan",
    "Huyện Bắc Sơn",
    "Huyện Hữu Lũng",
    "Huyện Chi Lăng",
    "Huyện Lộc Bình",
    "Huyện Đình Lập",
}


def size(db: Database) -> int:
    with db.session() as session:
        return log.tree_size(session)


def units(db: Database) -> UnitTree:
    with db.session() as session:
        return UnitTree.load(session)


def index_of(output: str) -> int:
    found = re.match(r"index (\d+): ", output)
    assert found, output
    return int(found.group(1))


def balances(runner: CliRunner, *options: str) -> dict[str, dict[str, str]]:
    """``ledger balance`` as {row: {column: cell}}; columns are two or more spaces apart."""
    lines = ok(runner.invoke(main, ["balance", *options])).splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    table = {}
    for line in lines[1:]:
        name, *cells = re.split(r"\s{2,}", line.strip())
        table[name] = dict(zip(header[1:], cells, strict=True))
    return table


# -- units import ---------------------------------------------------------------------


def test_units_import_records_four_levels_of_langson_2021(
    runner: CliRunner, ledger: Database
) -> None:
    out = ok(runner.invoke(main, ["units", "import", str(UNITS / "langson-2021.csv")]))

    assert out == "recorded 20 units (0 unchanged)\n"
    tree = units(ledger)
    districts = {tree.names[code] for code, parent in tree.parents.items() if parent == "LS"}
    assert districts == LANGSON_DISTRICTS
    assert tree.parents["LS"] is None
    assert tree.ancestors("LS-CL-TTCL-K1") == ["LS-CL-TTCL-K1", "LS-CL-TTCL", "LS-CL", "LS"]
    assert tree.names["LS-CL-DD"] == "Thị trấn Đồng Đăng"


def test_units_import_reads_a_two_tier_2025_file_saved_by_excel(
    runner: CliRunner, ledger: Database
) -> None:
    data = (UNITS / "two-tier-2025.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data

    out = ok(runner.invoke(main, ["units", "import", str(UNITS / "two-tier-2025.csv")]))

    assert out == "recorded 8 units (0 unchanged)\n"
    tree = units(ledger)
    assert tree.names["LS"] == "Tỉnh Lạng Sơn"
    assert {tree.parents[code] for code in tree.parents if code != "LS"} == {"LS"}
    assert max(len(tree.ancestors(code)) for code in tree.parents) == 2


def test_importing_the_same_file_again_records_nothing(runner: CliRunner, ledger: Database) -> None:
    file = str(UNITS / "langson-2021.csv")
    ok(runner.invoke(main, ["units", "import", file]))
    before = size(ledger)

    assert ok(runner.invoke(main, ["units", "import", file])) == "recorded 0 units (20 unchanged)\n"
    assert size(ledger) == before
    # The 2025 list shares the province with the 2021 one, recorded as it is.
    out = ok(runner.invoke(main, ["units", "import", str(UNITS / "two-tier-2025.csv")]))
    assert out == "recorded 7 units (1 unchanged)\n"


def test_dry_run_says_what_it_would_record_and_writes_nothing(
    runner: CliRunner, ledger: Database
) -> None:
    before = size(ledger)

    out = ok(runner.invoke(main, ["units", "import", "--dry-run", str(UNITS / "langson-2021.csv")]))

    assert "would record unit LS-CL-TTCL-K1: Khối 1\n" in out
    assert out.endswith("would record 20 units (0 unchanged)\n")
    assert size(ledger) == before


def test_children_listed_before_their_parents_are_recorded_after_them(
    runner: CliRunner, ledger: Database, tmp_path: Path
) -> None:
    header, *rows = (UNITS / "langson-2021.csv").read_text(encoding="utf-8").splitlines()
    file = tmp_path / "reversed.csv"
    file.write_text("\n".join([header, *reversed(rows)]) + "\n", encoding="utf-8")

    out = ok(runner.invoke(main, ["units", "import", "--json", str(file)]))

    answers = json.loads(out)
    assert len(answers) == 20
    order = [answer["code"] for answer in answers]
    assert order.index("LS") < order.index("LS-CL") < order.index("LS-CL-TTCL")
    assert order.index("LS-CL-TTCL") < order.index("LS-CL-TTCL-K3")


def test_a_units_file_excel_saved_with_semicolons_is_read(
    runner: CliRunner, ledger: Database, tmp_path: Path
) -> None:
    file = tmp_path / "units.csv"
    file.write_text("code;name;parent;level\nLS;Tỉnh Lạng Sơn;;province\n", encoding="utf-8-sig")

    assert (
        ok(runner.invoke(main, ["units", "import", str(file)]))
        == "recorded 1 units (0 unchanged)\n"
    )
    assert units(ledger).names == {"LS": "Tỉnh Lạng Sơn"}


@pytest.mark.parametrize(
    ("name", "mentions"),
    [
        ("missing-parent.csv", ["line 5", "parent LS-CL-TTCL is neither in the file nor"]),
        ("duplicate-code.csv", ["line 5", "LS-CL appears again (first on line 3)"]),
        ("latin-1.csv", ["line 3", "not UTF-8", "save it as UTF-8"]),
    ],
)
def test_a_bad_units_file_names_the_line_and_records_nothing(
    runner: CliRunner, ledger: Database, name: str, mentions: list[str]
) -> None:
    before = size(ledger)

    error_line(runner.invoke(main, ["units", "import", str(UNITS / name)]), *mentions)

    assert size(ledger) == before
    assert units(ledger).parents == {}


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("code,name,parent\nLS,Tỉnh Lạng Sơn,\n", ["line 1", "missing column 'level'"]),
        ("code,name,parent,level\nLS,Tỉnh,,province\n,Huyện,LS,district\n", ["line 3", "empty"]),
        ("code,name,parent,level\nA,Một,B,x\nB,Hai,A,x\n", ["line 2", "would lie below itself"]),
        ("code,name,parent,level\nLS,,,province\n", ["line 2", "name"]),
        ("code,name,parent,level\nLS,Tỉnh\n", ["line 2", "2 cells where the header has 4"]),
        ("", ["line 1", "empty", "code,name,parent,level"]),
    ],
)
def test_units_file_problems_name_their_line(
    runner: CliRunner, ledger: Database, tmp_path: Path, text: str, mentions: list[str]
) -> None:
    file = tmp_path / "units.csv"
    file.write_text(text, encoding="utf-8")
    before = size(ledger)

    error_line(runner.invoke(main, ["units", "import", str(file)]), *mentions)

    assert size(ledger) == before


# -- registry -------------------------------------------------------------------------


def test_a_province_set_up_from_the_command_line(
    runner: CliRunner, ledger: Database, tmp_path: Path
) -> None:
    ok(runner.invoke(main, ["units", "import", str(UNITS / "langson-2021.csv")]))
    opened = ["fund", "open", "--code", "CL-RELIEF", "--unit", "LS-CL", "--kind", "relief"]
    out = ok(runner.invoke(main, opened))
    assert out.endswith("fund CL-RELIEF (Quỹ Cứu trợ huyện Cao Lộc) opened\n")
    campaign = ["campaign", "create", "--code", "CL-LU", "--fund", "CL-RELIEF"]
    campaign += ["--name", "Ủng hộ đồng bào bị lũ", "--purpose", "Khắc phục hậu quả lũ"]
    campaign += ["--reference", "CLLU2026", "--opens", "2026-01-01", "--closes", "2026-01-31"]
    campaign += ["--distribute-by", "2026-03-31", "--bank-bin", "970405"]
    campaign += ["--account", "8300201001234", "--holder", "Ủy ban MTTQ huyện Cao Lộc"]
    out = ok(runner.invoke(main, campaign))
    assert out.endswith("campaign CL-LU of CL-RELIEF recorded, memo reference CLLU2026\n")
    added = ["mobilizer", "add", "--code", "CL-DTN", "--name", "Huyện đoàn Cao Lộc"]
    out = ok(runner.invoke(main, [*added, "--type", "collective", "--unit", "LS-CL"]))
    assert out.endswith("mobilizer CL-DTN recorded, memo reference CLDTN\n")
    file = tmp_path / "mobilizers.csv"
    file.write_text(
        "code,name,type,unit,reference\n"
        "CL-DTN,Huyện đoàn Cao Lộc,collective,LS-CL,\n"
        "CL-HPN,Hội LHPN huyện Cao Lộc,collective,LS-CL,CLHPN\n"
        "CL-NVA,Nguyễn Văn An,individual,LS-CL-HT,CLNVA\n",
        encoding="utf-8",
    )

    out = ok(runner.invoke(main, ["mobilizer", "import", str(file)]))

    assert out == "recorded 2 mobilizers (1 unchanged)\n"
    before = size(ledger)
    out = ok(runner.invoke(main, ["mobilizer", "import", str(file)]))
    assert out == "recorded 0 mobilizers (3 unchanged)\n"
    assert size(ledger) == before


def test_a_refused_registration_is_one_error_line(runner: CliRunner, funds: object) -> None:
    result = runner.invoke(
        main, ["fund", "open", "--code", "LS-COVID", "--unit", "LS", "--kind", "covid19"]
    )
    error_line(result, "fund with code LS-COVID exists already")
    error_line(runner.invoke(main, ["fund", "open", "--code", "X"]), "invalid fund", "unit", "kind")


def test_a_mobilizer_file_row_refused_by_the_ledger_names_its_line(
    runner: CliRunner, ledger: Database, funds: object, tmp_path: Path
) -> None:
    file = tmp_path / "mobilizers.csv"
    file.write_text(
        "code,name,type,unit\nCL-DTN,Huyện đoàn,collective,LS-CL\nXX,Ai đó,individual,NOWHERE\n",
        encoding="utf-8",
    )
    before = size(ledger)

    error_line(runner.invoke(main, ["mobilizer", "import", str(file)]), "line 3", "NOWHERE")

    assert size(ledger) == before


# -- money ----------------------------------------------------------------------------


def test_contribute_allocate_disburse_transfer_reverse_round_trip(
    runner: CliRunner, ledger: Database, funds: object, tmp_path: Path
) -> None:
    give = ["contribute", "--fund", "LS-COVID", "--amount", "10.000.000", "--channel", "bank"]
    give += ["--donor", "Công ty TNHH Minh An", "--donor-type", "organization"]
    out = ok(runner.invoke(main, [*give, "--reference", "FT26001", "--mobilizer", "LS-HLHPN"]))
    first, receipt = out.splitlines()
    assert first.endswith(
        "contribution of 10.000.000 đồng to LS-COVID (campaign LS-2026) from Công ty TNHH Minh An"
    )
    receipt_id = re.fullmatch(r"receipt (\w+): https://quy\.example\.vn/r/(\w+)", receipt)
    assert receipt_id and receipt_id.group(1) == receipt_id.group(2)
    with ledger.session() as session:
        body = log.entry(session, index_of(out)).body
    assert body["receipt_id"] == receipt_id.group(1) and body["amount"] == 10_000_000

    decision = ["--decision-number", "15/QĐ-MTTQ", "--decision-date", "2026-01-05"]
    allocate = ["allocate", "--fund", "LS-COVID", "--amount", "4000000", "--purpose", "Hỗ trợ F0"]
    allocate += ["--beneficiary", "Nguyễn Văn Cường", "--beneficiary-type", "individual"]
    out = ok(runner.invoke(main, [*allocate, *decision, "--approver", "Chủ tịch"]))
    assert "allocation of 4.000.000 đồng from LS-COVID to Nguyễn V. C.: Hỗ trợ F0" in out
    allocation = index_of(out)

    slip = tmp_path / "phieu-chi.pdf"
    slip.write_bytes(b"%PDF-1.4 phieu chi so 12")
    sha256 = ok(runner.invoke(main, ["document", "add", str(slip)])).strip()
    assert sha256 == hashlib.sha256(slip.read_bytes()).hexdigest()
    pay = ["disburse", "--allocation", str(allocation), "--amount", "1500000"]
    out = ok(runner.invoke(main, [*pay, "--document", sha256, "--note", "Đợt 1"]))
    assert f"disbursement of 1.500.000 đồng under allocation {allocation} of LS-COVID" in out

    move = ["transfer", "--from", "LS-COVID", "--to", "CL-COVID", "--amount", "2000000"]
    out = ok(runner.invoke(main, move))
    assert "transfer of 2.000.000 đồng from LS-COVID to CL-COVID" in out
    moved = index_of(out)

    table = balances(runner)
    assert table["LS-COVID"] == {
        "available": "4.000.000 đồng",
        "committed": "2.500.000 đồng",
        "disbursed": "1.500.000 đồng",
        "in kind": "0 đồng",
        "received": "10.000.000 đồng",
    }
    assert table["CL-COVID"]["available"] == "2.000.000 đồng"
    assert table["VL-COVID"]["available"] == "0 đồng"

    out = ok(runner.invoke(main, ["reverse", str(moved), "--reason", "Chuyển nhầm quỹ"]))
    assert f"reversal of entry {moved}: Chuyển nhầm quỹ" in out
    assert balances(runner, "--fund", "LS-COVID")["LS-COVID"]["available"] == "6.000.000 đồng"
    assert balances(runner, "--fund", "CL-COVID")["CL-COVID"]["available"] == "0 đồng"
    unit = balances(runner, "--unit", "LS")["LS"]
    assert unit["available"] == "6.000.000 đồng" and unit["disbursed"] == "1.500.000 đồng"
    campaign = balances(runner, "--campaign", "LS-2026")["LS-2026"]
    assert campaign["received"] == "10.000.000 đồng"


def test_contribute_json_answer(runner: CliRunner, funds: object) -> None:
    out = ok(
        runner.invoke(
            main,
            [
                "contribute",
                "--fund",
                "CL-COVID",
                "--amount",
                "500000",
                "--channel",
                "cash",
                "--anonymous",
                "--json",
            ],
        )
    )

    answer = json.loads(out)
    assert answer["kind"] == "contribution"
    assert answer["receipt_url"] == f"https://quy.example.vn/r/{answer['receipt_id']}"
    assert re.fullmatch(r"[0-9a-f]{64}", answer["leaf_hash"])


def test_an_in_kind_gift_and_a_pledge(runner: CliRunner, ledger: Database, funds: object) -> None:
    gift = ["contribute", "--fund", "LS-COVID", "--amount", "2000000", "--channel", "in_kind"]
    gift += ["--donor", "Bà Lê Thị Hoa", "--anonymous", "--contact", "0912345678"]
    gift += ["--item-description", "Khẩu trang y tế", "--quantity", "100", "--item-unit", "hộp"]
    out = ok(runner.invoke(main, [*gift, "--valuation", "Theo hóa đơn mua"]))
    assert "from Nhà hảo tâm ẩn danh" in out
    with ledger.session() as session:
        body = log.entry(session, index_of(out)).body
    assert body["in_kind"] == {
        "description": "Khẩu trang y tế",
        "quantity": 100,
        "unit": "hộp",
        "valuation": "Theo hóa đơn mua",
    }
    assert "0912345678" not in json.dumps(body) and "Hoa" not in json.dumps(body)
    assert balances(runner, "--fund", "LS-COVID")["LS-COVID"]["in kind"] == "2.000.000 đồng"

    out = ok(
        runner.invoke(
            main,
            [
                "pledge",
                "--fund",
                "LS-COVID",
                "--amount",
                "1000000",
                "--donor",
                "Công ty CP Đông Bắc",
                "--donor-type",
                "organization",
            ],
        )
    )
    assert re.search(r"^pledge P\w+$", out, re.MULTILINE)
    assert balances(runner, "--fund", "LS-COVID")["LS-COVID"]["available"] == "0 đồng"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("mười nghìn", "error: invalid contribution: amount: Not a valid integer."),
        ("0", "error: invalid contribution: amount: Must be greater than or equal to 1"),
        ("1500,50", "error: invalid contribution: amount: Not a valid integer."),
    ],
)
def test_a_bad_amount_is_refused_by_the_core_and_writes_nothing(
    runner: CliRunner, ledger: Database, funds: object, amount: str, message: str
) -> None:
    before = size(ledger)
    give = ["contribute", "--fund", "LS-COVID", "--amount", amount, "--channel", "cash"]

    assert error_line(runner.invoke(main, [*give, "--donor", "An"])).startswith(message)

    assert size(ledger) == before


def test_an_allocation_beyond_the_balance_is_refused_with_the_shortfall(
    runner: CliRunner, ledger: Database, funds: object
) -> None:
    ok(
        runner.invoke(
            main,
            [*GIVE, "--amount", "1000000"],
        )
    )
    before = size(ledger)
    allocate = ["allocate", "--fund", "LS-COVID", "--amount", "1000001", "--purpose", "Mua thuốc"]
    allocate += ["--beneficiary", "Trạm Y tế xã", "--beneficiary-type", "organization"]

    error_line(
        runner.invoke(main, allocate),
        "fund LS-COVID holds 1.000.000 đồng in available, less than the 1.000.001 đồng asked for",
        "nothing was recorded",
    )

    assert size(ledger) == before
    assert balances(runner, "--fund", "LS-COVID")["LS-COVID"]["committed"] == "0 đồng"


def test_an_entry_is_reversed_only_once(runner: CliRunner, ledger: Database, funds: object) -> None:
    out = ok(
        runner.invoke(
            main,
            [*GIVE, "--amount", "300000"],
        )
    )
    gift = index_of(out)
    reversal = index_of(ok(runner.invoke(main, ["reverse", str(gift), "--reason", "Ghi trùng"])))
    before = size(ledger)

    again = runner.invoke(main, ["reverse", str(gift), "--reason", "Ghi trùng"])

    error_line(again, f"entry {gift} was already reversed by entry {reversal}")
    assert size(ledger) == before


def test_a_disbursement_needs_a_stored_document(runner: CliRunner, funds: object) -> None:
    ok(runner.invoke(main, [*GIVE, "--amount", "5000"]))
    allocate = ["allocate", "--fund", "LS-COVID", "--amount", "5000", "--purpose", "Mua thuốc"]
    allocate += ["--beneficiary", "Trạm Y tế xã", "--beneficiary-type", "organization"]
    allocation = index_of(ok(runner.invoke(main, allocate)))
    pay = ["disburse", "--allocation", str(allocation), "--amount", "1000"]

    error_line(runner.invoke(main, pay), "invalid disbursement", "documents")
    unknown = ["--document", "ab" * 32]
    error_line(runner.invoke(main, [*pay, *unknown]), "upload these documents first: abab")
    elsewhere = ["disburse", "--allocation", "5", "--amount", "1000", *unknown]
    error_line(runner.invoke(main, elsewhere), "entry 5 is not an allocation")


# -- reading --------------------------------------------------------------------------


def test_campaign_qr_prints_a_payload_for_the_campaign_account_and_memo(
    runner: CliRunner, funds: object
) -> None:
    qr = ["campaign", "qr", "LS-2026", "--mobilizer", "LS-HLHPN", "--amount", "200.000"]
    parsed = vietqr.parse(ok(runner.invoke(main, qr)).strip())

    assert (parsed.bank_bin, parsed.account) == ("970436", "0011001234567")
    assert parsed.memo == "LS26COVID LSHLHPN"
    assert parsed.amount == 200_000
    static = vietqr.parse(ok(runner.invoke(main, ["campaign", "qr", "LS-2026"])).strip())
    assert (static.memo, static.amount, static.point_of_initiation) == ("LS26COVID", None, "11")


def test_memo_references_are_short_enough_for_two_in_a_memo(
    runner: CliRunner, funds: object
) -> None:
    add = ["mobilizer", "add", "--code", "LS-DTN", "--name", "Tỉnh đoàn Lạng Sơn"]
    add += ["--type", "collective", "--unit", "LS", "--reference", "TINHDOANLANGSON"]
    error_line(runner.invoke(main, add), "3-12 capital letters or digits")
    ok(runner.invoke(main, [*add[:-1], "TINHDOANLS12"]))
    result = ok(runner.invoke(main, ["campaign", "qr", "LS-2026", "--mobilizer", "LS-DTN"]))
    assert vietqr.parse(result.strip()).memo == "LS26COVID TINHDOANLS12"


def test_campaign_qr_writes_png_and_svg(runner: CliRunner, funds: object, tmp_path: Path) -> None:
    png, svg = tmp_path / "qr.png", tmp_path / "qr.svg"

    ok(runner.invoke(main, ["campaign", "qr", "LS-2026", "--out", str(png)]))
    ok(runner.invoke(main, ["campaign", "qr", "LS-2026", "--out", str(svg)]))

    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in svg.read_bytes()
    error_line(runner.invoke(main, ["campaign", "qr", "LS-2026", "--out", "qr.jpg"]), ".png")
    error_line(runner.invoke(main, ["campaign", "qr", "NOPE"]), "no campaign with code 'NOPE'")


def test_balance_of_an_unknown_fund_or_two_filters_is_an_error(
    runner: CliRunner, funds: object
) -> None:
    error_line(runner.invoke(main, ["balance", "--fund", "NOPE"]), "no fund with code 'NOPE'")
    error_line(runner.invoke(main, ["balance", "--fund", "LS-COVID", "--unit", "LS"]), "at most")
