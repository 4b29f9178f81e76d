"""Restoring an export: the same log byte for byte, the same projections, a working ledger.

The source ledger is filled once per module and backend: the demo (seed 1, a few
hundred gifts: in-kind gifts, earmarks, pledges, transfers, allocations and payments,
a reversal), then a key rotation and, signed by the new key, what the demo lacks: a
unit recorded again, an earmarked gift from a mobiliser, a pledge honoured and one
reversed, an individual beneficiary allocated money and paid, the payment, the
allocation, a transfer and a gift reversed, goods allocated.

On the PostgreSQL pass the ledgers live in PostgreSQL schemas, and the cross-database
tests restore a SQLite export into PostgreSQL and a PostgreSQL export into SQLite.
The SQLite pass has no PostgreSQL: there both ends of those tests are SQLite files.
"""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from support.documents import add_document

from ledger import log
from ledger.checkpoint import verify_checkpoint
from ledger.db import Database, sqlite_path
from ledger.entries import Draft
from ledger.errors import ChainError, ConfigurationError
from ledger.export import write_export
from ledger.funds import tokens
from ledger.funds.access import ADMIN, command_line
from ledger.funds.consistency import check_balances
from ledger.funds.demo import run_demo
from ledger.funds.models import PostingRow
from ledger.funds.recorder import Recorded, record, today_in_vietnam
from ledger.genesis import init_ledger
from ledger.integrity import verify_database
from ledger.keyring import rotate_key
from ledger.keys import SigningKey, VerifierKey
from ledger.merkle import hash_leaf
from ledger.migrate import upgrade
from ledger.models import Base, EntryRow
from ledger.restore import (
    DatabaseNotEmptyError,
    Restored,
    require_empty,
    restore,
    verify_backup,
)
from ledger.settings import Settings
from public_api import create_app

PG_URL = os.environ.get("LEDGER_TEST_DATABASE_URL")
HERE = "postgresql" if PG_URL else "sqlite"
OTHER = "sqlite"  # the backend the cross-database tests pair with HERE
ORIGIN = "test.mttq.example/covid19"
GIFTS = 240
TODAY = today_in_vietnam().isoformat()
OPEN_CAMPAIGN = f"LS-COVID-{TODAY[:4]}"  # the demo's campaign open today
PRIVATE = {
    "private_donor_contacts",
    "private_beneficiaries",
    "documents",
    "api_tokens",
    "idempotency_keys",
    "import_batches",
    "import_rows",
}
PUBLIC_TABLES = sorted(
    table.name for table in Base.metadata.sorted_tables if table.name not in PRIVATE
)


