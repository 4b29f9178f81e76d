"""One exception root for the ledger; the HTTP and CLI edges map these to answers.

Every error carries a stable machine ``code`` (used in the JSON error body) and a
message meant for a person. ``index`` names the first log index a verification
error concerns, so that ``ledger verify`` can say where the log went wrong.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose."""

    code = "ledger_error"

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index

    def __str__(self) -> str:
        if self.index is None:
            return self.message
        return f"index {self.index}: {self.message}"


class EncodingError(LedgerError):
    """A value cannot be put into a leaf (float, non-NFC text, too large, ...)."""

    code = "invalid_entry"


class ProofError(LedgerError):
    """A Merkle inclusion or consistency proof does not verify."""

    code = "invalid_proof"


class KeyFormatError(LedgerError):
    """A verifier key string or key file is malformed."""

    code = "invalid_key"


class NoteError(LedgerError):
    """A signed note or checkpoint is malformed or its signature does not verify."""

    code = "invalid_checkpoint"


class ChainError(LedgerError):
    """The stored log is inconsistent: a leaf, link, tree node or checkpoint is wrong."""

    code = "chain_broken"


class NotFoundError(LedgerError):
    """The thing asked for does not exist (yet)."""

    code = "not_found"


class InvalidRequestError(LedgerError):
    """A parameter is malformed or out of range."""

    code = "bad_request"


class ConfigurationError(LedgerError):
    """Settings or files on disk do not allow the operation (missing key, no genesis)."""

    code = "configuration_error"


class ValidationError(LedgerError):
    """A writer's request is malformed; ``fields`` maps each field to what is wrong."""

    code = "validation_failed"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}

    @classmethod
    def for_field(cls, field: str, message: str) -> ValidationError:
        """One field's problem, said the same in the message and in ``fields``."""
        return cls(f"{field}: {message}", {field: [message]})


class ConflictError(LedgerError):
    """The request is well-formed but the ledger's state does not allow it."""

    code = "conflict"


class BalanceError(ConflictError):
    """The write would make a balance negative; nothing was written."""

    code = "insufficient_funds"


class CampaignDateError(ConflictError):
    """A gift dated outside its campaign's open period (Decree 93/2021: no late intake)."""

    code = "outside_campaign"


class DuplicateError(ConflictError):
    """The thing exists already: a code, a bank reference, a reversal of the same entry."""

    code = "duplicate"


class AuthenticationError(LedgerError):
    """No token, or a token that is unknown, expired or revoked."""

    code = "unauthorized"


class PermissionDeniedError(LedgerError):
    """The token's role or unit scope does not cover the request."""

    code = "forbidden"
