"""What every ``ledger`` command shares: one-line errors, progress bars, the database.

Every failure the ledger anticipates is a ``LedgerError``; it is printed as one line
on standard error with a non-zero exit status, never as a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, ParamSpec, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from ledger.db import Database, disk_full
from ledger.errors import ConfigurationError, LedgerError
from ledger.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILED = 1


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_FAILED)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a LedgerError, a database or a file error into one line and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except LedgerError as err:
            fail(str(err))
        except SQLAlchemyError as err:
            if disk_full(err):
                fail("the database's disk is full: nothing was recorded; free space, then retry")
            # The driver's own message, first line only: no SQL, no parameters.
            reason = str(getattr(err, "orig", None) or err).strip().splitlines()
            fail(f"database: {reason[0] if reason else type(err).__name__}")
        except OSError as err:
            fail(str(err))

    return wrapper


@contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; silent when standard error is not one."""
    if not sys.stderr.isatty():
        yield lambda _n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """The ledger's database, once ``ledger init`` has created it; never creates a file."""
    db = Database(settings.database_url)
    try:
        path = db.missing_file()
        if path is not None:
            raise ConfigurationError(f"no ledger database at {path}: run `ledger init` first")
        if not db.initialised():
            raise ConfigurationError("the database holds no ledger yet: run `ledger init` first")
        yield db
    finally:
        db.dispose()


def _command_line_actor(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """``cli:<name>``: token names cannot hold a colon, so no token can pass for the CLI."""
    return value if value.startswith("cli:") else f"cli:{value}"


# Who records an operation from the command line, as the log's ``actor`` shows it.
actor_option = click.option(
    "--actor",
    default="local",
    show_default=True,
    callback=_command_line_actor,
    help="who records it; the log shows cli:<actor>",
)
json_option = click.option("--json", "as_json", is_flag=True, help="print the answer as JSON")
