"""Award criteria, nominations from rankings, their evidence, and the board's workflow."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import audit
from audit.awards import nominations as n
from audit.awards.criteria import parse
from audit.awards.evidence import gift_indices, runs, verify
from audit.awards.proposing import Proposal, propose
from audit.awards.workflow import IllegalTransitionError, transition
from ledger import log, receipt_ids
from ledger.errors import DuplicateError, PermissionDeniedError
from ledger.funds.access import AUDITOR, AWARDS_BOARD, FUND_MANAGER, Scope, command_line
from ledger.funds.recorder import record

# Small thresholds, so that a handful of gifts earns each form.
CRITERIA = """
[list]
place = "Lạng Sơn"

[[forms]]
code = "HCLD"
name = "Huân chương Lao động"
decided_by = "state"
proposed_upward = true
[forms.collective]
min_net_amount = 5_000_000
min_donors = 3
max_per_campaign = 1

[[forms]]
code = "BK-UBND-TINH"
name = "Bằng khen của Chủ tịch UBND tỉnh"
decided_by = "province_people_committee"
proposed_upward = true
[forms.collective]
min_net_amount = 2_000_000
max_per_campaign = 1
[forms.individual]
min_net_amount = 2_000_000

[[forms]]
code = "BK-MTTQ-TINH"
name = "Bằng khen của Ủy ban MTTQ Việt Nam tỉnh"
decided_by = "province_front_committee"
proposed_upward = false
[forms.collective]
min_net_amount = 1_000_000
[forms.individual]
min_net_amount = 500_000

