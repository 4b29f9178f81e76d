"""What ``ledger demo`` invents, and from what: places, organisations, names, goods.

Places and member organisations are real (Lạng Sơn's province, its eleven
district-level units before the 2025 reorganisation, a few of their communes); the
donors, beneficiaries, phone, ID and account numbers and amounts that ``Inventor``
draws from these lists are invented. Nothing here is a real person's data.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class Place:
    """A unit of the Front's committee tree.

    ``short`` prefixes fund, campaign and memo codes; ``bank_bin`` is the bank that
    holds the unit's 2021 campaign account; ``weight`` is its share of the gifts.
    """

    code: str
    name: str
    level: str
    short: str = ""
    parent: str | None = None
    bank_bin: str = "970405"
    weight: int = 0

    @property
    def lower(self) -> str:
        """The name as it reads inside a sentence: "huyện Cao Lộc", "tỉnh Lạng Sơn"."""
        return self.name[:1].lower() + self.name[1:]


PROVINCE = Place("LS", "Tỉnh Lạng Sơn", "province", "LS", bank_bin="970436", weight=30)

DISTRICTS = (
    Place("LS-TP", "Thành phố Lạng Sơn", "district", "TP", "LS", "970418", 16),
    Place("LS-CL", "Huyện Cao Lộc", "district", "CL", "LS", "970405", 9),
    Place("LS-VL", "Huyện Văn Lãng", "district", "VL", "LS", "970405", 5),
    Place("LS-TD", "Huyện Tràng Định", "district", "TD", "LS", "970405", 5),
    Place("LS-BG", "Huyện Bình Gia", "district", "BG", "LS", "970405", 4),
    Place("LS-VQ", "Huyện Văn Quan", "district", "VQ", "LS", "970415", 4),
    Place("LS-BS", "Huyện Bắc Sơn", "district", "BS", "LS", "970405", 5),
    Place("LS-HL", "Huyện Hữu Lũng", "district", "HL", "LS", "970418", 8),
    Place("LS-CHL", "Huyện Chi Lăng", "district", "CHL", "LS", "970405", 6),
    Place("LS-LB", "Huyện Lộc Bình", "district", "LB", "LS", "970415", 6),
    Place("LS-DL", "Huyện Đình Lập", "district", "DL", "LS", "970405", 2),
)

COMMUNES = (
    Place("LS-TP-VT", "Phường Vĩnh Trại", "commune", parent="LS-TP"),
    Place("LS-CL-TTCL", "Thị trấn Cao Lộc", "commune", parent="LS-CL"),
    Place("LS-CL-TTDD", "Thị trấn Đồng Đăng", "commune", parent="LS-CL"),
    Place("LS-CL-HT", "Xã Hợp Thành", "commune", parent="LS-CL"),
    Place("LS-VL-NS", "Thị trấn Na Sầm", "commune", parent="LS-VL"),
    Place("LS-VL-TT", "Xã Tân Thanh", "commune", parent="LS-VL"),
)

RESIDENTIAL_AREAS = (
    Place("LS-CL-TTCL-K3", "Khu dân cư Khối 3", "residential_area", parent="LS-CL-TTCL"),
    Place("LS-TP-VT-K5", "Khu dân cư Khối 5", "residential_area", parent="LS-TP-VT"),
)

# The Front's member organisations that mobilise gifts in every province and district:
# (code suffix, name before the place).
MEMBER_ORGANISATIONS = (
    ("HLHPN", "Hội Liên hiệp Phụ nữ"),
    ("DTN", "Đoàn Thanh niên Cộng sản Hồ Chí Minh"),
    ("HND", "Hội Nông dân"),
    ("HCCB", "Hội Cựu chiến binh"),
    ("LDLD", "Liên đoàn Lao động"),
)

# Volunteers who mobilise on their own account: (code, full name, unit).
INDIVIDUAL_MOBILISERS = (
    ("LS-CTV-01", "Hoàng Thị Thu Hà", "LS"),
    ("LS-CL-CTV-01", "Nông Văn Quyết", "LS-CL"),
    ("LS-TP-CTV-01", "Lương Thị Minh Nguyệt", "LS-TP"),
    ("LS-HL-CTV-01", "Vi Đức Thắng", "LS-HL"),
)

# Common family names in Lạng Sơn, Kinh, Tày and Nùng alike.
FAMILY_NAMES = (
    "Nguyễn", "Hoàng", "Nông", "Lương", "Vi", "Lăng", "Trần", "Lê", "Phạm", "Hà",
    "Chu", "Bế", "Triệu", "Lộc", "Mã", "Đàm", "Lục", "Hứa", "Đinh", "Dương",
    "Vũ", "Đỗ", "Ngô", "Lý", "Tô",
)  # fmt: skip
MIDDLE_NAMES = {
    "male": ("Văn", "Đức", "Minh", "Quang", "Xuân", "Thanh", "Hữu", "Tiến", "Công", "Văn"),
    "female": ("Thị", "Thu", "Thị Thu", "Hồng", "Ngọc", "Thị Minh", "Thanh", "Thị"),
}
GIVEN_NAMES = {
    "male": (
        "Hùng", "Thắng", "Tuấn", "Dũng", "Nam", "Sơn", "Hải", "Cường", "Bình", "Phúc",
        "Quyết", "Long", "Trung", "Kiên", "Tùng", "Đông", "Hưng", "Lâm", "Khánh", "Vinh",
    ),
    "female": (
        "Hoa", "Lan", "Hương", "Mai", "Linh", "Thảo", "Hạnh", "Nga", "Hằng", "Yến",
        "Nhung", "Thủy", "Huyền", "Dung", "Phương", "Trang", "Liên", "Xuân", "Vân", "Hiền",
    ),
}  # fmt: skip

ORGANISATIONS = (
    "Công ty TNHH Thương mại Hoàng Long Lạng Sơn",
    "Công ty Cổ phần Vận tải Đồng Đăng",
    "Công ty TNHH Xuất nhập khẩu Tân Thanh",
    "Công ty Cổ phần Xây dựng Mẫu Sơn",
    "Công ty TNHH Nông sản Bắc Sơn",
    "Công ty Cổ phần Du lịch Mẫu Sơn",
    "Công ty TNHH Dịch vụ Logistics Hữu Nghị",
    "Công ty Cổ phần Vật liệu xây dựng Chi Lăng",
    "Công ty TNHH Thương mại Kỳ Lừa",
    "Công ty TNHH Chế biến lâm sản Đình Lập",
    "Công ty Cổ phần Dược phẩm Xứ Lạng",
    "Công ty TNHH Một thành viên Xăng dầu Bắc Sơn",
    "Doanh nghiệp tư nhân Minh Khai",
    "Trường THPT Việt Bắc",
    "Trường THPT Chuyên Chu Văn An",
    "Trường Tiểu học Hoàng Văn Thụ",
    "Trường THCS thị trấn Cao Lộc",
    "Trường Mầm non Hoa Sen",
    "Hợp tác xã Na Chi Lăng",
    "Hợp tác xã Hồi Văn Quan",
    "Hợp tác xã Rau an toàn Hợp Thành",
    "Hợp tác xã Hồng không hạt Bảo Lâm",
    "Hợp tác xã Dịch vụ nông nghiệp Hữu Lũng",
    "Cán bộ, công chức, viên chức Sở Tài chính",
    "Cán bộ, công chức, viên chức Sở Giáo dục và Đào tạo",
    "Cán bộ, chiến sĩ Công an huyện Văn Lãng",
    "Hội Doanh nhân trẻ tỉnh Lạng Sơn",
    "Hiệp hội Doanh nghiệp tỉnh Lạng Sơn",
    "Tiểu thương chợ Đông Kinh",
    "Tập thể giáo viên, nhân viên Trường THCS Chi Lăng",
)

# Goods given in kind: (description, unit, price per unit in đồng, smallest and largest
# quantity). Valued at the market price on the day received, or at the donor's invoice.
IN_KIND_GOODS = (
    ("Gạo tẻ", "kg", 14_000, 100, 3_000),
    ("Khẩu trang y tế 4 lớp (hộp 50 chiếc)", "hộp", 45_000, 10, 500),
    ("Bình ô xy y tế 40 lít kèm van và đồng hồ", "bình", 4_500_000, 1, 10),
    ("Máy đo nồng độ ô xy trong máu (SpO2)", "chiếc", 450_000, 5, 50),
    ("Dung dịch sát khuẩn tay nhanh, chai 500 ml", "chai", 60_000, 20, 500),
    ("Bộ quần áo phòng hộ cá nhân", "bộ", 120_000, 20, 500),
    ("Rau, củ, quả các loại", "kg", 10_000, 100, 2_000),
    ("Mì ăn liền", "thùng", 100_000, 10, 200),
)
VALUATIONS = (
    "theo giá thị trường tại thời điểm tiếp nhận",
    "theo hóa đơn mua hàng của nhà tài trợ",
    "theo biên bản định giá của Ban Vận động",
)

# Cash amounts, skewed small: (amount in đồng, weight).
INDIVIDUAL_AMOUNTS = (
    (50_000, 10), (100_000, 18), (200_000, 18), (300_000, 10), (500_000, 18),
    (1_000_000, 12), (2_000_000, 6), (3_000_000, 3), (5_000_000, 3),
    (10_000_000, 2), (20_000_000, 1),
)  # fmt: skip
ORGANISATION_AMOUNTS = (
    (1_000_000, 5), (2_000_000, 8), (5_000_000, 15), (10_000_000, 20), (20_000_000, 15),
    (30_000_000, 8), (50_000_000, 12), (100_000_000, 8), (200_000_000, 4),
    (300_000_000, 2), (500_000_000, 1),
)  # fmt: skip

# Cash gifts from this amount get a numbered receipt from a receipt book of 50.
RECEIPTED_CASH = 10_000_000
RECEIPTS_PER_BOOK = 50

# When the 2021 gifts arrived: the fourth wave peaked in July to September.
MONTH_WEIGHTS = ((5, 8), (6, 12), (7, 20), (8, 25), (9, 18), (10, 8), (11, 5), (12, 4))

EARMARK_PURPOSES = (
    "Hỗ trợ lực lượng tuyến đầu",
    "Mua vắc xin phòng COVID-19",
    "Hỗ trợ người dân trong khu cách ly",
)

PLAN_2021 = (
    "Cả nước đoàn kết, chung sức, đồng lòng thi đua phòng, chống và chiến thắng đại dịch COVID-19"
)

# Support programmes under Resolution 68/NQ-CP (1 July 2021), which the funds topped
# up: (code, purpose, amounts per person in đồng).
PROGRAMS = (
    (
        "NQ68-LD-TAM-HOAN",
        "Hỗ trợ người lao động tạm hoãn hợp đồng lao động, nghỉ việc không hưởng lương "
        "do dịch COVID-19 (Nghị quyết 68/NQ-CP)",
        (1_855_000, 3_710_000),
    ),
    (
        "NQ68-LD-NGUNG-VIEC",
        "Hỗ trợ người lao động ngừng việc do phải điều trị, cách ly y tế hoặc ở vùng "
        "phong tỏa (Nghị quyết 68/NQ-CP)",
        (1_000_000,),
    ),
    (
        "NQ68-F0-CACH-LY",
        "Hỗ trợ người điều trị COVID-19 (F0) và người cách ly y tế (F1) (Nghị quyết 68/NQ-CP)",
        (1_000_000, 1_120_000, 1_680_000),
    ),
    (
        "NQ68-LD-TU-DO",
        "Hỗ trợ lao động tự do không có giao kết hợp đồng lao động bị mất việc làm "
        "(Nghị quyết 68/NQ-CP)",
        (1_500_000,),
    ),
)

# Where a province's money goes: (beneficiary, purpose).
PROVINCE_BENEFICIARIES = (
    ("Bệnh viện Đa khoa tỉnh Lạng Sơn", "Mua sắm máy thở, monitor và vật tư điều trị COVID-19"),
    ("Trung tâm Kiểm soát bệnh tật tỉnh Lạng Sơn", "Mua sinh phẩm xét nghiệm SARS-CoV-2"),
    ("Bệnh viện Phổi tỉnh Lạng Sơn", "Hỗ trợ khu điều trị bệnh nhân COVID-19"),
    (
        "Bộ Chỉ huy Bộ đội Biên phòng tỉnh Lạng Sơn",
        "Hỗ trợ các chốt kiểm soát dịch trên tuyến biên giới",
    ),
    ("Bộ Chỉ huy Quân sự tỉnh Lạng Sơn", "Hỗ trợ các khu cách ly tập trung"),
)
DISTRICT_PURPOSES = (
    "Mua sắm trang thiết bị, vật tư y tế phục vụ phòng, chống dịch",
    "Hỗ trợ các chốt kiểm soát dịch và khu cách ly tập trung",
    "Hỗ trợ lực lượng tuyến đầu tham gia phòng, chống dịch",
)
IN_KIND_PURPOSE = (
    "Cấp phát hàng hóa, vật tư đã tiếp nhận cho khu cách ly tập trung và chốt kiểm soát dịch"
)


def front_committee(place: Place) -> str:
    """``"Ủy ban Mặt trận Tổ quốc Việt Nam huyện Cao Lộc"``: who holds and spends the money."""
    return f"Ủy ban Mặt trận Tổ quốc Việt Nam {place.lower}"


def health_centre(place: Place) -> str:
    return f"Trung tâm Y tế {place.lower}"


def steering_committee(place: Place) -> str:
    """``"Ban Chỉ đạo phòng, chống dịch COVID-19 xã Hợp Thành"``."""
    return f"Ban Chỉ đạo phòng, chống dịch COVID-19 {place.lower}"


# The campaigns open today, by memo tag: (name before the year, purpose).
CURRENT_CAMPAIGNS = {
    "TIEPSUC": (
        "Tiếp sức y tế cơ sở phòng, chống dịch bệnh",
        "Mua trang thiết bị, vật tư y tế cho trạm y tế xã; hỗ trợ người bệnh có hoàn cảnh khó khăn",
    ),
    "VNN": (
        "Chung tay vì người nghèo - Không để ai bị bỏ lại phía sau",
        "Xây dựng, sửa chữa nhà Đại đoàn kết; hỗ trợ sinh kế, học bổng, khám chữa bệnh cho "
        "hộ nghèo, hộ cận nghèo",
    ),
    "CUUTRO": (
        "Ủng hộ đồng bào bị thiệt hại do thiên tai",
        "Hỗ trợ hộ gia đình có người chết, mất tích, nhà bị sập đổ, hư hỏng do bão, lũ, "
        "sạt lở đất; khắc phục hậu quả thiên tai",
    ),
}
# What the campaigns open today pay for first: fund kind → (programme code, purpose).
CURRENT_SPENDING = {
    "poor": ("NHA-DAI-DOAN-KET", "Hỗ trợ xây dựng nhà Đại đoàn kết cho hộ nghèo"),
    "relief": (
        "CUU-TRO-THIEN-TAI",
        "Hỗ trợ hộ gia đình có nhà bị sập đổ, hư hỏng nặng do thiên tai",
    ),
}
TRANSFER_PURPOSE = (
    "Chuyển nộp về Quỹ phòng, chống COVID-19 tỉnh để mua vắc xin theo điều phối "
    "của Ban Vận động tỉnh"
)


@dataclass
class Inventor:
    """Draws invented people, donors and gifts from the lists above: same seed, same draws.

    ``private`` collects every phone and ID number handed out, so that a test can check
    that none of them ever reached a leaf.
    """

    rng: random.Random
    private: list[str] = field(default_factory=list)
    references: set[str] = field(default_factory=set)
    cash_receipts: int = 0

    def weighted(self, table: Sequence[tuple[int, int]]) -> int:
        return self.rng.choices([value for value, _ in table], [weight for _, weight in table])[0]

    def person(self) -> tuple[str, str]:
        """A plausible full name and the gender it reads as."""
        gender = self.rng.choice(("male", "female"))
        family = self.rng.choice(FAMILY_NAMES)
        middle = self.rng.choice(MIDDLE_NAMES[gender])
        return f"{family} {middle} {self.rng.choice(GIVEN_NAMES[gender])}", gender

    def phone(self) -> str:
        number = f"09{self.rng.randrange(10**8):08d}"
        self.private.append(number)
        return number

    def national_id(self, gender: str) -> str:
        """A 12-digit citizen ID number laid out as Lạng Sơn (020) issues them."""
        born_2000s = self.rng.random() < 0.15
        century = (2 if born_2000s else 0) + (gender == "female")
        year = self.rng.randrange(0, 4) if born_2000s else self.rng.randrange(55, 100)
        number = f"020{century}{year:02d}{self.rng.randrange(10**6):06d}"
        self.private.append(number)
        return number

    def bank_reference(self, day: date) -> str:
        """``FT21215…``: a bank's transaction number, unique across the demo."""
        while True:
            reference = f"FT{day:%y}{day.timetuple().tm_yday:03d}{self.rng.randrange(10**8):08d}"
            if reference not in self.references:
                self.references.add(reference)
                return reference

    def cash_receipt(self, day: date) -> str:
        """``BL21-Q03-0125``: the receipt book (quyển) and receipt number of a cash gift.

        Committees write a receipt for every larger cash gift; its number is the gift's
        reference, which outside paperwork can confirm (``large_cash_gift`` asks for one).
        """
        self.cash_receipts += 1
        book, number = divmod(self.cash_receipts - 1, RECEIPTS_PER_BOOK)
        return f"BL{day:%y}-Q{book + 1:02d}-{number + 1:04d}"

    def account(self, holder: str, bank_bin: str) -> dict[str, str]:
        """A committee's account: the number laid out as its bank numbers accounts."""
        prefix, length = {"970436": ("0351000", 13), "970418": ("8310", 14)}.get(
            bank_bin, ("8300" if bank_bin == "970405" else "1040", 13)
        )
        digits = "".join(self.rng.choice("0123456789") for _ in range(length - len(prefix)))
        return {"bank_bin": bank_bin, "number": prefix + digits, "holder": holder}

    def day_2021(self) -> date:
        month = self.weighted(MONTH_WEIGHTS)
        last = (date(2021 + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        return date(2021, month, self.rng.randint(1, last))

    def donor(self, organisation: bool) -> dict[str, Any]:
        rng = self.rng
        anonymous = rng.random() < 0.1
        if organisation:
            donor: dict[str, Any] = {"display": rng.choice(ORGANISATIONS), "type": "organization"}
        else:
            donor = {"display": self.person()[0], "type": "individual"}
            if rng.random() < 0.2:
                donor["contact"] = self.phone()
        if anonymous:
            donor["anonymous"] = True
            if rng.random() < 0.5:
                del donor["display"]  # not even the committee knows who gave
        return donor

    def gift(
        self, fund: str, campaign: str, day: date, mobilisers: Sequence[str]
    ) -> dict[str, Any]:
        """A contribution's data: cash, bank transfer or goods, mostly credited to a mobiliser."""
        rng = self.rng
        organisation = rng.random() < 0.3
        channel = rng.choices(("bank", "cash", "in_kind"), (55, 35, 10))[0]
        data: dict[str, Any] = {
            "fund": fund,
            "campaign": campaign,
            "channel": channel,
            "donor": self.donor(organisation),
            "received_on": day.isoformat(),
        }
        if channel == "in_kind":
            description, unit, price, least, most = rng.choice(IN_KIND_GOODS)
            quantity = rng.randint(least, most)
            valuation = rng.choice(VALUATIONS)
            data["in_kind"] = {
                "description": description,
                "quantity": quantity,
                "unit": unit,
                "valuation": valuation,
            }
            data["amount"] = quantity * price
        else:
            table = ORGANISATION_AMOUNTS if organisation else INDIVIDUAL_AMOUNTS
            data["amount"] = self.weighted(table)
            if rng.random() < 0.08:  # "lộc" amounts: 168.000, 1.386.000 …
                data["amount"] = rng.choice((168_000, 368_000, 686_000, 1_386_000, 8_686_000))
        if channel == "bank":
            data["reference"] = self.bank_reference(day)
        elif channel == "cash" and data["amount"] >= RECEIPTED_CASH and rng.random() < 0.9:
            data["reference"] = self.cash_receipt(day)  # now and then the number is left out
        if mobilisers and rng.random() < 0.8:
            data["mobilizer"] = rng.choice(mobilisers)
        return data

    def earmark(self, place: Place) -> dict[str, str]:
        """A purpose, or a unit below ``place`` that the gift is meant for."""
        units = [c.code for c in COMMUNES if c.parent == place.code]
        if place is PROVINCE:
            units = [district.code for district in DISTRICTS]
        if not units or self.rng.random() < 0.5:
            return {"purpose": self.rng.choice(EARMARK_PURPOSES)}
        return {"unit": self.rng.choice(units)}