class Places:
    """Fresh instances: a folder for the keys and an empty database on a given backend."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        self.schemas: list[str] = []
        self.databases: list[Database] = []
        self.admin = None
        if PG_URL:
            admin_url = Settings.load({"LEDGER_DATABASE_URL": PG_URL}, environ={}).database_url
            self.admin = create_engine(admin_url)

    def make(
        self, backend: str = HERE, *, keys_from: Settings | None = None, origin: str = ORIGIN
    ) -> Settings:
        self.count += 1
        folder = self.root / f"place{self.count}"
        url = f"sqlite:///{folder / 'ledger.sqlite3'}"
        if backend == "postgresql":
            assert self.admin is not None
            schema = f"t_{uuid.uuid4().hex[:12]}"
            with self.admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            self.schemas.append(schema)
            query = {"options": f"-csearch_path={schema}"}
            url = make_url(self.admin.url).update_query_dict(query).render_as_string(False)
        settings = Settings.load(
            {
                "LEDGER_INSTANCE_DIR": str(folder),
                "LEDGER_DATABASE_URL": url,
                "LEDGER_ORIGIN": origin,
                "LEDGER_BASE_URL": "https://quy.example.vn",
            },
            environ={},
        )
        if keys_from is not None:
            folder.mkdir(parents=True)
            shutil.copy2(keys_from.signing_key_file, settings.signing_key_file)
            shutil.copy2(keys_from.privacy_key_file, settings.privacy_key_file)
        return settings

    def database(self, settings: Settings) -> Database:
        made = Database(settings.database_url)
        self.databases.append(made)
        return made

    def close(self) -> None:
        for made in self.databases:
            made.dispose()
        if self.admin is not None:
            for schema in self.schemas:
                with self.admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            self.admin.dispose()


@dataclass(frozen=True)
class Source:
    settings: Settings
    export: Path
    size: int
    receipts: tuple[str, ...]  # a sample, with the reversed and earmarked gifts
    rotated_from: Path  # the retired signing key


def _one(db: Database, settings: Settings, kind: str, data: Mapping[str, Any]) -> Recorded:
    return record(db, settings, command_line("tester"), [(kind, data)])[0]


def _after_the_demo(db: Database, settings: Settings, document: str) -> list[str]:
    """Entries the demo does not make; returns the receipts of the gifts among them."""
    earmark = {"unit": "LS-CL", "purpose": "Hỗ trợ hộ nghèo huyện Cao Lộc"}
    donor = {"display": "Nguyễn Văn An", "type": "individual", "contact": "0912 345 678"}
    campaign = {"fund": "LS-COVID", "campaign": OPEN_CAMPAIGN}
    _one(
        db,
        settings,
        "unit",
        {"code": "LS-VL", "name": "Huyện Văn Lãng mới", "parent": "LS", "level": "district"},
    )
    gift = _one(
        db,
        settings,
        "contribution",
        {
            **campaign,
            "amount": 50_000_000,
            "channel": "bank",
            "reference": "FT26RESTORE1",
            "donor": donor,
            "mobilizer": "LS-HLHPN",
            "earmark": earmark,
        },
    )
    kept = _one(db, settings, "pledge", {**campaign, "amount": 10_000_000, "donor": donor})
    dropped = _one(db, settings, "pledge", {**campaign, "amount": 7_000_000, "donor": donor})
    honoured = _one(
        db,
        settings,
        "contribution",
        {
            **campaign,
            "amount": 10_000_000,
            "channel": "cash",
            "donor": {"display": "Phạm Thị Hoa", "type": "individual", "anonymous": True},
            "pledge": kept.extra["pledge_id"],
        },
    )
    goods = _one(
        db,
        settings,
        "contribution",
        {
            **campaign,
            "amount": 30_000_000,
            "channel": "in_kind",
            "donor": {"display": "Công ty CP Dược Lạng Sơn", "type": "organization"},
            "in_kind": {"description": "Khẩu trang y tế", "quantity": 1000, "unit": "hộp"},
        },
    )
    allocation = _one(
        db,
        settings,
        "allocation",
        {
            "fund": "LS-COVID",
            "amount": 20_000_000,
            "beneficiary": {
                "display": "Trần Thị Bình",
                "type": "individual",
                "unit": "LS-CL",
                "national_id": "001234567890",
            },
            "purpose": "Hỗ trợ sửa nhà",
            "program": "nha-o-2026",
            "decision": {"number": "12/QĐ-MTTQ", "date": TODAY, "approver": "Chủ tịch"},
            "earmark": earmark,
            "campaign": OPEN_CAMPAIGN,
        },
    )
    payment = _one(
        db,
        settings,
        "disbursement",
        {"allocation": allocation.index, "amount": 5_000_000, "documents": [document]},
    )
    transfer = _one(
        db,
        settings,
        "transfer",
        {"from_fund": "LS-COVID", "to_fund": "LS-CL-COVID", "amount": 1_000_000},
    )
    _one(
        db,
        settings,
        "allocation",
        {
            "fund": "LS-COVID",
            "amount": 10_000_000,
            "form": "in_kind",
            "beneficiary": {"display": "Trạm Y tế xã Hợp Thành", "type": "organization"},
            "purpose": "Khẩu trang cho trạm y tế",
        },
    )
    for target in (payment, allocation, transfer, dropped, gift):
        _one(db, settings, "reversal", {"target": target.index, "reason": "Ghi nhầm"})
    return [gift.extra["receipt_id"], honoured.extra["receipt_id"], goods.extra["receipt_id"]]


def _build_source(places: Places, backend: str) -> Source:
    settings = places.make(backend)
    db = places.database(settings)
    init_ledger(settings, db)
    run_demo(db, settings, seed=1, gifts=GIFTS)
    document = add_document(SimpleNamespace(db=db))
    retired_key = SigningKey.load(settings.signing_key_file, ORIGIN)
    rotate_key(db, settings.signing_key_file, "tester")
    retired = settings.signing_key_file.with_name(
        f"{settings.signing_key_file.name}.retired-{retired_key.verifier.key_id_hex}"
    )
    special = _after_the_demo(db, settings, document)
    path = settings.instance_dir / "export.jsonl"
    with db.session() as session, path.open("w", encoding="utf-8") as out:
        size = write_export(session, out)
        sample = [
            str(receipt)
            for receipt in session.scalars(
                text("SELECT receipt_id FROM fund_contributions ORDER BY entry_index")
            )
        ][::25]
    return Source(settings, path, size, (*sample, *special), retired)


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Places]:
    made = Places(tmp_path_factory.mktemp("restore"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def sources(places: Places) -> dict[str, Source]:
    """Source ledgers by backend, each built the first time a test asks for it."""
    return {}


def source_on(places: Places, sources: dict[str, Source], backend: str) -> Source:
    if backend not in sources:
        sources[backend] = _build_source(places, backend)
    return sources[backend]


@pytest.fixture
def source(places: Places, sources: dict[str, Source]) -> Source:
    return source_on(places, sources, HERE)


def restored_from(source: Source, target: Settings) -> Restored:
    summary = verify_backup(source.export)
    return restore(target, source.export, summary)


# --- what is compared -------------------------------------------------------------------


def snapshot(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the log and the projections; postings in their order of writing."""
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            tables: dict[str, list[tuple[Any, ...]]] = {}
            for table in Base.metadata.sorted_tables:
                if table.name not in PUBLIC_TABLES:
                    continue
                if table.name == PostingRow.__tablename__:
                    columns = [c for c in table.columns if c.name != "id"]
                    query = select(*columns).order_by(table.c.entry_index, table.c.id)
                    tables[table.name] = [tuple(row) for row in session.execute(query)]
                else:
                    rows = [tuple(row) for row in session.execute(select(table))]
                    tables[table.name] = sorted(rows, key=repr)  # no collation differs
            return tables
    finally:
        db.dispose()


