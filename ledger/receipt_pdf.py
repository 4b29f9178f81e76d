"""The printable receipt: one A5 page in Vietnamese that a donor can file or frame.

The page states only what never changes once the gift is logged (the leaf's facts,
the first checkpoint covering it, the key that signed that checkpoint), so the same
receipt always gives the same bytes and the PDF can be cached for good. Whether the
gift was later reversed, and where the money went, change over time: the receipt
page shows those, and the QR code printed here opens it.

What a receipt shows of the donor is the leaf's ``display`` and nothing else: the
anonymous label for an anonymous donor, never a private fact.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy.orm import Session

from ledger import qr, receipt_ids
from ledger.funds.models import CampaignRow, FundRow, MobilizerRow
from ledger.funds.recorder import VIETNAM
from ledger.funds.text import format_vnd
from ledger.funds.words import in_words
from ledger.receipts import Receipt

CHANNELS = {
    "bank": ("Chuyển khoản", "Bank transfer"),
    "cash": ("Tiền mặt", "Cash"),
    "in_kind": ("Hiện vật", "In kind"),
}
A5 = (148, 210)  # mm, ISO 216: 419.53 x 595.28 pt
REGULAR = "DejaVuSans.ttf"
BOLD = "DejaVuSans-Bold.ttf"


def money(amount: int) -> str:
    """``1250000`` → ``"1.250.000 ₫"``."""
    return f"{format_vnd(amount)} ₫"


def local_time(moment: datetime) -> str:
    """A UTC time as a Vietnamese reader expects it: ``dd/mm/yyyy HH:MM``, Vietnam's zone."""
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


def day(iso_date: str) -> str:
    """``"2026-03-05"`` → ``"05/03/2026"``."""
    year, month, date = iso_date.split("-")
    return f"{date}/{month}/{year}"


@dataclass(frozen=True)
class ReceiptFacts:
    """What a receipt states, from the leaf and the public registry of funds."""

    receipt_id: str
    index: int
    amount: int
    fund: str
    fund_name: str
    campaign: str | None
    campaign_name: str | None
    donor: str
    donor_type: str
    channel: str
    received_on: str | None
    recorded_at: datetime
    mobilizer: str | None
    mobilizer_name: str | None
    in_kind: dict[str, Any] | None
    origin: str
    leaf_hash: str
    tree_size: int
    key_id: str
    verifier_key: str
    receipt_url: str
    reversal_index: int | None

    @property
    def grouped_id(self) -> str:
        return receipt_ids.grouped(self.receipt_id)

    @property
    def channel_label(self) -> tuple[str, str]:
        return CHANNELS.get(self.channel, (self.channel, self.channel))

    @property
    def goods(self) -> str | None:
        return goods_text(self.in_kind) if self.in_kind else None

    @property
    def amount_in_words(self) -> str:
        return in_words(self.amount)


def facts_of(session: Session, receipt: Receipt) -> ReceiptFacts:
    body = receipt.entry.body
    fund = session.get(FundRow, body["fund"])
    campaign = session.get(CampaignRow, body["campaign"]) if body.get("campaign") else None
    mobilizer = session.get(MobilizerRow, body["mobilizer"]) if body.get("mobilizer") else None
    donor = body.get("donor") or {}
    return ReceiptFacts(
        receipt_id=receipt.receipt_id,
        index=receipt.entry.index,
        amount=int(body["amount"]),
        fund=body["fund"],
        fund_name=fund.name if fund else body["fund"],
        campaign=body.get("campaign"),
        campaign_name=campaign.name if campaign else body.get("campaign"),
        donor=str(donor.get("display", "")),
        donor_type=str(donor.get("type", "")),
        channel=str(body.get("channel", "")),
        received_on=body.get("received_on"),
        recorded_at=receipt.entry.time,
        mobilizer=body.get("mobilizer"),
        mobilizer_name=mobilizer.name if mobilizer else body.get("mobilizer"),
        in_kind=body.get("in_kind"),
        origin=receipt.verifier_key.name,
        leaf_hash=receipt.entry.leaf_hash.hex(),
        tree_size=receipt.tree_size,
        key_id=receipt.verifier_key.key_id_hex,
        verifier_key=str(receipt.verifier_key),
        receipt_url=receipt.receipt_url,
        reversal_index=receipt.reversal_index,
    )


