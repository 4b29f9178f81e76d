"""Settings: defaults, then LEDGER_* variables, then explicit overrides; no side effects."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import ConfigurationError
from ledger.settings import DEFAULT_BASE_URL, DEFAULT_ORIGIN, Settings


def test_defaults_put_everything_under_the_instance_folder(tmp_path: Path) -> None:
    settings = Settings.load({"LEDGER_INSTANCE_DIR": str(tmp_path / "inst")}, environ={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'inst' / 'ledger.sqlite3'}"
    assert settings.signing_key_file == tmp_path / "inst" / "signing-key.pem"
    assert settings.origin == DEFAULT_ORIGIN
    assert settings.base_url == DEFAULT_BASE_URL
    assert not (tmp_path / "inst").exists(), "loading settings must not create anything"


def test_environment_is_read_and_overrides_win() -> None:
    environ = {
        "LEDGER_ORIGIN": "quy.mttq-langson.vn/covid19",
        "LEDGER_BASE_URL": "https://quy.mttq-langson.vn/",
        "LEDGER_DATABASE_URL": "postgresql://ledger@db/ledger",
        "LEDGER_MAX_PAGE_SIZE": "250",
    }
    settings = Settings.load({"LEDGER_BASE_URL": "https://other.example"}, environ=environ)
    assert settings.origin == "quy.mttq-langson.vn/covid19"
    assert settings.base_url == "https://other.example"
    assert settings.database_url == "postgresql+psycopg://ledger@db/ledger"
    assert settings.max_page_size == 250


def test_base_url_loses_its_trailing_slash() -> None:
    settings = Settings.load({"LEDGER_BASE_URL": "https://quy.example.vn/"}, environ={})
    assert settings.base_url == "https://quy.example.vn"


@pytest.mark.parametrize("origin", ["", "has space/x", "a+b"])
def test_an_origin_that_cannot_be_a_key_name_is_refused(origin: str) -> None:
    with pytest.raises(ConfigurationError, match="LEDGER_ORIGIN"):
        Settings.load(
            {"LEDGER_ORIGIN": origin}, environ={"LEDGER_ORIGIN": "x"} if not origin else {}
        )


def test_a_page_size_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="LEDGER_MAX_PAGE_SIZE"):
        Settings.load({"LEDGER_MAX_PAGE_SIZE": "many"}, environ={})