def private_rows(settings: Settings) -> dict[str, int]:
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            return {
                name: int(session.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
                for name in sorted(PRIVATE)
            }
    finally:
        db.dispose()


@contextmanager
def public_client(settings: Settings) -> Iterator[FlaskClient]:
    app = create_app(
        {
            "LEDGER_INSTANCE_DIR": str(settings.instance_dir),
            "LEDGER_DATABASE_URL": settings.database_url,
            "LEDGER_ORIGIN": settings.origin,
            "LEDGER_BASE_URL": settings.base_url,
            "LEDGER_RATELIMIT_ENABLED": "false",
            "TESTING": True,
        }
    )
    try:
        yield app.test_client()
    finally:
        app.extensions["ledger.database"].dispose()


def _json(client: FlaskClient, url: str) -> Any:
    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.status_code, answer.get_data(as_text=True))
    return answer.get_json()


def public_answers(settings: Settings, receipts: tuple[str, ...]) -> dict[str, Any]:
    """What the public API answers about balances, gifts, receipts, usage and rankings."""
    with public_client(settings) as client:
        urls = [
            "/api/v1/funds",
            "/api/v1/funds/LS-COVID",
            "/api/v1/units",
            "/api/v1/campaigns",
            "/api/v1/mobilizers",
            "/api/v1/allocations?limit=500",
            "/api/v1/disbursements?limit=500",
            "/api/v1/statistics",
            "/api/v1/mobilizers/leaderboard",
            "/api/v1/rankings?type=collective",
            "/api/v1/rankings?type=individual",
            "/api/v1/rankings?type=collective&campaign=LS-COVID-2021&evidence=1",
            "/api/v1/log/checkpoint",
        ]
        answers = {url: _json(client, url) for url in urls}
        gifts, after = [], None
        while True:
            page = _json(
                client, "/api/v1/contributions?limit=100" + (f"&after={after}" if after else "")
            )
            gifts += page["contributions"]
            after = page["next"]
            if after is None:
                break
        answers["/api/v1/contributions"] = gifts
        for receipt in receipts:
            answers[receipt] = _json(client, f"/api/v1/receipts/{receipt}")
            answers[f"{receipt}/usage"] = _json(client, f"/api/v1/contributions/{receipt}/usage")
        return answers


