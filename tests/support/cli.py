"""What every command-line test checks of a ``ledger`` run: a clean success or one error."""

from __future__ import annotations

from click.testing import Result


def ok(result: Result) -> str:
    """Exit status 0 and nothing on stderr; the command's stdout."""
    assert result.exit_code == 0, result.output
    assert result.exception is None
    assert result.stderr == ""
    return result.stdout


def error_line(result: Result, *mentions: str) -> str:
    """Exit status 1 and one ``error:`` line naming ``mentions``, never a traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message.startswith("error: ")
    assert "\n" not in message, message
    for word in mentions:
        assert word in message, message
    return message
