"""Amounts in Vietnamese words, as receipts and payment orders write them out.

A figure can be misread or altered with a stroke of the pen; the amount in words
("Một triệu hai trăm năm mươi nghìn đồng") is what a reader checks it against. The
reading follows the rules accountants and banks use:

* digits are read in groups of three (trăm, mươi, units) under "nghìn", "triệu" and
  "tỷ"; beyond "tỷ" the scale repeats ("nghìn tỷ", "triệu tỷ", "tỷ tỷ");
* a group that is all zeros is skipped, but a group after a non-zero one is read
  in full, so 1.000.005 is "một triệu không trăm lẻ năm";
* a zero tens digit before a non-zero unit is "lẻ" (northern writers say "linh");
* 10 to 19 are "mười …"; after "mươi" (tens of 2 or more) a 1 is "mốt";
  after any tens digit a 5 is "lăm".
"""

from __future__ import annotations

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
GROUPS = ((1_000_000, "triệu"), (1_000, "nghìn"), (1, ""))
BILLION = 1_000_000_000
LE = "lẻ"
LINH = "linh"


def _hundreds(number: int, in_full: bool, zero_tens: str) -> list[str]:
    """Words of one group of three digits; ``in_full`` reads "không trăm" and "lẻ"."""
    hundreds, rest = divmod(number, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or in_full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append(zero_tens)
    elif tens == 1:
        words.append("mười")
    else:
        words += [DIGITS[tens], "mươi"]
    if units == 1 and tens >= 2:
        words.append("mốt")
    elif units == 5 and tens >= 1:
        words.append("lăm")
    elif units:
        words.append(DIGITS[units])
    return words


def _below_billion(number: int, started: bool, zero_tens: str) -> list[str]:
    words: list[str] = []
    for size, name in GROUPS:
        group = (number // size) % 1000
        if not group:
            continue
        words += _hundreds(group, started, zero_tens)
        if name:
            words.append(name)
        started = True
    return words


def _read(number: int, started: bool, zero_tens: str) -> list[str]:
    if number < BILLION:
        return _below_billion(number, started, zero_tens)
    high, low = divmod(number, BILLION)
    words = [*_read(high, started, zero_tens), "tỷ"]
    if low:
        words += _below_billion(low, True, zero_tens)
    return words


def in_words(amount: int, *, zero_tens: str = LE) -> str:
    """``1250000`` → ``"Một triệu hai trăm năm mươi nghìn đồng"``.

    ``zero_tens`` is the word for a zero tens digit: ``LE`` ("lẻ", the default, as
    banks print it) or ``LINH``.
    """
    if amount < 0:
        raise ValueError("an amount in words cannot be negative")
    if zero_tens not in (LE, LINH):
        raise ValueError(f"the word for a zero tens digit is {LE!r} or {LINH!r}")
    words = _read(amount, False, zero_tens) or [DIGITS[0]]
    text = " ".join([*words, "đồng"])
    return text[0].upper() + text[1:]
