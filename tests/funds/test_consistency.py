"""``ledger verify`` also checks that published balances are the ones the log implies."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from sqlalchemy import text

from ledger import log
from ledger.cli import main
from ledger.entries import Draft


def test_verify_reports_that_balances_agree(funds: Any, runner: CliRunner) -> None:
    funds.give(1_500_000)
    funds.allocate(500_000)
    result = runner.invoke(main, ["verify"])
    assert result.exit_code == 0, result.output
    assert "balances of 3 fund(s) agree with the log" in result.output


def test_verify_names_a_fund_whose_published_balance_was_edited(
    funds: Any, runner: CliRunner
) -> None:
    funds.give(1_500_000)
    with funds.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE fund_pools SET balance = balance + 1000000 WHERE account = 'available'")
        )
    result = runner.invoke(main, ["verify"])
    assert result.exit_code == 1
    assert (
        "fund LS-COVID: available is 2500000 in the database but 1500000 from the log"
        in result.output
    )


def test_verify_names_a_campaign_whose_postings_were_edited(funds: Any, runner: CliRunner) -> None:
    funds.give(1_500_000)
    with funds.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM fund_postings"))
    result = runner.invoke(main, ["verify"])
    assert result.exit_code == 1
    assert (
        "campaign LS-2026: available is 0 in the database but 1500000 from the log" in result.output
    )


def test_verify_recomputes_old_postings_it_no_longer_holds(
    funds: Any, runner: CliRunner, monkeypatch: Any
) -> None:
    # Hold the postings of one recent entry only: the reversed gift must be re-read.
    monkeypatch.setattr("ledger.funds.replay.RECENT_LEGS", 1)
    gift = funds.give(1_500_000)
    grant = funds.allocate(400_000)
    funds.give(100_000)
    funds.give(200_000)
    funds.record("reversal", {"target": grant.index, "reason": "Quyết định bị hủy"})
    funds.record("reversal", {"target": gift.index, "reason": "Ghi trùng"})
    result = runner.invoke(main, ["verify"])
    assert result.exit_code == 0, result.output
    assert "agree with the log" in result.output


def test_verify_names_an_entry_that_overdraws_a_fund(
    funds: Any, runner: CliRunner, ledger: Any, signer: Any
) -> None:
    """An entry the writer would refuse, appended around it, is caught by the replay."""
    body = {
        "fund": funds.fund,
        "amount": 1,
        "currency": "VND",
        "form": "cash",
        "beneficiary": {"display": "Ai đó", "type": "organization"},
        "purpose": "rút quỹ trống",
    }
    with ledger.writing() as session:
        appended = log.append(session, [Draft("allocation", body, "intruder")], signer)
    result = runner.invoke(main, ["verify"])
    assert result.exit_code == 1
    assert f"entry {appended.entries[0].index} leaves a fund's balance negative" in result.output


def test_verify_names_a_fund_entry_it_cannot_post(
    funds: Any, runner: CliRunner, ledger: Any, signer: Any
) -> None:
    with ledger.writing() as session:
        bad = log.append(session, [Draft("transfer", {"amount": 5}, "intruder")], signer)
    result = runner.invoke(main, ["verify"])
    assert result.exit_code == 1
    index = bad.entries[0].index
    assert f"index {index}: the transfer body cannot be posted" in result.output
    assert "Traceback" not in result.output
