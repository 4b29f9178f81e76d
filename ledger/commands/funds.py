"""Commands of ``ledger`` for the structure money flows through, and for reading it.

Units, funds, campaigns and mobilisers are recorded here (one at a time, or from a
CSV file); ``balance`` and ``campaign qr`` read what was recorded. The commands that
move money live in ``ledger.commands.money``; ``register`` adds both.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

import click

from ledger import qr
from ledger.commands import money
from ledger.commands.common import actor_option, json_option, open_database, reports_errors
from ledger.commands.money import given, record_one, show, whole_number
from ledger.errors import InvalidRequestError
from ledger.funds import state, vietqr
from ledger.funds.access import command_line
from ledger.funds.documents import store_document
from ledger.funds.donation_codes import donation_code
from ledger.funds.recorder import Recorded
from ledger.funds.state import Balance
from ledger.funds.text import dong
from ledger.funds.units_import import (
    import_mobilizers,
    import_units,
    plan_units,
    read_mobilizers,
    read_units,
)
from ledger.settings import Settings

_COLUMNS = ("available", "committed", "disbursed", "in kind", "received")
_QR_WRITERS = {".png": qr.png, ".svg": qr.svg}


def _summary(what: str, recorded: list[Recorded], unchanged: list[str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([entry.answer() for entry in recorded], ensure_ascii=False))
    else:
        click.echo(f"recorded {len(recorded)} {what} ({len(unchanged)} unchanged)")


@click.group()
def units() -> None:
    """Administrative units: the province, its districts, communes, residential areas."""


@units.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="check the file and say what would be recorded")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def units_import(settings: Settings, file: Path, dry_run: bool, actor: str, as_json: bool) -> None:
    """Record the units of a CSV FILE with columns code,name,parent,level, all or none."""
    rows = read_units(file.read_bytes())
    with open_database(settings) as db:
        if dry_run:
            with db.session() as session:
                to_record, unchanged = plan_units(session, rows)
            for row in to_record:
                click.echo(f"would record unit {row['code']}: {row['name']}")
            click.echo(f"would record {len(to_record)} units ({len(unchanged)} unchanged)")
            return
        recorded, unchanged = import_units(db, settings, command_line(actor), rows)
    _summary("units", recorded, unchanged, as_json)


@click.group()
def fund() -> None:
    """Funds: one per committee and purpose (Quỹ Cứu trợ, Quỹ phòng, chống COVID-19, ...)."""


@fund.command("open")
@click.option("--code", help="fund code (required)")
@click.option("--unit", help="the unit whose committee holds the fund (required)")
@click.option("--kind", help="fund kind, e.g. covid19, relief, poor (required)")
@click.option("--name", help="default: the kind's name and the unit's, e.g. Quỹ Cứu trợ huyện X")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def fund_open(settings: Settings, /, actor: str, as_json: bool, **o: Any) -> None:
    """Record a new fund."""
    entry = record_one(settings, actor, "fund", given(**o))
    show(entry, as_json, lambda e: f"fund {e.body['code']} ({e.body['name']}) opened")


@click.group()
def campaign() -> None:
    """Fund-raising campaigns: their bank account, dates and QR codes."""


@campaign.command("create")
@click.option("--code", help="campaign code (required)")
@click.option("--fund", help="fund code (required)")
@click.option("--name", help="(required)")
@click.option("--purpose", help="(required)")
@click.option("--reference", help="memo code donors write, 3-12 capitals or digits (required)")
@click.option("--opens", help="YYYY-MM-DD, first day gifts are taken (required)")
@click.option("--closes", help="YYYY-MM-DD, last day gifts are taken (required)")
@click.option("--distribute-by", help="YYYY-MM-DD by which all is handed out (required)")
@click.option("--bank-bin", help="6-digit BIN of the campaign account's bank (required)")
@click.option("--account", help="the campaign account number (required)")
@click.option("--holder", help="the account holder's name (required)")
@click.option("--bank-name", help="default: from the BIN")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def campaign_create(settings: Settings, /, actor: str, as_json: bool, **o: Any) -> None:
    """Record a campaign and the account it collects into."""
    account = given(
        bank_bin=o.pop("bank_bin"),
        number=o.pop("account"),
        holder=o.pop("holder"),
        bank_name=o.pop("bank_name"),
    )
    entry = record_one(settings, actor, "campaign", given(**o, account=account))
    show(
        entry,
        as_json,
        lambda e: (
            f"campaign {e.body['code']} of {e.body['fund']} recorded, "
            f"memo reference {e.body['reference']}"
        ),
    )


@campaign.command("qr")
@click.argument("code")
@click.option("--mobilizer", help="add this mobilizer's reference to the memo")
@click.option("--amount", help="a fixed amount in whole đồng (default: the donor chooses)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="FILE.png or .svg")
@click.pass_obj
@reports_errors
def campaign_qr(
    settings: Settings, code: str, mobilizer: str | None, amount: str | None, out: Path | None
) -> None:
    """Print the VietQR payload for donations to campaign CODE, or write it as an image."""
    writer = _QR_WRITERS.get(out.suffix.lower()) if out is not None else None
    if out is not None and writer is None:
        raise vietqr.VietQRError(f"--out {out}: the file name must end in .png or .svg")
    fixed = whole_number(amount)
    if fixed is not None and not isinstance(fixed, int):
        raise vietqr.VietQRError(f"--amount {amount}: must be a whole number of đồng")
    with open_database(settings) as db, db.session() as session:
        found = donation_code(session, code, mobilizer, fixed)
    if out is None or writer is None:
        click.echo(found.payload)
        return
    out.write_bytes(writer(found.payload))
    account = found.account
    click.echo(f"wrote {out}: {account['bank_name']}, {account['holder']}, memo {found.memo!r}")


@click.group()
def mobilizer() -> None:
    """Mobilisers: the associations and people who collect gifts for a campaign."""


@mobilizer.command("add")
@click.option("--code", help="(required)")
@click.option("--name", help="(required)")
@click.option("--type", metavar="collective|individual", help="(required)")
@click.option("--unit", help="the unit it belongs to (required)")
@click.option("--reference", help="memo code, 3-12 capitals or digits (default: from the code)")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def mobilizer_add(settings: Settings, /, actor: str, as_json: bool, **o: Any) -> None:
    """Record a mobilizer."""
    entry = record_one(settings, actor, "mobilizer", given(**o))
    show(
        entry,
        as_json,
        lambda e: f"mobilizer {e.body['code']} recorded, memo reference {e.body['reference']}",
    )


@mobilizer.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@actor_option
@json_option
@click.pass_obj
@reports_errors
def mobilizer_import(settings: Settings, file: Path, actor: str, as_json: bool) -> None:
    """Record the mobilizers of a CSV FILE with columns code,name,type,unit[,reference]."""
    rows = read_mobilizers(file.read_bytes())
    with open_database(settings) as db:
        recorded, unchanged = import_mobilizers(db, settings, command_line(actor), rows)
    _summary("mobilizers", recorded, unchanged, as_json)


@click.group()
def document() -> None:
    """Documents (decisions, payment slips) that allocations and disbursements cite."""


@document.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@actor_option
@click.pass_obj
@reports_errors
def document_add(settings: Settings, file: Path, actor: str) -> None:
    """Store FILE and print its SHA-256, the name entries cite it by."""
    content = file.read_bytes()
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    with open_database(settings) as db, db.writing() as session:
        sha256 = store_document(session, content, file.name, media_type, actor)
    click.echo(sha256)


def _table(heading: str, rows: list[tuple[str, Balance]]) -> list[str]:
    cells = [
        [name, *(dong(v) for v in (b.available, b.committed, b.disbursed, b.in_kind, b.received))]
        for name, b in rows
    ]
    lines = [[heading, *_COLUMNS], *cells]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return [
        "  ".join(c.rjust(widths[i]) if i else c.ljust(widths[i]) for i, c in enumerate(line))
        for line in lines
    ]


@click.command()
@click.option("--fund", "fund_code", help="one fund")
@click.option("--unit", help="a unit's funds and those of every unit below it")
@click.option("--campaign", "campaign_code", help="the money of one campaign")
@click.pass_obj
@reports_errors
def balance(
    settings: Settings, fund_code: str | None, unit: str | None, campaign_code: str | None
) -> None:
    """Print balances in đồng: every fund's, or one fund's, unit's or campaign's."""
    if sum(x is not None for x in (fund_code, unit, campaign_code)) > 1:
        raise InvalidRequestError("give at most one of --fund, --unit and --campaign")
    with open_database(settings) as db, db.session() as session:
        if unit is not None:
            heading, rows = "unit", [(unit, state.unit_balance(session, unit))]
        elif campaign_code is not None:
            heading = "campaign"
            rows = [(campaign_code, state.campaign_balance(session, campaign_code))]
        else:
            heading = "fund"
            balances = state.fund_balances(session)
            if fund_code is not None:
                state.fund(session, fund_code)
                balances = {fund_code: balances[fund_code]}
            rows = sorted(balances.items())
    if not rows:
        click.echo("no funds yet")
        return
    for line in _table(heading, rows):
        click.echo(line)


def register(main: click.Group) -> None:
    """Add this module's commands, and those of ``ledger.commands.money``, to ``main``."""
    for command in (units, fund, campaign, mobilizer, document, balance):
        main.add_command(command)
    money.register(main)
