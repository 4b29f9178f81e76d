"""Commands of ``ledger import``: a backup restored, bank statements in, credits settled.

``ledger import FILE`` (or ``ledger import backup FILE``) restores an export into an
empty database (``ledger.restore``); it says what an export cannot bring back.

``ledger import statement`` exits 0 when the file was processed, even if some lines
were reported invalid (they are listed; the rest is recorded), and 1 when nothing
could be read, when all or nothing was asked and refused, or when the closing-balance
assertion fails, so that a script importing statements every night notices.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from ledger.commands.common import (
    actor_option,
    fail,
    json_option,
    open_database,
    progress,
    reports_errors,
)
from ledger.funds.access import command_line
from ledger.funds.amounts import parse_amount
from ledger.funds.imports import (
    ImportRefused,
    ImportReport,
    assign_row,
    dismiss_row,
    import_statement,
    list_rows,
    row_document,
)
from ledger.funds.statements import load_formats, select_format
from ledger.funds.text import dong
from ledger.keys import VerifierKey
from ledger.restore import NOT_RESTORED, Restored, restore, verify_backup
from ledger.settings import Settings

BACKUP = "backup"


class ImportGroup(click.Group):
    """``ledger import FILE`` restores a backup; ``ledger import COMMAND …`` does the rest.

    A first argument that names no command but an existing file is taken as the backup
    to restore. A command's name always wins over a file of the same name.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and Path(args[0]).is_file():
            args = [BACKUP, *args]
        return super().parse_args(ctx, args)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            ctx.fail(f"{name!r} is neither a command nor an existing file to restore")
        return super().resolve_command(ctx, args)


@click.group("import", cls=ImportGroup, subcommand_metavar="FILE | COMMAND [ARGS]...")
def import_group() -> None:
    """Restore a backup; import bank statements and settle the credits no campaign claimed.

    \b
    ledger import FILE [--key VKEY]   restore an export (`ledger export FILE`) into an
                                      empty database; the same as `ledger import backup`
    ledger import statement FILE ...  record a bank statement's credits as gifts
    ledger import rows|assign|dismiss the credited lines no campaign claimed
    """


