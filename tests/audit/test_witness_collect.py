"""`ledger witness` end to end: a live witness cosigns, the public checkpoint carries it.

The witness runs as its operator would run it (its own key file from ``ledger witness
init``, its own state file, the ledger's verifier key), on a loopback port; the
ledger's operator configures it with ``ledger witness add`` and collects with
``ledger witness collect``. What the public sees is then checked with the same
verifiers an outsider would use.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from support.api import API
from support.cli import error_line, ok

from audit.cosignature import WitnessKey, WitnessSigner
from audit.witness import LogState, StateFile, Witness, known_logs
from audit.witness_server import create_witness_app, serving
from audit.witnesses import HttpAnswer, http_post
from ledger import log, merkle
from ledger.checkpoint import SignedNote, verify_checkpoint
from ledger.cli import main
from ledger.db import Database
from ledger.keys import SigningKey, VerifierKey

NAME = "witness.kiemtoan.example/w1"


@pytest.fixture
def witness_key(tmp_path: Path, runner: CliRunner) -> WitnessSigner:
    """A witness key made as its operator makes it; the command prints its verifier key."""
    path = tmp_path / "witness" / "witness.key"
    printed = ok(runner.invoke(main, ["witness", "init", "--name", NAME, "--key-file", str(path)]))
    signer = WitnessSigner.load(path)
    assert printed == f"{signer.verifier}\n"
    return signer


@contextmanager
def running_witness(
    key: WitnessSigner, state: Path, follows: VerifierKey | None = None, origin: str = ""
) -> Iterator[str]:
    logs = known_logs([f"{origin or follows.name}={follows}"]) if follows else {}
    with serving(create_witness_app(Witness(key, logs, StateFile(state)))) as url:
        yield url


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "witness" / "state.json"


@pytest.fixture
def witness_url(witness_key: WitnessSigner, signer: SigningKey, state: Path) -> Iterator[str]:
    with running_witness(witness_key, state, signer.verifier) as url:
        yield url


def add(runner: CliRunner, key: WitnessSigner, url: str, name: str = NAME) -> str:
    return ok(runner.invoke(main, ["witness", "add", name, str(key.verifier), url]))


def collect(runner: CliRunner) -> Any:
    return runner.invoke(main, ["witness", "collect"])


def public_checkpoint(client: FlaskClient) -> str:
    response = client.get(f"{API}/log/checkpoint")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_collect_end_to_end_puts_a_verifying_cosignature_on_the_public_checkpoint(
    runner: CliRunner,
    client: FlaskClient,
    ledger: Database,
    signer: SigningKey,
    witness_key: WitnessSigner,
    witness_url: str,
    append_notes: Callable[..., None],
    state: Path,
) -> None:
    append_notes(ledger, signer, 5)
    assert add(runner, witness_key, witness_url) == f"witness {NAME} added: {witness_url}\n"
    out = ok(collect(runner))
    assert out.startswith(f"{NAME}: cosigned tree size 6 at ")

    note = public_checkpoint(client)
    with ledger.session() as session:
        stored = log.latest_checkpoint(session).note
    assert note.startswith(stored)  # the log's own note, byte for byte, then the cosignature
    parsed = SignedNote.parse(note)
    assert [s.name for s in parsed.signatures] == [signer.name, NAME]
    assert verify_checkpoint(note, signer.verifier).size == 6
    [cosignature] = witness_key.verifier.cosignatures_in(parsed)
    assert StateFile(state).read()[signer.name].size == 6

    # The log grows; the next collect proves consistency from the size the witness holds.
    append_notes(ledger, signer, 4, batch=2)
    assert ok(collect(runner)).startswith(f"{NAME}: cosigned tree size 10 at ")
    later = SignedNote.parse(public_checkpoint(client))
    assert verify_checkpoint(later.render(), signer.verifier).size == 10
    assert len(witness_key.verifier.cosignatures_in(later)) == 1
    assert StateFile(state).read()[signer.name].size == 10

    witnesses = client.get(f"{API}/log/witnesses")
    assert witnesses.status_code == 200
    assert witnesses.headers["Cache-Control"] == "public, max-age=5"
    [listed] = witnesses.get_json()["witnesses"]
    assert listed["name"] == NAME
    assert listed["verifier_key"] == str(witness_key.verifier)
    assert listed["key_id"] == witness_key.verifier.key_id_hex
    assert listed["cosigned_size"] == 10
    assert listed["cosigned_at"].endswith("Z")
    assert "url" not in listed and witness_url not in witnesses.get_data(as_text=True)
    assert WitnessKey.parse(listed["verifier_key"]) == witness_key.verifier
    assert cosignature.timestamp > 0

    listing = ok(runner.invoke(main, ["witness", "list"]))
    assert f"{NAME} {witness_url} {witness_key.verifier} (cosigned size 10 at " in listing


def test_a_checkpoint_no_witness_cosigned_is_served_as_the_log_signed_it(
    runner: CliRunner,
    client: FlaskClient,
    ledger: Database,
    signer: SigningKey,
    witness_key: WitnessSigner,
    witness_url: str,
    append_notes: Callable[..., None],
) -> None:
    add(runner, witness_key, witness_url)
    ok(collect(runner))
    append_notes(ledger, signer, 1)  # a newer checkpoint, not yet cosigned
    with ledger.session() as session:
        assert public_checkpoint(client) == log.latest_checkpoint(session).note


def test_a_witness_ahead_of_the_ledger_records_is_caught_up_by_one_retry(
    runner: CliRunner,
    ledger: Database,
    signer: SigningKey,
    witness_key: WitnessSigner,
    witness_url: str,
    append_notes: Callable[..., None],
    state: Path,
) -> None:
    """Anyone may submit our public checkpoints: the witness's 409 names its size."""
    append_notes(ledger, signer, 3)
    with ledger.session() as session:
        early = log.latest_checkpoint(session)
    submitted = http_post(f"{witness_url}/add-checkpoint", f"old 0\n\n{early.note}".encode())
    assert submitted == HttpAnswer(200, "text/plain", submitted.body)
    append_notes(ledger, signer, 3)
    add(runner, witness_key, witness_url)
    assert ok(collect(runner)).startswith(f"{NAME}: cosigned tree size 7 at ")
    assert StateFile(state).read()[signer.name].size == 7


