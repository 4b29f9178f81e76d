"""A real ledger in a temporary folder, and contributions shaped like the real ones.

The ledger is made exactly as ``ledger init`` makes it (``init_ledger`` on a SQLite
file, with its migrations, triggers and signing key), so every benchmark entry goes
through the same code a writer's request does.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.db import Database
from ledger.entries import Draft
from ledger.genesis import init_ledger
from ledger.keys import SigningKey
from ledger.settings import Settings

ORIGIN = "bench.mttq-langson.vn/quy"
ACTORS = ("ke-toan-ubmttq-tinh", "thu-quy-ubmttq-tp", "ke-toan-ubmttq-cao-loc")


def _nfc(*words: str) -> tuple[str, ...]:
    return tuple(unicodedata.normalize("NFC", word) for word in words)


FAMILY = _nfc(
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
    "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Hoàng Thị", "Nông", "Lương", "Triệu",
)  # fmt: skip
MIDDLE = _nfc("Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quốc", "Thu", "Xuân")
GIVEN = _nfc(
    "An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hùng", "Hương",
    "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phúc", "Quân", "Sơn",
    "Tâm", "Thảo", "Trang", "Tuấn", "Việt", "Yến", "Đông", "Ánh", "Hoà", "Thuỷ",
)  # fmt: skip
ORGANIZATIONS = _nfc(
    "Công ty TNHH Thương mại Đông Á Lạng Sơn",
    "Ngân hàng TMCP Ngoại thương Việt Nam - Chi nhánh Lạng Sơn",
    "Hội Liên hiệp Phụ nữ huyện Cao Lộc",
    "Trường THPT Chu Văn An, TP Lạng Sơn",
    "Công ty Cổ phần Xi măng Đồng Bành",
    "Hợp tác xã Nông nghiệp Hữu Lũng",
    "Chi cục Hải quan cửa khẩu Hữu Nghị",
)
ANONYMOUS = unicodedata.normalize("NFC", "Nhà hảo tâm ẩn danh")
FUNDS = (
    ("QUY-COVID19-LS", "COVID19-2021"),
    ("QUY-VNN-LS", "VNN-TET-2022"),
    ("QUY-CUUTRO-LS", "LULUT-2021"),
)
MOBILIZERS = ("UBMTTQ-TINH-LS", "UBMTTQ-TP-LS", "UBMTTQ-CAO-LOC", "UBMTTQ-HUU-LUNG", None)
AMOUNTS = (50_000, 100_000, 200_000, 300_000, 500_000, 1_000_000, 2_000_000, 5_000_000)
IN_KIND = _nfc("Khẩu trang y tế 4 lớp", "Gạo tẻ", "Nước sát khuẩn", "Mì tôm")
UNITS = _nfc("hộp", "kg", "chai", "thùng")


@dataclass
class BenchLedger:
    """An initialised ledger: the settings it was made with, its database and signing key."""

    settings: Settings
    database: Database
    signer: SigningKey

    def close(self) -> None:
        self.database.dispose()


def make_ledger(folder: Path) -> BenchLedger:
    settings = Settings.load(
        {
            "LEDGER_INSTANCE_DIR": str(folder / "instance"),
            "LEDGER_DATABASE_URL": f"sqlite:///{folder / 'instance' / 'ledger.sqlite3'}",
            "LEDGER_ORIGIN": ORIGIN,
        },
        environ={},
    )
    database = Database(settings.database_url)
    init_ledger(settings, database)
    signer = SigningKey.load(settings.signing_key_file, settings.origin)
    return BenchLedger(settings, database, signer)


def _donor(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.15:
        return {"display": ANONYMOUS, "type": "individual", "anonymous": True}
    if roll < 0.3:
        return {"display": rng.choice(ORGANIZATIONS), "type": "organization", "anonymous": False}
    name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
    return {"display": name, "type": "individual", "anonymous": False}


def contribution(rng: random.Random, index: int) -> Draft:
    """A contribution as a writer would post it, with the receipt ID the server fills in."""
    fund, campaign = rng.choice(FUNDS)
    channel = rng.choices(("bank", "cash", "in_kind"), weights=(70, 25, 5))[0]
    amount = rng.choice(AMOUNTS) * rng.choice((1, 1, 1, 2, 10, 100))
    body: dict[str, Any] = {
        "fund": fund,
        "amount": amount,
        "currency": "VND",
        "channel": channel,
        "donor": _donor(rng),
        "mobilizer": rng.choice(MOBILIZERS),
        "receipt_id": f"LS-2021-{index:08d}",
        "campaign": campaign,
    }
    if channel == "bank":
        body["reference"] = f"FT21{rng.randrange(10**10):010d}"
    elif channel == "in_kind":
        body["in_kind"] = {
            "description": rng.choice(IN_KIND),
            "quantity": rng.randrange(1, 500),
            "unit": rng.choice(UNITS),
        }
    return Draft("contribution", body, rng.choice(ACTORS))


def contributions(rng: random.Random, start: int, count: int) -> list[Draft]:
    return [contribution(rng, start + offset) for offset in range(count)]
