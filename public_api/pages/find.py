"""Find my gift (``/tra-cuu``): a donor finds their gift without calling any API.

A donor remembers some of: the receipt code (typed any way; an exact code opens its
receipt page at once), the bank's reference, their name as it was published (masked,
or "anonymous": the only names the public lists hold), the day and the amount. The
filters are those of ``GET /api/v1/contributions`` (``ledger.funds.listing``), so the
page and the API always find the same gifts; results are paged by key, newest first,
so a page reads a few rows however long the ledger grows.

What a person types is read leniently (``05/03/2026`` or ``2026-03-05``, ``1.250.000 ₫``
or ``1250000``); what cannot be read is said in the form, with status 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from ledger import log, receipt_ids
from ledger.errors import InvalidRequestError
from ledger.funds import listing, state
from ledger.funds.schemas import MAX_AMOUNT
from ledger.funds.text import nfc, search_key
from public_api import caching
from public_api.database import session
from public_api.i18n import page_url
from public_api.pages.common import blueprint
from public_api.schemas import MAX_INDEX

blp = blueprint("pages_find")

PAGE_SIZE = 20
FIELDS = ("receipt_id", "reference", "donor", "from", "to", "min_amount", "max_amount")
_DAY_TYPED = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_AMOUNT_NOISE = re.compile(r"[\s.,]|đồng$|đ$|₫$|vnd$", re.IGNORECASE)
_LONGEST = {"receipt_id": 64, "reference": 64, "donor": 200}


@dataclass
class Search:
    """What the reader asked for: as typed (to fill the form again) and as understood."""

    typed: dict[str, str]
    problems: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    after: int | None = None

    @property
    def asked(self) -> bool:
        return any(self.typed.values())

    def query(self) -> dict[str, str]:
        """What was typed, for links to other pages of the same search."""
        return {name: value for name, value in self.typed.items() if value}

    def gift_filter(self) -> listing.GiftFilter:
        return listing.GiftFilter(**self.values)

    def api_query(self) -> dict[str, Any]:
        """The same search as ``GET /api/v1/contributions`` parameters."""
        names = {"received_from": "from", "received_to": "to"}
        return {names.get(key, key): value for key, value in self.values.items()}


def _day(text: str) -> str | None:
    """``dd/mm/yyyy`` (as Vietnamese write it) or ``yyyy-mm-dd``; None if neither."""
    typed = _DAY_TYPED.fullmatch(text)
    try:
        if typed:
            return date(int(typed[3]), int(typed[2]), int(typed[1])).isoformat()
        if _ISO_DAY.fullmatch(text):
            return date.fromisoformat(text).isoformat()
    except ValueError:
        return None
    return None


def _amount(text: str) -> int | None:
    """Whole đồng as typed: ``1.250.000 ₫``, ``1,250,000``, ``1250000``; None otherwise."""
    digits = _AMOUNT_NOISE.sub("", text.strip())
    if not digits.isascii() or not digits.isdigit() or int(digits) > MAX_AMOUNT:
        return None
    return int(digits)


def _text(search: Search, name: str) -> None:
    value = search.typed[name]
    if len(value) > _LONGEST[name] or any(ord(c) < 32 for c in value):
        search.problems.append(
            gettext("“%(field)s” quá dài hoặc có ký tự không hợp lệ.", field=_label(name))
        )
        return
    if name == "receipt_id":
        try:
            search.values[name] = receipt_ids.normalize(value)
        except receipt_ids.InvalidReceiptIdError:
            search.problems.append(
                gettext("Mã biên nhận gồm 16 chữ và số, ví dụ 7KQ2-9XHM-4T0V-PJ3R.")
            )
    elif name == "donor" and not search_key(value):
        search.problems.append(gettext("Hãy nhập vài chữ cái hoặc chữ số của tên người ủng hộ."))
    else:
        search.values[name] = nfc(value)  # as the API's Text fields read it


def _label(name: str) -> str:
    labels: dict[str, str] = {
        "receipt_id": gettext("Mã biên nhận"),
        "reference": gettext("Mã giao dịch ngân hàng"),
        "donor": gettext("Tên người ủng hộ"),
        "from": gettext("Từ ngày"),
        "to": gettext("Đến ngày"),
        "min_amount": gettext("Số tiền từ"),
        "max_amount": gettext("Số tiền đến"),
    }
    return labels[name]


def parse(args: Mapping[str, str]) -> Search:
    """The search in the query ``args``; what cannot be understood is in ``problems``."""
    search = Search({name: args.get(name, "").strip() for name in FIELDS})
    typed = search.typed
    for name in ("receipt_id", "reference", "donor"):
        if typed[name]:
            _text(search, name)
    for name, key in (("from", "received_from"), ("to", "received_to")):
        if typed[name]:
            day = _day(typed[name])
            if day is None:
                search.problems.append(
                    gettext(
                        "“%(field)s”: hãy viết ngày dạng dd/mm/yyyy, ví dụ 05/03/2026.",
                        field=_label(name),
                    )
                )
            else:
                search.values[key] = day
    for name in ("min_amount", "max_amount"):
        if typed[name]:
            amount = _amount(typed[name])
            if amount is None:
                search.problems.append(
                    gettext(
                        "“%(field)s”: hãy viết số tiền bằng chữ số, ví dụ 500.000.",
                        field=_label(name),
                    )
                )
            else:
                search.values[name] = amount
    _in_order(search)
    after = args.get("after", "")
    if after:
        if not after.isascii() or not after.isdigit() or int(after) > MAX_INDEX:
            search.problems.append(gettext("Liên kết trang sau không hợp lệ."))
        else:
            search.after = int(after)
    return search


def _in_order(search: Search) -> None:
    """A range whose end comes before its start finds nothing: say so instead."""
    values = search.values
    first, last = values.get("received_from"), values.get("received_to")
    if first is not None and last is not None and last < first:
        search.problems.append(gettext("“Đến ngày” không được trước “Từ ngày”."))
    low, high = values.get("min_amount"), values.get("max_amount")
    if low is not None and high is not None and high < low:
        search.problems.append(gettext("“Số tiền đến” không được nhỏ hơn “Số tiền từ”."))


def _render(search: Search, status: int = 200, **found: Any) -> ResponseReturnValue:
    html = render_template("pages/find.html", search=search, **found)
    return html, status


@blp.get("/tra-cuu")
def find_gift() -> ResponseReturnValue:
    """The form, and the gifts it finds; an exact receipt code opens the receipt."""
    search = parse(request.args)
    if search.problems:
        return _render(search, 400)
    if not search.values:
        return _render(search)
    db = session()
    as_of = log.tree_size(db)
    try:
        found = listing.contributions(db, search.gift_filter(), as_of=as_of)
        page = found.page(PAGE_SIZE, search.after)
    except InvalidRequestError as err:
        search.problems.append(str(err))
        return _render(search, 400)
    receipt = search.values.get("receipt_id")
    if receipt is not None and search.after is None and page.items:
        moved = redirect(page_url(f"/r/{receipt}"), code=302)
        moved.headers.update(caching.policy(caching.LATEST))
        return moved
    funds = {row.code: row.name for row in state.funds(db)}
    campaigns = {row.code: row.name for row in state.campaigns(db)}
    return _render(search, page=page, tree_size=as_of, funds=funds, campaigns=campaigns)