def seed(state: Path, origin: str, size: int, root: bytes) -> None:
    StateFile(state).save({origin: LogState(size, root, "seeded\n", 1)})


def test_a_witness_that_saw_another_history_refuses_and_collect_says_why(
    runner: CliRunner,
    client: FlaskClient,
    ledger: Database,
    signer: SigningKey,
    witness_key: WitnessSigner,
    witness_url: str,
    append_notes: Callable[..., None],
    state: Path,
) -> None:
    """A fork: the witness holds another root for size 3 of this log."""
    append_notes(ledger, signer, 6)
    seed(state, signer.name, 3, merkle.hash_leaf(b"another history"))
    add(runner, witness_key, witness_url)
    result = collect(runner)
    assert f"{NAME}: refused tree size 7" in result.stdout
    error_line(result, NAME, "not consistent with what it saw before (HTTP 422)")
    with ledger.session() as session:
        assert public_checkpoint(client) == log.latest_checkpoint(session).note


def test_a_witness_that_saw_a_larger_tree_signals_a_rollback(
    runner: CliRunner,
    ledger: Database,
    signer: SigningKey,
    witness_key: WitnessSigner,
    witness_url: str,
    append_notes: Callable[..., None],
    state: Path,
) -> None:
    append_notes(ledger, signer, 2)
    seed(state, signer.name, 9, bytes(32))
    add(runner, witness_key, witness_url)
    error_line(collect(runner), "it has cosigned size 9, beyond the log's latest checkpoint 3")


def test_a_witness_trusting_another_key_refuses_with_403(
    runner: CliRunner, ledger: Database, signer: SigningKey, witness_key: WitnessSigner, state: Path
) -> None:
    other = SigningKey.generate(signer.name).verifier
    with running_witness(witness_key, state, other) as url:
        add(runner, witness_key, url)
        error_line(collect(runner), NAME, "does not trust the log's signature (HTTP 403)")


def test_a_witness_following_other_logs_refuses_with_404(
    runner: CliRunner, ledger: Database, witness_key: WitnessSigner, state: Path
) -> None:
    stranger = SigningKey.generate("other.example/log").verifier
    with running_witness(witness_key, state, stranger) as url:
        add(runner, witness_key, url)
        error_line(collect(runner), "does not follow this log (HTTP 404)")


