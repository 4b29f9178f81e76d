"""The home, fund, campaign and unit pages in Chromium: on a phone and on a desk, on paper.

Each page must load without a console error, fetch nothing from another site, never
scroll sideways at 360 px or 1280 px, and keep a donor named ``<script>`` inert.
Screenshots go to ``test-artifacts/`` for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from support.documents import add_document

HOSTILE = "<script>alert(1)</script>"
WIDTHS = (360, 1280)


@pytest.fixture
def ledger_pages(funds: Any) -> dict[str, str]:
    """A few weeks of gifts and spending, one donor with markup in their name."""
    today = date.fromisoformat(funds.today)
    for days, amount in ((45, 3_500_000), (31, 1_200_000), (17, 800_000), (3, 2_000_000)):
        received = (today - timedelta(days=days)).isoformat()
        funds.give(amount, channel="bank", received_on=received)
        funds.give(amount // 2, fund=funds.district_fund, received_on=received)
    grant = funds.allocate(
        2_500_000,
        decision={"number": "12/QĐ-MTTQ", "date": funds.today, "approver": "Chủ tịch UBMTTQ tỉnh"},
        campaign=funds.campaign,
    )
    proof = add_document(funds)
    funds.record(
        "disbursement", {"allocation": grant.index, "amount": 1_000_000, "documents": [proof]}
    )
    funds.give(1_250_000, donor={"display": HOSTILE, "type": "individual"})
    return {
        "home": "/",
        "fund": f"/quy/{funds.fund}",
        "campaign": f"/chien-dich/{funds.campaign}",
        "unit": f"/don-vi/{funds.province}",
    }


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(locale="vi-VN")
    yield made
    made.close()


class Watched:
    """A page with its console errors, page errors, dialogs and requests recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))


def open_page(context: BrowserContext, url: str, width: int) -> Watched:
    watched = Watched(context.new_page())
    watched.page.set_viewport_size({"width": width, "height": 900})
    response = watched.page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    return watched


def scrolls_sideways(page: Page) -> bool:
    return bool(
        page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    )


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["home", "fund", "campaign", "unit"])
def test_a_page_loads_cleanly_and_fits_the_screen(
    context: BrowserContext,
    live_server: str,
    ledger_pages: dict[str, str],
    artifacts: Path,
    name: str,
    width: int,
) -> None:
    for language, query in (("vi", ""), ("en", "?lang=en")):
        watched = open_page(context, f"{live_server}{ledger_pages[name]}{query}", width)
        page = watched.page
        page.screenshot(path=artifacts / f"pages-{name}-{language}-{width}px.png", full_page=True)
        assert watched.errors == []
        assert watched.dialogs == []
        assert all(url.startswith(live_server) for url in watched.requests), watched.requests
        assert not scrolls_sideways(page), f"{name} scrolls sideways at {width} px"
        expect(page.locator("html")).to_have_attribute("lang", language)
        charts = page.locator("svg.chart")
        assert charts.count() >= 1
        for index in range(charts.count()):
            box = charts.nth(index).bounding_box()
            assert box is not None and 0 < box["width"] <= width
        page.close()


def test_a_hostile_donor_name_is_shown_as_text_and_runs_nothing(
    context: BrowserContext, live_server: str, ledger_pages: dict[str, str]
) -> None:
    for name in ("home", "fund"):
        watched = open_page(context, f"{live_server}{ledger_pages[name]}", 360)
        page = watched.page
        expect(page.locator("td.donor", has_text=HOSTILE).first).to_be_visible()
        assert page.evaluate("document.querySelectorAll('main script').length") == 0
        assert watched.dialogs == [] and watched.errors == []
        page.close()


def test_the_language_switch_and_the_pager_keep_the_reader_on_the_page(
    context: BrowserContext, live_server: str, ledger_pages: dict[str, str], funds: Any
) -> None:
    for _ in range(21):
        funds.give(100_000)
    watched = open_page(context, f"{live_server}{ledger_pages['fund']}", 1280)
    page = watched.page
    page.get_by_role("link", name="English").click()
    expect(page.locator("h2#balance-heading")).to_have_text("Balances")
    assert page.url.endswith(f"{ledger_pages['fund']}?lang=en")
    page.get_by_role("link", name="Older »").first.click()
    expect(page.locator("table.gifts tbody tr")).not_to_have_count(0)
    assert "after=" in page.url and "lang=en" in page.url
    page.get_by_role("link", name="« Newest").first.click()
    assert "after=" not in page.url and "lang=en" in page.url
    assert watched.errors == []


def test_pages_print_without_the_navigation(
    context: BrowserContext, live_server: str, ledger_pages: dict[str, str], artifacts: Path
) -> None:
    watched = open_page(context, f"{live_server}{ledger_pages['campaign']}", 1280)
    page = watched.page
    page.emulate_media(media="print")
    expect(page.locator("nav.site-nav")).to_be_hidden()
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.locator("#balance-received")).to_be_visible()
    page.screenshot(path=artifacts / "pages-campaign-print.png", full_page=True)


def test_every_link_and_scrolling_table_is_reachable_by_keyboard(
    context: BrowserContext, live_server: str, ledger_pages: dict[str, str]
) -> None:
    watched = open_page(context, f"{live_server}{ledger_pages['unit']}", 360)
    page = watched.page
    reached = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(() => { const e = document.activeElement;"
            " const s = getComputedStyle(e);"
            " return [e.tagName, e.getAttribute('href') || e.id || e.className,"
            " s.outlineStyle, s.outlineWidth]; })()"
        )
        tag, what, outline, outline_width = focused
        if tag == "BODY":
            break
        assert outline != "none" and outline_width != "0px", focused  # focus is visible
        reached.add(what)
    assert f"{ledger_pages['unit']}?lang=en" in reached  # the language switch
    assert any(str(what).startswith("/don-vi/") for what in reached)
    assert any("table-scroll" in str(what) for what in reached)
