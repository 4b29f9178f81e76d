"""The `ledger monitor` command: an outside check of a live ledger through its public API.

It needs no database and no settings: only the site's URL and the log's verifier key.
Exit status 0 means the check passed; 1 that the log could not be checked (network,
state file); 2 a usage error; 3 to 8 an alarm, one status per kind (docs/monitoring.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from audit.log_client import LogClient, LogUnavailableError, normalise_url
from audit.monitor import Monitor, MonitorAlarm, run_once
from audit.monitor_state import default_state_path
from ledger.commands.common import reports_errors
from ledger.errors import LedgerError
from ledger.keys import VerifierKey

# What --watch waits with between checks; a name of its own so tests can stand in for it.
pause = time.sleep


def _url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return normalise_url(value)
    except LedgerError as err:
        raise click.BadParameter(err.message) from None


def _keys(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[VerifierKey]:
    try:
        keys = [VerifierKey.parse(value.strip()) for value in values]
    except LedgerError as err:
        raise click.BadParameter(err.message) from None
    if len({key.name for key in keys}) > 1:
        raise click.BadParameter("the keys name different logs; monitor one log at a time")
    return keys


def _watch(monitor: Monitor, path: Path, interval: float) -> None:
    """Check every ``interval`` seconds until an alarm (raised) or an interrupt.

    A log that cannot be read is reported and tried again: a server briefly down is
    no evidence against it, and a monitor that stopped on it would watch nothing.
    """
    while True:
        try:
            click.echo(run_once(monitor, path).line())
        except LogUnavailableError as err:
            click.echo(f"error: {err.message} (trying again)", err=True)
        pause(interval)


@click.command("monitor")
@click.argument("url", callback=_url)
@click.option(
    "--key",
    "keys",
    multiple=True,
    required=True,
    callback=_keys,
    metavar="VKEY",
    help="a verifier key to trust (repeat it for keys from before and after a rotation)",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="state file [default: $XDG_STATE_HOME/ledger-monitor/<origin>.json]",
)
@click.option("--entries", is_flag=True, help="download and check every new entry too")
@click.option(
    "--watch",
    "interval",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="check again every SECONDS until an alarm or an interrupt",
)
@click.option("--once", is_flag=True, help="check once and exit (the default; for cron)")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="how long to wait for each answer",
)
@reports_errors
def monitor_command(
    url: str,
    keys: list[VerifierKey],
    state_file: Path | None,
    entries: bool,
    interval: float | None,
    once: bool,
    timeout: float,
) -> None:
    """Check the log at URL against the checkpoint this monitor saw last.

    Alarms (one line on standard error, exit status 3 to 8): BAD SIGNATURE, WRONG
    ORIGIN, ROLLBACK, FORK, INCONSISTENT, BAD ENTRY. The state file is only written
    after a check that passed.
    """
    if once and interval is not None:
        raise click.UsageError("--once and --watch exclude each other")
    monitor = Monitor(LogClient(url, timeout=timeout), keys, check_entries=entries)
    path = state_file or default_state_path(monitor.origin)
    try:
        if interval is None:
            click.echo(run_once(monitor, path).line())
            return
        try:
            _watch(monitor, path, interval)
        except KeyboardInterrupt:
            click.echo("monitor stopped", err=True)  # the usual end of a watch: status 0
    except MonitorAlarm as alarm:
        click.echo(alarm.line(), err=True)
        sys.exit(alarm.exit_code)


def register(main: click.Group) -> None:
    """Add the commands of this module to ``main``."""
    main.add_command(monitor_command)
