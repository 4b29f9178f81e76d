"""Receipt IDs: short codes a donor can read aloud, type on a phone, or scan.

An ID is 16 characters of Crockford's base32 (digits and capitals without I, L, O
and U), so that no two characters look or sound alike: 0 and O, 1 and I or L are
never both possible. It is the first 80 bits of SHA-256 over the log's origin and
the entry's index, so it is fixed the moment the entry's index is, needs no counter,
and is the same in every replay of the same log. Two indices would share an ID with
a chance of 2^-80 per pair; the receipt table's primary key refuses the write that
would, rather than let two gifts share a receipt.

Donors mistype; ``normalize`` reads an ID the way Crockford intended: any case,
with spaces or dashes between groups, O for 0 and I or L for 1.
"""

from __future__ import annotations

import hashlib
import re

from ledger.errors import InvalidRequestError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 16
PATTERN = f"[{ALPHABET}]{{{LENGTH}}}"
PLEDGE_PREFIX = "P"
_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-.]+")
_VALID = re.compile(PATTERN)


class InvalidReceiptIdError(InvalidRequestError):
    """Text that cannot be a receipt ID, however it is read."""


def _encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    width = len(data) * 8 // 5
    return "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(width)))


def make(origin: str, index: int, prefix: str = "") -> str:
    """The ID of the entry at ``index`` of the log named ``origin``."""
    digest = hashlib.sha256(f"receipt\n{origin}\n{index}".encode()).digest()
    return prefix + _encode(digest[:10])


def normalize(text: str) -> str:
    """The canonical form of a receipt ID as a person typed it, or InvalidReceiptIdError."""
    folded = _SEPARATORS.sub("", text).upper().translate(_MISREAD)
    if not _VALID.fullmatch(folded):
        raise InvalidReceiptIdError(
            f"a receipt ID is {LENGTH} letters and digits, such as 7KQ2-9XHM-4T0V-PJ3R"
        )
    return folded


def grouped(receipt_id: str) -> str:
    """The ID in groups of four, as printed on a receipt: ``7KQ2-9XHM-4T0V-PJ3R``."""
    return "-".join(receipt_id[i : i + 4] for i in range(0, len(receipt_id), 4))
