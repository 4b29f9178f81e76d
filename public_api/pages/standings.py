"""The mobiliser leaderboard (``/thi-dua``) and the award decisions (``/khen-thuong``).

The leaderboard is the ranking the rewards board awards on (``audit.rankings``): taken
at the latest signed checkpoint, with the gifts under an unacknowledged blocking
finding left out. The blocked set is the one ``GET /api/v1/rankings`` keeps
(``public_api.ranking_views``), so the page and the API show the same figures, and a
stream of readers does not make the anomaly rules replay the log for each of them.

The awards pages replay the award entries (few, and indexed) as the API does. A
nomination's page shows its history and its evidence a page of counted gifts at a
time; checking the evidence (every gift's inclusion proof) is the work of the API and
the command line, which the page names rather than redoing on every view.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from audit import rankings
from audit.awards import nominations
from audit.awards.evidence import gift_indices
from ledger import log
from ledger.entries import parse_time
from ledger.errors import NotFoundError
from ledger.funds import queries, state
from ledger.funds.schemas import CODE_PATTERN
from public_api import caching, ranking_views
from public_api.database import session, settings
from public_api.i18n import page_url
from public_api.pages.common import blueprint

blp = blueprint("pages_standings")

SHOWN_PER_TABLE = 100  # ranked mobilisers shown per table; the API has them all
AWARDS_PER_PAGE = 50
GIFTS_PER_PAGE = 50
_CODE = re.compile(CODE_PATTERN)
_FORM_CODE = re.compile(r"[A-Z0-9-]{1,32}")


def _chosen(args: Mapping[str, str], name: str) -> str | None:
    """A select's value: None when "all" (empty) was chosen."""
    return args.get(name, "").strip() or None


def _position(args: Mapping[str, str], name: str) -> int | None:
    """A non-negative whole number from the query; None if absent, -1 if malformed."""
    text = args.get(name, "")
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 16 else -1


def _units(db: Session) -> list[dict[str, Any]]:
    """Every unit in tree order, with its depth, for an indented select."""
    tree = state.UnitTree.load(db)
    return [
        {"code": row.code, "name": row.name, "depth": len(tree.ancestors(row.code)) - 1}
        for row in queries.units_in_tree_order(db)
    ]


# -- the leaderboard ---------------------------------------------------------------------


@blp.get("/thi-dua")
def leaderboard() -> ResponseReturnValue:
    """Collectives and individuals ranked apart, for a campaign and a unit if chosen."""
    db, config = session(), settings()
    campaign, unit = _chosen(request.args, "campaign"), _chosen(request.args, "unit")
    options = {"campaigns": state.campaigns(db), "units": _units(db)}
    chosen = {"campaign": campaign, "unit": unit}
    blocked = ranking_views.blocked_cache(db, config)
    try:
        tables = [
            rankings.verified_ranking(
                db,
                config,
                rankings.RankingQuery(type=kind, campaign=campaign, unit=unit),
                blocked=blocked,
            )
            for kind in rankings.TYPES
        ]
    except NotFoundError:
        problem = gettext("Không có đợt vận động hoặc đơn vị đã chọn.")
        page = render_template("pages/leaderboard.html", problem=problem, chosen=chosen, **options)
        return page, 404
    names = state.UnitTree.load(db).names
    asked = {key: value for key, value in chosen.items() if value is not None}
    links = {
        kind: "/api/v1/rankings?" + urlencode({"type": kind, **asked}) for kind in rankings.TYPES
    }
    return render_template(
        "pages/leaderboard.html",
        tables=tables,
        chosen=chosen,
        api_links=links,
        unit_names=names,
        shown=SHOWN_PER_TABLE,
        **options,
    )


# -- the awards --------------------------------------------------------------------------


