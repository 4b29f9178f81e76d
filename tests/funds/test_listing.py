"""The public lists' queries: finding gifts, paging without loss, spending, rankings, totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import log
from ledger.errors import InvalidRequestError, NotFoundError
from ledger.funds import listing, state, summaries, text
from ledger.funds.access import command_line
from ledger.funds.documents import store_document
from ledger.funds.recorder import VIETNAM, record
from ledger.funds.text import fold_ascii

PROOF_FILE = b"%PDF-1.4 uy nhiem chi"


def gifts(funds: Any, wanted: listing.GiftFilter) -> list[int]:
    with funds.db.session() as session:
        found = listing.contributions(session, wanted, as_of=log.tree_size(session)).page(100)
    return [item["index"] for item in found.items]


def every_page(funds: Any, limit: int, between: Any = None) -> list[int]:
    seen: list[int] = []
    after = None
    while True:
        with funds.db.session() as session:
            page = listing.contributions(
                session, listing.GiftFilter(), as_of=log.tree_size(session)
            ).page(limit, after)
        seen += [item["index"] for item in page.items]
        if page.next is None:
            return seen
        if between is not None:
            between()
        after = page.next


def person(name: str, **more: Any) -> dict[str, Any]:
    return {"display": name, "type": "individual", **more}


def proof(funds: Any) -> str:
    with funds.db.writing() as session:
        return store_document(session, PROOF_FILE, "unc.pdf", "application/pdf", "tester")


# -- finding one's gift ------------------------------------------------------------------


def test_search_keys_drop_diacritics_case_and_punctuation() -> None:
    assert text.search_key("Nguyễn V. A.") == "nguyen v a"
    assert text.search_key("  ĐỖ   Thị-Hằng ") == "do thi hang"
    assert text.search_key("=HYPERLINK(x)") == "hyperlink x"
    assert text.search_key("!!!") == ""


@given(st.text(alphabet="aăâbdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹ .-", max_size=30))
def test_a_name_typed_without_diacritics_in_any_case_finds_itself(name: str) -> None:
    typed = fold_ascii(name).upper()
    assert text.search_key(typed) == text.search_key(name)
    for start in range(len(typed)):
        assert text.search_key(typed[start:]).strip() in text.search_key(name)


def test_a_donor_finds_their_gift_by_name_reference_receipt_day_and_amount(funds: Any) -> None:
    mine = funds.give(
        500_000,
        channel="bank",
        reference="FT26011234",
        donor=person("Nguyễn V. A.", contact="0912 345 678"),
    )
    funds.give(500_000, donor=person("Nguyễn Thị Bình"))
    funds.give(2_000_000, donor=person("Trần Văn An"))
    receipt = mine.extra["receipt_id"]

    assert gifts(funds, listing.GiftFilter(donor="nguyen v")) == [mine.index]
    assert gifts(funds, listing.GiftFilter(donor="NGUYỄN V. A.")) == [mine.index]
    assert gifts(funds, listing.GiftFilter(donor="nguyen")) == [mine.index + 1, mine.index]
    assert gifts(funds, listing.GiftFilter(reference="FT26011234")) == [mine.index]
    assert gifts(funds, listing.GiftFilter(reference="FT2601")) == []  # exact, not a prefix
    typed = "-".join(receipt[i : i + 4] for i in range(0, 16, 4)).lower()
    assert gifts(funds, listing.GiftFilter(receipt_id=typed)) == [mine.index]
    by_amount = listing.GiftFilter(min_amount=400_000, max_amount=600_000)
    assert gifts(funds, by_amount) == [mine.index + 1, mine.index]
    today = funds.today
    assert len(gifts(funds, listing.GiftFilter(received_from=today, received_to=today))) == 3
    assert gifts(funds, listing.GiftFilter(received_to="2020-01-01")) == []


def test_a_gift_shows_what_its_leaf_shows_and_nothing_private(funds: Any) -> None:
    goods = {"description": "Gạo tẻ", "quantity": "2.5", "unit": "tấn", "valuation": "Hóa đơn 7"}
    hidden = funds.give(
        3_000_000,
        channel="in_kind",
        in_kind=goods,
        earmark="Cho xã Hợp Thành",
        donor={"display": "Lê Văn Kín", "type": "individual", "anonymous": True},
        mobilizer=funds.mobilizer,
    )
    with funds.db.session() as session:
        (item,) = (
            listing.contributions(session, listing.GiftFilter(), as_of=log.tree_size(session))
            .page(1)
            .items
        )
    assert item["index"] == hidden.index and item["receipt_id"] == hidden.extra["receipt_id"]
    assert item["donor"] == {
        "display": "Nhà hảo tâm ẩn danh",
        "type": "individual",
        "anonymous": True,
    }
    assert item["in_kind"] == goods and item["earmark"] == {"purpose": "Cho xã Hợp Thành"}
    assert (item["channel"], item["amount"], item["mobilizer"]) == (
        "in_kind",
        3_000_000,
        "LS-HLHPN",
    )
    assert "Kín" not in repr(item)
    assert gifts(funds, listing.GiftFilter(donor="le van kin")) == []


def test_a_reversed_gift_is_listed_as_reversed_from_the_reversal_on(funds: Any) -> None:
    gift = funds.give(100_000)
    with funds.db.session() as session:
        before = log.tree_size(session)
    funds.record("reversal", {"target": gift.index, "reason": "ghi nhầm quỹ"})
    with funds.db.session() as session:
        now = listing.contributions(
            session, listing.GiftFilter(), as_of=log.tree_size(session)
        ).page(5)
        then = listing.contributions(session, listing.GiftFilter(), as_of=before).page(5)
    assert [i["reversed"] for i in now.items] == [True]
    assert [i["reversed"] for i in then.items] == [False]


def test_bad_searches_are_refused_and_unknown_codes_not_found(funds: Any) -> None:
    with pytest.raises(InvalidRequestError, match="receipt ID"):
        gifts(funds, listing.GiftFilter(receipt_id="not-a-receipt"))
    with pytest.raises(InvalidRequestError, match="letters or digits"):
        gifts(funds, listing.GiftFilter(donor="..."))
    with pytest.raises(NotFoundError, match="NO-FUND"):
        gifts(funds, listing.GiftFilter(fund="NO-FUND"))


# -- paging ------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 10, 11, 50])
def test_pages_hold_every_gift_once_newest_first(funds: Any, limit: int) -> None:
    recorded = [funds.give(10_000 + n).index for n in range(10)]
    assert every_page(funds, limit) == sorted(recorded, reverse=True)


def test_gifts_recorded_between_pages_neither_repeat_nor_push_others_out(funds: Any) -> None:
    recorded = [funds.give(10_000 + n).index for n in range(7)]
    late: list[int] = []
    seen = every_page(funds, 3, between=lambda: late.append(funds.give(99_000).index))
    assert seen == sorted(recorded, reverse=True)
    assert len(late) == 2 and not set(late) & set(seen)


# -- spending ----------------------------------------------------------------------------


def test_allocations_by_unit_beneficiary_form_and_day(funds: Any, settings: Any) -> None:
    funds.give(5_000_000)
    funds.give(5_000_000, fund=funds.district_fund)
    province = funds.allocate(1_000_000, program="NQ68-3")
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    later = record(
        funds.db,
        settings,
        command_line("tester"),
        [
            (
                "allocation",
                {
                    "fund": funds.district_fund,
                    "amount": 700_000,
                    "purpose": "Hỗ trợ hộ nghèo",
                    "beneficiary": {"display": "Hoàng Văn Nam", "type": "individual"},
                },
            ),
        ],
        now=tomorrow,
    )[0]
    today = funds.today
    next_day = tomorrow.astimezone(VIETNAM).date().isoformat()

    def indices(**wanted: Any) -> list[int]:
        with funds.db.session() as session:
            page = listing.allocations(
                session, listing.AllocationFilter(**wanted), as_of=log.tree_size(session)
            ).page(10)
        return [item["index"] for item in page.items]

    assert indices() == [later.index, province.index]
    assert indices(unit="LS") == [later.index, province.index]
    assert indices(unit="LS-CL") == [later.index]
    assert indices(unit="LS-VL") == []
    assert indices(program="NQ68-3") == [province.index]
    assert indices(beneficiary_type="individual") == [later.index]
    assert indices(recorded_from=today, recorded_to=today) == [province.index]
    assert indices(recorded_from=next_day) == [later.index]
    assert indices(recorded_to="2020-12-31") == []
    with funds.db.session() as session:
        item = (
            listing.allocations(session, listing.AllocationFilter(), as_of=log.tree_size(session))
            .page(1)
            .items[0]
        )
    assert item["beneficiary"] == {"display": "Hoàng V. N.", "type": "individual", "unit": None}
    assert item["date"] == next_day and item["purpose"] == "Hỗ trợ hộ nghèo"
    assert "Hoàng Văn Nam" not in repr(item)


def test_the_first_index_of_a_day_is_found_by_the_entry_times(funds: Any) -> None:
    with funds.db.session() as session:
        size = log.tree_size(session)
        assert listing.first_index_from(session, "2000-01-01", size) == 0
        assert listing.first_index_from(session, funds.today, size) == 0
        tomorrow = (datetime.now(VIETNAM) + timedelta(days=1)).date().isoformat()
        assert listing.first_index_from(session, tomorrow, size) == size


def test_disbursements_and_what_was_paid_under_each_allocation(funds: Any) -> None:
    document = proof(funds)
    funds.give(5_000_000)
    funds.give(5_000_000, fund=funds.district_fund)
    grant = funds.allocate(2_000_000)
    district = funds.allocate(1_000_000, fund=funds.district_fund)
    paid = [
        funds.record(
            "disbursement",
            {"allocation": grant.index, "amount": amount, "documents": [document], **extra},
        ).index
        for amount, extra in ((500_000, {"paid_on": "2026-01-05"}), (300_000, {}))
    ]
    funds.record(
        "disbursement", {"allocation": district.index, "amount": 1_000, "documents": [document]}
    )
    funds.record("reversal", {"target": paid[1], "reason": "chuyển nhầm"})

    with funds.db.session() as session:
        size = log.tree_size(session)
        allocations = listing.allocations(
            session, listing.AllocationFilter(fund=funds.fund), as_of=size
        ).page(10)
        payments = listing.disbursements(
            session, listing.DisbursementFilter(allocation=grant.index), as_of=size
        ).page(10)
        january = listing.disbursements(
            session,
            listing.DisbursementFilter(paid_from="2026-01-01", paid_to="2026-01-31"),
            as_of=size,
        ).page(10)
        district_payments = listing.disbursements(
            session, listing.DisbursementFilter(unit="LS-CL"), as_of=size
        ).page(10)
    assert [(a["index"], a["disbursed"]) for a in allocations.items] == [(grant.index, 500_000)]
    assert [(p["index"], p["reversed"]) for p in payments.items] == [
        (paid[1], True),
        (paid[0], False),
    ]
    assert payments.items[1] == {
        "index": paid[0],
        "allocation": grant.index,
        "fund": funds.fund,
        "amount": 500_000,
        "paid_on": "2026-01-05",
        "documents": [document],
        "note": None,
        "reversed": False,
    }
    assert [p["index"] for p in january.items] == [paid[0]]
    assert [p["fund"] for p in district_payments.items] == [funds.district_fund]


# -- the leaderboard ---------------------------------------------------------------------


def mobilizers(funds: Any, *codes: tuple[str, str, str]) -> None:
    funds.record(
        "unit", {"code": "LS-CL-HT", "name": "Xã Hợp Thành", "parent": "LS-CL", "level": "commune"}
    )
    for code, kind, unit in codes:
        funds.record(
            "mobilizer",
            {"code": code, "name": f"Người vận động {code}", "type": kind, "unit": unit},
        )


def test_the_leaderboard_ranks_by_cash_then_gifts_then_code(funds: Any) -> None:
    mobilizers(funds, ("B-DOAN", "collective", "LS-CL"), ("A-HOI", "collective", "LS-CL-HT"))
    for code, amount, donor in (
        ("LS-HLHPN", 300_000, "Lý Văn Phúc"),
        ("B-DOAN", 100_000, "Lý Văn Phúc"),
        ("B-DOAN", 100_000, "Lý Văn Phúc"),
        ("A-HOI", 200_000, "Mai Anh"),
    ):
        funds.give(amount, mobilizer=code, donor=person(donor))
    anonymous = {"type": "individual", "anonymous": True}
    funds.give(50_000, mobilizer="A-HOI", donor=anonymous)
    funds.give(50_000, mobilizer="A-HOI", donor=anonymous)
    wrong = funds.give(9_000_000, mobilizer="A-HOI", donor=person("Mai Anh"))
    funds.record("reversal", {"target": wrong.index, "reason": "trùng"})
    goods = {"description": "Mì tôm", "quantity": 100, "unit": "thùng"}
    funds.give(4_000_000, mobilizer="B-DOAN", channel="in_kind", in_kind=goods, donor=person("X"))

    with funds.db.session() as session:
        size = log.tree_size(session)
        board = summaries.leaderboard(session, summaries.LeaderboardFilter(), as_of=size)
        district = summaries.leaderboard(
            session, summaries.LeaderboardFilter(unit="LS-CL"), as_of=size
        )
    rows = [
        (r["rank"], r["code"], r["amount"], r["in_kind"], r["gifts"], r["donors"]) for r in board
    ]
    assert rows == [
        (1, "A-HOI", 300_000, 0, 3, 3),  # Mai Anh and two anonymous gifts
        (2, "LS-HLHPN", 300_000, 0, 1, 1),  # as much cash, fewer gifts
        (3, "B-DOAN", 200_000, 4_000_000, 3, 2),  # Lý Văn Phúc twice, X once
    ]
    assert [r["code"] for r in district] == ["A-HOI", "B-DOAN"]
    assert board[0]["unit_name"] == "Xã Hợp Thành"


def test_equal_results_are_ranked_by_code(funds: Any) -> None:
    mobilizers(funds, ("Z-DOAN", "collective", "LS"), ("M-DOAN", "individual", "LS"))
    for code in ("Z-DOAN", "M-DOAN", "LS-HLHPN"):
        funds.give(100_000, mobilizer=code)
    with funds.db.session() as session:
        size = log.tree_size(session)
        board = summaries.leaderboard(session, summaries.LeaderboardFilter(), as_of=size)
        people = summaries.leaderboard(
            session, summaries.LeaderboardFilter(type="individual"), as_of=size
        )
    assert [r["code"] for r in board] == ["LS-HLHPN", "M-DOAN", "Z-DOAN"]
    assert [r["rank"] for r in board] == [1, 2, 3]
    assert [r["code"] for r in people] == ["M-DOAN"]


# -- statistics --------------------------------------------------------------------------


def test_statistics_agree_with_the_balances_and_count_as_of_their_tree_size(funds: Any) -> None:
    document = proof(funds)
    funds.give(1_000_000, donor=person("Phạm Thu"))
    funds.give(500_000, donor=person("Phạm Thu"))
    funds.give(300_000, fund=funds.district_fund, donor=person("Phạm Thu"))
    funds.give(
        2_000_000, channel="in_kind", in_kind={"description": "Gạo", "quantity": 1, "unit": "tấn"}
    )
    grant = funds.allocate(800_000)
    funds.record(
        "disbursement", {"allocation": grant.index, "amount": 600_000, "documents": [document]}
    )
    mistaken = funds.give(70_000)
    funds.record("reversal", {"target": mistaken.index, "reason": "sai"})
    with funds.db.session() as session:
        size = log.tree_size(session)
        stats = summaries.statistics(session, as_of=size)
        earlier = summaries.statistics(session, as_of=mistaken.index)
        balances = state.fund_balances(session)
    assert stats["tree_size"] == size
    assert stats["amounts"] == {
        "received": 1_800_000,
        "received_in_kind": 2_000_000,
        "allocated": 800_000,
        "allocated_in_kind": 0,
        "committed": 200_000,
        "committed_in_kind": 0,
        "disbursed": 600_000,
        "disbursed_in_kind": 0,
        "available": 1_000_000,
        "available_in_kind": 2_000_000,
    }
    # Phạm Thu gave three times to two funds: one donor; the organisation of `give`: one.
    assert stats["counts"] == {
        "gifts": 4,
        "donors": 2,
        "allocations": 1,
        "disbursements": 1,
        "reversals": 1,
    }
    per_fund = {fund["code"]: fund for fund in stats["funds"]}
    for code, fund in per_fund.items():
        balance = balances[code]
        assert fund["amounts"]["available"] == balance.available
        assert fund["amounts"]["received"] == balance.received
    assert per_fund[funds.fund]["counts"]["donors"] == 2
    assert per_fund[funds.district_fund]["counts"] == {
        "gifts": 1,
        "donors": 1,
        "allocations": 0,
        "disbursements": 0,
        "reversals": 0,
    }
    assert per_fund[funds.fund]["counts"]["reversals"] == 1
    assert earlier["counts"]["gifts"] == 4 and earlier["counts"]["reversals"] == 0
    assert earlier["amounts"]["received"] == 1_800_000