@import_group.command(BACKUP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    metavar="VKEY",
    help="the genesis verifier key to trust (default: the one the export names)",
)
@click.option(
    "--new-privacy-key",
    is_flag=True,
    help="the original privacy-key file is lost: make a new one",
)
@click.pass_obj
@reports_errors
def backup(settings: Settings, file: Path, key: str | None, new_privacy_key: bool) -> None:
    """Restore the export FILE into an empty database, verifying it first.

    The instance's signing-key file must hold the log's key in force, and its
    privacy-key file the original one: neither is in an export.
    """
    trusted = VerifierKey.parse(key.strip()) if key else None
    started = time.perf_counter()
    with progress("verifying", max(file.stat().st_size // 400, 1)) as update:
        summary = verify_backup(file, trusted, update)
    click.echo(
        f"verified {file}: {summary.size} entries, {summary.checkpoints} checkpoints, "
        f"{len(summary.keys)} key(s), origin {summary.origin} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    with progress("restoring", summary.size) as update:
        restored = restore(
            settings, file, summary, new_privacy_key=new_privacy_key, progress=update
        )
    for line in _restored_lines(restored):
        click.echo(line)


def _restored_lines(restored: Restored) -> list[str]:
    summary, counts = restored.summary, restored.counts
    rate = summary.size / restored.seconds if restored.seconds > 0 else float(summary.size)
    rebuilt = ", ".join(
        f"{label} {counts.get(kind, 0)}"
        for kind, label in (
            ("unit", "units"),
            ("fund", "funds"),
            ("campaign", "campaigns"),
            ("mobilizer", "mobilisers"),
            ("contribution", "gifts"),
            ("pledge", "pledges"),
            ("allocation", "allocations"),
            ("disbursement", "disbursements"),
            ("transfer", "transfers"),
            ("reversal", "reversals"),
        )
    )
    return [
        f"restored {summary.size} entries and {summary.checkpoints} checkpoints in "
        f"{restored.seconds:.1f} s ({rate:.0f} entries/s)",
        f"root {summary.root.hex()} at size {summary.size}",
        f"projections rebuilt from the leaves: {rebuilt}",
        "NOT restored (no export holds them):",
        *(f"  - {what}" for what in NOT_RESTORED),
        "next: `ledger verify` checks the restored log and its balances",
    ]


@import_group.command("statement")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--bank", metavar="FORMAT", help="the statement's layout, e.g. vietcombank")
@click.option(
    "--formats",
    "formats_file",
    type=click.Path(path_type=Path),
    help="a TOML file of more bank formats (same shape as the built-in ones)",
)
@click.option("--campaign", help="the statement is of this campaign's account")
@click.option("--all-or-nothing", is_flag=True, help="record nothing if any line is invalid")
@click.option("--closing-balance", metavar="N", help="the closing balance the statement must show")
@json_option
@actor_option
@click.pass_obj
@reports_errors
def statement(
    settings: Settings,
    file: Path,
    bank: str | None,
    formats_file: Path | None,
    campaign: str | None,
    all_or_nothing: bool,
    closing_balance: str | None,
    as_json: bool,
    actor: str,
) -> None:
    """Record the credited lines of the statement FILE (CSV or XLSX) as contributions."""
    formats = load_formats(formats_file)
    if bank is None:
        fail(f"--bank is required: one of {', '.join(sorted(formats))}")
    bank_format = select_format(formats, bank)
    asserted = None
    if closing_balance is not None:
        try:
            asserted = parse_amount(closing_balance, allow_negative=True)
        except ValueError as err:
            fail(f"--closing-balance: {err}")
    data = file.read_bytes()
    with open_database(settings) as db:
        try:
            report = import_statement(
                db,
                settings,
                command_line(actor),
                data,
                file.name,
                bank_format,
                campaign=campaign,
                all_or_nothing=all_or_nothing,
                closing_balance=asserted,
            )
        except ImportRefused as refused:
            _show_report(refused.report, as_json)
            fail(refused.message)
    _show_report(report, as_json)
    if not report.assertion.ok:
        problems = "; ".join(report.assertion.problems())
        fail(
            f"the closing-balance assertion failed: {problems} "
            "(the lines reported above were recorded)"
        )


def _show_report(report: ImportReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    totals = report.totals
    head = f"statement {report.filename} ({report.format}): {totals['lines']} lines"
    if not report.recorded:
        click.echo(f"{head}: NOTHING RECORDED (all or nothing, and some lines are invalid)")
        click.echo(f"created 0 ({len(report.created)} without --all-or-nothing)")
    else:
        click.echo(f"{head}, import batch {report.batch_id}")
        click.echo(f"created {len(report.created)}: {dong(totals['created'])}")
        for line, index, receipt, amount in report.created:
            click.echo(f"  line {line}: receipt {receipt}, {dong(amount)} (index {index})")
    click.echo(f"duplicates {len(report.duplicates)}: {dong(totals['duplicates'])}")
    for line, reference in report.duplicates:
        click.echo(f"  line {line}: reference {reference} is already imported")
    if not report.recorded:
        click.echo(f"unmatched 0 ({len(report.unmatched)} without --all-or-nothing)")
    else:
        click.echo(f"unmatched {len(report.unmatched)}: {dong(totals['unmatched'])}")
        for line, row_id, amount in report.unmatched:
            click.echo(
                f"  line {line}: row {row_id}, {dong(amount)}: assign it with "
                f"`ledger import assign {row_id} --campaign CODE` or dismiss it"
            )
    click.echo(f"invalid {len(report.invalid)}")
    for line, reason in report.invalid:
        click.echo(f"  line {line}: {reason}")
    click.echo(f"debits {report.debits}: not gifts, nothing recorded")
    _show_assertion(report)


def _show_assertion(report: ImportReport) -> None:
    check = report.assertion
    breaks = check.running_balance_errors
    if not breaks:
        click.echo("running balance: follows")
    elif check.unexplained:
        click.echo(f"running balance: BROKEN at {len(check.unexplained)} line(s)")
    else:
        click.echo("running balance: follows, but for the movements of the invalid lines")
    for line, reason in breaks:
        click.echo(f"  line {line}: {reason}")
    if check.asserted_closing_balance is not None:
        shown = check.statement_closing_balance
        closing = dong(shown) if shown is not None else "not shown"
        verdict = "as asserted" if check.closing_ok else "NOT the asserted "
        verdict += "" if check.closing_ok else dong(check.asserted_closing_balance)
        click.echo(f"closing balance: {closing}, {verdict}")
    if not report.recorded:
        click.echo("ledger check: not made, as nothing was recorded")
        return
    click.echo(
        f"ledger check: {dong(check.ledger_found)} in the ledger under this statement's "
        f"references; expected {dong(check.ledger_expected)} (credits {dong(check.credits)} "
        f"- unmatched {dong(check.not_recorded)} - invalid {dong(check.refused)})"
    )
    click.echo("assertion: OK" if check.ok else "assertion: FAILED")


@import_group.command("rows")
@click.option(
    "--status",
    default="unmatched",
    show_default=True,
    metavar="unmatched|assigned|dismissed|all",
)
@json_option
@click.pass_obj
@reports_errors
def rows(settings: Settings, status: str, as_json: bool) -> None:
    """List the credited lines no campaign claimed, and how they were settled."""
    with open_database(settings) as db, db.session() as session:
        found = list_rows(session, command_line("cli"), None if status == "all" else status)
        shown = [row_document(row) for row in found]
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False))
        return
    if not shown:
        click.echo(f"no {status} import rows" if status != "all" else "no import rows")
    for row in shown:
        click.echo(_row_line(row))


def _row_line(row: dict[str, Any]) -> str:
    sender = row["counterparty"] or "no name"
    if row["account"]:
        sender += f", account {row['account']}"
    text = (
        f"row {row['id']} [{row['status']}] {row['date']} {dong(row['amount'])} "
        f"ref {row['reference']} from {sender} (batch {row['batch_id']} line {row['line']}): "
        f"{row['memo'] or '(no memo)'}"
    )
    if row["entry_index"] is not None:
        text += f" -> index {row['entry_index']}"
    if row["settled_by"]:
        text += f" by {row['settled_by']}"
    if row["note"]:
        text += f": {row['note']}"
    return text


def _row_id(text: str) -> int:
    if not text.strip().isdigit():
        fail(f"ROW_ID must be a row number as `ledger import rows` lists it, not {text!r}")
    return int(text)


@import_group.command("assign")
@click.argument("row_id")
@click.option("--campaign", help="the campaign the gift was for (required)")
@click.option("--mobilizer", help="who brought it (default: the one the memo names)")
@json_option
@actor_option
@click.pass_obj
@reports_errors
def assign(
    settings: Settings,
    row_id: str,
    campaign: str | None,
    mobilizer: str | None,
    as_json: bool,
    actor: str,
) -> None:
    """Record the unmatched line ROW_ID as a gift to a campaign."""
    number = _row_id(row_id)
    if campaign is None:
        fail("--campaign is required: the code of the campaign the gift was for")
    with open_database(settings) as db:
        entry = assign_row(db, settings, command_line(actor), number, campaign, mobilizer)
    if as_json:
        click.echo(json.dumps({"row_id": number, **entry.answer()}, ensure_ascii=False))
        return
    body = entry.body
    click.echo(
        f"row {number} assigned: index {entry.index}: contribution of {dong(body['amount'])} "
        f"to {body['fund']} (campaign {body['campaign']}) from {body['donor']['display']}"
    )
    click.echo(f"receipt {entry.extra['receipt_id']}: {entry.extra['receipt_url']}")


@import_group.command("dismiss")
@click.argument("row_id")
@click.option("--note", help="why the line is not a gift (required)")
@actor_option
@click.pass_obj
@reports_errors
def dismiss(settings: Settings, row_id: str, note: str | None, actor: str) -> None:
    """Set the unmatched line ROW_ID aside (a refund, a transfer): nothing is recorded."""
    number = _row_id(row_id)
    with open_database(settings) as db:
        row = dismiss_row(db, command_line(actor), number, note or "")
    click.echo(f"row {number} dismissed by {row.settled_by}: {row.note}")


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(import_group)