def _award_filters(args: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The list's filters as the API's, and what in them is malformed."""
    wanted = {
        name: value
        for name in ("campaign", "state", "form")
        if (value := _chosen(args, name)) is not None
    }
    problems = []
    if "campaign" in wanted and not _CODE.fullmatch(wanted["campaign"]):
        problems.append(gettext("Mã đợt vận động không hợp lệ."))
    if "state" in wanted and wanted["state"] not in nominations.STATES:
        problems.append(gettext("Không có trạng thái này."))
    if "form" in wanted and not _FORM_CODE.fullmatch(wanted["form"]):
        problems.append(gettext("Mã hình thức khen thưởng không hợp lệ."))
    return wanted, problems


def _shown(nomination: nominations.Nomination) -> dict[str, Any]:
    """A nomination as the pages show it: the API's document, times made datetimes."""
    document = nomination.document()
    document["time"] = parse_time(document["time"])
    for step in document["history"]:
        step["time"] = parse_time(step["time"])
    return document


@blp.get("/khen-thuong")
def awards() -> ResponseReturnValue:
    """Nominations newest first, filtered by campaign, state and form as the API is."""
    db = session()
    wanted, problems = _award_filters(request.args)
    after = _position(request.args, "after")
    if after == -1:
        problems.append(gettext("Liên kết trang sau không hợp lệ."))
    every = nominations.load(db)
    forms = sorted({(n.form, str(n.body["form"]["name"])) for n in every})
    context: dict[str, Any] = {
        "campaigns": state.campaigns(db),
        "forms": forms,
        "states": nominations.STATES,
        "chosen": wanted,
        "problems": problems,
    }
    if problems:
        return render_template("pages/awards.html", **context), 400
    found = nominations.select_nominations(every, **wanted)
    newest = [n for n in reversed(found) if after is None or n.index < after]
    page = newest[:AWARDS_PER_PAGE]
    following = page[-1].index if len(newest) > AWARDS_PER_PAGE else None
    return render_template(
        "pages/awards.html",
        items=[_shown(n) for n in page],
        total=len(found),
        after=after,
        following=following,
        tree_size=log.tree_size(db),
        **context,
    )


def _missing(message: str, status: int = 404) -> ResponseReturnValue:
    return render_template("pages/_award_missing.html", message=message), status


def _counted(db: Session, indices: list[int]) -> list[dict[str, Any]]:
    """The counted gifts of one page, as their leaves state them."""
    gifts = []
    for index in indices:
        entry = log.entry(db, index)
        body = entry.body
        gifts.append(
            {
                "index": index,
                "kind": entry.kind,
                "receipt_id": body.get("receipt_id"),
                "amount": body.get("amount"),
                "channel": body.get("channel"),
                "received_on": body.get("received_on"),
                "donor": body.get("donor") or {},
            }
        )
    return gifts


@blp.get("/khen-thuong/<nomination_id>")
def award(nomination_id: str) -> ResponseReturnValue:
    """One nomination: its figures, the board's decisions, and the evidence it rests on."""
    try:
        canonical = nominations.normalize_id(nomination_id)
    except nominations.InvalidNominationIdError:
        return _missing(gettext("Mã đề nghị khen thưởng không hợp lệ."))
    if canonical != nomination_id:
        query = {key: value for key, value in request.args.items() if key != "lang"}
        moved = redirect(page_url(f"/khen-thuong/{canonical}", **query), code=301)
        moved.headers.update(caching.policy(caching.SHORT))
        return moved
    db = session()
    try:
        nomination = nominations.find(db, canonical)
    except NotFoundError:
        return _missing(gettext("Không có đề nghị khen thưởng mang mã này."))
    start = _position(request.args, "start") or 0
    if start < 0:
        return _missing(gettext("Liên kết trang sau không hợp lệ."), 400)
    counted = gift_indices(nomination.body)
    shown = counted[start : start + GIFTS_PER_PAGE]
    following = start + GIFTS_PER_PAGE if start + GIFTS_PER_PAGE < len(counted) else None
    units = state.UnitTree.load(db).names
    campaigns = {row.code: row.name for row in state.campaigns(db)}
    return render_template(
        "pages/award.html",
        nomination=_shown(nomination),
        evidence=nomination.body["evidence"],
        gifts=_counted(db, shown),
        gift_count=len(counted),
        start=start,
        following=following,
        per_page=GIFTS_PER_PAGE,
        unit_names=units,
        campaign_names=campaigns,
    )
