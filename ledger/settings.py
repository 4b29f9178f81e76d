"""Settings: defaults, then ``LEDGER_*`` environment variables, then explicit overrides.

Reading settings has no side effects: nothing is created on disk until a command
(``ledger init``) asks for it, so importing or building the app never touches the
instance folder.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ledger.errors import ConfigurationError

DEFAULT_ORIGIN = "localhost/mttq-ledger"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_NAME = "Sổ cái quỹ vận động minh bạch"

_ENV = {
    "LEDGER_INSTANCE_DIR": "instance_dir",
    "LEDGER_DATABASE_URL": "database_url",
    "LEDGER_ORIGIN": "origin",
    "LEDGER_BASE_URL": "base_url",
    "LEDGER_SIGNING_KEY_FILE": "signing_key_file",
    "LEDGER_NAME": "ledger_name",
    "LEDGER_MAX_PAGE_SIZE": "max_page_size",
    "LEDGER_PRIVACY_KEY_FILE": "privacy_key_file",
    "LEDGER_FUND_KINDS": "fund_kinds",
    "LEDGER_RATELIMIT_ENABLED": "ratelimit_enabled",
    "LEDGER_RATELIMIT_STORAGE_URL": "ratelimit_storage_url",
    "LEDGER_RATELIMIT_PUBLIC": "ratelimit_public",
    "LEDGER_RATELIMIT_WRITE": "ratelimit_write",
    "LEDGER_RATELIMIT_BAD_TOKENS": "ratelimit_bad_tokens",
    "LEDGER_TRUSTED_PROXIES": "trusted_proxies",
    "LEDGER_AUDIT_RULES": "audit_rules_file",
    "LEDGER_AWARDS_CRITERIA": "awards_criteria_file",
}

# Requests per client address. Readers behind one carrier-grade NAT share an address,
# so the public limit is generous; it stops scrapers hammering, not people reading.
DEFAULT_RATELIMIT_PUBLIC = "1200 per minute"
DEFAULT_RATELIMIT_WRITE = "600 per minute"
# Refused tokens per client address: past this, the address waits before any token
# is even looked at, so guessing tokens costs time.
DEFAULT_RATELIMIT_BAD_TOKENS = "10 per minute"

# Fund kinds every ledger knows; LEDGER_FUND_KINDS adds more ("code=Name;code=Name").
FUND_KINDS = {
    "covid19": "Quỹ phòng, chống COVID-19",
    "poor": "Quỹ “Vì người nghèo”",
    "relief": "Quỹ Cứu trợ",
}


@dataclass(frozen=True)
class Settings:
    """Everything the ledger needs to know about where it lives and who it is.

    ``origin`` is the log's identity (the checkpoint origin line and key name); once
    the genesis entry is written, the genesis value is authoritative.
    """

    instance_dir: Path
    database_url: str
    origin: str
    base_url: str
    signing_key_file: Path
    ledger_name: str = DEFAULT_NAME
    max_page_size: int = 1000
    privacy_key_file: Path = Path("instance/privacy-key")
    fund_kinds: Mapping[str, str] = field(default_factory=lambda: dict(FUND_KINDS))
    ratelimit_enabled: bool = True
    ratelimit_storage_url: str = "memory://"
    ratelimit_public: str = DEFAULT_RATELIMIT_PUBLIC
    ratelimit_write: str = DEFAULT_RATELIMIT_WRITE
    ratelimit_bad_tokens: str = DEFAULT_RATELIMIT_BAD_TOKENS
    trusted_proxies: int = 0
    # TOML files overriding the anomaly rules' thresholds and the award criteria;
    # None: the defaults shipped in the audit package.
    audit_rules_file: Path | None = None
    awards_criteria_file: Path | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Combine defaults, the environment and ``overrides`` (keys as ``LEDGER_*``)."""
        source: dict[str, Any] = {}
        env = os.environ if environ is None else environ
        for variable, name in _ENV.items():
            if env.get(variable):
                source[name] = env[variable]
        for key, value in (overrides or {}).items():
            if key in _ENV and value is not None:
                source[_ENV[key]] = value
        instance_dir = Path(source.get("instance_dir", "instance")).absolute()
        database_url = str(
            source.get("database_url", f"sqlite:///{instance_dir / 'ledger.sqlite3'}")
        )
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
        settings = cls(
            instance_dir=instance_dir,
            database_url=database_url,
            origin=str(source.get("origin", DEFAULT_ORIGIN)),
            base_url=str(source.get("base_url", DEFAULT_BASE_URL)).rstrip("/"),
            signing_key_file=Path(
                source.get("signing_key_file", instance_dir / "signing-key.pem")
            ).absolute(),
            ledger_name=str(source.get("ledger_name", DEFAULT_NAME)),
            privacy_key_file=Path(
                source.get("privacy_key_file", instance_dir / "privacy-key")
            ).absolute(),
            fund_kinds={**FUND_KINDS, **_fund_kinds(str(source.get("fund_kinds", "")))},
        )
        if "max_page_size" in source:
            try:
                settings = replace(settings, max_page_size=int(source["max_page_size"]))
            except ValueError as err:
                raise ConfigurationError("LEDGER_MAX_PAGE_SIZE must be an integer") from err
        settings = replace(settings, **_http_settings(source))
        if source.get("audit_rules_file"):
            rules = Path(source["audit_rules_file"]).absolute()
            settings = replace(settings, audit_rules_file=rules)
        if source.get("awards_criteria_file"):
            criteria = Path(source["awards_criteria_file"]).absolute()
            settings = replace(settings, awards_criteria_file=criteria)
        if not settings.origin or any(c.isspace() or c == "+" for c in settings.origin):
            raise ConfigurationError(
                f"LEDGER_ORIGIN {settings.origin!r} must be non-empty, "
                "without spaces or '+', e.g. quy.mttq-langson.vn/covid19"
            )
        return settings


def _http_settings(source: Mapping[str, Any]) -> dict[str, Any]:
    """Rate limits and the proxies in front of the app, as given in ``source``.

    The limit strings are checked by the app that applies them (``public_api.ratelimit``).
    """
    found: dict[str, Any] = {}
    if "ratelimit_enabled" in source:
        found["ratelimit_enabled"] = _flag(source["ratelimit_enabled"], "LEDGER_RATELIMIT_ENABLED")
    for name in (
        "ratelimit_storage_url",
        "ratelimit_public",
        "ratelimit_write",
        "ratelimit_bad_tokens",
    ):
        if name in source:
            found[name] = str(source[name]).strip()
    if "trusted_proxies" in source:
        try:
            found["trusted_proxies"] = int(source["trusted_proxies"])
        except ValueError as err:
            raise ConfigurationError("LEDGER_TRUSTED_PROXIES must be an integer") from err
        if found["trusted_proxies"] < 0:
            raise ConfigurationError("LEDGER_TRUSTED_PROXIES must be 0 or more")
    return found


def _flag(value: Any, variable: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{variable} must be true or false, not {value!r}")


def _fund_kinds(text: str) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        code, _, name = item.partition("=")
        code, name = code.strip(), name.strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", code) or not name:
            raise ConfigurationError(
                f"LEDGER_FUND_KINDS item {item!r} must read code=Name, e.g. flood=Quỹ Lũ lụt"
            )
        kinds[code] = unicodedata.normalize("NFC", name)
    return kinds
