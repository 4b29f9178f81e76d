"""The list of nominations as the board files it: "Danh sách đề nghị khen thưởng".

The usual layout of a Vietnamese administrative list: the committee's name at the
top left, the national motto at the top right, place and date, the title, a table
grouped by form (I, II, III, … in the order of the criteria, highest form first;
collectives before individuals within a form, each by rank) and the signature
block. ``award_list`` gathers the facts once; the CSV, the XLSX workbook and the PDF
(``award_pdf``) only lay them out, so the three never disagree.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.awards import nominations as n
from audit.awards.criteria import COLLECTIVE, Criteria, ListLayout
from ledger.funds.models import CampaignRow, FundRow, UnitRow
from ledger.funds.text import format_vnd

TITLE = "DANH SÁCH ĐỀ NGHỊ KHEN THƯỞNG"
FRONT = "ỦY BAN MTTQ VIỆT NAM"
NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
COLUMNS = (
    "STT",
    "Tên tập thể, cá nhân",
    "Đơn vị",
    "Thành tích: số tiền vận động (đồng)",
    "Thành tích: số nhà hảo tâm",
    "Hình thức đề nghị",
    "Ghi chú",
)
STATE_LABELS = {
    n.PROPOSED: "Đề nghị",
    n.UNDER_REVIEW: "Đang xem xét",
    n.APPROVED: "Đã thông qua",
    n.REJECTED: "Không thông qua",
    n.CONFERRED: "Đã khen thưởng",
    n.FORWARDED: "Đã trình cấp trên",
}
_ROMAN = (
    (1000, "M"),
    (900, "CM"),
    (500, "D"),
    (400, "CD"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
)


@dataclass(frozen=True)
class ListRow:
    number: int
    name: str
    unit: str
    net_amount: int
    donors: int
    in_kind_value: int
    form: str
    note: str

    @property
    def achievement(self) -> str:
        """``Vận động 1.250.000 đồng, 12 nhà hảo tâm``, with goods where there were any."""
        text = f"Vận động {format_vnd(self.net_amount)} đồng, {self.donors} nhà hảo tâm"
        if self.in_kind_value:
            text += f"; hiện vật trị giá {format_vnd(self.in_kind_value)} đồng"
        return text


@dataclass(frozen=True)
class ListGroup:
    numeral: str
    form: str
    rows: tuple[ListRow, ...]

    @property
    def heading(self) -> str:
        return f"{self.numeral}. {self.form}"


@dataclass(frozen=True)
class AwardList:
    """Everything the printed list states."""

    committee: str  # the unit's name, e.g. "Tỉnh Lạng Sơn"
    day: date
    subtitle: str | None
    groups: tuple[ListGroup, ...]
    layout: ListLayout

    @property
    def committee_lines(self) -> tuple[str, str]:
        return FRONT, self.committee.upper()

    @property
    def dated(self) -> str:
        """``Lạng Sơn, ngày 05 tháng 03 năm 2026``."""
        d = self.day
        return f"{self.layout.place}, ngày {d.day:02d} tháng {d.month:02d} năm {d.year}"

    @property
    def rows(self) -> Iterator[ListRow]:
        for group in self.groups:
            yield from group.rows


def roman(number: int) -> str:
    found = []
    for value, letters in _ROMAN:
        while number >= value:
            found.append(letters)
            number -= value
    return "".join(found)


def note_of(nomination: n.Nomination) -> str:
    """The state in Vietnamese, goods given, the decision that made it, and the ID."""
    parts = [STATE_LABELS.get(nomination.state, nomination.state)]
    goods = int(nomination.body["figures"]["in_kind_value"])
    if goods:
        parts.append(f"kèm hiện vật trị giá {format_vnd(goods)} đồng")
    decided = next((t.decision for t in reversed(nomination.history) if t.decision), None)
    if decided:
        year, month, day = str(decided["date"]).split("-")
        parts.append(f"QĐ số {decided['number']} ngày {day}/{month}/{year}")
    parts.append(f"Mã {nomination.id}")
    return "; ".join(parts)


def award_list(
    session: Session,
    criteria: Criteria,
    chosen: Sequence[n.Nomination],
    *,
    day: date,
    campaign: str | None = None,
) -> AwardList:
    """The list of ``chosen`` nominations, headed by the committee that runs ``campaign``."""
    units: dict[str, str] = dict(session.execute(select(UnitRow.code, UnitRow.name)).all())
    order = {form.code: position for position, form in enumerate(criteria.forms)}
    by_form: dict[str, list[n.Nomination]] = {}
    for nomination in chosen:
        by_form.setdefault(nomination.form, []).append(nomination)
    groups = []
    forms = sorted(by_form, key=lambda code: (order.get(code, len(order)), code))
    for number, code in enumerate(forms, start=1):
        members = sorted(
            by_form[code],
            key=lambda m: (m.body["awardee"]["type"] != COLLECTIVE, m.body["rank"], m.index),
        )
        rows = tuple(
            ListRow(
                number=position,
                name=m.body["awardee"]["name"],
                unit=units.get(m.body["awardee"]["unit"], m.body["awardee"]["unit"]),
                net_amount=int(m.body["figures"]["net_amount"]),
                donors=int(m.body["figures"]["donors"]),
                in_kind_value=int(m.body["figures"]["in_kind_value"]),
                form=m.body["form"]["name"],
                note=note_of(m),
            )
            for position, m in enumerate(members, start=1)
        )
        groups.append(ListGroup(roman(number), members[0].body["form"]["name"], rows))
    committee, subtitle = _committee(session, units, campaign)
    return AwardList(committee, day, subtitle, tuple(groups), criteria.layout)


def _committee(
    session: Session, units: dict[str, str], campaign: str | None
) -> tuple[str, str | None]:
    """The unit whose Front committee runs ``campaign`` (else the top unit), and a subtitle."""
    found = session.get(CampaignRow, campaign) if campaign else None
    if found is not None:
        fund = session.get(FundRow, found.fund)
        unit = units.get(fund.unit, fund.unit) if fund else ""
        return unit, f"Thành tích trong cuộc vận động “{found.name}”"
    top = session.scalars(
        select(UnitRow.name).where(UnitRow.parent.is_(None)).order_by(UnitRow.code).limit(1)
    ).first()
    return top or "", None


def listed(
    session: Session,
    criteria: Criteria,
    *,
    day: date,
    campaign: str | None = None,
    state: str | None = None,
    form: str | None = None,
) -> AwardList:
    """The list under the filters given; rejected nominations only when asked for by state.

    A rejected nomination is no longer proposed, so it has no place on a list of
    proposals unless the reader asks for the rejected ones.
    """
    found = n.select_nominations(n.load(session), campaign=campaign, state=state, form=form)
    if state is None:
        found = [nomination for nomination in found if nomination.standing]
    return award_list(session, criteria, found, day=day, campaign=campaign)


# -- CSV and XLSX --------------------------------------------------------------------------


def csv_items(listed: AwardList) -> Iterator[dict[str, object]]:
    """One row per nomination, keyed by ``COLUMNS`` (for ``public_api.csv_export``)."""
    for row in listed.rows:
        yield dict(
            zip(
                COLUMNS,
                (row.number, row.name, row.unit, row.net_amount, row.donors, row.form, row.note),
                strict=True,
            )
        )


_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WIDTHS = (6, 36, 22, 20, 14, 34, 40)


def xlsx(listed: AwardList) -> bytes:
    """The list as an Excel workbook: the same layout, amounts as numbers."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet  # noqa: S101
    sheet.title = "Danh sách"
    for column, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    bold, centred = (
        Font(bold=True),
        Alignment(horizontal="center", vertical="center", wrap_text=True),
    )

    def banner(row: int, first: int, last: int, text: str, *, strong: bool = False) -> None:
        sheet.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
        cell = sheet.cell(row=row, column=first, value=text)
        cell.alignment = centred
        if strong:
            cell.font = bold

    front, unit = listed.committee_lines
    banner(1, 1, 3, front)
    banner(1, 4, 7, NATION, strong=True)
    banner(2, 1, 3, unit, strong=True)
    banner(2, 4, 7, MOTTO, strong=True)
    banner(4, 4, 7, listed.dated)
    banner(6, 1, 7, TITLE, strong=True)
    if listed.subtitle:
        banner(7, 1, 7, listed.subtitle)
    top = 9
    for column, text in ((1, "STT"), (2, COLUMNS[1]), (3, COLUMNS[2]), (6, COLUMNS[5])):
        sheet.merge_cells(start_row=top, start_column=column, end_row=top + 1, end_column=column)
        sheet.cell(row=top, column=column, value=text)
    sheet.merge_cells(start_row=top, start_column=7, end_row=top + 1, end_column=7)
    sheet.cell(row=top, column=7, value=COLUMNS[6])
    sheet.merge_cells(start_row=top, start_column=4, end_row=top, end_column=5)
    sheet.cell(row=top, column=4, value="Thành tích")
    sheet.cell(row=top + 1, column=4, value="Số tiền vận động (đồng)")
    sheet.cell(row=top + 1, column=5, value="Số nhà hảo tâm")
    for row in (top, top + 1):
        for column in range(1, 8):
            cell = sheet.cell(row=row, column=column)
            cell.font, cell.alignment, cell.border = bold, centred, _BOX
    line = top + 2
    for group in listed.groups:
        sheet.merge_cells(start_row=line, start_column=1, end_row=line, end_column=7)
        sheet.cell(row=line, column=1, value=group.heading).font = bold
        for column in range(1, 8):
            sheet.cell(row=line, column=column).border = _BOX
        line += 1
        for item in group.rows:
            values = (
                item.number,
                item.name,
                item.unit,
                item.net_amount,
                item.donors,
                item.form,
                item.note,
            )
            for column, value in enumerate(values, start=1):
                cell = sheet.cell(row=line, column=column, value=value)
                cell.border = _BOX
                cell.alignment = Alignment(vertical="top", wrap_text=True)
                if column in (4, 5):
                    cell.number_format = "#,##0"
            line += 1
    line += 1
    banner(line, 4, 7, listed.layout.signer_title, strong=True)
    banner(line + 1, 4, 7, listed.layout.signer_role, strong=True)
    sheet.cell(row=line, column=1, value="Nơi nhận:").font = bold
    sheet.cell(row=line + 1, column=1, value="- Như trên;")
    sheet.cell(row=line + 2, column=1, value="- Lưu VT.")
    sheet.print_title_rows = f"{top}:{top + 1}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
