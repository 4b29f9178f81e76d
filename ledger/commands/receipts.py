"""``ledger verify-receipt``: a donor's or journalist's offline check of one receipt."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ledger import tlog_proof
from ledger.commands.common import reports_errors
from ledger.funds.recorder import VIETNAM
from ledger.funds.text import dong
from ledger.keys import VerifierKey


def _shown_time(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M (giờ Việt Nam)")


@click.command("verify-receipt")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "keys",
    required=True,
    multiple=True,
    help="a verifier key of the ledger (repeat for keys of earlier periods)",
)
@reports_errors
def verify_receipt(file: Path, keys: tuple[str, ...]) -> None:
    """Verify a receipt FILE (.tlog-proof) offline against the ledger's verifier KEY."""
    trusted = [VerifierKey.parse(key.strip()) for key in keys]
    proven = tlog_proof.verify(file.read_bytes(), trusted)
    entry, body = proven.entry, proven.entry.body
    click.echo(
        f"OK: entry {entry.index} is in the log {proven.checkpoint.origin} "
        f"(tree size {proven.checkpoint.size}, signed by {proven.key.name}+{proven.key.key_id_hex})"
    )
    click.echo(f"leaf hash {entry.leaf_hash.hex()}")
    click.echo(f"kind      {entry.kind}")
    click.echo(f"time      {_shown_time(entry.time)}")
    if entry.kind == "contribution":
        donor = body.get("donor", {})
        click.echo(f"receipt   {body.get('receipt_id', '')}")
        click.echo(f"amount    {dong(int(body['amount']))}")
        click.echo(f"fund      {body.get('fund', '')}  campaign {body.get('campaign', '')}")
        click.echo(f"donor     {donor.get('display', '')}")


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(verify_receipt)
