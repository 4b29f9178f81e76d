"""Find my gift, the leaderboard and the awards in Chromium: typed, clicked, on a phone.

The pages carry no script of their own; these tests check what a person sees: the
form finds the gift and its link opens the receipt, a hostile name stays text, and
every page fits a 360 px phone and a 1280 px screen without sideways scrolling.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, BrowserContext, Page, expect

from ledger.cli import main
from ledger.receipt_ids import grouped

AMOUNT = 1_250_000
HOSTILE = "<script>alert(1)</script>"
CRITERIA = """
[list]
place = "Lạng Sơn"
signer_title = "TM. BAN THƯỜNG TRỰC"
signer_role = "CHỦ TỊCH"

[[forms]]
code = "BK-MTTQ-TINH"
name = "Bằng khen của Ủy ban MTTQ Việt Nam tỉnh"
decided_by = "province_front_committee"
proposed_upward = false
[forms.collective]
min_net_amount = 1_000_000
"""


class Watched:
    """A page with every console error, page error and dialog it raised recorded."""

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

    def open(self, url: str) -> Page:
        self.page.goto(url)
        return self.page


@pytest.fixture
def gifts(funds: Any) -> dict[str, str]:
    found = {}
    for name, amount, donor in (
        ("mine", AMOUNT, {"display": "Nguyễn V. A.", "type": "individual"}),
        ("other", 300_000, {"display": "Trần T. B.", "type": "individual"}),
        ("hostile", 700_000, {"display": HOSTILE, "type": "individual"}),
    ):
        gift = funds.give(amount, mobilizer=funds.mobilizer, donor=donor)
        found[name] = gift.extra["receipt_id"]
    return found


@pytest.fixture
def nomination(env: dict[str, str], gifts: dict[str, str], tmp_path: Path) -> str:
    """A nomination of the province's women's union, proposed and put under review."""
    criteria = tmp_path / "criteria.toml"
    criteria.write_text(CRITERIA, encoding="utf-8")
    cli = CliRunner(env={**env, "LEDGER_AWARDS_CRITERIA": str(criteria)})
    proposed = cli.invoke(main, ["awards", "propose", "--campaign", "LS-2026"])
    assert proposed.exit_code == 0, proposed.output
    listed = cli.invoke(main, ["awards", "list", "--json"])
    nomination_id: str = json.loads(listed.stdout)["nominations"][0]["id"]
    moved = cli.invoke(
        main, ["awards", "transition", nomination_id, "--to", "under_review", "--reason", "Họp"]
    )
    assert moved.exit_code == 0, moved.output
    return nomination_id


@pytest.fixture
def desktop(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
    yield made
    made.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(
        locale="vi-VN",
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
    )
    yield made
    made.close()


def fits(page: Page) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths}"


def test_a_name_typed_into_the_form_finds_the_gift_and_opens_its_receipt(
    desktop: BrowserContext, live_server: str, gifts: dict[str, str], artifacts: Path
) -> None:
    watched = Watched(desktop.new_page())
    page = watched.open(f"{live_server}/tra-cuu")
    page.get_by_label("Tên người ủng hộ").fill("nguyen v")
    page.get_by_label("Số tiền từ").fill("1.250.000")
    page.get_by_role("button", name="Tìm").click()
    results = page.locator("#find-results > li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("1.250.000 ₫")
    expect(results.first).to_contain_text("Nguyễn V. A.")
    page.screenshot(path=artifacts / "find-results-1280px.png", full_page=True)
    link = results.first.get_by_role("link", name=grouped(gifts["mine"]))
    link.click()
    page.wait_for_url(f"{live_server}/r/{gifts['mine']}")
    expect(page.locator("#amount")).to_have_text("1.250.000 ₫")
    expect(page.locator("#verify-status")).to_contain_text("Đã xác minh", timeout=15_000)
    assert watched.errors == []


def test_an_exact_receipt_code_typed_by_hand_opens_the_receipt(
    desktop: BrowserContext, live_server: str, gifts: dict[str, str]
) -> None:
    watched = Watched(desktop.new_page())
    page = watched.open(f"{live_server}/tra-cuu")
    page.get_by_label("Mã biên nhận").fill(grouped(gifts["other"]).lower())
    page.get_by_label("Mã biên nhận").press("Enter")
    page.wait_for_url(f"{live_server}/r/{gifts['other']}")
    expect(page.locator("#amount")).to_have_text("300.000 ₫")
    assert watched.errors == []


def test_a_hostile_donor_name_stays_text(
    desktop: BrowserContext, live_server: str, gifts: dict[str, str], artifacts: Path
) -> None:
    watched = Watched(desktop.new_page())
    page = watched.open(f"{live_server}/tra-cuu?donor=script+alert")
    donor = page.locator("#find-results .donor")
    expect(donor).to_have_text(HOSTILE)
    assert page.locator("#find-results script").count() == 0
    page.get_by_label("Tên người ủng hộ").fill(HOSTILE)
    page.get_by_role("button", name="Tìm").click()
    expect(page.locator("#find-results .donor")).to_have_text(HOSTILE)
    expect(page.get_by_label("Tên người ủng hộ")).to_have_value(HOSTILE)
    page.screenshot(path=artifacts / "find-hostile-name.png", full_page=True)
    assert watched.dialogs == []
    assert watched.errors == []


def test_a_malformed_day_is_said_in_the_form(
    desktop: BrowserContext, live_server: str, gifts: dict[str, str]
) -> None:
    watched = Watched(desktop.new_page())
    page = watched.page
    answer = page.goto(f"{live_server}/tra-cuu?from=31/02/2026")
    assert answer is not None and answer.status == 400
    expect(page.locator("#find-problems")).to_contain_text("dd/mm/yyyy")
    expect(page.get_by_label("Từ ngày")).to_be_visible()


@pytest.mark.parametrize("width", [360, 1280])
def test_the_pages_hold_their_layout(
    browser: Browser,
    live_server: str,
    gifts: dict[str, str],
    nomination: str,
    artifacts: Path,
    width: int,
) -> None:
    context = browser.new_context(
        locale="vi-VN",
        viewport={"width": width, "height": 800},
        device_scale_factor=2 if width == 360 else 1,
        is_mobile=width == 360,
    )
    try:
        watched = Watched(context.new_page())
        for name, path, shown in (
            ("find", "/tra-cuu?min_amount=1", "#find-results"),
            ("leaderboard", "/thi-dua", "#rank-collective"),
            ("awards", "/khen-thuong", "#award-list"),
            ("award", f"/khen-thuong/{nomination}", "#award-gifts"),
            ("award-en", f"/khen-thuong/{nomination}?lang=en", "#award-evidence"),
        ):
            page = watched.open(f"{live_server}{path}")
            expect(page.locator(shown)).to_be_visible()
            page.screenshot(path=artifacts / f"pages-{name}-{width}px.png", full_page=True)
            fits(page)
        assert watched.errors == []
        assert watched.dialogs == []
    finally:
        context.close()


def test_the_leaderboard_filters_by_its_selects(
    desktop: BrowserContext, live_server: str, gifts: dict[str, str]
) -> None:
    watched = Watched(desktop.new_page())
    page = watched.open(f"{live_server}/thi-dua")
    expect(page.locator('#rank-collective tr[data-mobilizer="LS-HLHPN"]')).to_contain_text(
        "2.250.000 ₫"
    )
    page.get_by_label("Đơn vị").select_option("LS-VL")
    page.get_by_role("button", name="Xem").click()
    page.wait_for_url("**/thi-dua?*unit=LS-VL*")
    expect(page.locator("#rank-collective tr[data-mobilizer]")).to_have_count(0)
    assert watched.errors == []


def test_an_award_page_links_its_evidence_to_the_receipts(
    phone: BrowserContext, live_server: str, gifts: dict[str, str], nomination: str
) -> None:
    watched = Watched(phone.new_page())
    page = watched.open(f"{live_server}/khen-thuong")
    page.locator(f'tr[data-nomination="{nomination}"] a').click()
    page.wait_for_url(f"{live_server}/khen-thuong/{nomination}")
    expect(page.locator("#award-state")).to_have_text("Đang xem xét")
    expect(page.locator("#award-history")).to_contain_text("Họp")
    expect(page.locator("#award-gifts tbody tr")).to_have_count(3)
    page.get_by_role("link", name=grouped(gifts["mine"])).click()
    page.wait_for_url(f"{live_server}/r/{gifts['mine']}")
    assert watched.errors == []
