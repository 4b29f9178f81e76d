"""Commands of `ledger`: tokens for the writers' API.

``ledger token create`` prints the token once, alone on the last line of standard
output, so that a script can take it with ``tail -n 1``; nothing else ever prints
it again, and nothing prints a stored hash.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from ledger.commands.common import open_database, reports_errors
from ledger.funds import tokens
from ledger.funds.access import ROLES
from ledger.funds.models import TokenRow
from ledger.funds.recorder import VIETNAM
from ledger.settings import Settings


def _when(moment: datetime | None) -> str:
    shown = tokens.aware(moment)
    if shown is None:
        return "-"
    return shown.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M")


def _describe(row: TokenRow) -> str:
    expiry = (
        f"expires {_when(row.expires_at)} (Asia/Ho_Chi_Minh)"
        if row.expires_at
        else ("never expires")
    )
    return f"token {row.name}: role {row.role}, unit {row.unit or 'all units'}, {expiry}"


@click.group("token")
def token_group() -> None:
    """Create, list and revoke tokens of the writers' API."""


@token_group.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES), help="what the token may do")
@click.option("--unit", help="confine the token to this unit and the units below it")
@click.option("--name", help="the actor name entries record (default: ROLE-ID)")
@click.option(
    "--expires-days", type=click.IntRange(min=1), help="days until it expires (default: never)"
)
@click.pass_obj
@reports_errors
def create(
    settings: Settings,
    role: str,
    unit: str | None,
    name: str | None,
    expires_days: int | None,
) -> None:
    """Create a token; it is printed once, alone on the last line."""
    expires_in = timedelta(days=expires_days) if expires_days is not None else None
    with open_database(settings) as db, db.writing() as session:
        row, secret = tokens.create_token(session, role, unit, name, expires_in)
        description = _describe(row)
    click.echo("store this token now: it cannot be shown again", err=True)
    click.echo(description)
    click.echo(secret)


@token_group.command("revoke")
@click.argument("name")
@click.pass_obj
@reports_errors
def revoke(settings: Settings, name: str) -> None:
    """Revoke the token NAME (its name or its id) from now on."""
    with open_database(settings) as db, db.writing() as session:
        row = tokens.revoke_token(session, name)
        line = f"token {row.name} revoked at {_when(row.revoked_at)} (Asia/Ho_Chi_Minh)"
    click.echo(line)


@token_group.command("list")
@click.pass_obj
@reports_errors
def list_command(settings: Settings) -> None:
    """List tokens: name, id, role, unit, dates and status; never a secret."""
    with open_database(settings) as db, db.session() as session:
        rows = tokens.list_tokens(session)
        table = [
            (
                row.name,
                row.id,
                row.role,
                row.unit or "-",
                _when(row.created_at),
                _when(row.expires_at),
                tokens.status(row),
            )
            for row in rows
        ]
    if not table:
        click.echo("no tokens yet: ledger token create --role ROLE")
        return
    header = ("name", "id", "role", "unit", "created", "expires", "status")
    widths = [max(len(line[i]) for line in (header, *table)) for i in range(len(header))]
    for line in (header, *table):
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(token_group)
