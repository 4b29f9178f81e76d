"""Fixtures shared by every test: a fresh database per test, on SQLite or PostgreSQL.

``make test`` runs the suite twice: on SQLite files, then on PostgreSQL with
``LEDGER_TEST_DATABASE_URL`` pointing at a throw-away database. On PostgreSQL each
test gets its own schema (dropped afterwards), so tests never see each other's rows
and the append-only triggers never get in the way of cleaning up.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support.api import MakeToken

from ledger import log
from ledger.db import Database
from ledger.entries import Draft
from ledger.funds import tokens
from ledger.funds.access import ADMIN, command_line
from ledger.funds.recorder import Recorded, record
from ledger.genesis import init_ledger
from ledger.keys import SigningKey
from ledger.settings import Settings
from public_api import create_app

PG_URL = os.environ.get("LEDGER_TEST_DATABASE_URL")
BACKEND = "postgresql" if PG_URL else "sqlite"
ORIGIN = "test.mttq.example/covid19"
VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"


def pytest_report_header() -> str:
    return f"ledger test database: {BACKEND}"


# Some behaviour exists on one database only (a PostgreSQL outage or notification, a
# SQLite file on a full disk). ``@pytest.mark.postgresql_only`` and
# ``@pytest.mark.sqlite_only`` deselect such a test on the other pass of ``make test``
# (it shows in the deselected count), so each pass runs every test that means
# something on its database and skips none.
ONLY = {"postgresql_only": "postgresql", "sqlite_only": "sqlite"}


def pytest_configure(config: pytest.Config) -> None:
    for marker, backend in ONLY.items():
        config.addinivalue_line(
            "markers", f"{marker}: means something on {backend} only; deselected on the other pass"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    other = [
        item
        for item in items
        if any(item.get_closest_marker(m) and b != BACKEND for m, b in ONLY.items())
    ]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(Settings.load({"LEDGER_DATABASE_URL": PG_URL}, environ={}).database_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(admin.url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.load(
        {
            "LEDGER_INSTANCE_DIR": str(tmp_path / "instance"),
            "LEDGER_DATABASE_URL": database_url,
            "LEDGER_ORIGIN": ORIGIN,
            "LEDGER_BASE_URL": "https://quy.example.vn",
        },
        environ={},
    )


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """Environment variables that point the CLI or a subprocess at the test ledger."""
    return {
        "LEDGER_INSTANCE_DIR": str(settings.instance_dir),
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_ORIGIN": settings.origin,
        "LEDGER_BASE_URL": settings.base_url,
    }


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def ledger(settings: Settings, db: Database) -> Database:
    """An initialised ledger: schema, signing key and genesis entry."""
    init_ledger(settings, db)
    return db


@pytest.fixture
def signer(ledger: Database, settings: Settings) -> SigningKey:
    return SigningKey.load(settings.signing_key_file, settings.origin)


def _append_notes(
    db: Database, signer: SigningKey, count: int, batch: int = 1, actor: str = "tester"
) -> None:
    done = 0
    while done < count:
        size = min(batch, count - done)
        drafts = [Draft("note", {"n": done + i, "text": "ghi chú"}, actor) for i in range(size)]
        with db.writing() as session:
            log.append(session, drafts, signer)
        done += size


@pytest.fixture
def append_notes() -> Callable[..., None]:
    """``append_notes(db, signer, count, batch=1)``: append small test entries in batches."""
    return _append_notes


@pytest.fixture
def app(settings: Settings, env: dict[str, str], ledger: Database) -> Iterator[Flask]:
    application = create_app({**env, "TESTING": True})
    yield application
    application.extensions["ledger.database"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(env: dict[str, str]) -> CliRunner:
    return CliRunner(env=env)


@dataclass(frozen=True)
class Funds:
    """A small province with two districts, their funds and campaigns, ready for gifts.

    ``record(kind, data)`` records one operation as the command line would (admin) and
    returns its ``Recorded``.
    """

    db: Database
    settings: Settings
    province: str = "LS"
    district: str = "LS-CL"
    other_district: str = "LS-VL"
    fund: str = "LS-COVID"
    district_fund: str = "CL-COVID"
    other_fund: str = "VL-COVID"
    campaign: str = "LS-2026"
    district_campaign: str = "CL-2026"
    other_campaign: str = "VL-2026"
    mobilizer: str = "LS-HLHPN"
    today: str = ""

    def record(self, kind: str, data: Mapping[str, Any], actor: str = "tester") -> Recorded:
        return record(self.db, self.settings, command_line(actor), [(kind, data)])[0]

    def give(self, amount: int, fund: str | None = None, **extra: Any) -> Recorded:
        data: dict[str, Any] = {
            "fund": fund or self.fund,
            "amount": amount,
            "channel": "cash",
            "donor": {"display": "Công ty TNHH Minh An", "type": "organization"},
            **extra,
        }
        return self.record("contribution", data)

    def allocate(self, amount: int, fund: str | None = None, **extra: Any) -> Recorded:
        data: dict[str, Any] = {
            "fund": fund or self.fund,
            "amount": amount,
            "beneficiary": {"display": "Trung tâm Y tế huyện Cao Lộc", "type": "organization"},
            "purpose": "Mua vật tư y tế",
            **extra,
        }
        return self.record("allocation", data)


def campaign_data(code: str, fund: str, reference: str, opens: str, closes: str) -> dict[str, Any]:
    return {
        "code": code,
        "fund": fund,
        "name": "Chung sức phòng, chống dịch COVID-19",
        "purpose": "Mua vật tư, hỗ trợ người dân khó khăn do dịch",
        "reference": reference,
        "opens": opens,
        "closes": closes,
        "distribute_by": closes,
        "account": {
            "bank_bin": "970436",
            "number": "0011001234567",
            "holder": "Ủy ban MTTQ Việt Nam tỉnh Lạng Sơn",
        },
    }


@pytest.fixture
def funds(ledger: Database, settings: Settings) -> Funds:
    """``Funds``: units LS > LS-CL, LS-VL; a covid19 fund and an open campaign for each."""
    now = datetime.now(UTC) + timedelta(hours=7)
    opens = (now - timedelta(days=60)).date().isoformat()
    closes = (now + timedelta(days=60)).date().isoformat()
    made = Funds(ledger, settings, today=now.date().isoformat())
    operations: list[tuple[str, Mapping[str, Any]]] = [
        ("unit", {"code": "LS", "name": "Tỉnh Lạng Sơn", "level": "province"}),
        ("unit", {"code": "LS-CL", "name": "Huyện Cao Lộc", "parent": "LS", "level": "district"}),
        ("unit", {"code": "LS-VL", "name": "Huyện Văn Lãng", "parent": "LS", "level": "district"}),
        ("fund", {"code": "LS-COVID", "unit": "LS", "kind": "covid19"}),
        ("fund", {"code": "CL-COVID", "unit": "LS-CL", "kind": "covid19"}),
        ("fund", {"code": "VL-COVID", "unit": "LS-VL", "kind": "covid19"}),
        ("campaign", campaign_data("LS-2026", "LS-COVID", "LS26COVID", opens, closes)),
        ("campaign", campaign_data("CL-2026", "CL-COVID", "CL26COVID", opens, closes)),
        ("campaign", campaign_data("VL-2026", "VL-COVID", "VL26COVID", opens, closes)),
        (
            "mobilizer",
            {"code": "LS-HLHPN", "name": "Hội LHPN tỉnh", "type": "collective", "unit": "LS"},
        ),
    ]
    record(ledger, settings, command_line("setup"), operations)
    return made


@pytest.fixture
def make_token(funds: Funds) -> MakeToken:
    """``make_token(role=ADMIN, unit=None, name=None, ...)``: a new token's secret form."""

    def make(role: str = ADMIN, unit: str | None = None, **options: Any) -> str:
        with funds.db.writing() as session:
            _row, token = tokens.create_token(session, role, unit, **options)
        return token

    return make


@pytest.fixture
def admin(make_token: MakeToken) -> str:
    """The secret form of an admin token named ``ls-admin``."""
    return make_token(ADMIN, name="ls-admin")