def test_an_unreachable_witness_is_named_and_the_others_still_cosign(
    runner: CliRunner, ledger: Database, witness_key: WitnessSigner, witness_url: str
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    absent = WitnessSigner.generate("absent.example/w")
    add(runner, absent, closed, name="absent.example/w")
    add(runner, witness_key, witness_url)
    result = collect(runner)
    assert f"{NAME}: cosigned tree size 1 at " in result.stdout
    error_line(result, "1 of 2 witness(es) refused", "absent.example/w", "no answer from")


def test_a_witness_answering_with_another_key_is_refused(
    runner: CliRunner, ledger: Database, signer: SigningKey, witness_key: WitnessSigner, state: Path
) -> None:
    impostor = WitnessSigner.generate(NAME)
    with running_witness(impostor, state, signer.verifier) as url:
        add(runner, witness_key, url)
        error_line(collect(runner), f"no cosignature by {witness_key.verifier}")


def test_collect_without_witnesses_says_how_to_add_one(runner: CliRunner, ledger: Database) -> None:
    error_line(collect(runner), "no witnesses are configured", "ledger witness add")


@pytest.mark.parametrize(
    ("args", "mention"),
    [
        (["other.example/w", "{vkey}", "http://127.0.0.1:1"], "the key is named"),
        ([NAME, "{vkey}", "ftp://witness.example"], "http(s)"),
        ([NAME, "{vkey}", "https://witness.example/?q=1"], "no query"),
        ([NAME, "{log_vkey}", "https://witness.example"], "not a witness key"),
    ],
)
def test_witness_add_refuses_wrong_names_keys_and_urls(
    runner: CliRunner,
    ledger: Database,
    signer: SigningKey,
    witness_key: WitnessSigner,
    args: list[str],
    mention: str,
) -> None:
    filled = [a.format(vkey=witness_key.verifier, log_vkey=signer.verifier) for a in args]
    error_line(runner.invoke(main, ["witness", "add", *filled]), mention)


def test_a_witness_url_may_change_but_never_its_key(
    runner: CliRunner, ledger: Database, witness_key: WitnessSigner
) -> None:
    add(runner, witness_key, "https://a.example/witness")
    moved = add(runner, witness_key, "https://b.example/witness")
    assert moved == f"witness {NAME} updated: https://b.example/witness\n"
    other = WitnessSigner.generate(NAME)
    result = runner.invoke(main, ["witness", "add", NAME, str(other.verifier), "https://b.example"])
    error_line(result, f"witness {NAME} is configured with another key")


def test_witness_init_never_overwrites_a_key(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "w.key"
    ok(runner.invoke(main, ["witness", "init", "--name", NAME, "--key-file", str(path)]))
    before = path.read_text()
    result = runner.invoke(main, ["witness", "init", "--name", NAME, "--key-file", str(path)])
    error_line(result, "refusing to overwrite")
    assert path.read_text() == before


def test_witness_serve_refuses_a_log_whose_key_names_another_origin(
    runner: CliRunner, tmp_path: Path, witness_key: WitnessSigner, signer: SigningKey
) -> None:
    key_file = tmp_path / "witness" / "witness.key"
    args = ["witness", "serve", "--key-file", str(key_file), "--state", str(tmp_path / "s")]
    result = runner.invoke(main, [*args, "--log", f"elsewhere.example={signer.verifier}"])
    error_line(result, "must match")


def test_the_receipt_carries_the_witnessed_checkpoint_and_a_consistency_proof(
    runner: CliRunner,
    client: FlaskClient,
    funds: Any,
    witness_key: WitnessSigner,
    witness_url: str,
    signer: SigningKey,
) -> None:
    receipt_id = funds.give(500_000).extra["receipt_id"]
    receipt = client.get(f"{API}/receipts/{receipt_id}").get_json()
    assert receipt["witnessed"] is None
    funds.give(700_000)
    funds.give(900_000)
    add(runner, witness_key, witness_url)
    ok(collect(runner))

    receipt = client.get(f"{API}/receipts/{receipt_id}").get_json()
    witnessed = receipt["witnessed"]
    assert witnessed["tree_size"] > receipt["tree_size"]
    first = verify_checkpoint(receipt["checkpoint"], signer.verifier)
    second = verify_checkpoint(witnessed["checkpoint"], signer.verifier)
    assert second.size == witnessed["tree_size"]
    proof = [bytes.fromhex(h) for h in witnessed["consistency_proof"]]
    merkle.verify_consistency(first.size, second.size, proof, first.root, second.root)
    [cosignature] = witness_key.verifier.cosignatures_in(SignedNote.parse(witnessed["checkpoint"]))
    assert witnessed["witnesses"] == [
        {
            "name": NAME,
            "key_id": witness_key.verifier.key_id_hex,
            "timestamp": cosignature.timestamp,
            "time": witnessed["witnesses"][0]["time"],
        }
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_ledger_witness_serve_is_a_witness_the_ledger_can_collect_from(
    runner: CliRunner,
    env: dict[str, str],
    ledger: Database,
    signer: SigningKey,
    tmp_path: Path,
    witness_key: WitnessSigner,
    state: Path,
) -> None:
    """The real command in its own process, as the witness's operator runs it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/w"
    key_file = tmp_path / "witness" / "witness.key"
    command = [sys.executable, "-c", "from ledger.cli import main; main()", "witness", "serve"]
    command += ["--key-file", str(key_file), "--state", str(state), "--port", str(port)]
    command += ["--prefix", "/w", "--log", f"{signer.name}={signer.verifier}"]
    with subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/", timeout=2) as response:  # noqa: S310
                        assert response.read().decode() == f"{witness_key.verifier}\n"
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert process.poll() is None, process.stderr.read() if process.stderr else ""
                    assert time.monotonic() < deadline, "the witness did not start"
                    time.sleep(0.1)
            add(runner, witness_key, url)
            assert ok(collect(runner)).startswith(f"{NAME}: cosigned tree size 1 at ")
        finally:
            process.terminate()
            stdout, _ = process.communicate(timeout=30)
    assert f"witness {witness_key.verifier}" in stdout.decode()
    assert StateFile(state).read()[signer.name].size == 1