def verify_all(settings: Settings) -> tuple[int, list[Any]]:
    """What ``ledger verify`` checks: the log, its tree hashes, checkpoints and balances."""
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            summary = verify_database(session)
            _funds, problems = check_balances(session)
            return summary.size, problems
    finally:
        db.dispose()


# --- a restore reproduces the source ---------------------------------------------------


def test_a_restore_reproduces_every_entry_checkpoint_and_projection(
    source: Source, places: Places
) -> None:
    target = places.make(keys_from=source.settings)
    restored = restored_from(source, target)
    assert restored.summary.size == source.size
    assert restored.summary.checkpoints >= 20 and len(restored.summary.keys) == 2
    assert restored.counts["contribution"] >= GIFTS and restored.counts["reversal"] == 6
    assert restored.counts["unit"] >= 13 and restored.counts["key_rotation"] == 1
    ours, theirs = snapshot(source.settings), snapshot(target)
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert theirs[name] == ours[name], name
    assert len(ours["log_entries"]) == source.size
    assert verify_all(target) == (source.size, [])
    nothing = dict.fromkeys(sorted(PRIVATE), 0)
    assert private_rows(target) == nothing != private_rows(source.settings)


def test_the_restored_ledger_answers_the_public_api_as_the_source_does(
    source: Source, places: Places
) -> None:
    target = places.make(keys_from=source.settings)
    restored_from(source, target)
    ours = public_answers(source.settings, source.receipts)
    theirs = public_answers(target, source.receipts)
    assert ours.keys() == theirs.keys()
    for what in ours:
        assert theirs[what] == ours[what], what
    gift = ours[source.receipts[-3]]
    assert gift["reversal_index"] is not None and gift["entry"]["body"]["earmark"]
    rankings = ours["/api/v1/rankings?type=collective"]["mobilizers"]
    assert any(row["mobilizer"] == "LS-HLHPN" for row in rankings)


def test_new_writes_continue_the_restored_chain(source: Source, places: Places) -> None:
    target = places.make(keys_from=source.settings)
    restored_from(source, target)
    db = places.database(target)
    gift = _one(
        db,
        target,
        "contribution",
        {
            "fund": "LS-COVID",
            "campaign": OPEN_CAMPAIGN,
            "amount": 2_000_000,
            "channel": "cash",
            "donor": {"display": "Lê Văn Cường", "type": "individual"},
        },
    )
    assert gift.index == source.size
    with db.session() as session:
        entry = log.entry(session, gift.index)
        before = log.entry(session, gift.index - 1)
        checkpoint = log.latest_checkpoint(session)
        summary = verify_database(session)
    in_force = VerifierKey.parse(verify_backup(source.export).keys[-1])
    assert entry.prev == before.leaf_hash.hex()
    assert checkpoint.tree_size == source.size + 1
    assert verify_checkpoint(checkpoint.note, in_force).size == source.size + 1
    assert summary.size == source.size + 1
    assert verify_all(target) == (source.size + 1, [])


@pytest.mark.parametrize("direction", ["into the other backend", "from the other backend"])
def test_a_restore_crosses_databases(
    places: Places, sources: dict[str, Source], direction: str
) -> None:
    """SQLite to PostgreSQL and back on the PostgreSQL pass (SQLite to SQLite otherwise)."""
    there, here = (HERE, OTHER) if direction == "into the other backend" else (OTHER, HERE)
    origin = source_on(places, sources, there)
    target = places.make(here, keys_from=origin.settings)
    restored_from(origin, target)
    assert make_url(target.database_url).get_backend_name() == here
    assert make_url(origin.settings.database_url).get_backend_name() == there
    assert snapshot(target) == snapshot(origin.settings)
    assert verify_all(target) == (origin.size, [])
    receipts = origin.receipts[-3:]
    assert public_answers(target, receipts) == public_answers(origin.settings, receipts)


