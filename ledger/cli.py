"""The ``ledger`` command: thin wrappers that parse arguments, call the core and print.

Every failure the ledger anticipates is a ``LedgerError``; it is printed as one line
on standard error with a non-zero exit status, never as a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

from audit import load_all as load_audit_kinds
from ledger import log
from ledger.commands import (
    audit,
    awards,
    demo,
    findings,
    funds,
    imports,
    monitor,
    rankings,
    receipts,
    tokens,
    witness,
)
from ledger.commands.common import fail, open_database, progress, reports_errors
from ledger.errors import LedgerError
from ledger.export import verify_export, write_export
from ledger.funds.consistency import books_for, check_balances
from ledger.genesis import init_ledger
from ledger.integrity import verify_database
from ledger.keyring import rotate_key
from ledger.keys import VerifierKey
from ledger.settings import Settings
from ledger.verify import Summary


def _print_summary(summary: Summary, what: str) -> None:
    click.echo(
        f"OK: {what} verified: {summary.size} entries, {summary.checkpoints} checkpoints, "
        f"{len(summary.keys)} key(s), origin {summary.origin}"
    )
    click.echo(f"root {summary.root.hex()} at size {summary.size}")


def _parse_key(text: str) -> VerifierKey:
    return VerifierKey.parse(text.strip())


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Transparent donation ledger: an append-only, verifiable log of every đồng."""
    try:
        ctx.obj = Settings.load()
    except LedgerError as err:
        fail(str(err))


@main.command()
@click.pass_obj
@reports_errors
def init(settings: Settings) -> None:
    """Create or upgrade the database, the signing key and the genesis entry."""
    result = init_ledger(settings)
    verb = "created" if result.created else "already present"
    click.echo(f"genesis {verb}: origin {result.genesis.body['origin']}")
    click.echo(f"verifier key: {result.genesis.body['verifier_key']}")
    click.echo(f"database: {make_url(settings.database_url).render_as_string(hide_password=True)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", type=int, help="gunicorn workers (default: from CPU count)")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, workers: int | None) -> None:
    """Serve the web application with gunicorn."""
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:public_api.gunicorn_conf",
        "--bind",
        f"{host}:{port}",
    ]
    if workers:
        argv += ["--workers", str(workers)]
    argv.append("public_api:create_app()")
    os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with gunicorn


@main.command()
@click.pass_obj
@reports_errors
def checkpoint(settings: Settings) -> None:
    """Print the latest signed checkpoint note."""
    with open_database(settings) as db, db.session() as session:
        click.echo(log.latest_checkpoint(session).note, nl=False)


@main.command()
@click.option("--key", "key", help="trust only this genesis verifier key")
@click.pass_obj
@reports_errors
def verify(settings: Settings, key: str | None) -> None:
    """Verify every leaf, link, tree node and checkpoint in the database."""
    trusted = _parse_key(key) if key else None
    with open_database(settings) as db, db.session() as session:
        size = log.tree_size(session)
        with progress("verifying", size) as update:
            books = books_for(session)
            summary = verify_database(session, trusted, update, books.apply)
        fund_count, mismatches = check_balances(session, books)
    _print_summary(summary, "database")
    if mismatches:
        for mismatch in mismatches:
            click.echo(f"error: {mismatch}", err=True)
        fail(f"{len(mismatches)} published balance figure(s) differ from the log")
    click.echo(f"balances of {fund_count} fund(s) agree with the log")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
@reports_errors
def export(settings: Settings, file: Path) -> None:
    """Write every entry and checkpoint to FILE as JSON Lines."""
    partial = file.with_name(file.name + ".partial")
    with open_database(settings) as db, db.session() as session:
        size = log.tree_size(session)
        try:
            with partial.open("w", encoding="utf-8") as out, progress("exporting", size) as bar:
                written = write_export(session, out, bar)
        except BaseException:
            partial.unlink(missing_ok=True)  # never leave half an export behind
            raise
    partial.replace(file)
    click.echo(f"exported {written} entries to {file}")


@main.command("verify-export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key", required=True, help="the genesis verifier key to trust")
@reports_errors
def verify_export_command(file: Path, key: str) -> None:
    """Verify an export FILE offline, trusting only the genesis verifier KEY."""
    trusted = _parse_key(key)
    with progress("verifying", max(file.stat().st_size // 400, 1)) as update:
        summary = verify_export(file, trusted, update)
    _print_summary(summary, "export")


@main.group()
def keys() -> None:
    """Signing keys: list them or rotate to a new one."""


@keys.command("list")
@click.pass_obj
@reports_errors
def keys_list(settings: Settings) -> None:
    """Print every verifier key with the index range it signed."""
    with open_database(settings) as db, db.session() as session:
        for period in log.key_periods(session):
            until = "now" if period.to_index is None else str(period.to_index)
            click.echo(f"{period.verifier_key}  indices {period.from_index}..{until}")


@keys.command("rotate")
@click.option("--actor", default="ledger-keys-rotate", show_default=True)
@click.pass_obj
@reports_errors
def keys_rotate(settings: Settings, actor: str) -> None:
    """Record a key rotation signed by the old key and switch to a new key."""
    with open_database(settings) as db:
        rotation = rotate_key(db, settings.signing_key_file, actor)
    click.echo(f"key_rotation recorded at index {rotation.index}")
    click.echo(f"old key: {rotation.old_key}")
    click.echo(f"new key: {rotation.new_key}")


load_audit_kinds()
for module in (
    tokens,
    funds,
    imports,
    demo,
    receipts,
    audit,
    findings,
    monitor,
    witness,
    rankings,
    awards,
):
    module.register(main)


def run(argv: list[str] | None = None) -> Any:
    return main.main(args=argv, prog_name="ledger")
