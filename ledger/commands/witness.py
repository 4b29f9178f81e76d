"""The `ledger witness` commands: running a witness, and asking witnesses to cosign.

``init`` and ``serve`` are for a witness's own operator, an independent party on
another machine: they need no ledger database, only a key file, a state file and the
verifier keys of the logs to follow. ``add``, ``list`` and ``collect`` are for the
ledger's operator, who configures which witnesses to ask and collects their
cosignatures (typically from cron, after appends).
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from audit import witnesses
from audit.cosignature import WitnessSigner
from audit.witness import StateFile, Witness, known_logs
from audit.witness_server import create_witness_app, serve
from ledger.commands.common import fail, open_database, reports_errors
from ledger.settings import Settings

key_file_option = click.option(
    "--key-file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the witness's private key file",
)


@click.group("witness")
def witness_group() -> None:
    """Run a witness, or have witnesses cosign this ledger's checkpoints."""


@witness_group.command("init")
@click.option("--name", required=True, help="the witness's name, e.g. witness.example.org/w1")
@key_file_option
@reports_errors
def init(name: str, key_file: Path) -> None:
    """Create a witness key in KEY_FILE (never over an existing one); print its verifier key."""
    signer = WitnessSigner.generate(name)
    signer.save(key_file)
    click.echo(str(signer.verifier))


@witness_group.command("serve")
@key_file_option
@click.option(
    "--state",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file of the latest checkpoint cosigned for each log",
)
@click.option(
    "--log",
    "logs",
    required=True,
    multiple=True,
    metavar="ORIGIN=VKEY",
    help="a log to follow and the verifier key it signs with (repeatable)",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7380, show_default=True, type=int)
@click.option("--prefix", default="", help="the path the submission URL starts with")
@reports_errors
def serve_command(
    key_file: Path, state: Path, logs: tuple[str, ...], host: str, port: int, prefix: str
) -> None:
    """Serve POST <prefix>/add-checkpoint (c2sp.org/tlog-witness) until interrupted."""
    signer = WitnessSigner.load(key_file)
    followed = known_logs(logs)
    state_file = StateFile(state)
    state_file.read()  # refuse to start on a state file that cannot be read
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    click.echo(f"witness {signer.verifier}")
    for origin in sorted(followed):
        click.echo(f"following {origin}")
    app = create_witness_app(Witness(signer, followed, state_file), prefix)
    serve(app, host, port)


@witness_group.command("add")
@click.argument("name")
@click.argument("vkey")
@click.argument("url")
@click.pass_obj
@reports_errors
def add(settings: Settings, name: str, vkey: str, url: str) -> None:
    """Ask the witness NAME (key VKEY, submission prefix URL) to cosign from now on."""
    with open_database(settings) as db, db.writing() as session:
        created = witnesses.add(session, name, vkey, url)
    click.echo(f"witness {name} {'added' if created else 'updated'}: {url}")


@witness_group.command("list")
@click.pass_obj
@reports_errors
def list_command(settings: Settings) -> None:
    """Each witness, its URL, key and the latest tree size it cosigned."""
    with open_database(settings) as db, db.session() as session:
        found = witnesses.statuses(session)
    if not found:
        click.echo("no witnesses: add one with `ledger witness add NAME VKEY URL`")
    for status in found:
        size, when = status.cosigned_size, status.cosigned_timestamp
        seen = "nothing yet"
        if size is not None and when is not None:
            seen = f"cosigned size {size} at {witnesses.local_time(when)}"
        cosigner = status.cosigner
        click.echo(f"{cosigner.name} {cosigner.url} {cosigner.key} ({seen})")


@witness_group.command("collect")
@click.pass_obj
@reports_errors
def collect(settings: Settings) -> None:
    """Ask every witness to cosign the latest checkpoint; exit 1 if any refused."""
    with open_database(settings) as db:
        answers = witnesses.collect(db)
    if not answers:
        fail("no witnesses are configured: add one with `ledger witness add NAME VKEY URL`")
    for answer in answers:
        click.echo(answer.describe())
    refused = [answer for answer in answers if not answer.cosigned]
    if refused:
        reasons = "; ".join(f"{answer.witness}: {answer.refusal}" for answer in refused)
        fail(f"{len(refused)} of {len(answers)} witness(es) refused: {reasons}")


def register(main: click.Group) -> None:
    """Add the commands of this module to ``main``."""
    main.add_command(witness_group)
