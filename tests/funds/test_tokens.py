"""Tokens of the writers' API: shown once, stored as a hash, refused once expired or revoked."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ledger.cli import main
from ledger.db import Database
from ledger.errors import AuthenticationError, DuplicateError, NotFoundError, ValidationError
from ledger.funds import tokens
from ledger.funds.access import ADMIN, AUDITOR, FUND_MANAGER, Scope
from ledger.funds.models import TokenRow

TOKEN = re.compile(r"lt_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")


def create(db: Database, role: str = FUND_MANAGER, **options: Any) -> tuple[TokenRow, str]:
    with db.writing() as session:
        return tokens.create_token(session, role, **options)


def authenticate(db: Database, header: str | None, now: datetime | None = None) -> Scope:
    with db.session() as session:
        return tokens.authenticate(session, header, now=now)


def refused(db: Database, header: str | None, now: datetime | None = None) -> str:
    with pytest.raises(AuthenticationError) as caught:
        authenticate(db, header, now)
    assert caught.value.code == "unauthorized"
    return caught.value.message


def test_a_token_is_shown_once_and_only_its_hash_is_kept(funds: Any) -> None:
    row, token = create(funds.db, FUND_MANAGER, unit="LS-CL", name="cl-manager")
    parsed = TOKEN.fullmatch(token)
    assert parsed, token
    assert row.id == parsed.group(1)
    assert row.secret_hash == hashlib.sha256(token.encode()).digest()
    with funds.db.session() as session:
        stored = session.execute(select(TokenRow.__table__)).one()
    # The secret half of the token is in no column, in any form but the hash.
    for value in stored:
        if isinstance(value, bytes):
            assert parsed.group(2).encode() not in value
        else:
            assert parsed.group(2) not in str(value)
    assert authenticate(funds.db, f"Bearer {token}") == Scope("cl-manager", FUND_MANAGER, "LS-CL")


def test_tokens_are_different_and_named_after_their_role_by_default(funds: Any) -> None:
    first, first_token = create(funds.db, AUDITOR)
    second, second_token = create(funds.db, AUDITOR)
    assert first_token != second_token and first.id != second.id
    assert first.name == f"auditor-{first.id}"
    assert authenticate(funds.db, f"Bearer {second_token}") == Scope(second.name, AUDITOR, None)


def test_the_scheme_is_case_insensitive_and_spaces_around_do_not_matter(funds: Any) -> None:
    row, token = create(funds.db, ADMIN)
    for header in (f"bearer {token}", f"BEARER {token}", f"  Bearer   {token}  "):
        assert authenticate(funds.db, header).actor == row.name


def test_bad_headers_are_refused_without_repeating_the_token(funds: Any) -> None:
    row, token = create(funds.db, ADMIN)
    secret = token.split("_", 2)[2]
    other_secret = ("A" if secret[0] != "A" else "B") + secret[1:]
    unknown_id = "0" * 8 if row.id != "0" * 8 else "1" * 8
    cases = {
        None: "needs a token",
        "": "needs a token",
        "   ": "needs a token",
        "Bearer": "malformed",
        "Bearer ": "malformed",
        f"Basic {token}": "Bearer",
        f"Token {token}": "Bearer",
        token: "Bearer",
        "Bearer lt_zz_nothex": "malformed",
        f"Bearer {token}x!": "malformed",
        f"Bearer {token[:-5]}": "not valid",
        f"Bearer lt_{row.id}_{other_secret}": "not valid",
        f"Bearer lt_{unknown_id}_{secret}": "not valid",
        f"Bearer {token.upper()}": "malformed",
    }
    for header, reason in cases.items():
        message = refused(funds.db, header)
        assert reason in message, (header, message)
        assert secret not in message and secret[:12] not in message
        assert token not in message


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(credentials=st.text(max_size=200))
def test_any_header_is_refused_cleanly(funds: Any, credentials: str) -> None:
    for header in (credentials, f"Bearer {credentials}"):
        message = refused(funds.db, header)
        assert "Traceback" not in message
        if len(credentials.strip()) >= 16:
            assert credentials.strip() not in message


def test_an_expired_token_is_refused(funds: Any) -> None:
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    row, token = create(funds.db, ADMIN, expires_in=timedelta(days=30), now=start)
    assert tokens.aware(row.expires_at) == start + timedelta(days=30)
    header = f"Bearer {token}"
    assert authenticate(funds.db, header, now=start + timedelta(days=29)).actor == row.name
    message = refused(funds.db, header, now=start + timedelta(days=30))
    assert "expired" in message and row.name in message
    with funds.db.session() as session:
        assert tokens.status(session.get(TokenRow, row.id), start + timedelta(days=31)) == "expired"


def test_a_revoked_token_is_refused_and_revoking_again_keeps_the_first_time(funds: Any) -> None:
    row, token = create(funds.db, FUND_MANAGER, name="old-laptop")
    first = datetime(2026, 5, 1, tzinfo=UTC)
    with funds.db.writing() as session:
        tokens.revoke_token(session, "old-laptop", now=first)
    assert "revoked" in refused(funds.db, f"Bearer {token}")
    with funds.db.writing() as session:
        again = tokens.revoke_token(session, row.id, now=first + timedelta(days=3))
        assert tokens.aware(again.revoked_at) == first
    with funds.db.writing() as session, pytest.raises(NotFoundError):
        tokens.revoke_token(session, "nobody")


def test_revoking_by_name_wins_over_an_id_that_looks_the_same(funds: Any) -> None:
    victim, _ = create(funds.db, AUDITOR)
    named, _ = create(funds.db, AUDITOR, name=victim.id)
    with funds.db.writing() as session:
        assert tokens.revoke_token(session, victim.id).name == named.name
    with funds.db.session() as session:
        assert [tokens.status(r) for r in tokens.list_tokens(session)] == ["active", "revoked"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"role": "superuser"}, "role"),
        ({"role": ""}, "role"),
        ({"unit": "HN"}, "unit"),
        ({"name": ""}, "name"),
        ({"name": "có dấu"}, "name"),
        ({"name": "a b"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"expires_in": timedelta(0)}, "expires_in"),
    ],
)
def test_invalid_tokens_are_refused_field_by_field(
    funds: Any, options: dict[str, Any], field: str
) -> None:
    role = options.pop("role", FUND_MANAGER)
    with pytest.raises(ValidationError) as caught:
        create(funds.db, role, **options)
    assert field in caught.value.fields, caught.value.fields
    with funds.db.session() as session:
        assert tokens.list_tokens(session) == []


def test_an_unknown_unit_is_named_in_the_message(funds: Any) -> None:
    with pytest.raises(ValidationError, match="HN"):
        create(funds.db, FUND_MANAGER, unit="HN")


def test_names_are_unique(funds: Any) -> None:
    create(funds.db, FUND_MANAGER, name="ls-manager", unit="LS")
    with pytest.raises(DuplicateError, match="ls-manager"):
        create(funds.db, AUDITOR, name="ls-manager")


def test_list_tokens_in_order_of_creation(funds: Any) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for offset, name in enumerate(["b", "a", "c"]):
        create(funds.db, AUDITOR, name=name, now=start + timedelta(hours=offset))
    with funds.db.session() as session:
        assert [row.name for row in tokens.list_tokens(session)] == ["b", "a", "c"]


# --- the command line ---------------------------------------------------------------


def cli(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(main, ["token", *args], catch_exceptions=False)


def test_token_create_prints_the_token_alone_on_the_last_line(
    runner: CliRunner, funds: Any
) -> None:
    result = cli(runner, "create", "--role", "fund_manager", "--unit", "LS-CL", "--name", "cl")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert TOKEN.fullmatch(lines[-1]), result.stdout
    assert all("lt_" not in line for line in lines[:-1])
    assert "cl" in lines[-2] and "fund_manager" in lines[-2] and "LS-CL" in lines[-2]
    assert "never expires" in lines[-2]
    assert authenticate(funds.db, f"Bearer {lines[-1]}") == Scope("cl", FUND_MANAGER, "LS-CL")


def test_token_create_with_an_expiry(runner: CliRunner, funds: Any) -> None:
    result = cli(runner, "create", "--role", "auditor", "--expires-days", "30")
    assert result.exit_code == 0, result.output
    description, token = result.stdout.splitlines()[-2:]
    expected = (datetime.now(UTC) + timedelta(days=30, hours=7)).date().isoformat()
    assert "expires" in description and expected in description, description
    assert authenticate(funds.db, f"Bearer {token}").role == AUDITOR


@pytest.mark.parametrize(
    ("args", "mention"),
    [
        (["--role", "fund_manager", "--unit", "HN"], "HN"),
        (["--role", "auditor", "--name", "có dấu"], "name"),
    ],
)
def test_token_create_refuses_with_one_error_line(
    runner: CliRunner, funds: Any, args: list[str], mention: str
) -> None:
    result = cli(runner, "create", *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and mention in result.stderr
    assert "Traceback" not in result.output


def test_token_create_refuses_a_duplicate_name_and_an_unknown_role(
    runner: CliRunner, funds: Any
) -> None:
    assert cli(runner, "create", "--role", "auditor", "--name", "kiem-toan").exit_code == 0
    again = cli(runner, "create", "--role", "auditor", "--name", "kiem-toan")
    assert again.exit_code == 1 and "kiem-toan" in again.stderr
    unknown = cli(runner, "create", "--role", "root")
    assert unknown.exit_code == 2 and "root" in unknown.stderr


def test_token_list_and_revoke_never_show_a_secret(runner: CliRunner, funds: Any) -> None:
    assert "no tokens" in cli(runner, "list").stdout
    made = [cli(runner, "create", "--role", role, "--name", role) for role in ("admin", "auditor")]
    secrets_ = [result.stdout.splitlines()[-1] for result in made]
    revoked = cli(runner, "revoke", "auditor")
    assert revoked.exit_code == 0 and "auditor" in revoked.stdout
    listing = cli(runner, "list")
    assert listing.exit_code == 0
    with funds.db.session() as session:
        hashes = [row.secret_hash.hex() for row in tokens.list_tokens(session)]
    for secret in secrets_:
        assert secret not in listing.output
        assert secret.split("_", 2)[2] not in listing.output
    assert "lt_" not in listing.output
    for digest in hashes:
        assert digest not in listing.output and digest[:16] not in listing.output
    rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[1:]}
    assert rows["admin"][-1] == "active" and rows["auditor"][-1] == "revoked"
    assert rows["auditor"][2] == "auditor"
    missing = cli(runner, "revoke", "nobody")
    assert missing.exit_code == 1 and "nobody" in missing.stderr


def test_token_commands_need_an_initialised_ledger(runner: CliRunner) -> None:
    result = cli(runner, "list")
    assert result.exit_code == 1
    assert "ledger init" in result.stderr
