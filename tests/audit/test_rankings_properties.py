"""Rankings against a replay of the leaves: whatever was recorded, both agree.

Random gifts (mobilisers of both types in three units, two campaigns, three channels,
named and anonymous donors, days over a month), reversals and a commune moved between
districts are recorded; then random queries (type, campaign, unit, period, excluded
gifts, tree size) are answered by ``audit.rankings.rank`` from the projections and by
a straightforward replay of the first ``as_of`` leaves written here from the rules of
docs/rankings.md. The two must be equal, and the order must follow the stated ties.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.rankings import Ranked, RankingQuery, rank
from ledger import log
from ledger.entries import Entry
from ledger.errors import NotFoundError
from ledger.funds.access import command_line
from ledger.funds.models import MobilizerRow
from ledger.funds.recorder import record

COMMUNE = "LS-CL-HT"
MOBILIZERS = (
    ("LS-HLHPN", "collective", "LS"),  # the fixture's
    ("CL-DOAN", "collective", "LS-CL"),
    ("HT-HOI", "collective", COMMUNE),
    ("VL-HOI", "collective", "LS-VL"),
    ("P-AN", "individual", COMMUNE),
    ("P-BINH", "individual", "LS-VL"),
    ("P-CHI", "individual", "LS"),
)
DONORS = (
    {"display": "Nguyễn Văn An", "type": "individual"},
    {"display": "Nguyễn Văn An", "type": "organization"},  # another donor: not a person
    {"display": "Trần Thị Bình", "type": "individual"},
    {"display": "Công ty TNHH Minh An", "type": "organization"},
    {"type": "individual", "anonymous": True},
    {"type": "organization", "anonymous": True, "display": "Doanh nghiệp X"},
)
GOODS = {"description": "Gạo", "quantity": 10, "unit": "kg"}
UNITS = (None, "LS", "LS-CL", "LS-VL", COMMUNE)

gifts = st.tuples(
    st.just("give"),
    st.sampled_from([code for code, _kind, _unit in MOBILIZERS] + [None]),
    st.sampled_from(("LS-COVID", "CL-COVID")),
    st.sampled_from((100_000, 200_000, 300_000, 50_000)),  # few amounts: many ties
    st.sampled_from(("bank", "cash", "in_kind")),
    st.integers(0, len(DONORS) - 1),
    st.integers(0, 30),  # days ago
)
operations = st.one_of(
    *[gifts] * 6,  # mostly gifts, so that rankings are long
    st.tuples(st.just("reverse"), st.integers(0, 10_000)),
    st.tuples(st.just("move")),
)


def set_up(funds: Any) -> None:
    """The commune and the mobilisers, once: the ledger lives across examples."""
    with funds.db.session() as session:
        if session.get(MobilizerRow, "P-CHI") is not None:
            return
    operations: list[tuple[str, Mapping[str, Any]]] = [
        ("unit", {"code": COMMUNE, "name": "Xã Hợp Thành", "parent": "LS-CL", "level": "commune"})
    ]
    for code, kind, unit in MOBILIZERS[1:]:
        body = {"code": code, "name": f"Người vận động {code}", "type": kind, "unit": unit}
        operations.append(("mobilizer", body))
    record(funds.db, funds.settings, command_line("setup"), operations)


def day(funds: Any, days_ago: int) -> str:
    return (date.fromisoformat(funds.today) - timedelta(days=days_ago)).isoformat()


def apply(funds: Any, script: list[tuple[Any, ...]]) -> None:
    """Record the script in as few batches as can be: a reversal cannot name an entry of
    its own batch, so the batch before it is recorded first."""
    with funds.db.session() as session:
        start = log.tree_size(session)
        history = log.entries(session, 0, start)
    standing = [e.index for e in history if e.kind == "contribution"]
    for e in history:
        if e.kind == "reversal" and e.body["target"] in standing:
            standing.remove(e.body["target"])
    parent = next(e.body["parent"] for e in reversed(history) if e.body.get("code") == COMMUNE)
    batch: list[tuple[str, Mapping[str, Any]]] = []
    recorded = start

    def flush() -> int:
        if batch:
            record(funds.db, funds.settings, command_line("tester"), batch)
        done = recorded + len(batch)
        batch.clear()
        return done

    for op in script:
        if op[0] == "give":
            _, mobilizer, fund, amount, channel, donor, days_ago = op
            body: dict[str, Any] = {
                "fund": fund,
                "amount": amount,
                "channel": channel,
                "donor": DONORS[donor],
                "mobilizer": mobilizer,
                "received_on": day(funds, days_ago),
            }
            if channel == "in_kind":
                body["in_kind"] = GOODS
            standing.append(recorded + len(batch))
            batch.append(("contribution", body))
        elif op[0] == "reverse" and standing:
            target = standing.pop(op[1] % len(standing))
            if target >= recorded:
                recorded = flush()
            batch.append(("reversal", {"target": target, "reason": "ghi sai"}))
        elif op[0] == "move":
            parent = "LS-VL" if parent == "LS-CL" else "LS-CL"
            body = {"code": COMMUNE, "name": "Xã Hợp Thành", "parent": parent, "level": "commune"}
            batch.append(("unit", body))
    flush()


def replayed(leaves: list[Entry], query: RankingQuery) -> list[Ranked]:
    """The ranking as an outside reader computes it from the leaves alone."""
    parents: dict[str, str | None] = {}
    mobilizers: dict[str, dict[str, Any]] = {}
    gifts: dict[int, dict[str, Any]] = {}
    reversed_: set[int] = set()
    for entry in leaves:
        if entry.kind == "unit":
            parents[entry.body["code"]] = entry.body["parent"]
        elif entry.kind == "mobilizer":
            mobilizers[entry.body["code"]] = entry.body
        elif entry.kind == "contribution":
            gifts[entry.index] = entry.body
        elif entry.kind == "reversal":
            reversed_.add(entry.body["target"])
    if query.unit is not None and query.unit not in parents:
        raise NotFoundError(query.unit)

    def inside(unit: str | None) -> bool:
        while unit is not None:
            if unit == query.unit:
                return True
            unit = parents[unit]
        return False

    counted: dict[str, list[int]] = {}
    for index, gift in sorted(gifts.items()):
        who = mobilizers.get(gift["mobilizer"] or "")
        if (
            who is None
            or who["type"] != query.type
            or (query.unit is not None and not inside(who["unit"]))
            or (query.campaign is not None and gift["campaign"] != query.campaign)
            or (query.since is not None and gift["received_on"] < query.since)
            or (query.until is not None and gift["received_on"] > query.until)
            or index in reversed_
            or index in query.excluded
        ):
            continue
        counted.setdefault(who["code"], []).append(index)
    board = []
    for code, indices in counted.items():
        named = {
            (gifts[i]["donor"]["display"], gifts[i]["donor"]["type"])
            for i in indices
            if not gifts[i]["donor"]["anonymous"]
        }
        anonymous = sum(1 for i in indices if gifts[i]["donor"]["anonymous"])
        money = sum(gifts[i]["amount"] for i in indices if gifts[i]["channel"] != "in_kind")
        goods = sum(gifts[i]["amount"] for i in indices if gifts[i]["channel"] == "in_kind")
        who = mobilizers[code]
        board.append(
            Ranked(
                0,
                code,
                who["name"],
                who["type"],
                who["unit"],
                money,
                goods,
                len(named) + anonymous,
                len(indices),
                tuple(indices),
            )
        )
    board.sort(
        key=lambda r: (
            -r.net_amount,
            -r.donors,
            -r.gifts,
            -r.in_kind_value,
            r.gift_indices[0],
            r.mobilizer,
        )
    )
    return [_placed(r, place) for place, r in enumerate(board, start=1)]


def _placed(ranked: Ranked, place: int) -> Ranked:
    return Ranked(
        place,
        ranked.mobilizer,
        ranked.name,
        ranked.type,
        ranked.unit,
        ranked.net_amount,
        ranked.in_kind_value,
        ranked.donors,
        ranked.gifts,
        ranked.gift_indices,
    )


def respects_the_ties(board: list[Ranked]) -> None:
    assert [r.rank for r in board] == list(range(1, len(board) + 1))
    for better, worse in itertools.pairwise(board):
        left = (-better.net_amount, -better.donors, -better.gifts, -better.in_kind_value)
        right = (-worse.net_amount, -worse.donors, -worse.gifts, -worse.in_kind_value)
        assert left <= right
        if left == right:
            assert better.gift_indices[0] < worse.gift_indices[0]


queries = st.tuples(
    st.sampled_from(("collective", "individual")),
    st.sampled_from((None, "LS-2026", "CL-2026")),
    st.sampled_from(UNITS),
    st.one_of(st.none(), st.integers(0, 31)),  # since, days ago
    st.one_of(st.none(), st.integers(0, 31)),  # until, days ago
    st.integers(0, 1000),  # where the tree size falls, in thousandths of this example
    st.lists(st.integers(0, 10_000), max_size=5),  # gifts to leave out, by position
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    script=st.lists(operations, min_size=8, max_size=40),
    asked=st.lists(queries, min_size=1, max_size=4),
)
def test_rankings_agree_with_a_replay_of_the_leaves(
    funds: Any, script: list[tuple[Any, ...]], asked: list[tuple[Any, ...]]
) -> None:
    # The fixture's ledger lives across examples: every query sees the whole history.
    set_up(funds)
    with funds.db.session() as session:
        first = log.tree_size(session)
    apply(funds, script)
    with funds.db.session() as session:
        size = log.tree_size(session)
        leaves = log.entries(session, 0, size)
    everything = [(kind, None, None, None, None, 1000, []) for kind in ("collective", "individual")]
    for kind, campaign, unit, since, until, cut, picks in everything + asked:
        if since is not None and until is not None and since < until:
            since, until = until, since  # days ago: since is the earlier day
        as_of = first + (size - first) * cut // 1000
        gift_indices = [e.index for e in leaves[:as_of] if e.kind == "contribution"]
        excluded = frozenset(gift_indices[p % len(gift_indices)] for p in picks if gift_indices)
        query = RankingQuery(
            kind,
            campaign=campaign,
            unit=unit,
            since=None if since is None else day(funds, since),
            until=None if until is None else day(funds, until),
            excluded=excluded,
        )
        expected = replayed(leaves[:as_of], query)
        with funds.db.session() as session:
            board = rank(session, query, as_of=as_of)
        assert board == expected, query
        respects_the_ties(board)


def test_the_replay_finds_a_known_answer(funds: Any) -> None:
    """The reference itself: a reversal dropped, a tie decided by the first gift."""
    set_up(funds)
    apply(funds, [("give", "VL-HOI", "LS-COVID", 100_000, "cash", 0, 0)])
    apply(funds, [("give", "CL-DOAN", "LS-COVID", 100_000, "cash", 2, 0)])
    apply(funds, [("give", "CL-DOAN", "LS-COVID", 300_000, "cash", 3, 0), ("reverse", 2)])
    with funds.db.session() as session:
        size = log.tree_size(session)
        leaves = log.entries(session, 0, size)
        board = rank(session, RankingQuery("collective"), as_of=size)
    expected = replayed(leaves, RankingQuery("collective"))
    assert [(r.rank, r.mobilizer, r.net_amount, r.gifts) for r in expected] == [
        (1, "VL-HOI", 100_000, 1),
        (2, "CL-DOAN", 100_000, 1),
    ]
    assert board == expected
