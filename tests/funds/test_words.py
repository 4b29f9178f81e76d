"""Amounts in Vietnamese words: known readings, and a reader that turns them back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.funds.words import LINH, in_words

CASES = [
    (0, "Không đồng"),
    (1, "Một đồng"),
    (5, "Năm đồng"),
    (10, "Mười đồng"),
    (11, "Mười một đồng"),
    (14, "Mười bốn đồng"),
    (15, "Mười lăm đồng"),
    (20, "Hai mươi đồng"),
    (21, "Hai mươi mốt đồng"),
    (25, "Hai mươi lăm đồng"),
    (55, "Năm mươi lăm đồng"),
    (91, "Chín mươi mốt đồng"),
    (100, "Một trăm đồng"),
    (101, "Một trăm lẻ một đồng"),
    (105, "Một trăm lẻ năm đồng"),
    (110, "Một trăm mười đồng"),
    (111, "Một trăm mười một đồng"),
    (115, "Một trăm mười lăm đồng"),
    (121, "Một trăm hai mươi mốt đồng"),
    (1_000, "Một nghìn đồng"),
    (1_005, "Một nghìn không trăm lẻ năm đồng"),
    (1_015, "Một nghìn không trăm mười lăm đồng"),
    (1_100, "Một nghìn một trăm đồng"),
    (10_000, "Mười nghìn đồng"),
    (15_000, "Mười lăm nghìn đồng"),
    (21_000, "Hai mươi mốt nghìn đồng"),
    (100_000, "Một trăm nghìn đồng"),
    (250_000, "Hai trăm năm mươi nghìn đồng"),
    (500_000, "Năm trăm nghìn đồng"),
    (1_000_000, "Một triệu đồng"),
    (1_000_005, "Một triệu không trăm lẻ năm đồng"),
    (1_005_000, "Một triệu không trăm lẻ năm nghìn đồng"),
    (1_250_000, "Một triệu hai trăm năm mươi nghìn đồng"),
    (2_021_000, "Hai triệu không trăm hai mươi mốt nghìn đồng"),
    (15_500_000, "Mười lăm triệu năm trăm nghìn đồng"),
    (1_000_000_000, "Một tỷ đồng"),
    (1_000_000_001, "Một tỷ không trăm lẻ một đồng"),
    (1_005_000_000, "Một tỷ không trăm lẻ năm triệu đồng"),
    (2_500_000_000, "Hai tỷ năm trăm triệu đồng"),
    (1_000_000_000_000, "Một nghìn tỷ đồng"),
    (1_000_000_000_001, "Một nghìn tỷ không trăm lẻ một đồng"),
    (1_000_000_000_000_000, "Một triệu tỷ đồng"),
    (10**18, "Một tỷ tỷ đồng"),
    (10**18 + 5 * 10**15, "Một tỷ không trăm lẻ năm triệu tỷ đồng"),
    (2 * 10**27, "Hai tỷ tỷ tỷ đồng"),
]


@pytest.mark.parametrize(("amount", "words"), CASES)
def test_known_amounts_read_as_accountants_write_them(amount: int, words: str) -> None:
    assert in_words(amount) == words


def test_linh_can_replace_le_for_a_zero_tens_digit() -> None:
    assert in_words(105, zero_tens=LINH) == "Một trăm linh năm đồng"
    assert in_words(1_000_005, zero_tens=LINH) == "Một triệu không trăm linh năm đồng"


def test_a_negative_amount_or_another_word_for_zero_tens_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        in_words(-1)
    with pytest.raises(ValueError, match="zero tens"):
        in_words(105, zero_tens="lẽ")


# A reader of the words, written the other way round from the module: the scale word
# "tỷ" that comes last splits the number; below a billion, "triệu" and "nghìn" split it.

UNITS = {
    "không": 0,
    "một": 1,
    "mốt": 1,
    "hai": 2,
    "ba": 3,
    "bốn": 4,
    "năm": 5,
    "lăm": 5,
    "sáu": 6,
    "bảy": 7,
    "tám": 8,
    "chín": 9,
}


def read_group(words: list[str]) -> int:
    value = 0
    if "trăm" in words:
        at = words.index("trăm")
        assert at == 1, words
        value += 100 * UNITS[words[0]]
        words = words[2:]
    if words and words[0] in ("lẻ", "linh"):
        assert len(words) == 2, words
        return value + UNITS[words[1]]
    if words and words[0] == "mười":
        value += 10
        words = words[1:]
    elif "mươi" in words:
        assert words.index("mươi") == 1, words
        value += 10 * UNITS[words[0]]
        words = words[2:]
    assert len(words) <= 1, words
    return value + (UNITS[words[0]] if words else 0)


def read_below_billion(words: list[str]) -> int:
    value = 0
    for scale, name in ((1_000_000, "triệu"), (1_000, "nghìn")):
        if name in words:
            at = words.index(name)
            value += scale * read_group(words[:at])
            words = words[at + 1 :]
    return value + read_group(words)


def read(words: list[str]) -> int:
    if "tỷ" not in words:
        return read_below_billion(words)
    last = len(words) - 1 - words[::-1].index("tỷ")
    return read(words[:last]) * 1_000_000_000 + read_below_billion(words[last + 1 :])


def number_of(text: str) -> int:
    words = text.lower().split(" ")
    assert words[-1] == "đồng"
    return read(words[:-1])


@pytest.mark.parametrize(("amount", "words"), CASES)
def test_the_reader_reads_the_known_cases(amount: int, words: str) -> None:
    assert number_of(words) == amount


@given(st.integers(min_value=0, max_value=10**30))
def test_any_amount_reads_back_to_itself(amount: int) -> None:
    assert number_of(in_words(amount)) == amount


@given(st.integers(min_value=0, max_value=10**30))
def test_words_are_well_formed(amount: int) -> None:
    text = in_words(amount)
    assert text
    assert text[0].isupper()
    assert text[1:] == text[1:].lower()
    assert text.endswith(" đồng")
    assert "  " not in text
    assert text == text.strip()
    words = text.lower().split(" ")
    assert "không" not in words[1:] or "trăm" in words, text  # "không" only as "không trăm"


@given(st.integers(min_value=1, max_value=10**30))
def test_no_reading_repeats_a_scale_word_below_a_billion(amount: int) -> None:
    words = in_words(amount).lower().split(" ")
    groups = " ".join(words).split("tỷ")
    for group in groups:
        parts = group.split()
        assert parts.count("triệu") <= 1
        assert parts.count("nghìn") <= 1
