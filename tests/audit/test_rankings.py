"""Mobiliser rankings: what counts, what is left out, and how every tie is broken."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from audit import findings
from audit.rankings import (
    Ranked,
    RankingQuery,
    RankingQueryError,
    order_key,
    rank,
    verified_ranking,
    withheld,
)
from ledger import log
from ledger.errors import NotFoundError

GOODS = {"description": "Mì tôm", "quantity": 100, "unit": "thùng"}
ANONYMOUS = {"type": "individual", "anonymous": True}


def person(name: str) -> dict[str, str]:
    return {"display": name, "type": "individual"}


def commune_and_mobilizers(funds: Any) -> None:
    """LS-CL-HT under LS-CL; collectives in LS-CL, LS-CL-HT and LS-VL; two individuals."""
    funds.record(
        "unit", {"code": "LS-CL-HT", "name": "Xã Hợp Thành", "parent": "LS-CL", "level": "commune"}
    )
    for code, kind, unit in (
        ("CL-DOAN", "collective", "LS-CL"),
        ("HT-HOI", "collective", "LS-CL-HT"),
        ("VL-HOI", "collective", "LS-VL"),
        ("P-AN", "individual", "LS-CL-HT"),
        ("P-BINH", "individual", "LS-VL"),
    ):
        funds.record(
            "mobilizer",
            {"code": code, "name": f"Người vận động {code}", "type": kind, "unit": unit},
        )


def size(funds: Any) -> int:
    with funds.db.session() as session:
        return log.tree_size(session)


def ranking(funds: Any, query: RankingQuery, as_of: int | None = None) -> list[Ranked]:
    with funds.db.session() as session:
        return rank(session, query, as_of=log.tree_size(session) if as_of is None else as_of)


def figures(board: list[Ranked]) -> list[tuple[Any, ...]]:
    return [(r.rank, r.mobilizer, r.net_amount, r.in_kind_value, r.donors, r.gifts) for r in board]


def codes(funds: Any, query: RankingQuery) -> list[str]:
    return [r.mobilizer for r in ranking(funds, query)]


def days_ago(funds: Any, days: int) -> str:
    return (date.fromisoformat(funds.today) - timedelta(days=days)).isoformat()


COLLECTIVES = RankingQuery(type="collective")


# -- what counts -------------------------------------------------------------------------


def test_amounts_goods_donors_gifts_and_evidence_per_mobilizer(funds: Any) -> None:
    commune_and_mobilizers(funds)
    first = funds.give(300_000, mobilizer="CL-DOAN", channel="bank", donor=person("Lý Văn Phúc"))
    second = funds.give(200_000, mobilizer="CL-DOAN", donor=person("Lý Văn Phúc"))
    third = funds.give(50_000, mobilizer="CL-DOAN", donor=ANONYMOUS)
    fourth = funds.give(50_000, mobilizer="CL-DOAN", donor=ANONYMOUS)
    goods = funds.give(
        4_000_000, mobilizer="CL-DOAN", channel="in_kind", in_kind=GOODS, donor=person("Mai Anh")
    )
    funds.give(9_000_000, donor=person("Không ai vận động"))  # no mobilizer: ranks nobody

    (only,) = ranking(funds, COLLECTIVES)

    assert only == Ranked(
        rank=1,
        mobilizer="CL-DOAN",
        name="Người vận động CL-DOAN",
        type="collective",
        unit="LS-CL",
        net_amount=600_000,  # bank and cash; the goods are apart
        in_kind_value=4_000_000,
        donors=4,  # Lý Văn Phúc once, each anonymous gift once, Mai Anh
        gifts=5,
        gift_indices=(first.index, second.index, third.index, fourth.index, goods.index),
    )


def test_a_reversed_gift_drops_out_entirely(funds: Any) -> None:
    commune_and_mobilizers(funds)
    kept = funds.give(100_000, mobilizer="CL-DOAN", donor=person("Mai Anh"))
    wrong = funds.give(5_000_000, mobilizer="CL-DOAN", donor=person("Đinh Thị Hoa"))
    funds.give(1_000_000, mobilizer="VL-HOI", donor=person("Hà Văn Tư"))
    before = size(funds)
    funds.record("reversal", {"target": wrong.index, "reason": "ghi nhầm đơn vị"})

    (cl, _vl) = ranking(funds, COLLECTIVES, as_of=before)  # the reversal is not yet there
    assert (cl.mobilizer, cl.net_amount, cl.donors, cl.gifts) == ("CL-DOAN", 5_100_000, 2, 2)
    assert cl.gift_indices == (kept.index, wrong.index)

    board = ranking(funds, COLLECTIVES)
    assert figures(board) == [
        (1, "VL-HOI", 1_000_000, 0, 1, 1),
        (2, "CL-DOAN", 100_000, 0, 1, 1),  # neither the amount, the donor nor the gift
    ]
    assert board[1].gift_indices == (kept.index,)


def test_a_mobilizer_whose_every_gift_was_reversed_is_not_ranked(funds: Any) -> None:
    commune_and_mobilizers(funds)
    gift = funds.give(100_000, mobilizer="CL-DOAN")
    funds.record("reversal", {"target": gift.index, "reason": "trả lại"})
    assert ranking(funds, COLLECTIVES) == []


def test_only_gifts_below_the_tree_size_count(funds: Any) -> None:
    commune_and_mobilizers(funds)
    early = funds.give(100_000, mobilizer="CL-DOAN")
    cut = size(funds)
    funds.give(900_000, mobilizer="CL-DOAN")
    funds.give(900_000, mobilizer="VL-HOI")
    assert figures(ranking(funds, COLLECTIVES, as_of=cut)) == [(1, "CL-DOAN", 100_000, 0, 1, 1)]
    assert ranking(funds, COLLECTIVES, as_of=cut)[0].gift_indices == (early.index,)
    assert ranking(funds, COLLECTIVES, as_of=early.index) == []


def test_excluded_gifts_are_left_out_and_reported_as_withheld(funds: Any) -> None:
    commune_and_mobilizers(funds)
    kept = funds.give(200_000, mobilizer="CL-DOAN", donor=person("Mai Anh"))
    blocked = funds.give(3_000_000, mobilizer="CL-DOAN", donor=person("Đinh Thị Hoa"))
    vl = funds.give(1_000_000, mobilizer="VL-HOI")
    reversed_ = funds.give(700_000, mobilizer="VL-HOI")
    funds.record("reversal", {"target": reversed_.index, "reason": "sai"})
    # A reversed gift, a gift of an individual and indices that are no gifts change nothing.
    person_gift = funds.give(100_000, mobilizer="P-AN")
    noise = {reversed_.index, person_gift.index, 0, 10**9}
    query = RankingQuery(type="collective", excluded=frozenset({blocked.index, *noise}))

    board = ranking(funds, query)

    assert figures(board) == [
        (1, "VL-HOI", 1_000_000, 0, 1, 1),
        (2, "CL-DOAN", 200_000, 0, 1, 1),
    ]
    assert board[1].gift_indices == (kept.index,)
    assert board[0].gift_indices == (vl.index,)
    with funds.db.session() as session:
        assert withheld(session, query, as_of=log.tree_size(session)) == [blocked.index]
    beyond = RankingQuery(type="collective", excluded=frozenset({10**9}))
    assert ranking(funds, beyond) == ranking(funds, COLLECTIVES)
    assert [r.net_amount for r in ranking(funds, beyond)] == [3_200_000, 1_000_000]


def test_collectives_and_individuals_are_ranked_apart(funds: Any) -> None:
    commune_and_mobilizers(funds)
    funds.give(5_000_000, mobilizer="P-AN")
    funds.give(1_000_000, mobilizer="HT-HOI")
    funds.give(2_000_000, mobilizer="P-BINH")
    assert codes(funds, COLLECTIVES) == ["HT-HOI"]
    people = ranking(funds, RankingQuery(type="individual"))
    assert figures(people) == [
        (1, "P-AN", 5_000_000, 0, 1, 1),
        (2, "P-BINH", 2_000_000, 0, 1, 1),
    ]
    assert {r.type for r in people} == {"individual"}


def test_a_unit_ranks_the_mobilizers_of_its_whole_subtree(funds: Any) -> None:
    commune_and_mobilizers(funds)
    for code, amount in (("CL-DOAN", 300_000), ("HT-HOI", 200_000), ("VL-HOI", 900_000)):
        funds.give(amount, mobilizer=code)
    funds.give(50_000, mobilizer=funds.mobilizer)  # the province's own
    assert codes(funds, COLLECTIVES) == ["VL-HOI", "CL-DOAN", "HT-HOI", "LS-HLHPN"]
    assert codes(funds, RankingQuery("collective", unit="LS")) == codes(funds, COLLECTIVES)
    district = ranking(funds, RankingQuery("collective", unit="LS-CL"))
    assert [(r.rank, r.mobilizer, r.unit) for r in district] == [
        (1, "CL-DOAN", "LS-CL"),
        (2, "HT-HOI", "LS-CL-HT"),
    ]
    assert codes(funds, RankingQuery("collective", unit="LS-CL-HT")) == ["HT-HOI"]
    assert codes(funds, RankingQuery("collective", unit="LS-VL")) == ["VL-HOI"]


def test_the_unit_tree_is_the_one_in_force_at_the_tree_size(funds: Any) -> None:
    commune_and_mobilizers(funds)
    funds.give(200_000, mobilizer="HT-HOI")
    funds.give(300_000, mobilizer="CL-DOAN")
    before = size(funds)
    # The commune is moved under the other district; the ranking at the earlier size
    # still sees it where it was then.
    funds.record(
        "unit", {"code": "LS-CL-HT", "name": "Xã Hợp Thành", "parent": "LS-VL", "level": "commune"}
    )
    in_cl = RankingQuery("collective", unit="LS-CL")
    in_vl = RankingQuery("collective", unit="LS-VL")
    assert codes(funds, in_cl) == ["CL-DOAN"]
    assert codes(funds, in_vl) == ["HT-HOI"]
    assert [r.mobilizer for r in ranking(funds, in_cl, as_of=before)] == ["CL-DOAN", "HT-HOI"]
    assert ranking(funds, in_vl, as_of=before) == []


def test_a_campaign_ranks_its_own_gifts_only(funds: Any) -> None:
    commune_and_mobilizers(funds)
    funds.give(300_000, mobilizer="CL-DOAN")  # the province's campaign
    district = funds.give(100_000, fund=funds.district_fund, mobilizer="CL-DOAN")
    funds.give(200_000, fund=funds.district_fund, mobilizer="HT-HOI")
    board = ranking(funds, RankingQuery("collective", campaign=funds.district_campaign))
    assert figures(board) == [
        (1, "HT-HOI", 200_000, 0, 1, 1),
        (2, "CL-DOAN", 100_000, 0, 1, 1),
    ]
    assert board[1].gift_indices == (district.index,)
    assert codes(funds, RankingQuery("collective", campaign=funds.other_campaign)) == []


def test_a_period_holds_the_gifts_received_on_its_days_inclusive(funds: Any) -> None:
    commune_and_mobilizers(funds)
    for days, amount in ((20, 1_000), (10, 10_000), (5, 100_000), (0, 1_000_000)):
        funds.give(amount, mobilizer="CL-DOAN", received_on=days_ago(funds, days))

    def total(since: int | None, until: int | None) -> int:
        query = RankingQuery(
            "collective",
            since=None if since is None else days_ago(funds, since),
            until=None if until is None else days_ago(funds, until),
        )
        return sum(r.net_amount for r in ranking(funds, query))

    assert total(10, 5) == 110_000  # both ends included
    assert total(None, 10) == 11_000
    assert total(5, None) == 1_100_000
    assert total(9, 6) == 0
    assert total(None, None) == 1_111_000


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        (RankingQuery("everyone"), "type must be collective or individual"),
        (RankingQuery("collective", since="2026-02-30"), "since must be a day"),
        (RankingQuery("collective", until="26-1-1"), "until must be a day"),
        (RankingQuery("collective", since="2026-03-02", until="2026-03-01"), "is before"),
    ],
)
def test_a_malformed_query_is_refused(funds: Any, query: RankingQuery, mentions: str) -> None:
    with pytest.raises(RankingQueryError, match=mentions):
        ranking(funds, query)


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        (RankingQuery("collective", campaign="NO-SUCH"), "no campaign with code 'NO-SUCH'"),
        (RankingQuery("collective", unit="NO-SUCH"), "no unit with code 'NO-SUCH'"),
    ],
)
def test_an_unknown_campaign_or_unit_is_not_found(
    funds: Any, query: RankingQuery, mentions: str
) -> None:
    with pytest.raises(NotFoundError, match=mentions):
        ranking(funds, query)


def test_a_unit_declared_after_the_tree_size_is_not_found_at_it(funds: Any) -> None:
    before = size(funds)
    commune_and_mobilizers(funds)
    with pytest.raises(NotFoundError, match="at tree size"):
        ranking(funds, RankingQuery("collective", unit="LS-CL-HT"), as_of=before)


# -- ties --------------------------------------------------------------------------------
# In each case the mobilizer that wins the tie has the larger code and its first gift
# came later, so that only the rule under test can put it first.


def two_mobilizers(funds: Any) -> None:
    for code in ("A-TRUOC", "Z-SAU"):
        funds.record(
            "mobilizer", {"code": code, "name": f"Tổ {code}", "type": "collective", "unit": "LS"}
        )


def test_more_money_ranks_first(funds: Any) -> None:
    two_mobilizers(funds)
    funds.give(100_000, mobilizer="A-TRUOC", donor=person("An"))
    funds.give(100_000, mobilizer="A-TRUOC", donor=person("Bình"))
    funds.give(200_001, mobilizer="Z-SAU", donor=person("Chi"))
    assert figures(ranking(funds, COLLECTIVES)) == [
        (1, "Z-SAU", 200_001, 0, 1, 1),
        (2, "A-TRUOC", 200_000, 0, 2, 2),  # more donors and gifts do not outweigh money
    ]


def test_equal_money_more_donors_ranks_first(funds: Any) -> None:
    two_mobilizers(funds)
    funds.give(100_000, mobilizer="A-TRUOC", donor=person("An"))
    funds.give(100_000, mobilizer="A-TRUOC", donor=person("An"))
    funds.give(100_000, mobilizer="A-TRUOC", donor=person("An"), channel="in_kind", in_kind=GOODS)
    funds.give(100_000, mobilizer="Z-SAU", donor=person("Bình"))
    funds.give(100_000, mobilizer="Z-SAU", donor=person("Chi"))
    board = ranking(funds, COLLECTIVES)
    assert figures(board) == [
        (1, "Z-SAU", 200_000, 0, 2, 2),
        (2, "A-TRUOC", 200_000, 100_000, 1, 3),  # more gifts and goods do not outweigh donors
    ]


def test_equal_money_and_donors_more_gifts_ranks_first(funds: Any) -> None:
    two_mobilizers(funds)
    funds.give(200_000, mobilizer="A-TRUOC", donor=person("An"))
    funds.give(500_000, mobilizer="A-TRUOC", donor=person("An"), channel="in_kind", in_kind=GOODS)
    funds.give(100_000, mobilizer="Z-SAU", donor=person("Bình"))
    funds.give(100_000, mobilizer="Z-SAU", donor=person("Bình"))
    funds.give(1_000, mobilizer="Z-SAU", donor=person("Bình"), channel="in_kind", in_kind=GOODS)
    assert figures(ranking(funds, COLLECTIVES)) == [
        (1, "Z-SAU", 200_000, 1_000, 1, 3),
        (2, "A-TRUOC", 200_000, 500_000, 1, 2),  # more goods do not outweigh more gifts
    ]


def test_equal_money_donors_and_gifts_more_goods_ranks_first(funds: Any) -> None:
    two_mobilizers(funds)
    funds.give(200_000, mobilizer="A-TRUOC", donor=person("An"))
    funds.give(10_000, mobilizer="A-TRUOC", donor=person("An"), channel="in_kind", in_kind=GOODS)
    funds.give(200_000, mobilizer="Z-SAU", donor=person("Bình"))
    funds.give(10_001, mobilizer="Z-SAU", donor=person("Bình"), channel="in_kind", in_kind=GOODS)
    assert figures(ranking(funds, COLLECTIVES)) == [
        (1, "Z-SAU", 200_000, 10_001, 1, 2),
        (2, "A-TRUOC", 200_000, 10_000, 1, 2),
    ]


def test_all_figures_equal_the_first_to_bring_a_gift_ranks_first(funds: Any) -> None:
    two_mobilizers(funds)
    late_starter = funds.give(100_000, mobilizer="A-TRUOC", donor=person("An"))
    funds.record("reversal", {"target": late_starter.index, "reason": "nhầm"})
    first = funds.give(100_000, mobilizer="Z-SAU", donor=person("Bình"))
    second = funds.give(100_000, mobilizer="A-TRUOC", donor=person("Chi"))
    board = ranking(funds, COLLECTIVES)
    # A-TRUOC's first gift was reversed: its earliest gift that counts came after Z-SAU's.
    assert figures(board) == [
        (1, "Z-SAU", 100_000, 0, 1, 1),
        (2, "A-TRUOC", 100_000, 0, 1, 1),
    ]
    assert [r.gift_indices for r in board] == [(first.index,), (second.index,)]


def test_the_code_decides_only_when_all_else_is_equal() -> None:
    # Two mobilizers never share a gift, so the rule is out of reach of real data; it
    # makes the order total all the same.
    def ranked(code: str, first: int) -> Ranked:
        return Ranked(0, code, code, "collective", "LS", 100, 0, 1, 1, (first,))

    assert sorted([ranked("B", 7), ranked("A", 7)], key=order_key)[0].mobilizer == "A"
    assert sorted([ranked("A", 8), ranked("B", 7)], key=order_key)[0].mobilizer == "B"


def test_ranks_run_one_to_n_without_sharing(funds: Any) -> None:
    commune_and_mobilizers(funds)
    for code in ("CL-DOAN", "HT-HOI", "VL-HOI", funds.mobilizer):
        funds.give(100_000, mobilizer=code, donor=person("An"))
    board = ranking(funds, COLLECTIVES)
    assert [r.rank for r in board] == [1, 2, 3, 4]
    assert [r.mobilizer for r in board] == ["CL-DOAN", "HT-HOI", "VL-HOI", "LS-HLHPN"]


# -- verified against the latest checkpoint, blocked gifts left out -----------------------


def fake_findings(monkeypatch: pytest.MonkeyPatch, found: list[findings.Finding]) -> list[Any]:
    calls: list[Any] = []

    def findings_kept(
        _session: Any, _settings: Any, *, now: Any = None, as_of: int | None = None
    ) -> list[findings.Finding]:
        calls.append(as_of)
        return found

    monkeypatch.setattr("audit.rules.findings_kept", findings_kept)
    return calls


def test_the_verified_ranking_leaves_out_gifts_under_an_unacknowledged_blocking_finding(
    funds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    commune_and_mobilizers(funds)
    blocked = funds.give(5_000_000, mobilizer="CL-DOAN", donor=person("Đinh Thị Hoa"))
    cleared = funds.give(1_000_000, mobilizer="CL-DOAN", donor=person("Mai Anh"))
    warned = funds.give(500_000, mobilizer="VL-HOI", donor=person("Hà Văn Tư"))
    found = [
        findings.Finding("large_cash_gift", findings.BLOCKING, blocked.index, "no reference"),
        findings.Finding(
            "large_cash_gift", findings.BLOCKING, cleared.index, "no reference"
        ).acknowledge(cleared.index + 10, "biên lai đã đối chiếu"),
        findings.Finding("idle_money", findings.WARNING, warned.index, "idle"),
    ]
    calls = fake_findings(monkeypatch, found)

    with funds.db.session() as session:
        latest = log.latest_checkpoint(session)
        result = verified_ranking(session, funds.settings, COLLECTIVES)

    assert calls == [latest.tree_size]
    assert (result.tree_size, result.root, result.checkpoint) == (
        latest.tree_size,
        latest.root,
        latest.note,
    )
    assert figures(list(result.ranked)) == [
        (1, "CL-DOAN", 1_000_000, 0, 1, 1),
        (2, "VL-HOI", 500_000, 0, 1, 1),
    ]
    assert result.withheld == (blocked.index,)
    assert result.query.excluded == frozenset({blocked.index})
    document = result.document(evidence=True)
    assert document["withheld"] == 1 and document["withheld_gifts"] == [blocked.index]
    assert document["mobilizers"][0]["gift_indices"] == [cleared.index]
    assert "gift_indices" not in result.document()["mobilizers"][0]


def test_the_verified_ranking_refuses_a_bad_query_before_running_the_rules(
    funds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_findings(monkeypatch, [])
    with funds.db.session() as session, pytest.raises(NotFoundError):
        verified_ranking(session, funds.settings, RankingQuery("collective", unit="XX"))
    assert calls == []
