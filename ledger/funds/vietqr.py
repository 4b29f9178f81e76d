"""VietQR (NAPAS 247, EMVCo merchant-presented QR) payloads for donations to a campaign.

Decree 93/2021/ND-CP requires each fund-raising campaign to collect into its own,
publicly announced bank account. A VietQR code printed on a poster or shown on the
campaign page lets any Vietnamese banking app fill in that account, and optionally the
amount and the transfer memo. The memo carries the campaign reference code, so that
the lines of the bank statement can be attributed to the campaign automatically.

``parse`` is the inverse of ``payload``: it checks the CRC and the structure, so a
printed or published code can be verified against the account the ledger announces.
"""

from __future__ import annotations

import binascii
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ledger.errors import LedgerError
from ledger.funds.text import fold_ascii, nfc

NAPAS_GUID = "A000000727"
SERVICES = frozenset({"QRIBFTTA", "QRIBFTTC"})  # transfer to an account / to a card
MAX_AMOUNT = 10**13 - 1  # field 54 holds at most 13 characters

_BIN = re.compile(r"[0-9]{6}")
_ACCOUNT = re.compile(r"[0-9A-Za-z]{1,19}")
_AMOUNT = re.compile(r"[1-9][0-9]{0,12}")
_HEADER = re.compile(r"[0-9]{4}")


class VietQRError(LedgerError):
    """A VietQR payload cannot be built from these inputs, or a payload does not decode."""

    code = "invalid_vietqr"


@dataclass(frozen=True)
class Bank:
    bin: str
    short_name: str
    name: str


_BANK_LIST = (
    Bank("970436", "Vietcombank", "Ngân hàng TMCP Ngoại thương Việt Nam"),
    Bank("970415", "VietinBank", "Ngân hàng TMCP Công Thương Việt Nam"),
    Bank("970418", "BIDV", "Ngân hàng TMCP Đầu tư và Phát triển Việt Nam"),
    Bank("970405", "Agribank", "Ngân hàng Nông nghiệp và Phát triển Nông thôn Việt Nam"),
    Bank("970407", "Techcombank", "Ngân hàng TMCP Kỹ thương Việt Nam"),
    Bank("970422", "MB", "Ngân hàng TMCP Quân đội"),
    Bank("970416", "ACB", "Ngân hàng TMCP Á Châu"),
    Bank("970403", "Sacombank", "Ngân hàng TMCP Sài Gòn Thương Tín"),
    Bank("970432", "VPBank", "Ngân hàng TMCP Việt Nam Thịnh Vượng"),
    Bank("970423", "TPBank", "Ngân hàng TMCP Tiên Phong"),
    Bank("970443", "SHB", "Ngân hàng TMCP Sài Gòn - Hà Nội"),
    Bank("970437", "HDBank", "Ngân hàng TMCP Phát triển Thành phố Hồ Chí Minh"),
    Bank("970449", "LPBank", "Ngân hàng TMCP Lộc Phát Việt Nam (LienVietPostBank)"),
    Bank("970441", "VIB", "Ngân hàng TMCP Quốc tế Việt Nam"),
    Bank("970440", "SeABank", "Ngân hàng TMCP Đông Nam Á"),
    Bank("970448", "OCB", "Ngân hàng TMCP Phương Đông"),
    Bank("970426", "MSB", "Ngân hàng TMCP Hàng Hải Việt Nam"),
    Bank("970431", "Eximbank", "Ngân hàng TMCP Xuất Nhập khẩu Việt Nam"),
    Bank("970428", "Nam A Bank", "Ngân hàng TMCP Nam Á"),
    Bank("970452", "Kienlongbank", "Ngân hàng TMCP Kiên Long"),
)
BANKS: Mapping[str, Bank] = MappingProxyType({bank.bin: bank for bank in _BANK_LIST})


def bank_by_bin(bin: str) -> Bank | None:
    return BANKS.get(bin)


@dataclass(frozen=True)
class ParsedPayload:
    bank_bin: str
    account: str
    service: str
    amount: int | None
    memo: str | None
    point_of_initiation: str  # "11" static (reusable), "12" dynamic (one amount)


