"""The award criteria and the choice of forms from crafted rankings (no database)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.awards import nominations as n
from audit.awards.criteria import Criteria, Form, ListLayout, Threshold
from audit.awards.evidence import LeafTooLargeError, fitted, gift_indices, runs
from audit.awards.proposing import Proposal, choose
from ledger.entries import MAX_LEAF_BYTES
from ledger.errors import ConfigurationError

DEFAULTS = resources.files("audit.awards").joinpath("criteria.toml").read_text("utf-8")
CRITERIA = Criteria.load()
MILLION = 1_000_000
BILLION = 1_000 * MILLION


def test_the_default_criteria_hold_the_five_forms_of_the_plan_highest_first() -> None:
    shown = [(f.code, f.name, f.decided_by, f.final_state) for f in CRITERIA.forms]
    assert shown == [
        ("HCLD", "Huân chương Lao động", "state", "forwarded"),
        ("BK-TTG", "Bằng khen của Thủ tướng Chính phủ", "state", "forwarded"),
        (
            "BK-UBND-TINH",
            "Bằng khen của Chủ tịch UBND tỉnh",
            "province_people_committee",
            "forwarded",
        ),
        (
            "BK-MTTQ-TINH",
            "Bằng khen của Ủy ban MTTQ Việt Nam tỉnh",
            "province_front_committee",
            "conferred",
        ),
        (
            "GK-MTTQ-HUYEN",
            "Giấy khen của Ủy ban MTTQ Việt Nam huyện, thành phố",
            "district_front_committee",
            "conferred",
        ),
    ]
    for kind in ("collective", "individual"):
        amounts = [f.thresholds[kind].min_net_amount for f in CRITERIA.forms]
        assert amounts == sorted(amounts, reverse=True)
    assert CRITERIA.form("GK-MTTQ-HUYEN") == Form(
        "GK-MTTQ-HUYEN",
        "Giấy khen của Ủy ban MTTQ Việt Nam huyện, thành phố",
        "district_front_committee",
        False,
        {
            "collective": Threshold(20 * MILLION, min_gifts=10),
            "individual": Threshold(10 * MILLION, min_gifts=5),
        },
    )
    assert CRITERIA.layout == ListLayout("Lạng Sơn", "TM. BAN THƯỜNG TRỰC", "CHỦ TỊCH")


def test_a_criteria_file_replaces_the_defaults_whole(tmp_path: Path) -> None:
    path = tmp_path / "criteria.toml"
    only = DEFAULTS[: DEFAULTS.index('[[forms]]\ncode = "BK-TTG"')]
    path.write_text(only.replace("5_000_000_000", "7_000_000_000"), encoding="utf-8")
    loaded = Criteria.load(path)
    assert [f.code for f in loaded.forms] == ["HCLD"]
    assert loaded.forms[0].thresholds["collective"].min_net_amount == 7 * BILLION


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            ("min_net_amount = 5_000_000_000", "min_net_amount = -5"),
            "forms[0].collective.min_net_amount",
        ),
        (("min_donors = 1_000", "min_donors = 1.5"), "forms[0].collective.min_donors"),
        (
            ("min_donors = 1_000", "min_donors = 1_000\nmin_donor = 4"),
            "forms[0].collective.min_donor",
        ),
        (('decided_by = "state"', 'decided_by = "ministry"'), "forms[0].decided_by"),
        (("proposed_upward = true", 'proposed_upward = "yes"'), "forms[0].proposed_upward"),
        (('code = "BK-TTG"', 'code = "HCLD"'), "forms[1].code"),
        (('code = "HCLD"', 'code = "hcld"'), "forms[0].code"),
        (('name = "Huân chương Lao động"\n', ""), "forms[0].name"),
        (("max_per_campaign = 1", "max_per_campaign = 0"), "forms[0].collective.max_per_campaign"),
        (('place = "Lạng Sơn"', "place = 7"), "list.place"),
        (("\n[forms.collective]", "\n[forms.collectives]"), "forms[0].collectives"),
        (("min_net_amount = 5_000_000_000\n", ""), "forms[0].collective.min_net_amount"),
        (("[list]", "[lists]"), "lists"),
        (("[list]", "[list"), "not valid TOML"),
    ],
)
def test_a_bad_criteria_file_is_refused_naming_the_key(
    tmp_path: Path, change: tuple[str, str], named: str
) -> None:
    path = tmp_path / "criteria.toml"
    assert change[0] in DEFAULTS
    path.write_text(DEFAULTS.replace(*change, 1), encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        Criteria.load(path)
    assert named in caught.value.message
    assert str(path) in caught.value.message


def test_a_missing_criteria_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LEDGER_AWARDS_CRITERIA"):
        Criteria.load(tmp_path / "nowhere.toml")


# -- choosing forms from crafted rankings ---------------------------------------------


@dataclass(frozen=True)
class Row:
    rank: int
    mobilizer: str
    net_amount: int
    donors: int = 2_000
    gifts: int = 2_000
    type: str = "collective"
    in_kind_value: int = 0
    name: str = "Tập thể"
    unit: str = "LS"
    gift_indices: tuple[int, ...] = ()


def chosen(
    rankings: Mapping[str, list[Row]], standing: tuple[n.Nomination, ...] = ()
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    picks, skipped = choose(CRITERIA, rankings, standing, Proposal("LS-2026"))
    return (
        [(p.ranked.mobilizer, p.form.code) for p in picks],
        [(s.mobilizer, s.reason) for s in skipped],
    )


def standing_nomination(
    code: str,
    form: str,
    state: str | None = None,
    campaign: str = "LS-2026",
    kind: str = "collective",
    **period: str,
) -> n.Nomination:
    body = {
        "id": f"K{code:0>16}",
        "form": {"code": form, "proposed_upward": True},
        "awardee": {"code": code, "type": kind},
        "campaign": campaign,
        "period": period,
    }
    history = () if state is None else (n.Transition(9, "t", "a", "x", state, "r", None),)
    return n.Nomination(5, "t", "a", body, history)


def test_each_mobilizer_gets_the_highest_form_it_qualifies_for() -> None:
    collectives = [
        Row(1, "A", 6 * BILLION),  # HCLD
        Row(2, "B", 5 * BILLION, donors=999),  # one donor short of HCLD: BK-TTG
        Row(3, "C", 600 * MILLION, donors=200),  # BK-UBND-TINH, exactly its donors
        Row(4, "D", 100 * MILLION, donors=49),  # too few donors for BK-MTTQ-TINH: GK
        Row(5, "E", 20 * MILLION, gifts=9),  # one gift short of the Giấy khen: nothing
    ]
    individuals = [
        Row(1, "P1", 2 * BILLION, type="individual"),  # exactly the HCLD amount
        Row(2, "P2", 10 * MILLION, gifts=5, type="individual"),  # GK-MTTQ-HUYEN
    ]
    picks, skipped = chosen({"collective": collectives, "individual": individuals})
    assert picks == [
        ("A", "HCLD"),
        ("B", "BK-TTG"),
        ("C", "BK-UBND-TINH"),
        ("D", "GK-MTTQ-HUYEN"),
        ("P1", "HCLD"),
        ("P2", "GK-MTTQ-HUYEN"),
    ]
    assert skipped == []


def test_a_full_form_passes_the_next_mobilizer_to_the_form_below() -> None:
    collectives = [Row(3, "C", 7 * BILLION), Row(2, "B", 8 * BILLION), Row(1, "A", 9 * BILLION)]
    picks, skipped = chosen({"collective": collectives})
    # Rank decides who takes the one HCLD place, not the order the rows came in.
    assert picks == [("A", "HCLD"), ("B", "BK-TTG"), ("C", "BK-TTG")]
    assert skipped == []
    fourth = [*collectives, Row(4, "D", 6 * BILLION)]
    assert chosen({"collective": fourth})[0][-1] == ("D", "BK-UBND-TINH")


def test_places_taken_by_standing_nominations_count_and_rejected_ones_do_not() -> None:
    rows = {"collective": [Row(1, "A", 9 * BILLION)]}
    taken = (standing_nomination("Z", "HCLD"),)
    assert chosen(rows, taken) == ([("A", "BK-TTG")], [])
    assert chosen(rows, (standing_nomination("Z", "HCLD", n.REJECTED),))[0] == [("A", "HCLD")]
    elsewhere = (standing_nomination("Z", "HCLD", campaign="CL-2026"),)
    assert chosen(rows, elsewhere)[0] == [("A", "HCLD")]
    another_period = (standing_nomination("Z", "HCLD", since="2026-01-01"),)
    assert chosen(rows, another_period)[0] == [("A", "BK-TTG")]  # a place per campaign


def test_a_mobilizer_standing_nominated_for_its_form_is_skipped_with_the_reason() -> None:
    rows = {"collective": [Row(1, "A", 9 * BILLION)]}
    picks, skipped = chosen(rows, (standing_nomination("A", "HCLD", n.UNDER_REVIEW),))
    assert picks == []
    assert skipped == [("A", "already nominated for HCLD (K000000000000000A, under_review)")]
    # The same mobiliser for another period is another nomination.
    picks, _ = chosen(rows, (standing_nomination("A", "HCLD", since="2026-01-01"),))
    assert picks == [("A", "BK-TTG")]


def test_a_mobilizer_whose_forms_are_all_full_is_reported() -> None:
    rows = {"individual": [Row(1, "P", 3 * BILLION, gifts=2, type="individual")]}
    forms = ["HCLD", "BK-TTG", "BK-TTG"] + ["BK-UBND-TINH"] * 10
    taken = tuple(
        standing_nomination(f"Q{number}", form, kind="individual")
        for number, form in enumerate(forms)
    )
    assert chosen(rows, taken) == ([("P", "BK-MTTQ-TINH")], [])
    crowded = taken + tuple(
        standing_nomination(f"R{number}", "BK-MTTQ-TINH", kind="individual") for number in range(30)
    )
    # Two gifts are too few for the Giấy khen, the one form without a limit.
    assert chosen(rows, crowded) == (
        [],
        [
            (
                "P",
                "qualifies for HCLD (all 1 places taken), BK-TTG (all 2 places taken), "
                "BK-UBND-TINH (all 10 places taken), BK-MTTQ-TINH (all 30 places taken)",
            )
        ],
    )


@st.composite
def rankings(draw: st.DrawFn) -> dict[str, list[Row]]:
    found: dict[str, list[Row]] = {}
    for kind in ("collective", "individual"):
        count = draw(st.integers(min_value=0, max_value=12))
        found[kind] = [
            Row(
                place,
                f"{kind[0]}{place}",
                draw(st.sampled_from([0, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000]))
                * MILLION,
                donors=draw(st.sampled_from([0, 10, 50, 100, 200, 500, 1_000])),
                gifts=draw(st.integers(min_value=0, max_value=12)),
                type=kind,
            )
            for place in range(1, count + 1)
        ]
    return found


@given(rankings())
def test_chosen_forms_meet_their_thresholds_quotas_and_are_the_highest_open(
    found: dict[str, list[Row]],
) -> None:
    picks, _skipped = choose(CRITERIA, found, (), Proposal("LS-2026"))
    counts: dict[tuple[str, str], int] = {}
    for pick in picks:
        key = (pick.form.code, pick.ranked.type)
        counts[key] = counts.get(key, 0) + 1
    for pick in picks:
        row = pick.ranked
        assert pick.form.thresholds[row.type].met_by(row.net_amount, row.donors, row.gifts)
        for higher in CRITERIA.forms[: CRITERIA.forms.index(pick.form)]:
            limit = higher.thresholds[row.type]
            if limit.met_by(row.net_amount, row.donors, row.gifts):
                assert counts.get((higher.code, row.type), 0) == limit.max_per_campaign
    for (code, kind), count in counts.items():
        form = CRITERIA.form(code)
        assert form is not None
        limit = form.thresholds[kind].max_per_campaign
        assert limit is None or count <= limit
    nominated = {pick.ranked.mobilizer for pick in picks}
    for kind, rows in found.items():
        lowest = CRITERIA.forms[-1].thresholds[kind]  # no limit on places
        for row in rows:
            if lowest.met_by(row.net_amount, row.donors, row.gifts):
                assert row.mobilizer in nominated


# -- how a long gift list is kept in one leaf ----------------------------------------------


@given(st.sets(st.integers(min_value=1, max_value=400), max_size=60))
def test_runs_are_ascending_and_give_back_the_same_indices(indices: set[int]) -> None:
    made = runs(indices)
    assert gift_indices({"evidence": {"gift_runs": made}}) == sorted(indices)
    assert all(a + c < b for (a, c), (b, _d) in itertools.pairwise(made))


def body_with(counted: list[int]) -> dict[str, Any]:
    return {
        "form": {"code": "HCLD"},
        "awardee": {"code": "CL-DOAN", "name": "Tập thể", "type": "collective", "unit": "LS"},
        "evidence": {"gifts": counted, "tree_size": 10**6, "root": "0" * 64, "checkpoint": "x"},
    }


def test_a_gift_list_too_long_for_a_leaf_is_stored_as_runs_or_refused() -> None:
    small = body_with([5, 9])
    assert fitted(small, "cli:board") is small
    consecutive = list(range(100_000, 120_000))
    compact = fitted(body_with(consecutive), "cli:board")
    assert "gifts" not in compact["evidence"]
    assert compact["evidence"]["gift_runs"] == [[100_000, 20_000]]
    assert gift_indices(compact) == consecutive
    scattered = list(range(100_000, 160_000, 2))
    with pytest.raises(LeafTooLargeError, match=f"lists 30000 gifts.*at most {MAX_LEAF_BYTES}"):
        fitted(body_with(scattered), "cli:board")
