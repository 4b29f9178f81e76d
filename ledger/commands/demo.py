"""Commands of `ledger`: demo."""

from __future__ import annotations

from collections import Counter

import click

from ledger.commands.common import open_database, reports_errors
from ledger.funds.demo import DEFAULT_GIFTS, DEFAULT_SEED, DemoResult, run_demo
from ledger.funds.text import dong
from ledger.settings import Settings

MAX_GIFTS = 50_000


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(demo)


@click.command()
@click.option("--seed", default=DEFAULT_SEED, show_default=True, help="same seed, same entries")
@click.option(
    "--gifts",
    default=DEFAULT_GIFTS,
    show_default=True,
    type=click.IntRange(0, MAX_GIFTS),
    help="gifts to the 2021 campaigns",
)
@click.pass_obj
@reports_errors
def demo(settings: Settings, seed: int, gifts: int) -> None:
    """Fill an empty ledger with a realistic Lạng Sơn campaign (run `ledger init` first)."""
    with open_database(settings) as db:
        result = run_demo(db, settings, seed=seed, gifts=gifts)
    for line in summary_lines(result, settings.base_url):
        click.echo(line)


def summary_lines(result: DemoResult, base_url: str) -> list[str]:
    """The counts, and where to look first."""
    c = Counter(result.counts)
    return [
        f"demo ledger filled in {result.seconds:.1f} s: {result.entries} entries",
        f"  units {c['unit']}, funds {c['fund']}, campaigns {c['campaign']}, "
        f"mobilisers {c['mobilizer']}",
        f"  gifts {c['contribution']}, pledges {c['pledge']}; received "
        f"{dong(result.received)} in cash and {dong(result.received_in_kind)} in kind",
        f"  allocations {c['allocation']}, disbursements {c['disbursement']}, "
        f"transfers {c['transfer']}, reversals {c['reversal']}, documents {result.documents}",
        "look at:",
        f"  {base_url}/api/v1/funds",
        f"  {base_url}/api/v1/log/checkpoint",
        f"  {base_url}/r/{result.sample_receipt}",
    ]