def crc16(data: bytes) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), which ``crc_hqx`` computes."""
    return f"{binascii.crc_hqx(data, 0xFFFF):04X}"


def memo_text(text: str, limit: int = 25) -> str:
    """A memo every banking app carries unchanged: folded ASCII letters, digits, spaces.

    Apps strip diacritics and punctuation, and many cap the memo length, so the text we
    put in the code is already what will arrive on the statement line.
    """
    if limit < 0:
        raise VietQRError("memo limit must not be negative")
    chars = (
        "" if unicodedata.category(c).startswith("M") else fold_ascii(c) or " " for c in nfc(text)
    )
    cleaned = re.sub(r"[^A-Za-z0-9 ]", " ", "".join(chars))
    cleaned = re.sub(r" +", " ", cleaned).strip()
    return cleaned[:limit].strip()


def _tlv(tag: str, value: str) -> str:
    if len(value) > 99:
        raise VietQRError(f"field {tag} is {len(value)} characters long; at most 99 fit")
    return f"{tag}{len(value):02d}{value}"


def _check_bin(bank_bin: object) -> str:
    if not isinstance(bank_bin, str) or not _BIN.fullmatch(bank_bin):
        raise VietQRError("bank BIN must be exactly 6 digits")
    return bank_bin


def _check_account(account: object) -> str:
    # The account number is never echoed: error messages may reach logs and responses.
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        raise VietQRError("account number must be 1 to 19 letters or digits")
    return account


def _check_service(service: object) -> str:
    if service not in SERVICES:
        raise VietQRError(f"service code must be one of {', '.join(sorted(SERVICES))}")
    return str(service)


def _check_amount(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise VietQRError(f"amount must be a whole number of đồng from 1 to {MAX_AMOUNT}")
    return amount


def payload(
    bank_bin: str,
    account: str,
    *,
    amount: int | None = None,
    memo: str | None = None,
    service: str = "QRIBFTTA",
) -> str:
    """The QR text: static (any amount) without ``amount``, dynamic with one."""
    beneficiary = _tlv("00", _check_bin(bank_bin)) + _tlv("01", _check_account(account))
    merchant = (
        _tlv("00", NAPAS_GUID) + _tlv("01", beneficiary) + _tlv("02", _check_service(service))
    )
    parts = [_tlv("00", "01"), _tlv("01", "11" if amount is None else "12"), _tlv("38", merchant)]
    parts.append(_tlv("53", "704"))
    if amount is not None:
        parts.append(_tlv("54", str(_check_amount(amount))))
    parts.append(_tlv("58", "VN"))
    if memo is not None and (cleaned := memo_text(memo)):
        parts.append(_tlv("62", _tlv("08", cleaned)))
    body = "".join(parts) + "6304"
    return body + crc16(body.encode("ascii"))


def _fields(data: str, where: str) -> dict[str, str]:
    """Split ID-length-value fields, keeping their order; the last one is read last."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        header = data[pos : pos + 4]
        if not _HEADER.fullmatch(header):
            raise VietQRError(f"{where}: truncated or malformed field header at position {pos}")
        tag, size = header[:2], int(header[2:])
        value = data[pos + 4 : pos + 4 + size]
        if len(value) != size:
            raise VietQRError(
                f"{where}: field {tag} is truncated ({size} characters declared,"
                f" {len(value)} present)"
            )
        if tag in fields:
            raise VietQRError(f"{where}: field {tag} appears twice")
        fields[tag] = value
        pos += 4 + size
    return fields


def parse(text: str) -> ParsedPayload:
    """Decode and verify a payload; any corruption raises ``VietQRError``."""
    if not isinstance(text, str) or not text.isascii():
        raise VietQRError("payload must be ASCII text")
    fields = _fields(text, "payload")
    if list(fields)[-1:] != ["63"] or len(fields["63"]) != 4:
        raise VietQRError("payload must end with the CRC field 63 of 4 hex digits")
    expected = crc16(text[:-4].encode("ascii"))
    if fields["63"] != expected:
        raise VietQRError(f"CRC mismatch: payload says {fields['63']}, content gives {expected}")
    if fields.get("00") != "01":
        raise VietQRError("payload format indicator (field 00) must be 01")
    point = fields.get("01")
    if point is None or point not in ("11", "12"):
        raise VietQRError("point of initiation (field 01) must be 11 or 12")
    if fields.get("53") != "704":
        raise VietQRError("currency (field 53) must be 704, Vietnamese đồng")
    if fields.get("58") != "VN":
        raise VietQRError("country (field 58) must be VN")
    if "38" not in fields:
        raise VietQRError("NAPAS merchant account information (field 38) is missing")
    merchant = _fields(fields["38"], "field 38")
    if merchant.get("00") != NAPAS_GUID:
        raise VietQRError(f"field 38 must carry the NAPAS GUID {NAPAS_GUID}")
    beneficiary = _fields(merchant.get("01", ""), "field 38/01")
    amount = None
    if "54" in fields:
        if not _AMOUNT.fullmatch(fields["54"]):
            raise VietQRError("amount (field 54) must be a whole positive number of đồng")
        amount = int(fields["54"])
    memo = _fields(fields["62"], "field 62").get("08") if "62" in fields else None
    return ParsedPayload(
        bank_bin=_check_bin(beneficiary.get("00")),
        account=_check_account(beneficiary.get("01")),
        service=_check_service(merchant.get("02")),
        amount=amount,
        memo=memo or None,
        point_of_initiation=point,
    )
