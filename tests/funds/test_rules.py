"""The rules a transparent fund must keep, enforced by the ledger itself."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.documents import add_document

from ledger import log
from ledger.errors import (
    BalanceError,
    CampaignDateError,
    ConflictError,
    DuplicateError,
    PermissionDeniedError,
    ValidationError,
)
from ledger.funds import state
from ledger.funds.access import AUDITOR, FUND_MANAGER, Scope, command_line
from ledger.funds.models import DonorContactRow
from ledger.funds.privacy import ANONYMOUS_DONOR, PrivacyKey
from ledger.funds.recorder import Recorder, record
from ledger.funds.replay import replay


def size(funds: Any) -> int:
    with funds.db.session() as session:
        return log.tree_size(session)


def balance(funds: Any, code: str | None = None) -> state.Balance:
    with funds.db.session() as session:
        return state.fund_balances(session)[code or funds.fund]


def entry_body(funds: Any, index: int) -> dict[str, Any]:
    with funds.db.session() as session:
        return log.entry(session, index).body


def days_ago(funds: Any, days: int) -> str:
    return (date.fromisoformat(funds.today) - timedelta(days=days)).isoformat()


# -- contributions -------------------------------------------------------------------


def test_a_gift_is_available_and_its_leaf_has_the_contract_members(funds: Any) -> None:
    gift = funds.give(2_500_000, mobilizer=funds.mobilizer, reference="FT26001")
    body = entry_body(funds, gift.index)
    assert body["amount"] == 2_500_000
    assert body["currency"] == "VND"
    assert body["campaign"] == funds.campaign  # the fund's one open campaign
    assert body["mobilizer"] == funds.mobilizer
    assert body["receipt_id"] == gift.extra["receipt_id"]
    assert body["donor"] == {
        "display": "Công ty TNHH Minh An",
        "type": "organization",
        "anonymous": False,
    }
    assert gift.extra["receipt_url"] == f"https://quy.example.vn/r/{body['receipt_id']}"
    assert balance(funds).available == 2_500_000
    assert balance(funds).received == 2_500_000


def test_a_gift_dated_outside_its_campaign_is_refused(funds: Any) -> None:
    before = size(funds)
    with pytest.raises(CampaignDateError, match="takes gifts from"):
        funds.give(100_000, campaign=funds.campaign, received_on=days_ago(funds, 90))
    assert size(funds) == before


def test_a_gift_when_no_campaign_is_open_is_refused(funds: Any) -> None:
    with pytest.raises(CampaignDateError, match="no campaign open"):
        funds.give(100_000, received_on=days_ago(funds, 90))


def test_a_gift_dated_in_the_future_is_invalid(funds: Any) -> None:
    tomorrow = (date.fromisoformat(funds.today) + timedelta(days=2)).isoformat()
    with pytest.raises(ValidationError) as caught:
        funds.give(100_000, received_on=tomorrow)
    assert "received_on" in caught.value.fields


def test_a_bank_reference_is_recorded_once_per_campaign(funds: Any) -> None:
    funds.give(100_000, channel="bank", reference="FT26002")
    with pytest.raises(DuplicateError, match="FT26002"):
        funds.give(100_000, channel="bank", reference="FT26002")


def test_a_gift_in_kind_is_kept_apart_from_money(funds: Any) -> None:
    rice = {"description": "Gạo tẻ", "quantity": 500, "unit": "kg", "valuation": "giá thị trường"}
    funds.give(7_500_000, channel="in_kind", in_kind=rice)
    assert balance(funds).in_kind == 7_500_000
    assert balance(funds).available == 0
    assert balance(funds).received_in_kind == 7_500_000
    with pytest.raises(BalanceError):
        funds.allocate(1)  # cash allocation: there is no cash
    funds.allocate(7_500_000, form="in_kind")
    assert balance(funds).in_kind == 0
    assert balance(funds).in_kind_committed == 7_500_000


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": "100"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 10**15 + 1}, "amount"),
        ({"currency": "USD"}, "currency"),
        ({"channel": "crypto"}, "channel"),
        ({"colour": "red"}, "colour"),
        ({"donor": {"type": "individual"}}, "donor.display"),
        ({"channel": "in_kind"}, "in_kind"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    funds: Any, change: dict[str, Any], field: str
) -> None:
    before = size(funds)
    gift = {"fund": funds.fund, "amount": 1000, "channel": "cash", "donor": {"anonymous": True}}
    with pytest.raises(ValidationError) as caught:
        funds.record("contribution", {**gift, **change})
    assert field in caught.value.fields
    assert size(funds) == before


def test_text_is_nfc_normalised(funds: Any) -> None:
    decomposed = "Cong ty Ba\u0300o Minh"  # "à" as a + combining grave
    gift = funds.give(1000, donor={"display": decomposed, "type": "organization"})
    assert entry_body(funds, gift.index)["donor"]["display"] == "Cong ty Bào Minh"


# -- privacy -------------------------------------------------------------------------


def test_private_facts_never_reach_a_leaf(funds: Any) -> None:
    secret_phone, secret_id, secret_account = "0912345678", "001085012345", "19036688123011"
    gift = funds.give(
        300_000,
        donor={
            "display": "Hoàng Văn Thụ",
            "type": "individual",
            "anonymous": True,
            "contact": secret_phone,
            "account": secret_account,
        },
    )
    grant = funds.allocate(
        200_000,
        beneficiary={"display": "Nguyễn Văn An", "type": "individual", "national_id": secret_id},
    )
    with funds.db.session() as session:
        leaves = b"".join(e.leaf for e in log.entries(session, 0, 1000))
        kept = session.get(DonorContactRow, gift.extra["receipt_id"])
    for secret in (secret_phone, secret_id, secret_account, "Hoàng Văn Thụ", "Nguyễn Văn An"):
        assert secret.encode() not in leaves
    donor = entry_body(funds, gift.index)["donor"]
    assert donor["display"] == ANONYMOUS_DONOR
    assert len(donor["contact_hash"]) == 64
    beneficiary = entry_body(funds, grant.index)["beneficiary"]
    assert beneficiary["display"] == "Nguyễn V. A."
    assert kept is not None and kept.name == "Hoàng Văn Thụ" and kept.contact == secret_phone


def test_the_same_national_id_gives_the_same_hash_however_written(funds: Any) -> None:
    funds.give(1_000_000)
    first = funds.allocate(
        100,
        beneficiary={"display": "Lý Thị Hoa", "type": "individual", "national_id": "001085012345"},
    )
    second = funds.allocate(
        100,
        beneficiary={
            "display": "Lý T. Hoa",
            "type": "individual",
            "national_id": "001 085 012 345",
        },
    )
    one = entry_body(funds, first.index)["beneficiary"]["id_hash"]
    assert one == entry_body(funds, second.index)["beneficiary"]["id_hash"]


# -- spending ------------------------------------------------------------------------


def test_an_allocation_beyond_the_balance_is_refused_and_nothing_written(funds: Any) -> None:
    funds.give(1_000_000)
    before = size(funds)
    with pytest.raises(BalanceError, match=r"1\.000\.000 đồng"):
        funds.allocate(1_000_001)
    assert size(funds) == before
    funds.allocate(1_000_000)
    assert balance(funds).available == 0
    assert balance(funds).committed == 1_000_000


def test_disbursements_spend_an_allocation_up_to_its_amount(funds: Any) -> None:
    funds.give(5_000_000)
    grant = funds.allocate(
        3_000_000, decision={"number": "12/QĐ-MTTQ", "date": funds.today, "approver": "Chủ tịch"}
    )
    assert entry_body(funds, grant.index)["decision_ref"] == "12/QĐ-MTTQ"
    proof = add_document(funds)
    funds.record(
        "disbursement", {"allocation": grant.index, "amount": 2_000_000, "documents": [proof]}
    )
    with pytest.raises(BalanceError, match="left to pay"):
        funds.record(
            "disbursement", {"allocation": grant.index, "amount": 1_000_001, "documents": [proof]}
        )
    funds.record(
        "disbursement", {"allocation": grant.index, "amount": 1_000_000, "documents": [proof]}
    )
    got = balance(funds)
    assert (got.available, got.committed, got.disbursed) == (2_000_000, 0, 3_000_000)


def test_a_disbursement_needs_uploaded_documents(funds: Any) -> None:
    funds.give(5_000_000)
    grant = funds.allocate(1_000_000)
    with pytest.raises(ValidationError) as caught:
        funds.record("disbursement", {"allocation": grant.index, "amount": 1, "documents": []})
    assert "documents" in caught.value.fields
    with pytest.raises(ValidationError, match="upload these documents first"):
        funds.record(
            "disbursement", {"allocation": grant.index, "amount": 1, "documents": ["a" * 64]}
        )


def test_a_transfer_moves_money_between_funds_in_one_entry(funds: Any) -> None:
    funds.give(4_000_000, fund=funds.district_fund)
    moved = funds.record(
        "transfer", {"from_fund": funds.district_fund, "to_fund": funds.fund, "amount": 3_000_000}
    )
    assert entry_body(funds, moved.index)["from_fund"] == funds.district_fund
    assert balance(funds, funds.district_fund).available == 1_000_000
    assert balance(funds).available == 3_000_000
    with funds.db.session() as session:
        province = state.unit_balance(session, funds.province)
        district = state.unit_balance(session, funds.district)
    assert province.available == 4_000_000  # the province's own fund and its districts'
    assert district.available == 1_000_000
    with pytest.raises(BalanceError):
        funds.record(
            "transfer",
            {"from_fund": funds.district_fund, "to_fund": funds.fund, "amount": 1_000_001},
        )


def test_earmarked_money_is_spent_only_as_earmarked(funds: Any) -> None:
    earmark = {"purpose": "Hỗ trợ lực lượng tuyến đầu", "unit": funds.district}
    funds.give(1_000_000, earmark=earmark)
    funds.give(200_000)
    with pytest.raises(BalanceError):
        funds.allocate(500_000)  # free money is only 200,000
    with pytest.raises(ConflictError, match="earmarked for unit"):
        funds.allocate(500_000, earmark=earmark)  # beneficiary not in the district
    funds.allocate(
        1_000_000,
        earmark=earmark,
        beneficiary={
            "display": "Trạm Y tế xã Hợp Thành",
            "type": "organization",
            "unit": funds.district,
        },
    )
    assert balance(funds).available == 200_000


# -- reversals -----------------------------------------------------------------------


def test_a_reversal_undoes_a_gift_once(funds: Any) -> None:
    gift = funds.give(700_000)
    undo = funds.record("reversal", {"target": gift.index, "reason": "Ghi trùng"})
    assert entry_body(funds, undo.index) == {"target": gift.index, "reason": "Ghi trùng"}
    assert balance(funds).available == 0
    assert balance(funds).received == 0
    with pytest.raises(DuplicateError, match=f"already reversed by entry {undo.index}"):
        funds.record("reversal", {"target": gift.index, "reason": "again"})


def test_a_reversal_that_would_make_a_balance_negative_is_refused(funds: Any) -> None:
    gift = funds.give(700_000)
    funds.allocate(600_000)
    before = size(funds)
    with pytest.raises(BalanceError):
        funds.record("reversal", {"target": gift.index, "reason": "Ghi nhầm"})
    assert size(funds) == before


def test_only_money_entries_can_be_reversed(funds: Any) -> None:
    gift = funds.give(700_000)
    undo = funds.record("reversal", {"target": gift.index, "reason": "Ghi trùng"})
    with pytest.raises(ConflictError, match="cannot be reversed"):
        funds.record("reversal", {"target": undo.index, "reason": "undo the undo"})
    with pytest.raises(ConflictError, match="cannot be reversed"):
        funds.record("reversal", {"target": 1, "reason": "a unit"})
    with pytest.raises(ValidationError, match="not in the log"):
        funds.record("reversal", {"target": 10_000, "reason": "no such"})


def test_an_allocation_with_payments_is_reversed_after_them(funds: Any) -> None:
    funds.give(1_000_000)
    grant = funds.allocate(1_000_000)
    paid = funds.record(
        "disbursement",
        {"allocation": grant.index, "amount": 400_000, "documents": [add_document(funds)]},
    )
    with pytest.raises(ConflictError, match="reverse them first"):
        funds.record("reversal", {"target": grant.index, "reason": "Quyết định bị hủy"})
    funds.record("reversal", {"target": paid.index, "reason": "Chuyển nhầm"})
    funds.record("reversal", {"target": grant.index, "reason": "Quyết định bị hủy"})
    got = balance(funds)
    assert (got.available, got.committed, got.disbursed) == (1_000_000, 0, 0)


# -- pledges -------------------------------------------------------------------------


def test_pledges_never_count_in_a_balance(funds: Any) -> None:
    promise = funds.record(
        "pledge",
        {
            "fund": funds.fund,
            "amount": 50_000_000,
            "donor": {"display": "Ngân hàng X", "type": "organization"},
        },
    )
    assert balance(funds).available == 0
    funds.give(20_000_000, pledge=promise.extra["pledge_id"])
    with funds.db.session() as session:
        assert state.pledged(session, funds.campaign) == (50_000_000, 20_000_000)
    assert balance(funds).available == 20_000_000


# -- scopes --------------------------------------------------------------------------


def test_a_manager_acts_for_their_unit_and_below(funds: Any) -> None:
    province = Scope("quan-ly-tinh", FUND_MANAGER, funds.province)
    district = Scope("quan-ly-van-lang", FUND_MANAGER, funds.other_district)
    gift = {
        "fund": funds.district_fund,
        "amount": 1000,
        "channel": "cash",
        "donor": {"display": "Hợp tác xã Tân Thành", "type": "organization"},
    }
    record(funds.db, funds.settings, province, [("contribution", gift)])
    with pytest.raises(PermissionDeniedError, match="LS-VL"):
        record(funds.db, funds.settings, district, [("contribution", gift)])
    with pytest.raises(PermissionDeniedError, match="auditor"):
        record(funds.db, funds.settings, Scope("kiem-toan", AUDITOR), [("contribution", gift)])


def test_the_actor_of_an_entry_is_the_writer(funds: Any) -> None:
    gift = funds.record(
        "contribution",
        {"fund": funds.fund, "amount": 1000, "channel": "cash", "donor": {"anonymous": True}},
        actor="quan-ly-tinh",
    )
    with funds.db.session() as session:
        assert log.entry(session, gift.index).actor == "quan-ly-tinh"


# -- the public log is enough --------------------------------------------------------


def test_balances_recomputed_from_the_log_alone_match(funds: Any) -> None:
    funds.give(9_000_000, fund=funds.district_fund)
    funds.give(
        1_000_000,
        channel="in_kind",
        in_kind={
            "description": "Khẩu trang",
            "quantity": 100,
            "unit": "hộp",
            "valuation": "hóa đơn",
        },
    )
    funds.record(
        "transfer", {"from_fund": funds.district_fund, "to_fund": funds.fund, "amount": 5_000_000}
    )
    grant = funds.allocate(4_000_000)
    funds.record(
        "disbursement",
        {"allocation": grant.index, "amount": 1_500_000, "documents": [add_document(funds)]},
    )
    mistaken = funds.give(123_000)
    funds.record("reversal", {"target": mistaken.index, "reason": "Ghi trùng"})
    with funds.db.session() as session:
        books = replay(log.entries(session, 0, 10_000))
        for code, got in state.fund_balances(session).items():
            assert books.fund_balance(code) == got
        assert books.unit_balance(funds.province) == state.unit_balance(session, funds.province)
        assert books.campaign_balance(funds.campaign) == state.campaign_balance(
            session, funds.campaign
        )
    assert books.negative == []


def test_unknown_references_are_validation_errors(funds: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        funds.give(1000, fund="NO-SUCH")
    assert caught.value.fields == {"fund": ["no fund with code 'NO-SUCH'"]}
    with pytest.raises(ValidationError) as caught:
        funds.give(1000, mobilizer="NO-SUCH")
    assert "mobilizer" in caught.value.fields
    with funds.db.session() as session:
        assert session.scalar(select(DonorContactRow.receipt_id)) is None


def test_a_bare_string_earmark_names_a_purpose(funds: Any) -> None:
    gift = funds.give(500_000, earmark="Hỗ trợ lực lượng tuyến đầu")
    assert entry_body(funds, gift.index)["earmark"] == {"purpose": "Hỗ trợ lực lượng tuyến đầu"}


def test_goods_without_a_stated_basis_are_valued_as_declared(funds: Any) -> None:
    goods = {"description": "Bình ô-xy y tế", "quantity": "2.5", "unit": "tấn"}
    gift = funds.give(90_000_000, channel="in_kind", in_kind=goods)
    recorded = entry_body(funds, gift.index)["in_kind"]
    assert recorded["quantity"] == "2.5"
    assert recorded["valuation"] == "giá trị do đơn vị tiếp nhận kê khai"
    for bad in (2.5, 0, "0.0", "-1", True, "2,5"):
        with pytest.raises(ValidationError) as caught:
            funds.give(1000, channel="in_kind", in_kind={**goods, "quantity": bad})
        assert "in_kind.quantity" in caught.value.fields


def test_an_index_beyond_what_a_leaf_holds_is_invalid(funds: Any) -> None:
    for field, kind in (("allocation", "disbursement"), ("target", "reversal")):
        data = {"allocation": 2**64, "amount": 1, "documents": ["a" * 64]}
        if kind == "reversal":
            data = {"target": 2**64, "reason": "x"}
        with pytest.raises(ValidationError) as caught:
            funds.record(kind, data)
        assert field in caught.value.fields


def test_an_earmark_too_long_to_keep_is_invalid(funds: Any) -> None:
    with pytest.raises(ValidationError, match="earmark is too long"):
        funds.give(1000, earmark={"purpose": '"' * 200})


def test_a_reversed_bank_gift_frees_its_reference(funds: Any) -> None:
    misfiled = funds.give(300_000, channel="bank", reference="FT26009", fund=funds.district_fund)
    funds.record("reversal", {"target": misfiled.index, "reason": "Nhầm quỹ"})
    refiled = funds.give(300_000, channel="bank", reference="FT26009")
    assert entry_body(funds, refiled.index)["reference"] == "FT26009"


def test_a_scope_given_for_one_operation_does_not_stay(funds: Any) -> None:
    district = Scope("quan-ly-cao-loc", FUND_MANAGER, funds.district)
    gift = {"amount": 1000, "channel": "cash", "donor": {"anonymous": True}}
    with funds.db.writing() as session:
        privacy = PrivacyKey.load(funds.settings.privacy_key_file)
        recorder = Recorder(session, funds.settings, command_line("tinh"), privacy)
        recorder.add("contribution", {**gift, "fund": funds.district_fund}, scope=district)
        recorder.add("contribution", {**gift, "fund": funds.fund})
        with pytest.raises(PermissionDeniedError):
            recorder.add("contribution", {**gift, "fund": funds.fund}, scope=district)
        recorder.add("contribution", {**gift, "fund": funds.fund})
        indices = [entry.index for entry in recorder.commit()]
    with funds.db.session() as session:
        actors = [log.entry(session, index).actor for index in indices]
    assert actors == ["quan-ly-cao-loc", "tinh", "tinh"]
