"""Text as the ledger keeps it (NFC) and as banks carry it (ASCII without diacritics).

Banking apps strip or mangle Vietnamese diacritics in transfer memos, so the codes a
memo carries are matched, and the memos we suggest are written, in folded ASCII.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import orjson

# Letters that have no decomposition into base letter + combining mark.
_SPECIAL = str.maketrans({"đ": "d", "Đ": "D"})


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fold_ascii(text: str) -> str:
    """``"Hội Liên hiệp Phụ nữ"`` → ``"Hoi Lien hiep Phu nu"``; other non-ASCII dropped."""
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL))
    return "".join(c for c in decomposed if ord(c) < 128)


def format_vnd(amount: int) -> str:
    """``1500000`` → ``"1.500.000"``, as Vietnamese readers (and statements) group digits."""
    return f"{amount:,}".replace(",", ".")


def dong(amount: int) -> str:
    """``1500000`` → ``"1.500.000 đồng"``."""
    return f"{format_vnd(amount)} đồng"


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def search_key(text: str) -> str:
    """A name as searched: ``"Nguyễn V. A."`` → ``"nguyen v a"``.

    Without diacritics (phones and banks drop them), in lower case, and with every run
    of punctuation or spaces made one space, so "nguyen v" and "NGUYEN V." both find it.
    """
    return _NOT_ALNUM.sub(" ", fold_ascii(nfc(text)).lower()).strip()


def in_kind_json(in_kind: dict[str, Any] | None) -> str | None:
    """In-kind details as the gift table keeps them: JSON with sorted keys, or None."""
    return None if not in_kind else orjson.dumps(in_kind, option=orjson.OPT_SORT_KEYS).decode()