class _Page(FPDF):
    """A5 portrait with the Unicode fonts Vietnamese needs (the PDF core fonts lack it)."""

    def __init__(self, fonts: Path, created: datetime) -> None:
        super().__init__(orientation="P", unit="mm", format=A5)
        self.add_font("DejaVu", "", str(fonts / REGULAR))
        self.add_font("DejaVu", "B", str(fonts / BOLD))
        self.set_creation_date(created.astimezone(UTC))
        self.set_lang("vi")
        self.set_margins(12, 10, 12)
        self.set_auto_page_break(auto=True, margin=10)
        self.add_page()

    def text_line(self, text: str, size: float, *, bold: bool = False, align: str = "C") -> None:
        self.set_font("DejaVu", "B" if bold else "", size)
        self.multi_cell(0, size * 0.45, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def row(self, label: tuple[str, str], value: str, *, bold: bool = False) -> None:
        """One fact: the Vietnamese label over its English one, the value beside them."""
        top = self.get_y()
        label_width = 40
        self.set_font("DejaVu", "B", 8)
        self.multi_cell(label_width, 3.6, label[0], new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_font("DejaVu", "", 6.5)
        self.set_text_color(90, 90, 90)
        self.multi_cell(label_width, 3, label[1], new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        label_bottom = self.get_y()
        self.set_xy(self.l_margin + label_width, top)
        self.set_font("DejaVu", "B" if bold else "", 9.5 if bold else 8.5)
        self.multi_cell(0, 4.2, value, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_y(max(self.get_y(), label_bottom) + 1.2)


def render(facts: ReceiptFacts, fonts: Path) -> bytes:
    """The receipt as PDF bytes; ``fonts`` is the folder holding the DejaVu Sans files."""
    pdf = _Page(fonts, facts.recorded_at)
    pdf.set_title(f"Biên nhận ủng hộ {facts.grouped_id}")
    pdf.set_subject(f"Donation receipt {facts.grouped_id}, entry {facts.index} of {facts.origin}")
    pdf.set_creator(facts.origin)

    pdf.text_line("BIÊN NHẬN ỦNG HỘ", 15, bold=True)
    pdf.text_line("Donation receipt", 9)
    pdf.ln(1)
    pdf.text_line(facts.fund_name, 9, bold=True)
    pdf.ln(1.5)

    size = 38.0
    pdf.image(
        io.BytesIO(qr.png(facts.receipt_url, box_size=10, border=2)),
        x=(pdf.w - size) / 2,
        w=size,
        h=size,
        alt_text=f"QR: {facts.receipt_url}",
    )
    pdf.text_line("Quét để xem và xác minh / Scan to view and verify", 7)
    pdf.ln(2)

    pdf.row(("Mã biên nhận", "Receipt ID"), facts.grouped_id, bold=True)
    pdf.row(("Số tiền", "Amount"), money(facts.amount), bold=True)
    pdf.row(("Bằng chữ", "In words"), facts.amount_in_words)
    if facts.in_kind:
        pdf.row(("Hiện vật", "In kind"), goods_text(facts.in_kind))
    pdf.row(("Quỹ", "Fund"), f"{facts.fund_name} ({facts.fund})")
    if facts.campaign:
        pdf.row(("Cuộc vận động", "Campaign"), f"{facts.campaign_name} ({facts.campaign})")
    pdf.row(("Nhà hảo tâm", "Donor"), facts.donor)
    pdf.row(("Hình thức", "Channel"), " / ".join(facts.channel_label))
    if facts.mobilizer:
        pdf.row(("Đơn vị vận động", "Mobiliser"), str(facts.mobilizer_name))
    if facts.received_on:
        pdf.row(("Ngày nhận", "Received on"), day(facts.received_on))
    pdf.row(
        ("Thời điểm ghi sổ", "Recorded at"),
        f"{local_time(facts.recorded_at)} (giờ Việt Nam / Vietnam time)",
    )
    pdf.row(("Mục số", "Entry index"), f"#{facts.index}")
    pdf.row(("Mã băm của mục", "Leaf hash"), f"{facts.leaf_hash[:32]}\n{facts.leaf_hash[32:]}")
    pdf.row(
        ("Điểm kiểm tra", "Checkpoint"),
        f"Cây {facts.tree_size} mục / tree size {facts.tree_size}; khóa / key ID {facts.key_id}",
    )

    pdf.ln(1)
    pdf.set_draw_color(150, 150, 150)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(1.5)
    pdf.text_line(
        "Cách xác minh: quét mã QR hoặc mở địa chỉ dưới đây; trang biên nhận tự kiểm tra "
        "mục này trong sổ cái và chữ ký của điểm kiểm tra. Có thể kiểm tra không cần mạng "
        f"bằng tệp .tlog-proof: ledger verify-receipt TỆP --key {facts.verifier_key}",
        6.5,
        align="L",
    )
    pdf.text_line(
        "How to verify: scan the QR code or open the address below; the receipt page checks "
        "this entry against the ledger and the checkpoint's signature. Offline: download the "
        ".tlog-proof file and run ledger verify-receipt FILE --key <the key above>.",
        6,
        align="L",
    )
    pdf.ln(0.5)
    pdf.text_line(facts.receipt_url, 7, bold=True, align="L")
    return bytes(pdf.output())


def quantity(value: int | str) -> str:
    """A quantity as Vietnamese writes it: ``2500`` → ``"2.500"``, ``"2.5"`` → ``"2,5"``.

    Leaves hold a fractional quantity as a decimal string with a point (no floats).
    """
    whole, _point, fraction = str(value).partition(".")
    grouped = format_vnd(int(whole))
    return f"{grouped},{fraction}" if fraction else grouped


def goods_text(goods: dict[str, Any]) -> str:
    """``Khẩu trang y tế, 1.000 hộp``: what the gift was, and how much of it."""
    parts = [str(goods.get("description", ""))]
    if goods.get("quantity") is not None:
        parts.append(f"{quantity(goods['quantity'])} {goods.get('unit', '')}".strip())
    return ", ".join(part for part in parts if part)
