"""The pages of a fund (``/quy/<code>``), a campaign (``/chien-dich/<code>``) and a unit
(``/don-vi/<code>``, with the units below it): balances, gifts, allocations and charts.

The figures are those of the public API (``/api/v1/funds``, ``/campaigns``, ``/units``),
read by the same core functions, so a reader can check one against the other. The
long lists are paged by key, newest first, like the API's: ``after`` for the gifts and
``allocations_after`` for the allocations, each the index of the last item seen, so a
page over thousands of gifts reads one page of them and never the rest. An unknown
code is a 404 page in the site's layout, not the API's JSON error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.orm import Session

from ledger import log
from ledger.errors import NotFoundError
from ledger.funds import listing, queries, state, timeline
from ledger.funds.recorder import today_in_vietnam
from ledger.receipt_pdf import money
from public_api import charts
from public_api.database import session, settings
from public_api.i18n import current_language, page_url
from public_api.pages.common import blueprint
from public_api.schemas import MAX_INDEX

blp = blueprint("pages_funds")

GIFTS_PER_PAGE = 20
ALLOCATIONS_PER_PAGE = 10
PAGING = ("after", "allocations_after")  # one key per paged list of a page

Answer = str | tuple[str, int]


# -- figures: a chart and the table of the same amounts -----------------------------------


@dataclass(frozen=True)
class Figure:
    """A chart with its figures: ``rows`` of (label, amounts), one amount per column."""

    key: str
    title: str
    svg: Markup
    label_header: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[int, ...]], ...]
    totals: tuple[int, ...] | None


def _short(amount: int) -> str:
    return charts.compact(amount, current_language())


def _period_label(period: timeline.Period, step: timeline.Step) -> str:
    if step == "week":
        return period.starts.strftime("%d/%m/%Y")
    if step == "month":
        return period.starts.strftime("%m/%Y")
    return str(period.starts.year)


def flow_figure(flows: timeline.Timeline, key: str, whose: str) -> Figure:
    """Money in and out of ``whose`` (a fund's name, "the ledger") per period."""
    headers = {
        "week": _("Tuần (từ thứ Hai)"),
        "month": _("Tháng"),
        "year": _("Năm"),
    }
    labels = [_period_label(period, flows.step) for period in flows.periods]
    money_in = tuple(period.money_in for period in flows.periods)
    money_out = tuple(period.money_out for period in flows.periods)
    series = (
        charts.Series(_("Tiền ủng hộ nhận được"), "in", money_in),
        charts.Series(_("Tiền đã chi cho người thụ hưởng"), "out", money_out),
    )
    title = _("Tiền vào và tiền ra theo thời gian: %(whose)s", whose=whose)
    if labels:
        description = _(
            "Tiền mặt và chuyển khoản nhận được, và tiền đã chi, từ %(first)s đến %(last)s: "
            "tổng nhận %(received)s, tổng chi %(paid)s. Bảng bên dưới ghi đủ các số liệu.",
            first=labels[0],
            last=labels[-1],
            received=money(flows.money_in),
            paid=money(flows.money_out),
        )
    else:
        description = _("Chưa có khoản tiền nào được nhận hay chi.")
    svg = charts.grouped_bars(
        key=key,
        title=title,
        description=description,
        labels=labels,
        series=series,
        short=_short,
        full=money,
        empty=_("Chưa có số liệu."),
    )
    return Figure(
        key=key,
        title=title,
        svg=svg,
        label_header=headers[flows.step],
        columns=tuple(s.name for s in series),
        rows=tuple(zip(labels, zip(money_in, money_out, strict=True), strict=True)),
        totals=(flows.money_in, flows.money_out),
    )


def balance_figure(balance: state.Balance, key: str, whose: str) -> Figure:
    """Where the cash of ``whose`` stands: not yet allocated, allocated, paid out."""
    parts = (
        charts.Part(_("Đã chi"), "disbursed", balance.disbursed),
        charts.Part(_("Đã phân bổ, chưa chi"), "committed", balance.committed),
        charts.Part(_("Chưa phân bổ"), "available", balance.available),
    )
    title = _("Tiền của %(whose)s đang ở đâu", whose=whose)
    total = sum(part.amount for part in parts)
    svg = charts.stacked_bar(
        key=key,
        title=title,
        description=_(
            "Tổng %(total)s: đã chi %(paid)s, đã phân bổ chưa chi %(committed)s, "
            "chưa phân bổ %(available)s.",
            total=money(total),
            paid=money(balance.disbursed),
            committed=money(balance.committed),
            available=money(balance.available),
        ),
        parts=parts,
        full=money,
        empty=_("Chưa có tiền."),
    )
    return Figure(
        key=key,
        title=title,
        svg=svg,
        label_header=_("Khoản"),
        columns=(_("Số tiền"),),
        rows=tuple((part.name, (part.amount,)) for part in parts),
        totals=(total,),
    )


# -- query arguments and paging -------------------------------------------------------------


class BadPageError(ValueError):
    """A paging argument that is no entry index."""


def paging_position(name: str) -> int | None:
    """The ``after`` of a list, from the query: digits only, within an index's range."""
    value = request.args.get(name)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 16 or int(value) > MAX_INDEX:
        raise BadPageError(name)
    return int(value)


@dataclass(frozen=True)
class Pager:
    """Links to the first page of a list (when not on it) and to the next, older one."""

    first: str | None
    older: str | None


def pager(page: listing.Page, name: str, anchor: str) -> Pager:
    """Links that move one list and keep every other list of the page where it is."""
    kept = {key: request.args[key] for key in PAGING if key in request.args}
    first = None
    if name in kept:
        first = page_url(request.path, **{**kept, name: None}) + f"#{anchor}"
    older = None
    if page.next is not None:
        older = page_url(request.path, **{**kept, name: page.next}) + f"#{anchor}"
    return Pager(first, older)


def names(db: Session) -> dict[str, dict[str, str]]:
    """Every fund's and every campaign's name, by code: what a list's codes stand for."""
    return {
        "funds": {row.code: row.name for row in state.funds(db)},
        "campaigns": {row.code: row.name for row in state.campaigns(db)},
    }


def _lists(db: Session, gifts: listing.Listing, allocations: listing.Listing) -> dict[str, Any]:
    """A page of each list, where the query says, with their pagers."""
    gift_page = gifts.page(GIFTS_PER_PAGE, paging_position("after"))
    allocation_page = allocations.page(ALLOCATIONS_PER_PAGE, paging_position("allocations_after"))
    return {
        "gifts": gift_page.items,
        "gifts_pager": pager(gift_page, "after", "gifts"),
        "allocations": allocation_page.items,
        "allocations_pager": pager(allocation_page, "allocations_after", "allocations"),
        "names": names(db),
    }


def missing(template: str, what: str, code: str) -> tuple[str, int]:
    """The page's own layout with a message, for a code that names nothing (404)."""
    return render_template(template, missing=what, code=code), 404


def bad_page(template: str) -> tuple[str, int]:
    return render_template(template, missing=_("Địa chỉ trang không hợp lệ."), code=None), 400


# -- pages ---------------------------------------------------------------------------------


@blp.get("/quy/<code>")
def fund_page(code: str) -> Answer:
    db = session()
    try:
        row = state.fund(db, code)
    except NotFoundError:
        return missing("pages/fund.html", _("Không có quỹ nào mang mã này."), code)
    as_of = log.tree_size(db)
    tree = state.UnitTree.load(db)
    balance = state.balance_of_funds(db, [row.code])
    campaigns = state.campaigns(db, row.code)
    campaign_balances = state.campaign_balances(db, [c.code for c in campaigns])
    try:
        lists = _lists(
            db,
            listing.contributions(db, listing.GiftFilter(fund=row.code), as_of=as_of),
            listing.allocations(db, listing.AllocationFilter(fund=row.code), as_of=as_of),
        )
    except BadPageError:
        return bad_page("pages/fund.html")
    flows = timeline.flows(db, timeline.Scope(funds=frozenset([row.code])), as_of=as_of)
    return render_template(
        "pages/fund.html",
        fund=row,
        kind_name=dict(settings().fund_kinds).get(row.kind, row.kind),
        unit_name=tree.names.get(row.unit, row.unit),
        units_above=[(unit, tree.names.get(unit, unit)) for unit in tree.ancestors(row.unit)],
        balance=balance,
        campaigns=[(c, campaign_balances.get(c.code, state.Balance())) for c in campaigns],
        today=today_in_vietnam().isoformat(),
        balance_chart=balance_figure(balance, "fund-balance", row.name),
        flow_chart=flow_figure(flows, "fund-flows", row.name),
        tree_size=as_of,
        **lists,
    )


@blp.get("/chien-dich/<code>")
def campaign_page(code: str) -> Answer:
    db = session()
    try:
        row = state.campaign(db, code)
    except NotFoundError:
        return missing("pages/campaign.html", _("Không có cuộc vận động nào mang mã này."), code)
    as_of = log.tree_size(db)
    fund = state.fund(db, row.fund)
    balance = state.campaign_balance(db, row.code)
    try:
        lists = _lists(
            db,
            listing.contributions(db, listing.GiftFilter(campaign=row.code), as_of=as_of),
            listing.allocations(db, listing.AllocationFilter(campaign=row.code), as_of=as_of),
        )
    except BadPageError:
        return bad_page("pages/campaign.html")
    flows = timeline.flows(db, timeline.Scope(campaign=row.code), as_of=as_of)
    today = today_in_vietnam().isoformat()
    return render_template(
        "pages/campaign.html",
        campaign=row,
        fund=fund,
        account=row.account(),
        is_open=row.opens <= today <= row.closes,
        balance=balance,
        pledged=state.pledged(db, row.code),
        balance_chart=balance_figure(balance, "campaign-balance", row.name),
        flow_chart=flow_figure(flows, "campaign-flows", row.name),
        tree_size=as_of,
        **lists,
    )


@blp.get("/don-vi/<code>")
def unit_page(code: str) -> Answer:
    db = session()
    tree = state.UnitTree.load(db)
    try:
        row = state.unit(db, code)
    except NotFoundError:
        return missing("pages/unit.html", _("Không có đơn vị nào mang mã này."), code)
    as_of = log.tree_size(db)
    scope = timeline.unit_scope(db, row.code, tree)
    balance = state.unit_balance(db, row.code, tree)
    children = sorted(child for child, parent in tree.parents.items() if parent == row.code)
    fund_balances = state.fund_balances(db)
    try:
        lists = _lists(
            db,
            timeline.gifts_to(db, scope.funds or (), as_of=as_of),
            listing.allocations(db, listing.AllocationFilter(unit=row.code), as_of=as_of),
        )
    except BadPageError:
        return bad_page("pages/unit.html")
    flows = timeline.flows(db, scope, as_of=as_of)
    return render_template(
        "pages/unit.html",
        unit=row,
        units_above=[(unit, tree.names.get(unit, unit)) for unit in tree.ancestors(row.code)[1:]],
        balance=balance,
        funds=[
            (fund, fund_balances.get(fund.code, state.Balance()))
            for fund in queries.funds_of_units(db, {row.code})
        ],
        children=[
            (child, tree.names.get(child, child), state.unit_balance(db, child, tree))
            for child in children
        ],
        balance_chart=balance_figure(balance, "unit-balance", row.name),
        flow_chart=flow_figure(flows, "unit-flows", row.name),
        tree_size=as_of,
        **lists,
    )
