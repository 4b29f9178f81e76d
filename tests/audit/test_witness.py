"""The witness over real HTTP: it cosigns consistent growth and nothing else.

Each test runs the witness's WSGI app on a loopback port (werkzeug's server in a
thread) and speaks c2sp.org/tlog-witness to it with the standard library, as a log we
did not write would. Logs are in-memory RFC 6962 trees signed with test keys.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.cosignature import WitnessSigner
from audit.witness import LogState, StateFile, Witness, known_logs
from audit.witness_server import create_witness_app, serving
from ledger import merkle
from ledger.checkpoint import Checkpoint, SignedNote, sign_checkpoint
from ledger.keys import SigningKey

ORIGIN = "quy.mttq-langson.example/covid19"
NOW = 1_780_000_000
SIZE_TYPE = "text/x.tlog.size"


@dataclass
class Log:
    """A log in memory: its leaves, and notes and proofs at any size."""

    key: SigningKey
    leaves: list[bytes] = field(default_factory=list)

    def grow(self, count: int, label: str = "gift") -> Log:
        start = len(self.leaves)
        self.leaves += [merkle.hash_leaf(f"{label} {start + i}".encode()) for i in range(count)]
        return self

    def fork(self, at: int, count: int) -> Log:
        """Another history: the same first ``at`` leaves, then different ones."""
        return Log(self.key, self.leaves[:at]).grow(count, label="forged")

    def tree(self) -> merkle.MemoryTree:
        return merkle.MemoryTree(self.leaves)

    def root(self, size: int) -> bytes:
        return merkle.root(size, self.tree())

    def note(self, size: int) -> str:
        return sign_checkpoint(Checkpoint(self.key.name, size, self.root(size)), self.key)

    def proof(self, old: int, size: int) -> list[bytes]:
        return merkle.consistency_proof(old, size, self.tree())


def body(old: int, proof: Sequence[bytes], note: str) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


@dataclass(frozen=True)
class Answer:
    status: int
    media_type: str
    text: str


def post(url: str, data: bytes) -> Answer:
    request = urllib.request.Request(f"{url}/add-checkpoint", data=data, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return Answer(
                response.status, response.headers.get_content_type(), response.read().decode()
            )
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.headers.get_content_type(), error.read().decode())


def submit(url: str, log: Log, old: int, size: int) -> Answer:
    proof = log.proof(old, size) if 0 < old < size else []
    return post(url, body(old, proof, log.note(size)))


@pytest.fixture
def log() -> Log:
    return Log(SigningKey(ORIGIN, Ed25519PrivateKey.generate())).grow(12)


@pytest.fixture
def signer() -> WitnessSigner:
    return WitnessSigner.generate("witness.example.org/w1")


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "witness" / "state.json"


def make_witness(signer: WitnessSigner, log: Log, state: StateFile) -> Witness:
    logs = known_logs([f"{ORIGIN}={log.key.verifier}"])
    return Witness(signer, logs, state, clock=lambda: NOW)


@pytest.fixture
def witness_url(signer: WitnessSigner, log: Log, state_path: Path) -> Iterator[str]:
    app = create_witness_app(make_witness(signer, log, StateFile(state_path)))
    with serving(app) as url:
        yield url


def held(state_path: Path) -> LogState:
    return StateFile(state_path).read()[ORIGIN]


def verified(answer: Answer, signer: WitnessSigner, note: str) -> int:
    """The cosignature's timestamp, once it verifies over ``note``'s text."""
    assert answer.status == 200, answer
    assert answer.media_type == "text/plain"
    [cosignature] = signer.verifier.cosignatures_in(SignedNote.parse(note + answer.text))
    return cosignature.timestamp


def test_the_witness_cosigns_a_first_checkpoint_and_consistent_growth(
    witness_url: str, log: Log, signer: WitnessSigner, state_path: Path
) -> None:
    assert verified(submit(witness_url, log, 0, 3), signer, log.note(3)) == NOW
    assert held(state_path).size == 3
    for old, size in [(3, 4), (4, 8), (8, 11), (11, 12), (12, 12)]:
        verified(submit(witness_url, log, old, size), signer, log.note(size))
        state = held(state_path)
        assert (state.size, state.root) == (size, log.root(size))
    document = json.loads(state_path.read_text())
    assert document["logs"][ORIGIN]["size"] == 12
    assert document["logs"][ORIGIN]["root"] == log.root(12).hex()


def test_a_forked_checkpoint_is_refused_as_inconsistent(
    witness_url: str, log: Log, state_path: Path
) -> None:
    assert submit(witness_url, log, 0, 8).status == 200
    fork = log.fork(at=5, count=4)  # leaves 0-4 shared, then another history: size 9
    answer = submit(witness_url, fork, 8, 9)  # the fork's own (valid-looking) proof
    assert answer.status == 422
    assert "not consistent with the witness's tree of size 8" in answer.text
    assert held(state_path).size == 8
    assert held(state_path).root == log.root(8)


def test_another_root_at_the_size_the_witness_holds_is_a_409(witness_url: str, log: Log) -> None:
    assert submit(witness_url, log, 0, 8).status == 200
    answer = submit(witness_url, log.fork(at=5, count=3), 8, 8)
    assert (answer.status, answer.media_type, answer.text) == (409, SIZE_TYPE, "8\n")


@pytest.mark.parametrize("old", [0, 5])
def test_a_rollback_is_refused_with_the_witness_size(
    witness_url: str, log: Log, state_path: Path, old: int
) -> None:
    assert submit(witness_url, log, 0, 10).status == 200
    answer = submit(witness_url, log, old, 5 if old else 6)
    assert (answer.status, answer.media_type, answer.text) == (409, SIZE_TYPE, "10\n")
    assert held(state_path).size == 10


def test_an_old_size_beyond_the_checkpoint_is_malformed(witness_url: str, log: Log) -> None:
    assert submit(witness_url, log, 0, 10).status == 200
    answer = post(witness_url, body(10, [], log.note(6)))
    assert answer.status == 400
    assert "old size 10 is larger than the checkpoint's 6" in answer.text


def test_a_lagging_client_learns_the_size_and_retries(witness_url: str, log: Log) -> None:
    assert submit(witness_url, log, 0, 4).status == 200
    answer = submit(witness_url, log, 0, 9)
    assert (answer.status, answer.text) == (409, "4\n")
    assert submit(witness_url, log, int(answer.text), 9).status == 200


def test_an_unknown_log_is_not_found(witness_url: str) -> None:
    stranger = Log(SigningKey("other.example/log", Ed25519PrivateKey.generate())).grow(3)
    answer = submit(witness_url, stranger, 0, 3)
    assert answer.status == 404
    assert "does not follow the log 'other.example/log'" in answer.text


def test_a_checkpoint_signed_by_another_key_is_forbidden(
    witness_url: str, log: Log, state_path: Path
) -> None:
    impostor = Log(SigningKey(ORIGIN, Ed25519PrivateKey.generate()), log.leaves)
    answer = submit(witness_url, impostor, 0, 5)
    assert answer.status == 403
    assert "no signature by a key trusted" in answer.text
    assert not state_path.exists()


def test_a_bad_signature_by_the_trusted_key_is_forbidden(witness_url: str, log: Log) -> None:
    note = SignedNote.parse(log.note(5))
    [genuine] = note.signatures
    forged = bytearray(genuine.signature)
    forged[0] ^= 1
    tampered = SignedNote(note.text, (type(genuine)(genuine.name, genuine.key_id, bytes(forged)),))
    answer = post(witness_url, body(0, [], tampered.render()))
    assert answer.status == 403
    assert "does not verify" in answer.text


def test_a_tampered_proof_is_unprocessable(witness_url: str, log: Log, state_path: Path) -> None:
    assert submit(witness_url, log, 0, 5).status == 200
    proof = log.proof(5, 11)
    proof[1] = bytes([proof[1][0] ^ 1]) + proof[1][1:]
    for bad in (proof, log.proof(5, 11)[:-1], [*log.proof(5, 11), log.leaves[0]]):
        answer = post(witness_url, body(5, bad, log.note(11)))
        assert answer.status == 422, answer
    assert held(state_path).size == 5


@pytest.mark.parametrize(
    "data",
    [
        b"old 0\n",  # no blank line, no checkpoint
        b"old 01\n\n",
        b"new 0\n\n",
        b"old 0\nnot base64!\n\n",
        b"old 0\nAAAA\n\n",  # 3 bytes, not a hash
        b"old 3\n" + b"".join(base64.b64encode(bytes(32)) + b"\n" for _ in range(64)) + b"\n",
        b"\xff\xfe",
    ],
    ids=["no note", "leading zero", "no old", "bad base64", "short hash", "64 lines", "not utf-8"],
)
def test_malformed_requests_are_bad_requests(witness_url: str, log: Log, data: bytes) -> None:
    note = log.note(3).encode() if data.endswith(b"\n\n") else b""
    assert post(witness_url, data + note).status == 400


def test_a_proof_with_old_size_zero_is_malformed(witness_url: str, log: Log) -> None:
    answer = post(witness_url, body(0, log.proof(2, 3), log.note(3)))
    assert answer.status == 400


def test_the_state_survives_a_restart(signer: WitnessSigner, log: Log, state_path: Path) -> None:
    with serving(create_witness_app(make_witness(signer, log, StateFile(state_path)))) as url:
        assert submit(url, log, 0, 9).status == 200
    with serving(create_witness_app(make_witness(signer, log, StateFile(state_path)))) as url:
        assert submit(url, log, 0, 4).text == "9\n"
        assert submit(url, log, 9, 12).status == 200


def test_an_unreadable_state_is_never_taken_for_an_empty_one(
    witness_url: str, log: Log, state_path: Path
) -> None:
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text("{not json")
    answer = submit(witness_url, log, 0, 3)
    assert answer.status == 503
    assert "unreadable" in answer.text
    assert state_path.read_text() == "{not json"


class SlowState(StateFile):
    """Reads slowly, so that requests overlap in the read-check-write window."""

    def read(self) -> dict[str, LogState]:
        found = super().read()
        time.sleep(0.05)
        return found


def race(urls: Sequence[str], requests: Sequence[bytes]) -> list[Answer]:
    answers: list[Answer | None] = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def send(i: int) -> None:
        start.wait()
        answers[i] = post(urls[i % len(urls)], requests[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answer for answer in answers if answer is not None]


@pytest.mark.parametrize("processes", [1, 2], ids=["one witness", "two sharing a state file"])
def test_concurrent_requests_from_one_old_size_advance_it_once(
    signer: WitnessSigner, log: Log, state_path: Path, processes: int
) -> None:
    """Two apps with their own locks stand for two processes: only the flock joins them."""
    apps = [
        create_witness_app(make_witness(signer, log, SlowState(state_path)))
        for _ in range(processes)
    ]
    with serving(apps[0]) as first, serving(apps[-1]) as second:
        assert submit(first, log, 0, 4).status == 200
        sizes = [6, 12, 9, 7]
        requests = [body(4, log.proof(4, size), log.note(size)) for size in sizes]
        answers = race([first, second], requests)
    won = [size for size, answer in zip(sizes, answers, strict=True) if answer.status == 200]
    assert len(won) == 1, answers
    assert held(state_path).size == won[0]
    assert sorted(a.text for a in answers if a.status == 409) == [f"{won[0]}\n"] * 3


def test_the_witness_says_which_key_it_signs_with(witness_url: str, signer: WitnessSigner) -> None:
    with urllib.request.urlopen(f"{witness_url}/", timeout=10) as response:  # noqa: S310
        assert response.read().decode() == f"{signer.verifier}\n"
