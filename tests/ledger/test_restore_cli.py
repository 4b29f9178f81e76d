"""``ledger import FILE``: a backup restored from the command line, or refused in one line.

The source is the ``funds`` ledger with gifts, an allocation, a payment, a transfer and
a reversal, its key rotated and more recorded under the new key, exported with
``ledger export``. The target is a new instance folder holding copies of the source's
signing and privacy keys, and an empty database (a SQLite file, or a PostgreSQL schema
on the PostgreSQL pass).
"""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support.cli import error_line, ok
from support.documents import add_document

from ledger import log
from ledger.cli import main
from ledger.keys import VerifierKey
from ledger.merkle import hash_leaf
from ledger.settings import Settings

PG_URL = os.environ.get("LEDGER_TEST_DATABASE_URL")


@pytest.fixture
def export(funds: Any, runner: CliRunner, tmp_path: Path) -> Path:
    funds.give(30_000_000, mobilizer=funds.mobilizer)
    local = funds.give(8_000_000, fund=funds.district_fund)
    allocation = funds.allocate(12_000_000)
    funds.record(
        "disbursement",
        {"allocation": allocation.index, "amount": 2_000_000, "documents": [add_document(funds)]},
    )
    ok(runner.invoke(main, ["keys", "rotate"]))
    funds.record(
        "transfer", {"from_fund": funds.fund, "to_fund": funds.district_fund, "amount": 1_000_000}
    )
    funds.record("reversal", {"target": local.index, "reason": "Ghi trùng"})
    path = tmp_path / "backup.jsonl"
    ok(runner.invoke(main, ["export", str(path)]))
    return path


@pytest.fixture
def target_url(tmp_path: Path) -> Iterator[str]:
    """An empty database apart from the source's: a file, or a schema of its own."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'restored' / 'ledger.sqlite3'}"
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
def target(settings: Settings, env: dict[str, str], target_url: str, tmp_path: Path) -> CliRunner:
    """The ``ledger`` command of the target instance, its keys copied from the source."""
    folder = tmp_path / "restored"
    folder.mkdir(exist_ok=True)
    shutil.copy2(settings.signing_key_file, folder / settings.signing_key_file.name)
    shutil.copy2(settings.privacy_key_file, folder / settings.privacy_key_file.name)
    return CliRunner(
        env={**env, "LEDGER_INSTANCE_DIR": str(folder), "LEDGER_DATABASE_URL": target_url}
    )


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args), prog_name="ledger")


def keys(runner: CliRunner) -> list[str]:
    return [line.split()[0] for line in ok(run(runner, "keys", "list")).splitlines()]


def target_is_untouched(target: CliRunner) -> bool:
    """No ledger there: ``ledger checkpoint`` finds no database or no log."""
    result = run(target, "checkpoint")
    return result.exit_code == 1 and "ledger init" in result.stderr


def test_ledger_import_file_restores_the_backup_and_says_what_it_cannot(
    export: Path, runner: CliRunner, target: CliRunner, funds: Any
) -> None:
    with funds.db.session() as session:
        size = log.tree_size(session)
    shown = ok(run(target, "import", str(export)))
    assert f"verified {export}: {size} entries" in shown
    assert f"restored {size} entries and " in shown and " entries/s)" in shown
    assert "gifts 2, pledges 0, allocations 1, disbursements 1, transfers 1, reversals 1" in shown
    lines = shown.splitlines()
    private = lines[lines.index("NOT restored (no export holds them):") + 1 :]
    assert any("donors' contact details" in line for line in private)
    assert any("beneficiaries' full names" in line for line in private)
    assert any("uploaded documents' files" in line for line in private)
    assert any("API tokens" in line for line in private)
    assert any("import batches" in line for line in private)
    verified = ok(run(target, "verify"))
    assert f"database verified: {size} entries" in verified
    assert "balances of 3 fund(s) agree with the log" in verified
    assert ok(run(target, "checkpoint")) == ok(run(runner, "checkpoint"))
    assert keys(target) == keys(runner) and len(keys(runner)) == 2
    balance = ["balance", "--fund", funds.fund]
    assert ok(run(target, *balance)) == ok(run(runner, *balance))


def test_the_backup_command_trusts_only_the_genesis_key_given(
    export: Path, runner: CliRunner, target: CliRunner
) -> None:
    genesis, rotated = keys(runner)
    refused = run(target, "import", "backup", str(export), "--key", rotated)
    error_line(refused, "index 0", "is not the key given")
    assert target_is_untouched(target)
    ok(run(target, "import", "backup", str(export), "--key", genesis))
    assert keys(target) == [genesis, rotated]


def test_import_help_shows_both_uses(runner: CliRunner) -> None:
    shown = ok(run(runner, "import", "--help"))
    assert "Usage: ledger import [OPTIONS] FILE | COMMAND [ARGS]..." in shown
    assert "ledger import FILE [--key VKEY]" in shown
    assert "ledger import statement FILE" in shown
    for command in ("backup", "statement", "rows", "assign", "dismiss"):
        assert f"\n  {command} " in shown


def test_a_command_wins_over_a_file_of_the_same_name(
    funds: Any, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("rows").write_text("not a backup\n", encoding="utf-8")
    assert ok(run(runner, "import", "rows")) == "no unmatched import rows\n"


def test_a_name_that_is_no_command_and_no_file_is_a_usage_error(runner: CliRunner) -> None:
    result = run(runner, "import", "nowhere.jsonl")
    assert result.exit_code == 2
    assert "'nowhere.jsonl' is neither a command nor an existing file to restore" in result.stderr


def test_a_tampered_backup_is_refused_naming_the_entry(
    export: Path, funds: Any, target: CliRunner, tmp_path: Path
) -> None:
    lines = [orjson.loads(line) for line in export.read_bytes().splitlines()]
    gift = next(n for n, line in enumerate(lines) if line.get("index") == 11)
    leaf = base64.b64decode(lines[gift]["leaf"])
    forged = leaf.replace(b'"amount":30000000,', b'"amount":3000000,')
    assert forged != leaf
    lines[gift]["leaf"] = base64.b64encode(forged).decode()
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    error_line(run(target, "import", str(tampered)), "index 11", "leaf hash does not match")
    lines[gift]["leaf_hash"] = hash_leaf(forged).hex()
    tampered.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    error_line(run(target, "import", str(tampered)), "index 11", "commits to a different root")
    assert target_is_untouched(target)


def test_a_database_holding_a_ledger_is_refused(export: Path, target: CliRunner) -> None:
    ok(run(target, "init"))
    error_line(run(target, "import", str(export)), "already holds a log of 1 entries")
    assert "\n1\n" in ok(run(target, "checkpoint"))


def test_a_restore_without_the_log_key_in_force_is_refused(
    export: Path, runner: CliRunner, target: CliRunner
) -> None:
    in_force = VerifierKey.parse(keys(runner)[-1]).key_id_hex
    key_file = Path(target.env["LEDGER_INSTANCE_DIR"] or "") / "signing-key.pem"
    key_file.unlink()
    error_line(
        run(target, "import", str(export)), "does not exist", "a restore needs the signing key"
    )
    assert in_force in run(target, "import", str(export)).stderr
    assert target_is_untouched(target)
