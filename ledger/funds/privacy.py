"""What the public may see of people, and how private facts are bound without showing them.

A leaf is public forever, so private facts (a donor's phone number, a beneficiary's
national ID number, a personal bank account) never go into one. Where the log must
still bind such a fact, for example so that the same person receiving a support
package twice can be found, the leaf holds an HMAC-SHA256 of it under a secret key
kept outside the database (``privacy-key`` in the instance folder). Without the key
nobody can test guesses against the hash (a national ID number has only ~10^12
values, so a plain or salted hash would be brute-forced in hours).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import ConfigurationError
from ledger.funds.text import nfc

ANONYMOUS_DONOR = "Nhà hảo tâm ẩn danh"
KEY_BYTES = 32


@dataclass(frozen=True)
class PrivacyKey:
    secret: bytes

    @classmethod
    def generate(cls) -> PrivacyKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def load(cls, path: Path) -> PrivacyKey:
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError as err:
            raise ConfigurationError(f"no privacy key at {path}: run `ledger init`") from err
        try:
            secret = bytes.fromhex(text)
        except ValueError as err:
            raise ConfigurationError(f"the privacy key in {path} is not hex") from err
        if len(secret) != KEY_BYTES:
            raise ConfigurationError(f"the privacy key in {path} must be {KEY_BYTES} bytes")
        return cls(secret)

    @classmethod
    def load_or_create(cls, path: Path) -> PrivacyKey:
        if path.exists():
            return cls.load(path)
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.secret.hex() + "\n")
        return key

    def digest(self, purpose: str, value: str) -> str:
        """Keyed hash of ``value``; ``purpose`` keeps hashes of different facts apart."""
        message = f"{purpose}\n{value}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def national_id_hash(self, national_id: str) -> str:
        return self.digest("national_id", normalise_national_id(national_id))

    def contact_hash(self, contact: str) -> str:
        return self.digest("contact", " ".join(nfc(contact).casefold().split()))

    def account_hash(self, account: str) -> str:
        return self.digest("account", re.sub(r"[^0-9A-Za-z]", "", account).upper())


def normalise_national_id(value: str) -> str:
    """Digits only: the same CCCD written with spaces or dots is the same person."""
    return re.sub(r"\D", "", value)


def mask_name(full_name: str) -> str:
    """``"Nguyễn Văn An"`` → ``"Nguyễn V. A."``: the family name and initials only."""
    words = nfc(full_name).split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0][0].upper() + "."
    return " ".join([words[0], *(word[0].upper() + "." for word in words[1:])])
