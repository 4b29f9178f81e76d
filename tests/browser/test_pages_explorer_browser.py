"""The log explorer and "how to verify" in Chromium: clean loads, phone widths, inert names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

HOSTILE = "<script>alert(1)</script>"
WIDTHS = (360, 1280)


@pytest.fixture
def hostile(funds: Any) -> int:
    """A small ledger whose newest gift comes from a donor named like a script."""
    funds.give(1_250_000, campaign=funds.campaign, mobilizer=funds.mobilizer)
    funds.allocate(400_000, decision_ref="12/QĐ-MTTQ")
    twice = funds.give(300_000)
    funds.record("reversal", {"target": twice.index, "reason": "Ghi trùng phiếu thu"})
    index: int = funds.give(100_000, donor={"display": HOSTILE, "type": "individual"}).index
    return index


class Watched:
    """A page with its console errors, page errors and dialogs recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def context(request: pytest.FixtureRequest, browser: Browser) -> Iterator[BrowserContext]:
    width: int = request.param
    phone = width < 600
    made = browser.new_context(
        viewport={"width": width, "height": 800},
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        locale="vi-VN",
    )
    yield made
    made.close()


def fits(page: Page) -> None:
    scroll, client = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= client, f"{page.url} scrolls sideways: {scroll} > {client}"


@pytest.mark.parametrize("name", ["log", "entry", "howto"])
@pytest.mark.parametrize("language", ["vi", "en"])
def test_each_page_loads_cleanly_and_holds_its_layout(
    context: BrowserContext,
    live_server: str,
    hostile: int,
    artifacts: Path,
    name: str,
    language: str,
) -> None:
    path = {"log": "/so-cai", "entry": f"/so-cai/{hostile}", "howto": "/kiem-chung"}[name]
    query = "?lang=en" if language == "en" else ""
    watched = Watched(context.new_page())
    page = watched.page
    answer = page.goto(f"{live_server}{path}{query}")
    assert answer is not None and answer.status == 200
    expect(page.locator("html")).to_have_attribute("lang", language)
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=artifacts / f"explorer-{name}-{language}-{width}px.png", full_page=True)
    fits(page)
    assert watched.errors == []
    assert watched.dialogs == []


def test_a_hostile_donor_name_is_shown_as_text(
    context: BrowserContext, live_server: str, hostile: int
) -> None:
    watched = Watched(context.new_page())
    page = watched.page
    page.goto(f"{live_server}/so-cai/{hostile}")
    expect(page.locator("#fields")).to_contain_text(HOSTILE)
    expect(page.locator("#leaf-json")).to_contain_text(f'"display":"{HOSTILE}"')
    page.goto(f"{live_server}/so-cai")
    expect(page.locator(f'tr[data-index="{hostile}"]')).to_contain_text(HOSTILE)
    ran = page.evaluate("() => [...document.scripts].some(s => s.textContent.includes('alert'))")
    assert ran is False
    assert watched.dialogs == []
    assert watched.errors == []


def test_the_language_switch_keeps_the_reader_in_the_explorer(
    context: BrowserContext, live_server: str, hostile: int
) -> None:
    watched = Watched(context.new_page())
    page = watched.page
    page.goto(f"{live_server}/so-cai")
    expect(page.locator("h1")).to_have_text("Sổ cái công khai")
    page.locator(".lang-switch a").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("The public ledger")
    page.locator(f'tr[data-index="{hostile}"] a').click()
    page.wait_for_url(f"**/so-cai/{hostile}?lang=en")
    expect(page.locator("#proof-heading")).to_have_text("Proof that the entry is in the ledger")
    page.locator(".lang-switch a").click()
    page.wait_for_url(f"**/so-cai/{hostile}")
    expect(page.locator("#proof-heading")).to_have_text("Bằng chứng mục nằm trong sổ cái")
    page.wait_for_load_state("load")
    assert watched.errors == []


def test_an_unknown_entry_is_a_page_a_reader_can_leave(
    context: BrowserContext, live_server: str, funds: Any, artifacts: Path
) -> None:
    watched = Watched(context.new_page())
    page = watched.page
    answer = page.goto(f"{live_server}/so-cai/99999")
    assert answer is not None and answer.status == 404
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=artifacts / f"explorer-missing-{width}px.png", full_page=True)
    fits(page)
    # Chromium reports the document's own 404 on the console; nothing else may fail.
    assert [e for e in watched.errors if "status of 404" not in e] == []
    page.get_by_role("link", name="Về trang sổ cái").click()
    expect(page.locator("h1")).to_have_text("Sổ cái công khai")
    page.wait_for_load_state("load")