# --- refusals: nothing written -----------------------------------------------------------


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def _entry_line(lines: list[dict[str, Any]], index: int) -> int:
    return next(n for n, line in enumerate(lines) if line.get("index") == index)


def _raise_amount(lines: list[dict[str, Any]], index: int) -> int:
    """Change a gift's amount in its leaf, and its stated hash to match: the next link breaks."""
    line = lines[_entry_line(lines, index)]
    leaf = base64.b64decode(line["leaf"])
    amount = orjson.loads(leaf)["body"]["amount"]
    forged = leaf.replace(f'"amount":{amount},'.encode(), f'"amount":{amount * 10},'.encode())
    assert forged != leaf
    line["leaf"] = base64.b64encode(forged).decode()
    line["leaf_hash"] = hash_leaf(forged).hex()
    return index + 1


def _drop_entry(lines: list[dict[str, Any]], index: int) -> int:
    del lines[_entry_line(lines, index)]
    return index


def _reword_checkpoint(lines: list[dict[str, Any]], index: int) -> int:
    """Change the text of the checkpoint covering ``index``: its signature fails."""
    at = next(
        n for n in range(_entry_line(lines, index), len(lines)) if lines[n]["type"] == "checkpoint"
    )
    note = lines[at]["note"]
    lines[at]["note"] = note.replace(f"\n{lines[at]['tree_size']}\n", "\n1\n", 1)
    assert lines[at]["note"] != note
    return int(lines[at]["tree_size"]) - 1


def _gift_inside_a_batch(source: Source) -> int:
    """A gift after the registry whose next entry is in the same append batch."""
    db = Database(source.settings.database_url)
    try:
        with db.session() as session:
            found = session.scalar(
                text(
                    "SELECT min(entry_index) FROM fund_contributions WHERE entry_index > 100 "
                    "AND entry_index + 1 NOT IN (SELECT tree_size FROM log_checkpoints)"
                )
            )
            return int(found)
    finally:
        db.dispose()


def _nothing_at(target: Settings) -> bool:
    db = Database(target.database_url)
    try:
        return not db.initialised()
    finally:
        db.dispose()


Tamper = Callable[[list[dict[str, Any]], int], int]


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_raise_amount, "prev does not match the previous entry's leaf hash"),
        (_drop_entry, "expected entry"),
        (_reword_checkpoint, "signature"),
    ],
)
def test_a_tampered_export_is_refused_before_anything_is_written(
    source: Source, places: Places, tmp_path: Path, tamper: Tamper, reason: str
) -> None:
    lines = _lines(source.export)
    expected = tamper(lines, _gift_inside_a_batch(source))
    forged = _write(tmp_path / "forged.jsonl", lines)
    target = places.make(keys_from=source.settings)
    with pytest.raises(ChainError) as refused:
        restore(target, forged, verify_backup(forged))
    assert refused.value.index == expected, str(refused.value)
    assert reason in str(refused.value)
    assert _nothing_at(target)
    database_file = sqlite_path(target.database_url)
    assert database_file is None or not database_file.exists()


def test_an_export_that_changes_after_verification_leaves_the_database_empty(
    source: Source, places: Places, tmp_path: Path
) -> None:
    """The load verifies again as it reads: the rows written are rows verified."""
    summary = verify_backup(source.export)
    lines = _lines(source.export)
    expected = _raise_amount(lines, _gift_inside_a_batch(source))
    changed = _write(tmp_path / "changed.jsonl", lines)
    target = places.make(keys_from=source.settings)
    with pytest.raises(ChainError) as refused:
        restore(target, changed, summary)
    assert refused.value.index == expected
    db = places.database(target)
    with db.session() as session:
        require_empty(session)  # the tables exist, and hold nothing


