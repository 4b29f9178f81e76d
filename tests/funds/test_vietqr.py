"""VietQR payloads: the published examples byte for byte, round trips, corruption, images.

The vectors (shared/vectors/vietqr.md) come from a public VietQR implementation and
decide the field layout; ``parse`` is the check a verifier of a printed code would run.
"""

from __future__ import annotations

import io
import unicodedata
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image

from ledger.errors import LedgerError
from ledger.funds.vietqr import (
    BANKS,
    Bank,
    ParsedPayload,
    VietQRError,
    bank_by_bin,
    crc16,
    memo_text,
    parse,
    payload,
)
from ledger.qr import QRError, png, svg

STATIC = (
    "00020101021138530010A0000007270123000697041601092576788590208QRIBFTTA53037045802VN6304AE9F"
)
AMOUNT_10000 = (
    "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA"
    "53037045405100005802VN62150811Chuyen tien630453E6"
)
AMOUNT_1000 = (
    "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA"
    "5303704540410005802VN62150811Chuyen tien6304BBB8"
)
VECTORS = [
    (STATIC, {}, "AE9F"),
    (AMOUNT_10000, {"amount": 10000, "memo": "Chuyen tien"}, "53E6"),
    (AMOUNT_1000, {"amount": 1000, "memo": "Chuyen tien"}, "BBB8"),
]

bins = st.from_regex(r"[0-9]{6}", fullmatch=True)
accounts = st.from_regex(r"[0-9A-Za-z]{1,19}", fullmatch=True)
amounts = st.none() | st.integers(1, 10**13 - 1)
memos = st.none() | st.text(max_size=40) | st.sampled_from(["Ủng hộ lũ lụt", "UH-2024-0042"])


@pytest.mark.parametrize(("expected", "kwargs", "crc"), VECTORS)
def test_published_vectors_byte_for_byte(
    expected: str, kwargs: dict[str, object], crc: str
) -> None:
    assert payload("970416", "257678859", **kwargs) == expected  # type: ignore[arg-type]
    assert crc16(expected[:-4].encode("ascii")) == crc
    assert expected.endswith("6304" + crc)


@pytest.mark.parametrize(("vector", "kwargs", "crc"), VECTORS)
def test_parse_published_vectors(vector: str, kwargs: dict[str, object], crc: str) -> None:
    parsed = parse(vector)
    assert parsed == ParsedPayload(
        bank_bin="970416",
        account="257678859",
        service="QRIBFTTA",
        amount=kwargs.get("amount"),  # type: ignore[arg-type]
        memo=kwargs.get("memo"),  # type: ignore[arg-type]
        point_of_initiation="12" if "amount" in kwargs else "11",
    )


def test_crc16_is_ccitt_false() -> None:
    # The catalogue check value of CRC-16/CCITT-FALSE.
    assert crc16(b"123456789") == "29B1"
    assert crc16(b"") == "FFFF"


@given(bins, accounts, amounts, memos, st.sampled_from(["QRIBFTTA", "QRIBFTTC"]))
@hsettings(max_examples=200, deadline=None)
def test_round_trip(
    bank_bin: str, account: str, amount: int | None, memo: str | None, service: str
) -> None:
    text = payload(bank_bin, account, amount=amount, memo=memo, service=service)
    assert text.isascii()
    assert crc16(text[:-4].encode("ascii")) == text[-4:]
    expected_memo = memo_text(memo) if memo is not None else None
    assert parse(text) == ParsedPayload(
        bank_bin=bank_bin,
        account=account,
        service=service,
        amount=amount,
        memo=expected_memo or None,
        point_of_initiation="11" if amount is None else "12",
    )


@given(bins, accounts, amounts, memos, st.data())
@hsettings(max_examples=300, deadline=None)
def test_one_changed_character_is_rejected(
    bank_bin: str, account: str, amount: int | None, memo: str | None, data: st.DataObject
) -> None:
    text = payload(bank_bin, account, amount=amount, memo=memo)
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.characters().filter(lambda c: c != text[index]))
    with pytest.raises(VietQRError):
        parse(text[:index] + replacement + text[index + 1 :])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (STATIC[:-4] + "AE9E", "CRC mismatch"),
        (STATIC[:-4] + "ae9f", "CRC mismatch"),
        (STATIC[:-6], "truncated"),
        (STATIC[:-8], "CRC field 63"),
        (STATIC[:40], "truncated"),
        ("", "CRC field 63"),
        (STATIC.replace("5802VN", "5802VN5802VN"), "appears twice"),
        ("Đ" + STATIC, "ASCII"),
    ],
)
def test_parse_rejects_corrupt_payloads(text: str, message: str) -> None:
    with pytest.raises(VietQRError, match=message):
        parse(text)


