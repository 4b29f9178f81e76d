"""Commands of `ledger demo`."""

from __future__ import annotations

from collections import Counter

import click

from ledger.commands.common import open_database, reports_errors
from ledger.funds.demo import DEFAULT_GIFTS, DEFAULT_SEED, DemoResult, run_demo
from ledger.funds.demo_audit import DemoWitness, witness_demo
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
    """Fill an empty ledger with a realistic Lạng Sơn campaign (run `ledger init` first).

    Then a demo witness, whose key is made in the instance folder, cosigns the final
    checkpoint.
    """
    with open_database(settings) as db:
        result = run_demo(db, settings, seed=seed, gifts=gifts)
        witnessed = witness_demo(db, settings)
    for line in summary_lines(result, settings.base_url):
        click.echo(line)
    for line in witness_lines(witnessed, settings.origin):
        click.echo(line)


def summary_lines(result: DemoResult, base_url: str) -> list[str]:
    """The counts, and where to look first."""
    c = Counter(result.counts)
    states = ", ".join(f"{state} {count}" for state, count in sorted(result.nominations.items()))
    acknowledged = ", ".join(result.acknowledged) or "none"
    return [
        f"demo ledger filled in {result.seconds:.1f} s: {result.entries} entries",
        f"  units {c['unit']}, funds {c['fund']}, campaigns {c['campaign']}, "
        f"mobilisers {c['mobilizer']}",
        f"  gifts {c['contribution']}, pledges {c['pledge']}; received "
        f"{dong(result.received)} in cash and {dong(result.received_in_kind)} in kind",
        f"  allocations {c['allocation']}, disbursements {c['disbursement']}, "
        f"transfers {c['transfer']}, reversals {c['reversal']}, documents {result.documents}",
        f"  findings acknowledged: {acknowledged}; gifts still blocked: {result.still_blocked}",
        f"  award nominations {c['award_nomination']} ({states or 'none'}), "
        f"board decisions {c['award_transition']}",
        "look at:",
        f"  {base_url}/",
        f"  {base_url}/api/v1/funds",
        f"  {base_url}/api/v1/log/checkpoint",
        f"  {base_url}/r/{result.sample_receipt}",
    ]


def witness_lines(witnessed: DemoWitness, origin: str) -> list[str]:
    """What the demo witness said, that it is a demo, and how to keep it cosigning."""
    answer = witnessed.answer
    said = f"witnessed: the checkpoint of tree size {answer.tree_size} is cosigned by"
    if not answer.cosigned:
        said = f"not witnessed: {answer.describe()}; the witness is"
    return [
        f"{said} {witnessed.name}, a DEMO witness",
        "  its key lies in this instance folder beside the ledger's own, so its cosignature",
        "  shows how witnessing works and proves nothing: real witnesses are run by others",
        "  on their own machines (docs/witness.md). To have it cosign later checkpoints:",
        f"  ledger witness serve --key-file {witnessed.key_file} --state {witnessed.state_file} "
        f"--log '{origin}={witnessed.log_key}' --port 7380",
        "  and then, after each append, ledger witness collect",
    ]
