"""The ``ledger rankings`` command: mobilisers ranked as the awards board sees them.

The ranking is the public API's (``audit.rankings.verified_ranking``): taken at the
latest signed checkpoint, gifts under a blocking finding left out. Options are passed
as typed; the core refuses a bad type or day with one ``error:`` line.
"""

from __future__ import annotations

import json

import click

from audit import rankings
from ledger.commands.common import json_option, open_database, reports_errors
from ledger.funds.text import format_vnd
from ledger.settings import Settings

HEADER = ("rank", "code", "name", "unit", "net amount", "in kind", "donors", "gifts")
NUMERIC = {0, 4, 5, 6, 7}  # columns aligned to the right


def lines(found: rankings.Ranking) -> list[str]:
    """The ranking as a table for people, then the checkpoint it was taken at."""
    footer = f"as of tree size {found.tree_size}, root {found.root.hex()}"
    if found.withheld:
        footer += f"; {len(found.withheld)} gift(s) withheld under blocking findings"
    if not found.ranked:
        return [f"no {found.query.type} mobiliser has a gift that counts", footer]
    rows = [list(HEADER)] + [
        [
            str(r.rank),
            r.mobilizer,
            r.name,
            r.unit,
            format_vnd(r.net_amount),
            format_vnd(r.in_kind_value),
            str(r.donors),
            str(r.gifts),
        ]
        for r in found.ranked
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    table = [
        "  ".join(
            cell.rjust(widths[i]) if i in NUMERIC else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    return [*table, footer]


@click.command("rankings")
@click.option("--type", "kind", required=True, help="collective or individual")
@click.option("--campaign", help="only gifts to this campaign")
@click.option("--unit", help="mobilisers of this unit or a unit below it")
@click.option("--since", help="gifts received on or after this day, YYYY-MM-DD")
@click.option("--until", help="gifts received on or before this day, YYYY-MM-DD")
@json_option
@click.pass_obj
@reports_errors
def rankings_command(
    settings: Settings,
    kind: str,
    campaign: str | None,
    unit: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Rank collectives or individuals by verified net mobilised amount.

    Ties go to more donors, then more gifts, then more in-kind value, then to whoever's
    first counted gift came earlier. JSON includes each mobiliser's gift indices and
    the signed checkpoint: the evidence.
    """
    query = rankings.RankingQuery(type=kind, campaign=campaign, unit=unit, since=since, until=until)
    with open_database(settings) as db, db.session() as session:
        found = rankings.verified_ranking(session, settings, query)
    if as_json:
        click.echo(json.dumps(found.document(evidence=True), ensure_ascii=False))
        return
    for line in lines(found):
        click.echo(line)


def register(main: click.Group) -> None:
    """Add the commands of this module to ``main``."""
    main.add_command(rankings_command)
