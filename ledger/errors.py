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
