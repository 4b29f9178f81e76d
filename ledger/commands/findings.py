"""The `ledger findings` commands: the anomaly rules' findings, and acknowledging one.

Listing reads the log like the auditors' API does (``audit.rules``); acknowledging
records an ``acknowledgement`` entry through the recorder, like any fund operation.
"""

from __future__ import annotations

import json

import click

from audit.acknowledgements import ACKNOWLEDGEMENT
from audit.findings import Finding
from audit.rules import ANOMALY_SEVERITIES, findings_for_database, select_findings
from ledger import log
from ledger.commands.common import actor_option, json_option, open_database, reports_errors
from ledger.commands.money import given, record_one, show
from ledger.settings import Settings


@click.group(invoke_without_command=True)
@json_option
@click.option(
    "--severity", type=click.Choice(ANOMALY_SEVERITIES), help="only findings of this severity"
)
@click.option("--unacknowledged", is_flag=True, help="only findings nobody has acknowledged")
@click.pass_context
@reports_errors
def findings(ctx: click.Context, as_json: bool, severity: str | None, unacknowledged: bool) -> None:
    """List the anomaly rules' findings over the whole log (docs/anomalies.md)."""
    if ctx.invoked_subcommand is not None:
        return
    settings: Settings = ctx.obj
    with open_database(settings) as db, db.session() as session:
        size = log.tree_size(session)
        found = findings_for_database(session, settings, as_of=size)
    shown = select_findings(found, severity=severity, unacknowledged=unacknowledged)
    if as_json:
        document = {"tree_size": size, "findings": [finding.document() for finding in shown]}
        click.echo(json.dumps(document, ensure_ascii=False))
        return
    for finding in shown:
        click.echo(_line(finding))
    waiting = sum(1 for finding in shown if not finding.acknowledged)
    click.echo(f"{len(shown)} finding(s), {waiting} unacknowledged, at tree size {size}")


def _line(finding: Finding) -> str:
    text = f"{finding.severity:<8} {finding.id}  {finding.message}"
    if finding.acknowledged:
        text += f"\n         acknowledged by entry {finding.acknowledged_by}: "
        text += str(finding.acknowledged_reason)
    return text


@findings.command()
@click.argument("finding_id")
@click.option("--reason", help="what was checked and why the finding is explained (required)")
@actor_option
@json_option
@click.pass_obj
@reports_errors
def acknowledge(
    settings: Settings, finding_id: str, reason: str | None, actor: str, as_json: bool
) -> None:
    """Record that the finding FINDING_ID (<rule>:<index>) was looked at, and why it stands."""
    entry = record_one(settings, actor, ACKNOWLEDGEMENT, given(finding=finding_id, reason=reason))
    show(entry, as_json, lambda e: f"acknowledgement of {e.body['finding']}: {e.body['reason']}")


def register(main: click.Group) -> None:
    """Add the commands of this module to ``main``."""
    main.add_command(findings)
