"""``ledger audit``: the full audit, of the database or, offline, of an export file."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from audit.full import audit_database, audit_export
from audit.report import AuditReport
from ledger.commands.common import fail, open_database, reports_errors
from ledger.funds.recorder import VIETNAM
from ledger.keys import VerifierKey
from ledger.settings import Settings


def _moment(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 time; one without an offset is read in Vietnam, as people there write it."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2026-03-31T17:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=VIETNAM)


@click.command("audit")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option(
    "--export",
    "export_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="audit this `ledger export` file instead of the database (needs --key)",
)
@click.option("--key", help="the genesis verifier key to trust (required with --export)")
@click.option("--no-rules", is_flag=True, help="skip the anomaly rules")
@click.option(
    "--as-of-now",
    "now",
    metavar="ISO-TIME",
    callback=_moment,
    help="measure idle money and deadlines to this time instead of now",
)
@click.pass_obj
@reports_errors
def audit_command(
    settings: Settings,
    as_json: bool,
    export_file: Path | None,
    key: str | None,
    no_rules: bool,
    now: datetime | None,
) -> None:
    """Check the whole log, its checkpoints, every balance and every fund rule.

    Prints one line per finding and a summary (or, with --json, one document). Exits 1
    when any finding is an error, naming the first bad index; anomalies alone
    (info, warning, blocking) do not fail the audit.
    """
    trusted = VerifierKey.parse(key.strip()) if key else None
    if export_file is not None:
        if trusted is None:
            fail("--export needs --key: the genesis verifier key the export must start with")
        report = audit_export(export_file, trusted, settings, rules=not no_rules, now=now)
    else:
        with open_database(settings) as db, db.session() as session:
            report = audit_database(
                session, settings, rules=not no_rules, now=now, trusted_key=trusted
            )
    _print(report, as_json)
    failure = report.failure()
    if failure is not None:
        fail(failure)


def _print(report: AuditReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.document(), ensure_ascii=False, indent=2))
        return
    for line in report.lines():
        click.echo(line)


def register(main: click.Group) -> None:
    """Add the commands of this module to ``main``."""
    main.add_command(audit_command)
