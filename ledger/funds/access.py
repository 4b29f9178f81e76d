"""Who may do what: roles, and the unit subtree a token is confined to.

A token carries one role and optionally one unit; it then acts on that unit and every
unit below it (a district's managers record for its communes, not for the district
next door). The command line acts as ``admin``: whoever runs it holds the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import PermissionDeniedError
from ledger.funds.state import UnitTree

ADMIN = "admin"
FUND_MANAGER = "fund_manager"
AUDITOR = "auditor"
AWARDS_BOARD = "awards_board"
ROLES = (ADMIN, FUND_MANAGER, AUDITOR, AWARDS_BOARD)

# Operations each role may perform; admin may do everything.
_WRITES = frozenset(
    {
        "unit",
        "fund",
        "campaign",
        "mobilizer",
        "contribution",
        "pledge",
        "allocation",
        "disbursement",
        "transfer",
        "reversal",
        "document",
        "import",
    }
)
PERMISSIONS: dict[str, frozenset[str]] = {
    ADMIN: _WRITES,
    FUND_MANAGER: _WRITES,
    # Auditors read the full audit and acknowledge findings; they never move money.
    AUDITOR: frozenset({"read_private", "audit", "acknowledgement"}),
    AWARDS_BOARD: frozenset({"award", "award_nomination", "award_transition"}),
}


# Operations that are not entries, as a refusal names them.
_NOT_RECORDED = {
    "audit": "read the full audit",
    "read_private": "read private data",
    "award": "act for the awards board",
}


@dataclass(frozen=True)
class Scope:
    """The authority a writer holds: a role, and the unit subtree it covers (None: all)."""

    actor: str
    role: str
    unit: str | None = None

    def require(self, operation: str) -> None:
        if self.role != ADMIN and operation not in PERMISSIONS.get(self.role, frozenset()):
            what = _NOT_RECORDED.get(operation, f"record a {operation}")
            raise PermissionDeniedError(f"the role {self.role} may not {what}")

    def require_unit(self, code: str, tree: UnitTree) -> None:
        """Refuse to act on a unit outside this scope's subtree."""
        if self.unit is None:
            return
        if not tree.within(code, self.unit):
            raise PermissionDeniedError(
                f"{self.actor} acts for unit {self.unit} and the units below it, not for {code}"
            )


def command_line(actor: str) -> Scope:
    return Scope(actor=actor, role=ADMIN, unit=None)
