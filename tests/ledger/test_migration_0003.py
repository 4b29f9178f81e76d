"""Migration 0003 on a ledger written before it: the new columns are filled from the leaves.

The ledger is built at revision 0002 the way the code of that time wrote it: entries
appended to the log and projection rows holding only the 0002 columns. After the
upgrade the rows must say what their leaves say, the recorder must write to the new
schema, and the public lists must find the old gifts like new ones.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from ledger import log, migrate, receipt_ids
from ledger.db import Database
from ledger.entries import Draft
from ledger.funds import listing
from ledger.funds.access import command_line
from ledger.funds.recorder import record, today_in_vietnam
from ledger.genesis import init_ledger
from ledger.keys import SigningKey
from ledger.settings import Settings

BEFORE = "0002_fund_tables"
REGISTRY: list[tuple[str, dict[str, Any]]] = [
    ("unit", {"code": "LS", "name": "Tỉnh Lạng Sơn", "level": "province"}),
    ("unit", {"code": "LS-CL", "name": "Huyện Cao Lộc", "parent": "LS", "level": "district"}),
    ("fund", {"code": "LS-COVID", "unit": "LS", "kind": "covid19"}),
    (
        "campaign",
        {
            "code": "LS-2026",
            "fund": "LS-COVID",
            "name": "Chung sức phòng, chống dịch",
            "purpose": "Mua vật tư y tế",
            "reference": "LS26COVID",
            "opens": "2020-01-01",
            "closes": "2099-12-31",
            "distribute_by": "2099-12-31",
            "account": {"bank_bin": "970436", "number": "0011001234567", "holder": "UB MTTQ"},
        },
    ),
]
IN_KIND = {"description": "Gạo tẻ", "quantity": 500, "unit": "kg", "valuation": "Hóa đơn 12"}


def upgrade_to(engine: Engine, revision: str) -> None:
    config = migrate.alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def gift(origin: str, index: int, day: str, donor: dict[str, Any], **extra: Any) -> Draft:
    body = {
        "fund": "LS-COVID",
        "campaign": "LS-2026",
        "amount": extra.pop("amount", 500_000),
        "currency": "VND",
        "channel": extra.pop("channel", "bank"),
        "donor": donor,
        "mobilizer": None,
        "receipt_id": receipt_ids.make(origin, index),
        "received_on": day,
        **extra,
    }
    return Draft("contribution", body, "ls-admin")


@pytest.fixture
def old_ledger(settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """A ledger at revision 0002 with two gifts, an allocation and a disbursement."""
    with monkeypatch.context() as patch:
        patch.setattr(migrate, "upgrade", lambda engine: upgrade_to(engine, BEFORE))
        init_ledger(settings, db)
    record(db, settings, command_line("setup"), REGISTRY)  # these tables did not change
    signer = SigningKey.load(settings.signing_key_file, settings.origin)
    day = today_in_vietnam().isoformat()
    origin = settings.origin
    with db.writing() as session:
        start = log.tree_size(session)
        named = {"display": "Nguyễn Văn An", "type": "individual", "anonymous": False}
        hidden = {"display": "Nhà hảo tâm ẩn danh", "type": "individual", "anonymous": True}
        drafts = [
            gift(origin, start, day, named, reference="FT2601", earmark={"unit": "LS-CL"}),
            gift(origin, start + 1, day, hidden, channel="in_kind", in_kind=IN_KIND),
            Draft(
                "allocation",
                {
                    "fund": "LS-COVID",
                    "amount": 300_000,
                    "currency": "VND",
                    "form": "cash",
                    "beneficiary": {"display": "Trần T. B.", "type": "individual", "unit": "LS-CL"},
                    "purpose": "Hỗ trợ hộ khó khăn",
                },
                "ls-admin",
            ),
            Draft(
                "disbursement",
                {
                    "allocation": start + 2,
                    "fund": "LS-COVID",
                    "amount": 100_000,
                    "currency": "VND",
                    "documents": ["ab" * 32],
                    "paid_on": "2026-11-30",
                },
                "ls-admin",
            ),
        ]
        appended = log.append(session, drafts, signer)
        rows = [
            (
                "INSERT INTO fund_contributions (receipt_id, entry_index, fund, campaign, "
                "mobilizer, channel, amount, received_on, reference, pledge) VALUES "
                "(:receipt_id, :index, 'LS-COVID', 'LS-2026', NULL, :channel, :amount, :day, "
                ":reference, NULL)",
                {
                    "receipt_id": entry.body["receipt_id"],
                    "index": entry.index,
                    "channel": entry.body["channel"],
                    "amount": entry.body["amount"],
                    "day": day,
                    "reference": entry.body.get("reference"),
                },
            )
            for entry in appended.entries[:2]
        ]
        rows.append(
            (
                "INSERT INTO fund_allocations (entry_index, fund, form, amount, earmark, "
                "campaign, program, id_hash) VALUES (:index, 'LS-COVID', 'cash', 300000, '', "
                "NULL, NULL, NULL)",
                {"index": start + 2},
            )
        )
        rows.append(
            (
                "INSERT INTO fund_disbursements (entry_index, allocation, amount) "
                "VALUES (:index, :allocation, 100000)",
                {"index": start + 3, "allocation": start + 2},
            )
        )
        for statement, values in rows:
            session.execute(text(statement), values)
    return {"named": start, "anonymous": start + 1, "allocation": start + 2, "paid": start + 3}


def test_the_upgrade_fills_the_new_columns_from_the_leaves(
    db: Database, old_ledger: dict[str, int]
) -> None:
    migrate.upgrade(db.engine)
    with db.engine.connect() as connection:
        gifts = connection.execute(
            text(
                "SELECT entry_index, donor_display, donor_type, donor_anonymous, donor_search, "
                "earmark, in_kind FROM fund_contributions ORDER BY entry_index"
            )
        ).all()
        allocation = connection.execute(
            text("SELECT beneficiary_type, beneficiary_unit FROM fund_allocations")
        ).one()
        payment = connection.execute(text("SELECT fund, paid_on FROM fund_disbursements")).one()
    named, hidden = gifts
    assert named.entry_index == old_ledger["named"]
    assert (named.donor_display, named.donor_type, bool(named.donor_anonymous)) == (
        "Nguyễn Văn An",
        "individual",
        False,
    )
    assert named.donor_search == "nguyen van an"
    assert named.earmark == '{"unit":"LS-CL"}' and named.in_kind is None
    assert (hidden.donor_display, bool(hidden.donor_anonymous)) == ("Nhà hảo tâm ẩn danh", True)
    assert hidden.earmark == ""
    assert '"description":"Gạo tẻ"' in hidden.in_kind
    assert tuple(allocation) == ("individual", "LS-CL")
    assert tuple(payment) == ("LS-COVID", "2026-11-30")


def test_the_filled_columns_are_required_and_indexed(
    db: Database, old_ledger: dict[str, int]
) -> None:
    migrate.upgrade(db.engine)
    inspector = inspect(db.engine)
    nullable = {
        column["name"]: column["nullable"] for column in inspector.get_columns("fund_contributions")
    }
    assert not any(nullable[name] for name in ("donor_display", "donor_search", "earmark"))
    assert nullable["in_kind"]
    indexed = {
        tuple(index["column_names"]) for index in inspector.get_indexes("fund_contributions")
    }
    assert {("amount",), ("received_on",), ("reference",)} <= indexed
    payments = {tuple(i["column_names"]) for i in inspector.get_indexes("fund_disbursements")}
    assert {("fund",), ("paid_on",), ("allocation",)} <= payments
    unique = inspector.get_unique_constraints("fund_contributions")
    assert any(u["column_names"] == ["entry_index"] for u in unique)


def test_old_and_new_gifts_are_listed_alike_after_the_upgrade(
    db: Database, settings: Settings, old_ledger: dict[str, int]
) -> None:
    migrate.upgrade(db.engine)
    new = record(
        db,
        settings,
        command_line("ls-admin"),
        [
            (
                "contribution",
                {
                    "fund": "LS-COVID",
                    "amount": 200_000,
                    "channel": "cash",
                    "donor": {"display": "Nguyễn Văn Anh", "type": "individual"},
                },
            )
        ],
    )[0]
    with db.session() as session:
        size = log.tree_size(session)
        found = listing.contributions(
            session, listing.GiftFilter(donor="nguyen van an"), as_of=size
        ).page(10)
        spending = listing.allocations(
            session, listing.AllocationFilter(beneficiary_unit="LS"), as_of=size
        ).page(10)
    assert [item["index"] for item in found.items] == [new.index, old_ledger["named"]]
    assert found.items[1]["earmark"] == {"unit": "LS-CL"}
    assert [(item["index"], item["disbursed"]) for item in spending.items] == [
        (old_ledger["allocation"], 100_000)
    ]


def test_down_and_up_again_gives_the_same_rows(db: Database, old_ledger: dict[str, int]) -> None:
    migrate.upgrade(db.engine)
    query = text("SELECT * FROM fund_contributions ORDER BY entry_index")
    with db.engine.connect() as connection:
        upgraded = connection.execute(query).all()
    config = migrate.alembic_config(db.engine)
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, BEFORE)
        connection.commit()
    assert "donor_display" not in {
        c["name"] for c in inspect(db.engine).get_columns("fund_contributions")
    }
    migrate.upgrade(db.engine)
    with db.engine.connect() as connection:
        assert connection.execute(query).all() == upgraded
