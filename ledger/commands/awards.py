"""The `ledger awards` commands: nominations from rankings, the board's steps, exports.

The command line acts as ``admin`` (whoever runs it holds the database); the log
shows ``cli:<actor>`` as the one who proposed or decided.
"""

from __future__ import annotations

import json
from datetime import date
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import click

from audit.awards import award_pdf, exports, nominations
from audit.awards.criteria import Criteria
from audit.awards.evidence import gift_indices, verify
from audit.awards.proposing import Proposal, propose
from audit.awards.workflow import next_states, transition
from ledger.commands.common import actor_option, fail, json_option, open_database, reports_errors
from ledger.commands.money import given
from ledger.errors import ConfigurationError
from ledger.funds.access import command_line
from ledger.funds.recorder import today_in_vietnam
from ledger.funds.text import dong
from ledger.settings import Settings

_STATES = click.Choice(nominations.STATES)


def _fonts() -> Path:
    """The DejaVu fonts the web app serves, found without importing the app."""
    spec = find_spec("public_api")
    if spec is None or spec.origin is None:
        raise ConfigurationError("the public_api package (which holds the fonts) is missing")
    return Path(spec.origin).parent / "static" / "fonts"


def _line(nomination: nominations.Nomination) -> str:
    body = nomination.body
    awardee, figures = body["awardee"], body["figures"]
    return (
        f"{nomination.id}  {nomination.state:<12}  {nomination.form:<14}  "
        f"{awardee['code']} ({awardee['name']}, {awardee['type']})  "
        f"{dong(figures['net_amount'])}, {figures['donors']} donors  "
        f"campaign {body['campaign']}  rank {body['rank']}"
    )


@click.group()
def awards() -> None:
    """Emulation awards: nominations from the rankings, the board's decisions, the list."""


@awards.command("propose")
@click.option("--campaign", required=True, help="the campaign whose mobilisers are ranked")
@click.option("--since", help="first day counted, YYYY-MM-DD")
@click.option("--until", help="last day counted, YYYY-MM-DD")
@click.option("--unit", help="only mobilisers of this unit and the units below it")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def awards_propose(settings: Settings, /, actor: str, as_json: bool, **o: Any) -> None:
    """Record a nomination for each mobiliser the criteria reward (see docs/awards.md)."""
    proposal = Proposal.load(given(**o))
    with open_database(settings) as db:
        outcome = propose(db, settings, command_line(actor), proposal)
    if as_json:
        click.echo(json.dumps(outcome.document(), ensure_ascii=False))
        return
    for recorded in outcome.recorded:
        body = recorded.body
        click.echo(
            f"index {recorded.index}: nomination {body['id']} of {body['awardee']['code']} "
            f"({body['awardee']['name']}) for {body['form']['code']}, rank {body['rank']}, "
            f"{dong(body['figures']['net_amount'])}"
        )
    for skipped in outcome.skipped:
        click.echo(f"skipped {skipped.mobilizer} ({skipped.name}): {skipped.reason}")
    click.echo(
        f"recorded {len(outcome.recorded)} nominations, skipped {len(outcome.skipped)}, "
        f"counted at tree size {outcome.tree_size}"
    )


@awards.command("list")
@click.option("--campaign")
@click.option("--state", type=_STATES)
@click.option("--form", help="a form's code, e.g. BK-MTTQ-TINH")
@json_option
@click.pass_obj
@reports_errors
def awards_list(settings: Settings, /, as_json: bool, **filters: Any) -> None:
    """List nominations with their state, oldest first."""
    with open_database(settings) as db, db.session() as session:
        found = nominations.select_nominations(nominations.load(session), **filters)
    if as_json:
        documents = [nomination.document() for nomination in found]
        click.echo(json.dumps({"nominations": documents}, ensure_ascii=False))
        return
    for nomination in found:
        click.echo(_line(nomination))
    click.echo(f"{len(found)} nominations")


@awards.command("show")
@click.argument("nomination_id")
@json_option
@click.pass_obj
@reports_errors
def awards_show(settings: Settings, nomination_id: str, as_json: bool) -> None:
    """Show one nomination: its figures, evidence and history."""
    with open_database(settings) as db, db.session() as session:
        nomination = nominations.find(session, nomination_id)
    if as_json:
        click.echo(json.dumps(nomination.document(gifts=True), ensure_ascii=False))
        return
    body = nomination.body
    click.echo(_line(nomination))
    click.echo(f"form      {body['form']['name']} (decided by {body['form']['decided_by']})")
    period = body["period"]
    click.echo(f"period    {period.get('since', 'start')} to {period.get('until', 'now')}")
    click.echo(
        f"evidence  {len(gift_indices(body))} gifts at tree size "
        f"{body['evidence']['tree_size']}, root {body['evidence']['root']}"
    )
    click.echo(f"recorded  index {nomination.index} by {nomination.actor} at {nomination.time}")
    for step in nomination.history:
        decided = f" ({step.decision['number']})" if step.decision else ""
        click.echo(
            f"  index {step.index}: {step.source} → {step.target} by {step.actor}: "
            f"{step.reason}{decided}"
        )
    if next_states(nomination):
        click.echo(f"next      {' or '.join(next_states(nomination))}")


