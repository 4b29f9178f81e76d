"""Commands that move money: contribute, pledge, allocate, disburse, transfer, reverse.

Each builds the same request body the web API takes and hands it to the recorder, so
the command line refuses exactly what the API refuses, with the same per-field
messages. Options are passed through as typed (numbers included): deciding what is
valid is the schemas' job, not click's, and the answer is one ``error:`` line with
exit status 1 rather than a usage screen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import click

from ledger.commands.common import actor_option, json_option, open_database, reports_errors
from ledger.funds.access import command_line
from ledger.funds.amounts import parse_amount
from ledger.funds.recorder import Recorded, record
from ledger.funds.text import dong
from ledger.settings import Settings

_INTEGER = re.compile(r"[+-]?\d+")


def whole_number(text: str | None) -> int | str | None:
    """``"1500000"`` or ``"1.500.000"`` as an int; anything else as typed.

    What is not a whole number goes to the schema unchanged, so that it is refused with
    the same message the web API gives.
    """
    if text is None:
        return None
    if _INTEGER.fullmatch(text.strip()):
        return int(text)
    try:
        return parse_amount(text)
    except ValueError:
        return text


def given(**values: Any) -> dict[str, Any]:
    """The options that were given: an absent one must be absent, not null, for the schema."""
    return {key: value for key, value in values.items() if value is not None}


def earmark(purpose: str | None, unit: str | None) -> dict[str, Any] | None:
    return given(purpose=purpose, unit=unit) or None


def record_one(settings: Settings, actor: str, kind: str, data: dict[str, Any]) -> Recorded:
    with open_database(settings) as db:
        return record(db, settings, command_line(actor), [(kind, data)])[0]


def show(entry: Recorded, as_json: bool, describe: Callable[[Recorded], str]) -> None:
    """One line naming the entry's index, or the writers' JSON answer."""
    if as_json:
        click.echo(json.dumps(entry.answer(), ensure_ascii=False))
    else:
        click.echo(f"index {entry.index}: {describe(entry)}")


def _gift(entry: Recorded) -> str:
    body = entry.body
    return (
        f"{entry.kind} of {dong(body['amount'])} to {body['fund']} "
        f"(campaign {body['campaign']}) from {body['donor']['display']}"
    )


def _donor_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed(
        (
            click.option("--fund", help="fund code (required)"),
            click.option("--amount", help="whole đồng, e.g. 1500000 or 1.500.000 (required)"),
            click.option("--donor", help="the donor's name as the public may see it"),
            click.option("--donor-type", default="individual", metavar="individual|organization"),
            click.option("--anonymous", is_flag=True, help="shown as an anonymous donor"),
            click.option("--contact", help="phone or e-mail; kept private, never in the log"),
            click.option("--campaign", help="campaign code (default: the fund's open campaign)"),
            click.option("--mobilizer", help="code of the mobilizer who brought the gift"),
        )
    ):
        func = decorator(func)
    return func


def _donor(name: str | None, kind: str, anonymous: bool, contact: str | None) -> dict[str, Any]:
    return given(display=name, type=kind, anonymous=anonymous, contact=contact)


@click.command()
@_donor_options
@click.option("--channel", metavar="bank|cash|in_kind", help="how it arrived (required)")
@click.option("--reference", help="the bank transaction reference")
@click.option("--received-on", help="YYYY-MM-DD (default: today in Vietnam)")
@click.option("--earmark-purpose", help="what the donor gave it for")
@click.option("--earmark-unit", help="the unit the donor gave it for")
@click.option("--item-description", help="in kind: what the goods are")
@click.option("--quantity", help="in kind: how many")
@click.option("--item-unit", help="in kind: counted in (thùng, tấn, chiếc, ...)")
@click.option("--valuation", help="in kind: how the amount was assessed")
@click.option("--pledge", help="the pledge ID this gift fulfils")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def contribute(settings: Settings, /, **o: Any) -> None:
    """Record a gift of money or goods; prints its receipt."""
    in_kind = given(
        description=o["item_description"],
        quantity=whole_number(o["quantity"]),
        unit=o["item_unit"],
        valuation=o["valuation"],
    )
    data = given(
        fund=o["fund"],
        amount=whole_number(o["amount"]),
        channel=o["channel"],
        donor=_donor(o["donor"], o["donor_type"], o["anonymous"], o["contact"]),
        campaign=o["campaign"],
        mobilizer=o["mobilizer"],
        reference=o["reference"],
        received_on=o["received_on"],
        earmark=earmark(o["earmark_purpose"], o["earmark_unit"]),
        in_kind=in_kind or None,
        pledge=o["pledge"],
    )
    entry = record_one(settings, o["actor"], "contribution", data)
    show(entry, o["as_json"], _gift)
    if not o["as_json"]:
        click.echo(f"receipt {entry.extra['receipt_id']}: {entry.extra['receipt_url']}")


@click.command()
@_donor_options
@click.option("--due-on", help="YYYY-MM-DD by which the donor means to give")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def pledge(settings: Settings, /, **o: Any) -> None:
    """Record a promise of a gift; it counts in no balance until the money arrives."""
    data = given(
        fund=o["fund"],
        amount=whole_number(o["amount"]),
        donor=_donor(o["donor"], o["donor_type"], o["anonymous"], o["contact"]),
        campaign=o["campaign"],
        mobilizer=o["mobilizer"],
        due_on=o["due_on"],
    )
    entry = record_one(settings, o["actor"], "pledge", data)
    show(entry, o["as_json"], _gift)
    if not o["as_json"]:
        click.echo(f"pledge {entry.extra['pledge_id']}")


def _allocation(entry: Recorded) -> str:
    body = entry.body
    return (
        f"allocation of {dong(body['amount'])} from {body['fund']} "
        f"to {body['beneficiary']['display']}: {body['purpose']}"
    )


@click.command()
@click.option("--fund", help="fund code (required)")
@click.option("--amount", help="whole đồng (required)")
@click.option("--beneficiary", help="name; an individual's is shown masked (required)")
@click.option("--beneficiary-type", metavar="individual|organization", help="(required)")
@click.option("--beneficiary-unit", help="the unit the beneficiary lives or works in")
@click.option("--national-id", help="kept only as a keyed hash, to find double payments")
@click.option("--purpose", help="what the money is for (required)")
@click.option("--program", help="support program, e.g. covid-f0-support")
@click.option("--decision-number", help="number of the decision that allocates it")
@click.option("--decision-date", help="YYYY-MM-DD of that decision")
@click.option("--approver", help="who signed that decision")
@click.option("--document", "documents", multiple=True, help="SHA-256 of a stored document")
@click.option("--form", default="cash", metavar="cash|in_kind", show_default=True)
@click.option("--earmark-purpose", help="spend money earmarked for this purpose")
@click.option("--earmark-unit", help="spend money earmarked for this unit")
@click.option("--campaign", help="the campaign whose money this is")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def allocate(settings: Settings, /, **o: Any) -> None:
    """Record a decision reserving money (or goods) for a beneficiary."""
    decision = given(number=o["decision_number"], date=o["decision_date"], approver=o["approver"])
    data = given(
        fund=o["fund"],
        amount=whole_number(o["amount"]),
        form=o["form"],
        beneficiary=given(
            display=o["beneficiary"],
            type=o["beneficiary_type"],
            unit=o["beneficiary_unit"],
            national_id=o["national_id"],
        ),
        purpose=o["purpose"],
        program=o["program"],
        decision=decision or None,
        documents=list(o["documents"]),
        earmark=earmark(o["earmark_purpose"], o["earmark_unit"]),
        campaign=o["campaign"],
    )
    show(record_one(settings, o["actor"], "allocation", data), o["as_json"], _allocation)


@click.command()
@click.option("--allocation", help="index of the allocation entry (required)")
@click.option("--amount", help="whole đồng (required)")
@click.option(
    "--document", "documents", multiple=True, help="SHA-256 of a proof of payment (1 or more)"
)
@click.option("--paid-on", help="YYYY-MM-DD (default: today in Vietnam)")
@click.option("--note")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def disburse(settings: Settings, /, **o: Any) -> None:
    """Record a payment under an allocation, with the documents that prove it."""
    data = given(
        allocation=whole_number(o["allocation"]),
        amount=whole_number(o["amount"]),
        documents=list(o["documents"]),
        paid_on=o["paid_on"],
        note=o["note"],
    )
    entry = record_one(settings, o["actor"], "disbursement", data)
    show(
        entry,
        o["as_json"],
        lambda e: (
            f"disbursement of {dong(e.body['amount'])} under allocation "
            f"{e.body['allocation']} of {e.body['fund']}"
        ),
    )


@click.command()
@click.option("--from", "from_fund", help="fund the money leaves (required)")
@click.option("--to", "to_fund", help="fund the money goes to (required)")
@click.option("--amount", help="whole đồng (required)")
@click.option("--purpose")
@click.option("--reference", help="the bank transaction reference")
@click.option("--earmark-purpose", help="move money earmarked for this purpose")
@click.option("--earmark-unit", help="move money earmarked for this unit")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def transfer(settings: Settings, /, **o: Any) -> None:
    """Record money remitted from one fund to another."""
    data = given(
        from_fund=o["from_fund"],
        to_fund=o["to_fund"],
        amount=whole_number(o["amount"]),
        purpose=o["purpose"],
        reference=o["reference"],
        earmark=earmark(o["earmark_purpose"], o["earmark_unit"]),
    )
    entry = record_one(settings, o["actor"], "transfer", data)
    show(
        entry,
        o["as_json"],
        lambda e: (
            f"transfer of {dong(e.body['amount'])} from {e.body['from_fund']} "
            f"to {e.body['to_fund']}"
        ),
    )


@click.command()
@click.argument("index")
@click.option("--reason", help="why the entry is undone (required)")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def reverse(settings: Settings, index: str, reason: str | None, actor: str, as_json: bool) -> None:
    """Undo the entry at INDEX by appending its reversal; the log keeps both."""
    data = given(target=whole_number(index), reason=reason)
    entry = record_one(settings, actor, "reversal", data)
    show(entry, as_json, lambda e: f"reversal of entry {e.body['target']}: {e.body['reason']}")


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    for command in (contribute, pledge, allocate, disburse, transfer, reverse):
        main.add_command(command)
