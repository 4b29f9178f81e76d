"""`ledger findings`: the anomaly findings for people and machines, and acknowledging one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support.cli import error_line, ok

from ledger import log
from ledger.cli import main

REASON = "Đã đối chiếu biên lai thu tiền mặt số 0012"


def crafted(funds: Any) -> tuple[int, int]:
    """A blocking finding (a large cash gift) and a warning (a person paid twice)."""
    gift = funds.give(200_000_000)
    person = {"display": "Lý Văn Khánh", "type": "individual", "national_id": "001203004567"}
    funds.allocate(1_000_000, program="NQ68", beneficiary=person)
    twice = funds.allocate(1_000_000, program="NQ68", beneficiary=person)
    return gift.index, twice.index


def test_findings_are_listed_one_per_line_with_a_count(runner: CliRunner, funds: Any) -> None:
    gift, twice = crafted(funds)

    lines = ok(runner.invoke(main, ["findings"])).splitlines()

    assert lines[0].startswith(f"blocking large_cash_gift:{gift}  cash gift {gift} of 200.000.000")
    assert lines[1].startswith(f"warning  duplicate_beneficiary:{twice}  allocation {twice}")
    assert lines[2] == f"2 finding(s), 2 unacknowledged, at tree size {twice + 1}"


def test_a_ledger_without_anomalies_has_no_findings(runner: CliRunner, funds: Any) -> None:
    with funds.db.session() as session:
        size = log.tree_size(session)
    printed = ok(runner.invoke(main, ["findings"]))
    assert printed == f"0 finding(s), 0 unacknowledged, at tree size {size}\n"


def test_acknowledging_prints_the_index_and_the_finding_shows_it(
    runner: CliRunner, funds: Any
) -> None:
    gift, twice = crafted(funds)

    printed = ok(
        runner.invoke(
            main,
            [
                "findings",
                "acknowledge",
                f"large_cash_gift:{gift}",
                "--reason",
                REASON,
                "--actor",
                "kttv",
            ],
        )
    )

    index = twice + 1
    assert printed == f"index {index}: acknowledgement of large_cash_gift:{gift}: {REASON}\n"
    with funds.db.session() as session:
        assert log.entry(session, index).actor == "cli:kttv"
    listed = json.loads(ok(runner.invoke(main, ["findings", "--json"])))
    assert listed["tree_size"] == index + 1
    acknowledged = listed["findings"][0]
    assert acknowledged["id"] == f"large_cash_gift:{gift}"
    assert (acknowledged["acknowledged_by"], acknowledged["acknowledged_reason"]) == (index, REASON)
    assert acknowledged["severity"] == "blocking"
    text = ok(runner.invoke(main, ["findings"]))
    assert f"acknowledged by entry {index}: {REASON}" in text
    assert "2 finding(s), 1 unacknowledged" in text


def test_the_list_filters_by_severity_and_acknowledgement(runner: CliRunner, funds: Any) -> None:
    gift, twice = crafted(funds)
    ok(
        runner.invoke(
            main, ["findings", "acknowledge", f"duplicate_beneficiary:{twice}", "--reason", REASON]
        )
    )

    def ids(*options: str) -> list[str]:
        listed = json.loads(ok(runner.invoke(main, ["findings", "--json", *options])))
        return [finding["id"] for finding in listed["findings"]]

    assert ids() == [f"large_cash_gift:{gift}", f"duplicate_beneficiary:{twice}"]
    assert ids("--severity", "warning") == [f"duplicate_beneficiary:{twice}"]
    assert ids("--unacknowledged") == [f"large_cash_gift:{gift}"]
    assert ids("--severity", "warning", "--unacknowledged") == []


def test_a_bad_acknowledgement_is_one_error_line(runner: CliRunner, funds: Any) -> None:
    gift, _twice = crafted(funds)
    error_line(
        runner.invoke(main, ["findings", "acknowledge", f"large_cash_gift:{gift}"]), "reason"
    )
    error_line(
        runner.invoke(main, ["findings", "acknowledge", "no_such_rule:3", "--reason", REASON]),
        "no_such_rule is not an anomaly rule",
    )
    error_line(
        runner.invoke(main, ["findings", "acknowledge", "large_cash_gift:999", "--reason", REASON]),
        "entry 999 is not in the log",
    )
    assert "0 unacknowledged" not in ok(runner.invoke(main, ["findings"]))


def test_a_bad_rules_file_is_one_error_line_naming_the_key(
    runner: CliRunner, funds: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[idle_money]\ndays = -1\n", encoding="utf-8")
    result = runner.invoke(main, ["findings"], env={"LEDGER_AUDIT_RULES": str(rules)})
    error_line(result, "idle_money.days", str(rules))


def test_the_rules_file_changes_what_is_found(
    runner: CliRunner, funds: Any, tmp_path: Path
) -> None:
    gift = funds.give(60_000_000).index
    rules = tmp_path / "rules.toml"
    rules.write_text("[large_cash_gift]\nthreshold = 50_000_000\n", encoding="utf-8")
    assert ok(runner.invoke(main, ["findings"])).startswith("0 finding(s)")
    listed = ok(runner.invoke(main, ["findings"], env={"LEDGER_AUDIT_RULES": str(rules)}))
    assert listed.startswith(f"blocking large_cash_gift:{gift}")