def test_a_leaf_the_projections_cannot_hold_rolls_the_whole_restore_back(
    places: Places, tmp_path: Path
) -> None:
    """A log signed by its own key may still hold a gift with no fund: nothing is kept."""
    settings = places.make()
    db = places.database(settings)
    init_ledger(settings, db)
    signer = SigningKey.load(settings.signing_key_file, ORIGIN)
    with db.writing() as session:
        drafts = [Draft("note", {"n": n}, "tester") for n in range(7)]
        drafts.append(Draft("contribution", {"amount": 5}, "tester"))
        log.append(session, drafts, signer)
    path = tmp_path / "odd.jsonl"
    with db.session() as session, path.open("w", encoding="utf-8") as out:
        write_export(session, out)
    target = places.make(keys_from=settings)
    summary = verify_backup(path)
    with pytest.raises(ChainError) as refused:
        restore(target, path, summary)
    assert refused.value.index == 8
    assert "contribution body cannot be projected" in str(refused.value)
    with places.database(target).session() as session:
        require_empty(session)


def test_a_database_holding_a_log_is_refused_and_left_as_it_was(
    source: Source, places: Places
) -> None:
    target = places.make(keys_from=source.settings)
    db = places.database(target)
    init_ledger(target, db)  # writes a genesis entry of the same key
    summary = verify_backup(source.export)
    with pytest.raises(DatabaseNotEmptyError, match="already holds a log of 1 entries"):
        restore(target, source.export, summary, database=db)
    with db.session() as session:
        assert log.tree_size(session) == 1


def test_a_database_holding_anything_else_is_refused(source: Source, places: Places) -> None:
    target = places.make(keys_from=source.settings)
    db = places.database(target)
    upgrade(db.engine)
    with db.writing() as session:
        tokens.create_token(session, ADMIN, None, name="early")
    summary = verify_backup(source.export)
    with pytest.raises(DatabaseNotEmptyError, match="table api_tokens holds 1 row"):
        restore(target, source.export, summary, database=db)
    with db.session() as session:
        assert session.scalar(select(EntryRow.index).limit(1)) is None


# --- refusals: an instance that could not carry the log on ------------------------------


def test_the_signing_key_must_be_the_log_key_in_force(source: Source, places: Places) -> None:
    summary = verify_backup(source.export)
    in_force = VerifierKey.parse(summary.keys[-1]).key_id_hex
    missing = places.make()
    with pytest.raises(ConfigurationError) as refused:
        restore(missing, source.export, summary)
    assert "does not exist" in str(refused.value) and in_force in str(refused.value)
    retired = places.make(keys_from=source.settings)
    retired.signing_key_file.unlink()
    shutil.copy2(source.rotated_from, retired.signing_key_file)
    with pytest.raises(ConfigurationError, match=f"is not the log's key in force \\({in_force}\\)"):
        restore(retired, source.export, summary)
    assert _nothing_at(missing) and _nothing_at(retired)


def test_a_key_given_must_be_the_genesis_key(source: Source) -> None:
    summary = verify_backup(source.export)
    genesis, rotated = (VerifierKey.parse(key) for key in summary.keys)
    assert verify_backup(source.export, genesis).root == summary.root
    with pytest.raises(ChainError, match="is not the key given") as refused:
        verify_backup(source.export, rotated)
    assert refused.value.index == 0


def test_the_origin_must_be_the_exports(source: Source, places: Places) -> None:
    target = places.make(origin="another.example/covid19")
    with pytest.raises(ConfigurationError, match="set LEDGER_ORIGIN"):
        restore(target, source.export, verify_backup(source.export))
    assert _nothing_at(target)


def test_a_lost_privacy_key_is_replaced_only_when_allowed(source: Source, places: Places) -> None:
    target = places.make(keys_from=source.settings)
    target.privacy_key_file.unlink()
    summary = verify_backup(source.export)
    with pytest.raises(ConfigurationError, match="--new-privacy-key"):
        restore(target, source.export, summary)
    assert _nothing_at(target) and not target.privacy_key_file.exists()
    restore(target, source.export, summary, new_privacy_key=True)
    assert target.privacy_key_file.read_text() != source.settings.privacy_key_file.read_text()
    assert verify_all(target) == (source.size, [])
