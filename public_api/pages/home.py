"""The home page: what came in, what went out, per fund and campaign.

Totals are those of ``/api/v1/statistics`` (the whole ledger and each fund) and of
``/api/v1/campaigns``, read by the same core functions at the same tree size; the
latest gifts and allocations are the first few items of the public lists, each gift
linking to its receipt, and the chart shows money in and out over time.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _

from ledger import log
from ledger.funds import listing, state, summaries, timeline
from ledger.funds.recorder import today_in_vietnam
from public_api.database import session
from public_api.pages.common import blueprint
from public_api.pages.funds import flow_figure, names

blp = blueprint("home")

LATEST = 5  # gifts and allocations shown on the home page


@blp.get("/")
def home() -> str:
    db = session()
    as_of = log.tree_size(db)
    campaigns = state.campaigns(db)
    balances = state.campaign_balances(db)
    gifts = listing.contributions(db, listing.GiftFilter(), as_of=as_of).page(LATEST)
    allocations = listing.allocations(db, listing.AllocationFilter(), as_of=as_of).page(LATEST)
    flows = timeline.flows(db, as_of=as_of)
    return render_template(
        "pages/home.html",
        statistics=summaries.statistics(db, as_of=as_of),
        campaigns=[(c, balances.get(c.code, state.Balance())) for c in campaigns],
        today=today_in_vietnam().isoformat(),
        gifts=gifts.items,
        allocations=allocations.items,
        names=names(db),
        flow_chart=flow_figure(flows, "ledger-flows", _("toàn bộ sổ cái")),
        tree_size=as_of,
    )