def test_parse_rejects_foreign_payloads_with_a_valid_crc() -> None:
    body = STATIC[:-8].replace("5303704", "5303840") + "6304"
    with pytest.raises(VietQRError, match="704"):
        parse(body + crc16(body.encode("ascii")))
    body = STATIC[:-8].replace("A000000727", "A000000999") + "6304"
    with pytest.raises(VietQRError, match="GUID"):
        parse(body + crc16(body.encode("ascii")))


def test_memo_text_folds_vietnamese() -> None:
    assert memo_text("Ủng hộ COVID-19 Đình Lập") == "Ung ho COVID 19 Dinh Lap"
    decomposed = unicodedata.normalize("NFD", "Ủng hộ Đình Lập")
    assert memo_text(decomposed) == "Ung ho Dinh Lap"


def test_memo_text_punctuation_spaces_and_limit() -> None:
    assert memo_text("  UH-2024/0042 ,  lũ  lụt 🙏 miền Trung ") == "UH 2024 0042 lu lut mien"
    assert memo_text("Ủng hộ đồng bào miền Trung", limit=10) == "Ung ho don"
    assert memo_text("Ủng hộ đồng bào", limit=7) == "Ung ho"  # no trailing space
    assert memo_text("!!! ---") == ""
    with pytest.raises(VietQRError):
        memo_text("x", limit=-1)


def test_memo_is_cleaned_and_empty_memo_is_left_out() -> None:
    assert "62150811Chuyen tien" in payload("970416", "257678859", memo="Chuyển tiền!")
    assert payload("970416", "257678859", memo=" -- ") == STATIC
    assert payload("970416", "257678859", memo="") == STATIC


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bank_bin": "97041"},
        {"bank_bin": "9704160"},
        {"bank_bin": "97041a"},
        {"bank_bin": "\uff19\uff17\uff10\uff14\uff11\uff16"},  # fullwidth digits
        {"account": "2576 78859"},
        {"account": ""},
        {"account": "1" * 20},
        {"account": "25767885\uff19"},
        {"amount": 0},
        {"amount": -5},
        {"amount": True},
        {"amount": 10**13},
        {"amount": 1000.0},
        {"amount": "1000"},
        {"service": "QRIBFTTX"},
    ],
)
def test_invalid_inputs_raise(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"bank_bin": "970416", "account": "257678859", **kwargs}
    with pytest.raises(VietQRError) as caught:
        payload(**args)  # type: ignore[arg-type]
    assert isinstance(caught.value, LedgerError)
    assert caught.value.code == "invalid_vietqr"
    assert "257678859" not in caught.value.message


def test_largest_amount_fits() -> None:
    text = payload("970416", "257678859", amount=10**13 - 1)
    assert "54139999999999999" in text
    assert parse(text).amount == 10**13 - 1


def test_bank_table() -> None:
    assert len(BANKS) == 20
    assert bank_by_bin("970416") == Bank("970416", "ACB", "Ngân hàng TMCP Á Châu")
    assert bank_by_bin("970436").short_name == "Vietcombank"  # type: ignore[union-attr]
    assert bank_by_bin("970449").short_name == "LPBank"  # type: ignore[union-attr]
    assert bank_by_bin("999999") is None
    for key, bank in BANKS.items():
        assert key == bank.bin and len(key) == 6 and key.startswith("970")
        assert unicodedata.is_normalized("NFC", bank.name)
    with pytest.raises(TypeError):
        BANKS["000000"] = Bank("000000", "X", "X")  # type: ignore[index]


def test_png_is_a_square_qr_image() -> None:
    data = png(AMOUNT_10000)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.format == "PNG"
        assert image.width == image.height
        # Version 5 (37 modules) at error correction M, plus 4 modules of border each side.
        assert image.width == (37 + 2 * 4) * 8
    small = png(AMOUNT_10000, box_size=2, border=1)
    with Image.open(io.BytesIO(small)) as image:
        assert image.size == ((37 + 2) * 2, (37 + 2) * 2)


def test_svg_is_well_formed() -> None:
    data = svg(STATIC)
    root = ET.fromstring(data)  # noqa: S314 - our own output
    assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg")
    assert root.get("viewBox")
    assert any(child.tag.endswith("path") for child in root)


def test_images_reject_bad_arguments() -> None:
    with pytest.raises(QRError):
        png("")
    with pytest.raises(QRError):
        svg(STATIC, box_size=0)
    with pytest.raises(QRError):
        png(STATIC, border=-1)
