"""Which campaign and which mobiliser a bank transfer memo names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ledger.funds.text import fold_ascii, nfc


@dataclass(frozen=True)
class MemoMatch:
    campaign: str | None
    mobilizer: str | None


def match_memo(memo: str, campaigns: Mapping[str, str], mobilizers: Mapping[str, str]) -> MemoMatch:
    """Find which campaign and which mobilizer a transfer memo names.

    The mappings go from the reference code donors are asked to write (``LS21COVID``,
    ``LSHLHPN``) to our code. The memo is folded to ASCII and upper-cased, since banks
    drop diacritics. For each mapping separately:

    1. references that are whole tokens of the memo (split on anything that is not a
       letter or digit) match;
    2. only if none does, references of five or more characters match anywhere in the
       memo with every non-alphanumeric removed, because banks and apps glue words
       (``MBVCB.123456.LS21COVIDLSHLHPN.CT tu ...``); shorter ones would match by
       chance inside account numbers and names;
    3. among the matches the longest reference wins (``LS21COVID`` over ``COVID``);
       if several equally long references lead to different codes, the memo is
       ambiguous and the answer is ``None`` for that mapping, for a person to decide.
    """
    return MemoMatcher(campaigns, mobilizers).match(memo)


class MemoMatcher:
    """``match_memo`` with the references folded once, for the lines of a whole statement."""

    def __init__(self, campaigns: Mapping[str, str], mobilizers: Mapping[str, str]) -> None:
        self.campaigns = _keyed(campaigns)
        self.mobilizers = _keyed(mobilizers)

    def match(self, memo: str) -> MemoMatch:
        folded = fold_ascii(nfc(memo)).upper()
        tokens = set(re.split(r"[^A-Z0-9]+", folded)) - {""}
        glued = re.sub(r"[^A-Z0-9]", "", folded)
        return MemoMatch(
            _match_code(tokens, glued, self.campaigns), _match_code(tokens, glued, self.mobilizers)
        )


def _keyed(references: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(re.sub(r"[^A-Z0-9]", "", fold_ascii(r).upper()), c) for r, c in references.items()]


def _match_code(tokens: set[str], glued: str, keyed: list[tuple[str, str]]) -> str | None:
    hits = [(r, c) for r, c in keyed if r and r in tokens]
    if not hits:
        hits = [(r, c) for r, c in keyed if len(r) >= 5 and r in glued]
    if not hits:
        return None
    longest = max(len(r) for r, _ in hits)
    codes = {c for r, c in hits if len(r) == longest}
    return codes.pop() if len(codes) == 1 else None