[[forms]]
code = "GK-MTTQ-HUYEN"
name = "Giấy khen của Ủy ban MTTQ Việt Nam huyện, thành phố"
decided_by = "district_front_committee"
proposed_upward = false
[forms.individual]
min_net_amount = 100_000
min_gifts = 2
"""
SMALL = parse(CRITERIA, "test criteria")


def person(name: str) -> dict[str, str]:
    return {"display": name, "type": "individual"}


def mobilizers(funds: Any) -> None:
    for code, kind, unit in (
        ("CL-DOAN", "collective", "LS-CL"),
        ("VL-HOI", "collective", "LS-VL"),
        ("P-AN", "individual", "LS-CL"),
        ("P-BINH", "individual", "LS-VL"),
    ):
        name = f"Người vận động {code}"
        funds.record("mobilizer", {"code": code, "name": name, "type": kind, "unit": unit})


def gifts(funds: Any, mobilizer: str, *amounts: int, donor: str = "Nhà hảo tâm") -> list[int]:
    return [
        funds.give(amount, mobilizer=mobilizer, donor=person(f"{donor} {number}")).index
        for number, amount in enumerate(amounts)
    ]


def proposed(funds: Any, campaign: str = "LS-2026", **options: Any) -> Any:
    proposal = Proposal(campaign, **options)
    return propose(funds.db, funds.settings, command_line("board"), proposal, criteria=SMALL)


def state_of(funds: Any, nomination_id: str) -> str:
    with funds.db.session() as session:
        return n.find(session, nomination_id).state


def size(funds: Any) -> int:
    with funds.db.session() as session:
        return log.tree_size(session)


def step(funds: Any, nomination_id: str, to: str, **more: Any) -> Any:
    data = {"nomination": nomination_id, "to": to, "reason": f"Hội đồng họp: {to}", **more}
    return transition(funds.db, funds.settings, command_line("board"), data)


# -- proposing from the ledger's rankings ----------------------------------------------


def test_propose_records_one_nomination_per_qualifying_mobilizer_with_its_evidence(
    funds: Any,
) -> None:
    mobilizers(funds)
    cl = gifts(funds, "CL-DOAN", 2_000_000, 1_500_000, 1_000_000, 600_000)
    an = gifts(funds, "P-AN", 400_000, 300_000)
    gifts(funds, "VL-HOI", 900_000)  # below every collective threshold
    gifts(funds, "P-BINH", 150_000)  # one gift: no Giấy khen
    checkpoint_size = size(funds)

    outcome = proposed(funds)

    assert outcome.tree_size == checkpoint_size
    assert outcome.skipped == ()
    recorded = {r.body["awardee"]["code"]: r for r in outcome.recorded}
    assert sorted(recorded) == ["CL-DOAN", "P-AN"]
    doan, an_entry = recorded["CL-DOAN"], recorded["P-AN"]
    assert doan.body["form"] == {
        "code": "HCLD",
        "name": "Huân chương Lao động",
        "decided_by": "state",
        "proposed_upward": True,
    }
    assert an_entry.body["form"]["code"] == "BK-MTTQ-TINH"
    assert doan.body["id"] == receipt_ids.make(funds.settings.origin, doan.index, "K")
    assert doan.body["awardee"] == {
        "code": "CL-DOAN",
        "name": "Người vận động CL-DOAN",
        "type": "collective",
        "unit": "LS-CL",
    }
    assert doan.body["campaign"] == "LS-2026" and doan.body["period"] == {}
    assert doan.body["rank"] == 1
    assert doan.body["figures"] == {
        "net_amount": 5_100_000,
        "donors": 4,
        "gifts": 4,
        "in_kind_value": 0,
    }
    evidence = doan.body["evidence"]
    assert evidence["gifts"] == cl and gift_indices(an_entry.body) == an
    with funds.db.session() as session:
        stored = log.checkpoint_covering(session, checkpoint_size - 1)
    assert (evidence["tree_size"], evidence["root"]) == (checkpoint_size, stored.root.hex())
    assert evidence["checkpoint"] == stored.note
    assert state_of(funds, doan.body["id"]) == n.PROPOSED


def test_proposing_again_skips_standing_nominations_and_records_nothing(funds: Any) -> None:
    mobilizers(funds)
    gifts(funds, "P-AN", 400_000, 300_000)
    (first,) = proposed(funds).recorded
    before = size(funds)

    again = proposed(funds)

    assert again.recorded == ()
    reason = f"already nominated for BK-MTTQ-TINH ({first.body['id']}, proposed)"
    assert [(s.mobilizer, s.reason) for s in again.skipped] == [("P-AN", reason)]
    assert size(funds) == before
    # A different period is a different nomination.
    other = proposed(funds, since=funds.today)
    assert [r.body["period"] for r in other.recorded] == [{"since": funds.today}]


def test_the_recorder_refuses_a_duplicate_even_when_asked_directly(funds: Any) -> None:
    mobilizers(funds)
    gifts(funds, "P-AN", 400_000, 300_000)
    (first,) = proposed(funds).recorded
    body = {key: value for key, value in first.body.items() if key != "id"}
    with pytest.raises(DuplicateError, match="P-AN already stands nominated for BK-MTTQ-TINH"):
        record(funds.db, funds.settings, command_line("board"), [(n.NOMINATION, body)])


def test_a_unit_token_proposes_only_within_its_unit(funds: Any) -> None:
    mobilizers(funds)
    gifts(funds, "P-AN", 400_000, 300_000)
    gifts(funds, "P-BINH", 600_000)
    district = Scope("cl-board", AWARDS_BOARD, "LS-CL")
    outcome = propose(funds.db, funds.settings, district, Proposal("LS-2026"), criteria=SMALL)
    assert [(r.body["awardee"]["code"], r.body["ranked_in"]) for r in outcome.recorded] == [
        ("P-AN", "LS-CL")
    ]
    with pytest.raises(PermissionDeniedError):
        propose(
            funds.db, funds.settings, district, Proposal("LS-2026", unit="LS-VL"), criteria=SMALL
        )


@pytest.mark.parametrize("role", [FUND_MANAGER, AUDITOR])
def test_only_the_board_and_admins_propose(funds: Any, role: str) -> None:
    with pytest.raises(PermissionDeniedError, match=f"the role {role} may not record"):
        propose(funds.db, funds.settings, Scope("x", role), Proposal("LS-2026"), criteria=SMALL)


def test_blocked_gifts_are_left_out_of_the_evidence(funds: Any) -> None:
    mobilizers(funds)
    counted = gifts(funds, "P-AN", 400_000, 300_000)
    funds.give(150_000_000, mobilizer="P-AN", donor=person("Tiền mặt lớn"))  # blocking rule
    (nomination,) = proposed(funds).recorded
    assert gift_indices(nomination.body) == counted
    assert nomination.body["figures"]["net_amount"] == 700_000


# -- evidence ------------------------------------------------------------------------------


def nominated_with_evidence(funds: Any) -> tuple[Any, list[int]]:
    mobilizers(funds)
    counted = gifts(funds, "CL-DOAN", 600_000, 500_000)
    funds.give(700_000, mobilizer="VL-HOI", donor={"type": "individual", "anonymous": True})
    (nomination,) = [r for r in proposed(funds).recorded if r.body["awardee"]["code"] == "CL-DOAN"]
    return nomination, counted


def checked(funds: Any, body: Mapping[str, Any], index: int, **options: Any) -> Any:
    with funds.db.session() as session:
        return verify(session, body, index=index, **options)


def test_the_evidence_verifies_against_its_checkpoint(funds: Any) -> None:
    nomination, counted = nominated_with_evidence(funds)
    report = checked(funds, nomination.body, nomination.index, show=range(0, 1))
    assert report.ok, report.problems
    assert report.counted == 2
    assert report.figures == nomination.body["figures"]
    assert report.verifier_key.startswith(funds.settings.origin + "+")
    (shown,) = report.shown
    assert shown.index == counted[0] and shown.proof  # the proof a reader can redo


def tampered(body: Mapping[str, Any], **evidence: Any) -> dict[str, Any]:
    return {**body, "evidence": {**body["evidence"], **evidence}}


def test_tampered_evidence_fails_naming_why(funds: Any) -> None:
    nomination, counted = nominated_with_evidence(funds)
    body, index = nomination.body, nomination.index
    other = funds.give(800_000, mobilizer="VL-HOI", donor=person("Khác")).index
    with funds.db.session() as session:
        later = log.latest_checkpoint(session)
    cases: list[tuple[dict[str, Any], str]] = [
        ({**body, "figures": {**body["figures"], "net_amount": 2_000_000}}, "figures.net_amount"),
        (
            {**body, "figures": {**body["figures"], "donors": 3}},
            "figures.donors: the counted gifts add up to 2",
        ),
        (tampered(body, gifts=[*counted, counted[-1] + 1]), "is credited to VL-HOI, not CL-DOAN"),
        (tampered(body, gifts=[1, *counted]), "gift 1 is a unit entry, not a contribution"),
        (tampered(body, root="00" * 32), "the checkpoint's root is"),
        (tampered(body, gifts=[*counted, other]), f"gift {other} is not in the tree of size"),
        (
            tampered(body, tree_size=later.tree_size, root=later.root.hex(), checkpoint=later.note),
            "is not below the nomination",
        ),
        (tampered(body, gifts=counted[::-1]), "not a list of distinct indices in ascending order"),
        ({**body, "period": {"until": "2020-01-01"}}, "outside the nomination's period"),
        ({**body, "campaign": "CL-2026"}, "went to campaign LS-2026, not CL-2026"),
    ]
    for changed, why in cases:
        report = checked(funds, changed, index)
        assert not report.ok
        assert any(why in problem for problem in report.problems), (why, report.problems)


def test_a_forged_checkpoint_signature_fails(funds: Any) -> None:
    nomination, _counted = nominated_with_evidence(funds)
    note = nomination.body["evidence"]["checkpoint"]
    text, signature = note.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 1
    forged = f"{text} {base64.b64encode(bytes(raw)).decode()}\n"
    report = checked(funds, tampered(nomination.body, checkpoint=forged), nomination.index)
    assert any("does not verify" in problem for problem in report.problems), report.problems


def test_a_gift_reversed_later_is_reported_and_still_counted(funds: Any) -> None:
    nomination, counted = nominated_with_evidence(funds)
    reversal = funds.record("reversal", {"target": counted[0], "reason": "Nhập trùng"})
    report = checked(funds, nomination.body, nomination.index)
    assert report.ok, report.problems
    assert report.reversed_since == ((counted[0], reversal.index),)


def test_runs_hold_the_same_gifts_and_the_evidence_still_verifies(funds: Any) -> None:
    nomination, counted = nominated_with_evidence(funds)
    body = dict(nomination.body)
    evidence = dict(body["evidence"])
    evidence["gift_runs"] = runs(evidence.pop("gifts"))
    compact = {**body, "evidence": evidence}
    assert gift_indices(compact) == counted
    assert checked(funds, compact, nomination.index).ok


# -- the workflow ----------------------------------------------------------------------------


def two_nominations(funds: Any) -> tuple[str, str]:
    """A collective for BK-UBND-TINH (proposed upward) and a person for BK-MTTQ-TINH."""
    mobilizers(funds)
    gifts(funds, "CL-DOAN", 1_500_000, 800_000)
    gifts(funds, "P-AN", 400_000, 300_000)
    by = {r.body["awardee"]["code"]: r.body["id"] for r in proposed(funds).recorded}
    return by["CL-DOAN"], by["P-AN"]


def test_every_legal_path_to_a_final_state(funds: Any) -> None:
    upward, here = two_nominations(funds)
    for nomination, final in ((upward, n.FORWARDED), (here, n.CONFERRED)):
        step(funds, nomination, n.UNDER_REVIEW)
        step(funds, nomination, n.APPROVED)
        decision = {"number": "125/QĐ-MTTQ", "date": "2026-03-05", "approver": "Chủ tịch"}
        recorded = step(funds, nomination, final, decision=decision)
        assert recorded.body == {
            "nomination": {"id": nomination, "index": recorded.body["nomination"]["index"]},
            "from": n.APPROVED,
            "to": final,
            "reason": f"Hội đồng họp: {final}",
            "decision": decision,
        }
        assert state_of(funds, nomination) == final
    mobilizers_rejected = proposed(funds, since=funds.today).recorded[0].body["id"]
    step(funds, mobilizers_rejected, n.UNDER_REVIEW)
    step(funds, mobilizers_rejected, n.REJECTED)
    with funds.db.session() as session:
        history = n.find(session, mobilizers_rejected).history
    assert [(t.source, t.target) for t in history] == [
        (n.PROPOSED, n.UNDER_REVIEW),
        (n.UNDER_REVIEW, n.REJECTED),
    ]


# Each state, the path to it, and the steps it refuses (the forwarded-form nomination).
PATHS = {
    n.PROPOSED: [],
    n.UNDER_REVIEW: [n.UNDER_REVIEW],
    n.APPROVED: [n.UNDER_REVIEW, n.APPROVED],
    n.REJECTED: [n.UNDER_REVIEW, n.REJECTED],
    n.FORWARDED: [n.UNDER_REVIEW, n.APPROVED, n.FORWARDED],
}
LEGAL = {
    n.PROPOSED: {n.UNDER_REVIEW},
    n.UNDER_REVIEW: {n.APPROVED, n.REJECTED},
    n.APPROVED: {n.FORWARDED},
}


@pytest.mark.parametrize("start", list(PATHS))
def test_every_illegal_transition_is_a_409_and_writes_nothing(funds: Any, start: str) -> None:
    upward, here = two_nominations(funds)
    for target in PATHS[start]:
        step(funds, upward, target)
    illegal = [t for t in n.STATES[1:] if t not in LEGAL.get(start, set())]
    for target in illegal:
        before = size(funds)
        with pytest.raises(IllegalTransitionError, match=f"cannot become {target}"):
            step(funds, upward, target)
        assert size(funds) == before
        assert state_of(funds, upward) == start
    # The form decided here is conferred, never forwarded.
    step(funds, here, n.UNDER_REVIEW)
    step(funds, here, n.APPROVED)
    with pytest.raises(IllegalTransitionError, match="decided here, so an approved nomination"):
        step(funds, here, n.FORWARDED)


def test_two_steps_in_one_batch_see_each_other(funds: Any) -> None:
    upward, _here = two_nominations(funds)
    audit.load_all()
    again = {"nomination": upward, "to": n.UNDER_REVIEW, "reason": "Lần hai"}
    before = size(funds)
    with pytest.raises(IllegalTransitionError):
        record(
            funds.db,
            funds.settings,
            command_line("b"),
            [(n.TRANSITION, again), (n.TRANSITION, again)],
        )
    assert size(funds) == before


@pytest.mark.parametrize("role", [FUND_MANAGER, AUDITOR])
def test_only_the_board_and_admins_decide(funds: Any, role: str) -> None:
    upward, _here = two_nominations(funds)
    data = {"nomination": upward, "to": n.UNDER_REVIEW, "reason": "Xem xét"}
    with pytest.raises(PermissionDeniedError):
        transition(funds.db, funds.settings, Scope("x", role), data)
    board = transition(funds.db, funds.settings, Scope("board", AWARDS_BOARD), data)
    assert board.body["to"] == n.UNDER_REVIEW


def test_a_rejected_nomination_no_longer_stands(funds: Any) -> None:
    upward, _here = two_nominations(funds)
    step(funds, upward, n.UNDER_REVIEW)
    step(funds, upward, n.REJECTED)
    again = [r for r in proposed(funds).recorded if r.body["awardee"]["code"] == "CL-DOAN"]
    assert len(again) == 1 and again[0].body["id"] != upward


def test_nomination_ids_are_read_as_typed(funds: Any) -> None:
    upward, _here = two_nominations(funds)
    typed = f"{upward[:5].lower()}-{upward[5:].lower()}"
    with funds.db.session() as session:
        assert n.find(session, typed).id == upward


def test_replaying_a_settings_override_file_reaches_propose(funds: Any, tmp_path: Path) -> None:
    path = tmp_path / "criteria.toml"
    path.write_text(CRITERIA.replace("min_net_amount = 500_000", "min_net_amount = 50"), "utf-8")
    mobilizers(funds)
    gifts(funds, "P-BINH", 60)
    settings = replace(funds.settings, awards_criteria_file=path)
    outcome = propose(funds.db, settings, command_line("board"), Proposal("LS-2026"))
    assert [r.body["form"]["code"] for r in outcome.recorded] == ["BK-MTTQ-TINH"]
