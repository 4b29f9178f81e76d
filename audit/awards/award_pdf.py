"""The printable list of nominations: A4 landscape, in the usual Vietnamese layout.

Two columns of header (the Front committee on the left; the national name and motto
on the right, over place and date), the title, the table (two heading rows: the
achievement column splits into the amount mobilised and the number of donors), one
row per form group, then the signature block. DejaVu Sans carries every Vietnamese
letter; the PDF core fonts do not.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from audit.awards.exports import MOTTO, NATION, TITLE, AwardList
from ledger.funds.recorder import VIETNAM
from ledger.funds.text import format_vnd
from ledger.receipt_pdf import BOLD, REGULAR

_WIDTHS = (12, 62, 40, 40, 24, 50, 49)  # mm, 277 in all: A4 landscape less 10 mm margins


class _Page(FPDF):
    def __init__(self, fonts: Path, created: datetime) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.add_font("DejaVu", "", str(fonts / REGULAR))
        self.add_font("DejaVu", "B", str(fonts / BOLD))
        self.set_creation_date(created.astimezone(UTC))
        self.set_lang("vi")
        self.set_margins(10, 10, 10)
        self.set_auto_page_break(auto=True, margin=12)
        self.add_page()

    def write_line(
        self, text: str, size: float, *, bold: bool = False, x: float = 0, w: float = 0
    ) -> None:
        self.set_font("DejaVu", "B" if bold else "", size)
        self.set_x(self.l_margin + x)
        self.multi_cell(w, size * 0.5, text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def render(listed: AwardList, fonts: Path) -> bytes:
    """The list as PDF bytes; ``fonts`` is the folder holding the DejaVu Sans files."""
    created = datetime.combine(listed.day, time(8, 0), tzinfo=VIETNAM)
    pdf = _Page(fonts, created)
    pdf.set_title(TITLE.capitalize())
    pdf.set_subject(f"{TITLE} - {listed.committee}")
    left, right = 100.0, pdf.epw - 110.0
    top = pdf.get_y()
    front, unit = listed.committee_lines
    pdf.write_line(front, 10, w=left)
    pdf.write_line(unit, 10, bold=True, w=left)
    pdf.write_line("———", 8, w=left)
    pdf.set_y(top)
    pdf.write_line(NATION, 10, bold=True, x=110, w=right)
    pdf.write_line(MOTTO, 10, bold=True, x=110, w=right)
    pdf.write_line("———", 8, x=110, w=right)
    pdf.ln(2)
    pdf.write_line(listed.dated, 10, x=110, w=right)
    pdf.ln(4)
    pdf.write_line(TITLE, 14, bold=True)
    if listed.subtitle:
        pdf.write_line(listed.subtitle, 10)
    pdf.ln(4)
    _table(pdf, listed)
    pdf.ln(6)
    _signature(pdf, listed)
    return bytes(pdf.output())


def _table(pdf: _Page, listed: AwardList) -> None:
    pdf.set_font("DejaVu", "", 9)
    heading = FontFace(emphasis="BOLD")
    with pdf.table(
        col_widths=_WIDTHS,
        width=sum(_WIDTHS),
        num_heading_rows=2,
        headings_style=heading,
        line_height=5,
        text_align=("CENTER", "LEFT", "LEFT", "RIGHT", "RIGHT", "LEFT", "LEFT"),
        borders_layout=TableBordersLayout.ALL,
        padding=1,
        v_align="TOP",
    ) as table:
        first = table.row()
        first.cell("STT", rowspan=2, align=Align.C)
        first.cell("Tên tập thể, cá nhân", rowspan=2, align=Align.C)
        first.cell("Đơn vị", rowspan=2, align=Align.C)
        first.cell("Thành tích", colspan=2, align=Align.C)
        first.cell("Hình thức đề nghị", rowspan=2, align=Align.C)
        first.cell("Ghi chú", rowspan=2, align=Align.C)
        second = table.row()
        second.cell("Số tiền vận động (đồng)", align=Align.C)
        second.cell("Số nhà hảo tâm", align=Align.C)
        for group in listed.groups:
            table.row().cell(group.heading, colspan=7, style=heading, align=Align.L)
            for item in group.rows:
                row = table.row()
                row.cell(str(item.number))
                row.cell(item.name)
                row.cell(item.unit)
                row.cell(format_vnd(item.net_amount))
                row.cell(format_vnd(item.donors))
                row.cell(item.form)
                row.cell(item.note)
        if not listed.groups:
            table.row().cell("Không có đề nghị nào.", colspan=7, align=Align.C)


def _signature(pdf: _Page, listed: AwardList) -> None:
    top = pdf.get_y()
    pdf.set_font("DejaVu", "B", 9)
    pdf.cell(0, 5, "Nơi nhận:", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 8)
    for line in ("- Như trên;", "- Lưu VT."):
        pdf.cell(0, 4, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(top)
    right = pdf.epw - 150.0
    pdf.write_line(listed.layout.signer_title, 10, bold=True, x=150, w=right)
    pdf.write_line(listed.layout.signer_role, 10, bold=True, x=150, w=right)
