"""``ledger audit``: text for people, JSON for machines, exit 1 only on error findings."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support.cli import error_line, ok

from audit import load_all
from audit.rules import RuleConfig, RuleRunner
from ledger import log
from ledger.cli import main
from ledger.entries import Draft
from ledger.export import write_export
from ledger.keyring import load_signer
from ledger.keys import SigningKey


def overdraw(funds: Any) -> int:
    """An allocation from an empty fund, appended around the recorder."""
    body = {
        "fund": funds.fund,
        "amount": 1,
        "currency": "VND",
        "form": "cash",
        "beneficiary": {"display": "Ai đó", "type": "organization"},
        "purpose": "rút quỹ trống",
    }
    with funds.db.writing() as session:
        signer = load_signer(funds.settings.signing_key_file, session)
        return log.append(session, [Draft("allocation", body, "intruder")], signer).entries[0].index


def genesis_key(funds: Any) -> str:
    return str(SigningKey.load(funds.settings.signing_key_file, funds.settings.origin).verifier)


def test_a_clean_ledger_prints_only_the_summary_and_exits_0(funds: Any, runner: CliRunner) -> None:
    funds.give(1_000_000)
    out = ok(runner.invoke(main, ["audit", "--no-rules"]))
    (line,) = out.splitlines()
    assert line.startswith(f"audit of {funds.settings.origin} (database): 12 entries, ")
    assert "error: 0, blocking: 0, warning: 0, info: 0; acknowledged: 0" in line
    assert "anomaly rules not run" in line


def test_an_error_is_one_line_and_exit_1_naming_the_first_bad_index(
    funds: Any, runner: CliRunner
) -> None:
    index = overdraw(funds)
    result = runner.invoke(main, ["audit", "--no-rules"])
    message = error_line(result, f"the first at index {index}", "negative_balance")
    assert message.startswith("error: the audit found ")
    lines = result.stdout.splitlines()
    assert (
        f"error    {index:>7}  negative_balance: the allocation leaves fund LS-COVID's"
        in (lines[0])
    )
    assert lines[-1].startswith("audit of ")


def test_json_is_one_document_with_size_root_origin_counts_and_findings(
    funds: Any, runner: CliRunner
) -> None:
    index = overdraw(funds)
    result = runner.invoke(main, ["audit", "--json", "--no-rules"])
    error_line(result, f"index {index}")
    document = json.loads(result.stdout)
    with funds.db.session() as session:
        size = log.tree_size(session)
        root = log.root(session, size).hex()
    assert (document["size"], document["root"], document["origin"]) == (
        size,
        root,
        funds.settings.origin,
    )
    assert document["ok"] is False and document["first_error"] == index
    assert document["counts"]["error"] == len(document["findings"]) >= 1
    first = document["findings"][0]
    assert (first["id"], first["severity"], first["index"]) == (
        f"negative_balance:{index}",
        "error",
        index,
    )


def test_anomalies_are_shown_with_their_acknowledgement_and_do_not_fail(
    funds: Any, runner: CliRunner
) -> None:
    load_all()
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    funds.give(150_000_000, channel="cash")
    runner_of_rules = RuleRunner(RuleConfig.load(None), now=moment)
    with funds.db.session() as session:
        for entry in log.entries(session, 0, 1000):
            runner_of_rules.add(entry)
    reported = runner_of_rules.finish()
    assert reported, "a 150 million đồng cash gift long ago should trouble the rules"
    finding = reported[0]
    ack = funds.record(
        "acknowledgement", {"finding": finding.id, "reason": "Đã đối chiếu sổ quỹ tiền mặt"}
    )

    result = runner.invoke(main, ["audit", "--as-of-now", "2030-01-01T07:00:00+07:00"])
    out = ok(result)
    (line,) = [
        line
        for line in out.splitlines()
        if f" {finding.check}: " in line and line.split()[1] == str(finding.index)
    ]
    assert line.startswith(finding.severity)
    assert line.endswith(f"[acknowledged at entry {ack.index}: Đã đối chiếu sổ quỹ tiền mặt]")
    assert "acknowledged: 1" in out.splitlines()[-1]


def test_as_of_now_reads_a_time_without_offset_in_vietnam(funds: Any, runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["audit", "--json", "--no-rules", "--as-of-now", "2026-03-31T17:00"]
    )
    assert json.loads(ok(result))["as_of_now"] == "2026-03-31T10:00:00.000000Z"
    bad = runner.invoke(main, ["audit", "--as-of-now", "cuối tháng"])
    assert bad.exit_code == 2
    assert "is not an ISO 8601 time" in bad.stderr


# -- offline, on an export ----------------------------------------------------------------


def export(funds: Any, path: Path) -> Path:
    with funds.db.session() as session, path.open("w", encoding="utf-8") as out:
        write_export(session, out)
    return path


def offline(tmp_path: Path) -> CliRunner:
    """No database at all: the command must not need one."""
    missing = tmp_path / "nowhere"
    return CliRunner(
        env={"LEDGER_INSTANCE_DIR": str(missing), "LEDGER_DATABASE_URL": f"sqlite:///{missing}/x"}
    )


def test_an_export_is_audited_with_no_database(funds: Any, tmp_path: Path) -> None:
    funds.give(2_000_000)
    path = export(funds, tmp_path / "ledger.jsonl")
    out = ok(
        offline(tmp_path).invoke(
            main, ["audit", "--export", str(path), "--key", genesis_key(funds), "--no-rules"]
        )
    )
    assert "(export): 12 entries" in out
    assert not (tmp_path / "nowhere").exists()


def test_a_tampered_export_names_the_index(funds: Any, tmp_path: Path) -> None:
    funds.give(2_000_000)
    funds.give(3_000_000)
    path = export(funds, tmp_path / "ledger.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(lines) if '"index":12' in text)
    obj = json.loads(lines[line])
    leaf = base64.b64decode(obj["leaf"]).replace(b"3000000", b"3900000")
    lines[line] = json.dumps({**obj, "leaf": base64.b64encode(leaf).decode()})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = offline(tmp_path).invoke(
        main, ["audit", "--export", str(path), "--key", genesis_key(funds), "--json"]
    )
    error_line(result, "the first at index 12", "leaf hash")
    document = json.loads(result.stdout)
    assert document["first_error"] == 12 and document["complete"] is False


def test_export_without_a_key_is_refused(funds: Any, tmp_path: Path, runner: CliRunner) -> None:
    path = export(funds, tmp_path / "ledger.jsonl")
    error_line(runner.invoke(main, ["audit", "--export", str(path)]), "--export needs --key")


def test_a_database_whose_genesis_is_not_the_trusted_key_fails_at_index_0(
    funds: Any, runner: CliRunner
) -> None:
    stranger = SigningKey.generate(funds.settings.origin).verifier
    result = runner.invoke(main, ["audit", "--no-rules", "--key", str(stranger)])
    error_line(result, "the first at index 0", "genesis", "not the trusted key")
    assert ok(runner.invoke(main, ["audit", "--no-rules", "--key", genesis_key(funds)]))