@awards.command("transition")
@click.argument("nomination_id")
@click.option("--to", "target", required=True, type=click.Choice(nominations.STATES[1:]))
@click.option("--reason", required=True, help="why: the board's minutes, in a sentence")
@click.option("--decision-number", help="the decision's number, e.g. 125/QĐ-MTTQ")
@click.option("--decision-date", help="the decision's date, YYYY-MM-DD")
@click.option("--approver", help="who signed the decision")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def awards_transition(
    settings: Settings,
    /,
    nomination_id: str,
    target: str,
    reason: str,
    actor: str,
    as_json: bool,
    **decision: str | None,
) -> None:
    """Move a nomination on (under_review, approved, rejected, conferred, forwarded)."""
    data: dict[str, Any] = {"nomination": nomination_id, "to": target, "reason": reason}
    named = given(
        number=decision["decision_number"],
        date=decision["decision_date"],
        approver=decision["approver"],
    )
    if named:
        data["decision"] = named
    with open_database(settings) as db:
        recorded = transition(db, settings, command_line(actor), data)
    if as_json:
        click.echo(json.dumps(recorded.answer(), ensure_ascii=False))
        return
    body = recorded.body
    click.echo(
        f"index {recorded.index}: nomination {body['nomination']['id']} "
        f"{body['from']} → {body['to']}"
    )


@awards.command("verify")
@click.argument("nomination_id")
@json_option
@click.pass_obj
@reports_errors
def awards_verify(settings: Settings, nomination_id: str, as_json: bool) -> None:
    """Check a nomination's evidence: checkpoint, inclusion proofs, gifts and figures."""
    with open_database(settings) as db, db.session() as session:
        nomination = nominations.find(session, nomination_id)
        report = verify(session, nomination.body, index=nomination.index)
    if as_json:
        click.echo(json.dumps({"id": nomination.id, **report.document()}, ensure_ascii=False))
    else:
        for gift, reversal in report.reversed_since:
            click.echo(f"note: gift {gift} counted, and was reversed later by entry {reversal}")
        if report.ok:
            click.echo(
                f"OK: nomination {nomination.id}: {report.counted} gifts proven in the tree "
                f"of size {report.tree_size} signed by {report.verifier_key}; figures add up"
            )
    if not report.ok:
        fail(f"nomination {nomination.id}: {'; '.join(report.problems)}")


@awards.command("export")
@click.option(
    "--format", "kind", required=True, type=click.Choice(("csv", "xlsx", "pdf")), help="file type"
)
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--campaign", help="only this campaign's nominations (and its committee's header)")
@click.option("--state", type=_STATES, help="only this state (rejected ones only when asked)")
@click.option("--form", help="only this form's code")
@click.option("--date", "day", help="the list's date, YYYY-MM-DD (default: today in Vietnam)")
@click.pass_obj
@reports_errors
def awards_export(
    settings: Settings, /, kind: str, out: Path, day: str | None, **filters: Any
) -> None:
    """Write the list "Danh sách đề nghị khen thưởng" to OUT as CSV, XLSX or PDF."""
    try:
        dated = date.fromisoformat(day) if day else today_in_vietnam()
    except ValueError:
        fail(f"--date {day!r} is not a day written YYYY-MM-DD")
    criteria = Criteria.load(settings.awards_criteria_file)
    with open_database(settings) as db, db.session() as session:
        listed = exports.listed(session, criteria, day=dated, **filters)
    if kind == "csv":
        from public_api.csv_export import lines  # the same bytes as the API's export.csv

        out.write_bytes("".join(lines(exports.COLUMNS, exports.csv_items(listed))).encode())
    elif kind == "xlsx":
        out.write_bytes(exports.xlsx(listed))
    else:
        out.write_bytes(award_pdf.render(listed, _fonts()))
    click.echo(f"wrote {sum(1 for _ in listed.rows)} nominations to {out}")


def register(main: click.Group) -> None:
    """Add the commands of this module to ``main``."""
    main.add_command(awards)
