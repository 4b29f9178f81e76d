"""Receipt IDs survive being read aloud, retyped and mistyped the usual ways."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import receipt_ids
from ledger.receipt_ids import InvalidReceiptIdError

indices = st.integers(min_value=0, max_value=2**53)


@given(indices)
def test_ids_use_no_confusable_characters(index: int) -> None:
    made = receipt_ids.make("quy.mttq-langson.vn/covid19", index)
    assert len(made) == 16
    assert not set(made) & set("ILOU")
    assert receipt_ids.normalize(made) == made


@given(indices)
def test_an_id_as_a_person_types_it_reads_back(index: int) -> None:
    made = receipt_ids.make("quy.mttq-langson.vn/covid19", index)
    typed = receipt_ids.grouped(made).lower().replace("0", "o").replace("1", "l")
    assert receipt_ids.normalize(f"  {typed} ") == made
    assert receipt_ids.normalize(" ".join(receipt_ids.grouped(made).split("-"))) == made


def test_ids_depend_on_the_log_and_the_index() -> None:
    a = receipt_ids.make("quy.mttq-langson.vn/covid19", 7)
    assert a == receipt_ids.make("quy.mttq-langson.vn/covid19", 7)
    assert a != receipt_ids.make("quy.mttq-langson.vn/covid19", 8)
    assert a != receipt_ids.make("quy.mttq-caobang.vn/covid19", 7)
    assert receipt_ids.grouped(a).count("-") == 3


@pytest.mark.parametrize("text", ["", "ABC", "U" * 16, "A" * 17, "AAAA-AAAA-AAAA-AAA?", "Đ" * 16])
def test_text_that_cannot_be_an_id_is_refused(text: str) -> None:
    with pytest.raises(InvalidReceiptIdError, match="16 letters and digits"):
        receipt_ids.normalize(text)
