"""The public log API (CONTRACT.md §4) checked the way an outside verifier checks it.

Everything a test trusts comes from the HTTP answers: the key from ``/keys``, roots
from signed checkpoints, leaves from ``/entries``. The only code shared with the
server is the RFC 6962 and C2SP arithmetic in ``ledger.merkle``, ``ledger.checkpoint``
and ``ledger.keys``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import combinations_with_replacement
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger import keyring, merkle
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.db import Database
from ledger.entries import ZERO_HASH_HEX
from ledger.errors import NoteError, ProofError
from ledger.keys import SigningKey, VerifierKey, b64decode_strict
from ledger.settings import Settings

LOG = "/api/v1/log"
HEX64 = re.compile(r"[0-9a-f]{64}")
ENTRY_MEMBERS = {"index", "leaf", "leaf_hash", "entry"}
# Batches appended after the genesis entry; each batch gets one checkpoint, so the
# checkpointed sizes are 1, 2, 4, 7, 8 and 13 (powers of two and not, on purpose).
BATCHES = (1, 2, 3, 1, 5)
SIZE = 1 + sum(BATCHES)
A_DAY = 86_400


def ok_json(client: FlaskClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    return response.get_json()


def max_age(response: TestResponse) -> int:
    found = re.search(r"max-age=(\d+)", response.headers.get("Cache-Control", ""))
    assert found, response.headers.get("Cache-Control")
    return int(found.group(1))


def assert_immutable(response: TestResponse) -> None:
    assert "immutable" in response.headers["Cache-Control"]
    assert max_age(response) >= 365 * A_DAY


def assert_short_lived(response: TestResponse) -> None:
    assert "immutable" not in response.headers["Cache-Control"]
    assert 0 < max_age(response) <= 300


def unhex(value: str) -> bytes:
    assert HEX64.fullmatch(value), value
    return bytes.fromhex(value)


def published_keys(client: FlaskClient) -> list[dict[str, Any]]:
    document = ok_json(client, f"{LOG}/keys")
    assert set(document) >= {"keys"}
    for key in document["keys"]:
        assert set(key) >= {"verifier_key", "key_id", "from_index", "to_index"}
        parsed = VerifierKey.parse(key["verifier_key"])
        assert key["key_id"] == parsed.key_id_hex
    keys: list[dict[str, Any]] = document["keys"]
    return keys


def current_key(client: FlaskClient) -> VerifierKey:
    (current,) = [key for key in published_keys(client) if key["to_index"] is None]
    return VerifierKey.parse(current["verifier_key"])


def fetch_checkpoint(client: FlaskClient, key: VerifierKey) -> Checkpoint:
    response = client.get(f"{LOG}/checkpoint")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return verify_checkpoint(response.get_data(as_text=True), key)


def walk_entries(client: FlaskClient, limit: int) -> list[dict[str, Any]]:
    """Follow ``next`` from the start; every page must hold at most ``limit`` entries."""
    seen: list[dict[str, Any]] = []
    start: int | None = 0
    while start is not None:
        page = ok_json(client, f"{LOG}/entries?start={start}&limit={limit}")
        assert set(page) >= {"entries", "next"}
        assert 0 < len(page["entries"]) <= limit
        assert page["entries"][0]["index"] == start
        seen.extend(page["entries"])
        start = page["next"]
        if start is not None:
            assert start == seen[-1]["index"] + 1
    return seen


def check_entry(item: dict[str, Any], previous_hash: str) -> None:
    """What a verifier checks of one entry: its bytes, hash, decoding and chain link."""
    assert set(item) >= ENTRY_MEMBERS
    leaf = b64decode_strict(item["leaf"])
    assert item["leaf_hash"] == merkle.hash_leaf(leaf).hex()
    assert item["entry"] == json.loads(leaf)
    assert item["entry"]["index"] == item["index"]
    assert item["entry"]["prev"] == previous_hash


@pytest.fixture(autouse=True)
def _close_app_connections(app: Flask) -> Iterator[None]:
    """Close the app's pooled connections before the test database goes away."""
    yield
    app.extensions["ledger.database"].dispose()


@dataclass(frozen=True)
class Observed:
    """What a monitor polling the log saw: the trusted key and each verified checkpoint."""

    key: VerifierKey
    roots: dict[int, bytes]


@pytest.fixture
def observed(
    client: FlaskClient,
    ledger: Database,
    signer: SigningKey,
    append_notes: Callable[..., None],
) -> Observed:
    key = current_key(client)
    roots = {}
    for batch in (0, *BATCHES):
        if batch:
            append_notes(ledger, signer, batch, batch=batch)
        checkpoint = fetch_checkpoint(client, key)
        roots[checkpoint.size] = checkpoint.root
    assert sorted(roots) == [1, 2, 4, 7, 8, SIZE]
    return Observed(key, roots)


def test_checkpoint_is_the_signed_note_of_the_whole_log(
    client: FlaskClient, observed: Observed, settings: Settings
) -> None:
    note = client.get(f"{LOG}/checkpoint").get_data(as_text=True)
    origin, size, root_b64, blank, signature, end = note.split("\n")
    assert (origin, size, blank, end) == (settings.origin, str(SIZE), "", "")
    assert signature.startswith(f"\u2014 {settings.origin} ")

    checkpoint = verify_checkpoint(note, observed.key)
    leaf_hashes = [unhex(item["leaf_hash"]) for item in walk_entries(client, 1000)]
    assert b64decode_strict(root_b64) == checkpoint.root == merkle.reference_root(leaf_hashes)


def test_checkpoint_is_refused_under_any_other_key(
    client: FlaskClient, observed: Observed, settings: Settings
) -> None:
    stranger = SigningKey.generate(settings.origin).verifier
    with pytest.raises(NoteError):
        fetch_checkpoint(client, stranger)


def test_keys_publish_the_genesis_key(client: FlaskClient, observed: Observed) -> None:
    (only,) = published_keys(client)
    assert (only["from_index"], only["to_index"]) == (0, None)
    genesis = ok_json(client, f"{LOG}/entries/0")["entry"]
    assert genesis["kind"] == "genesis"
    assert only["verifier_key"] == genesis["body"]["verifier_key"] == str(observed.key)


@pytest.mark.parametrize("limit", [1, 4, SIZE - 1, SIZE, 1000])
def test_walking_the_pages_yields_every_entry_once_in_a_chain(
    client: FlaskClient, observed: Observed, limit: int
) -> None:
    entries = walk_entries(client, limit)
    assert [item["index"] for item in entries] == list(range(SIZE))
    previous = ZERO_HASH_HEX
    for item in entries:
        check_entry(item, previous)
        previous = item["leaf_hash"]


def test_each_entry_alone_equals_its_place_in_the_pages(
    client: FlaskClient, observed: Observed
) -> None:
    for item in walk_entries(client, 5):
        assert ok_json(client, f"{LOG}/entries/{item['index']}") == item


def test_page_edges(client: FlaskClient, observed: Observed) -> None:
    default = ok_json(client, f"{LOG}/entries")
    assert len(default["entries"]) == SIZE and default["next"] is None

    last = ok_json(client, f"{LOG}/entries?start={SIZE - 1}&limit=5")
    assert [item["index"] for item in last["entries"]] == [SIZE - 1]
    assert last["next"] is None

    exact = ok_json(client, f"{LOG}/entries?start={SIZE - 3}&limit=3")
    assert len(exact["entries"]) == 3 and exact["next"] is None

    at_end = ok_json(client, f"{LOG}/entries?start={SIZE}")
    assert at_end == {"entries": [], "next": None}


def test_every_inclusion_proof_verifies_against_signed_roots(
    client: FlaskClient, observed: Observed
) -> None:
    leaf_hashes = [item["leaf_hash"] for item in walk_entries(client, 1000)]
    checked = 0
    for size, root in observed.roots.items():
        for index in range(size):
            proof = ok_json(client, f"{LOG}/proofs/inclusion?index={index}&tree_size={size}")
            assert set(proof) >= {"index", "tree_size", "leaf_hash", "hashes"}
            assert (proof["index"], proof["tree_size"]) == (index, size)
            assert proof["leaf_hash"] == leaf_hashes[index]
            hashes = [unhex(h) for h in proof["hashes"]]
            merkle.verify_inclusion(unhex(proof["leaf_hash"]), index, size, hashes, root)
            checked += 1
    assert checked == sum(observed.roots)


def test_inclusion_proof_without_size_uses_the_latest_checkpoint(
    client: FlaskClient, observed: Observed
) -> None:
    for index in range(SIZE):
        proof = ok_json(client, f"{LOG}/proofs/inclusion?index={index}")
        assert proof["tree_size"] == SIZE
        hashes = [unhex(h) for h in proof["hashes"]]
        merkle.verify_inclusion(
            unhex(proof["leaf_hash"]), index, SIZE, hashes, observed.roots[SIZE]
        )


def test_a_proof_for_another_leaf_does_not_verify(client: FlaskClient, observed: Observed) -> None:
    """The verifier's checks above are not vacuous: a mismatched proof is refused."""
    proof = ok_json(client, f"{LOG}/proofs/inclusion?index=3&tree_size={SIZE}")
    other = ok_json(client, f"{LOG}/entries/4")["leaf_hash"]
    hashes = [unhex(h) for h in proof["hashes"]]
    with pytest.raises(ProofError):
        merkle.verify_inclusion(unhex(other), 3, SIZE, hashes, observed.roots[SIZE])


def test_consistency_between_every_pair_of_checkpoints(
    client: FlaskClient, observed: Observed
) -> None:
    for first, second in combinations_with_replacement(sorted(observed.roots), 2):
        proof = ok_json(client, f"{LOG}/proofs/consistency?first={first}&second={second}")
        assert set(proof) >= {"first", "second", "hashes"}
        assert (proof["first"], proof["second"]) == (first, second)
        hashes = [unhex(h) for h in proof["hashes"]]
        merkle.verify_consistency(
            first, second, hashes, observed.roots[first], observed.roots[second]
        )


def test_consistency_without_second_reaches_the_latest_checkpoint(
    client: FlaskClient, observed: Observed
) -> None:
    proof = ok_json(client, f"{LOG}/proofs/consistency?first=7")
    assert (proof["first"], proof["second"]) == (7, SIZE)
    hashes = [unhex(h) for h in proof["hashes"]]
    merkle.verify_consistency(7, SIZE, hashes, observed.roots[7], observed.roots[SIZE])


IMMUTABLE_URLS = [
    f"{LOG}/entries/0",
    f"{LOG}/entries/{SIZE - 1}",
    f"{LOG}/entries?start=0&limit=5",
    f"{LOG}/entries?start=5&limit={SIZE - 6}",
    f"{LOG}/proofs/inclusion?index=2&tree_size=7",
    f"{LOG}/proofs/consistency?first=4&second={SIZE}",
]
LATEST_URLS = [
    f"{LOG}/checkpoint",
    f"{LOG}/keys",
    f"{LOG}/entries",
    f"{LOG}/entries?start={SIZE - 3}&limit=5",
    f"{LOG}/entries?start={SIZE}",
    f"{LOG}/proofs/inclusion?index=2",
    f"{LOG}/proofs/consistency?first=4",
]


def test_answers_about_a_fixed_size_are_immutable(client: FlaskClient, observed: Observed) -> None:
    for url in IMMUTABLE_URLS:
        response = client.get(url)
        assert "immutable" in response.headers["Cache-Control"], url
        assert max_age(response) >= 365 * A_DAY, url


def test_answers_that_follow_the_log_are_short_lived(
    client: FlaskClient, observed: Observed
) -> None:
    for url in LATEST_URLS:
        response = client.get(url)
        assert "immutable" not in response.headers["Cache-Control"], url
        assert 0 < max_age(response) <= 300, url


def test_a_full_page_at_the_end_is_not_cached_for_ever(
    client: FlaskClient,
    observed: Observed,
    ledger: Database,
    signer: SigningKey,
    append_notes: Callable[..., None],
) -> None:
    """Its ``next`` is null now and a number once the log grows."""
    url = f"{LOG}/entries?start={SIZE - 4}&limit=4"
    before = client.get(url)
    assert before.get_json()["next"] is None
    assert_short_lived(before)

    append_notes(ledger, signer, 1)
    after = client.get(url)
    assert after.get_json()["next"] == SIZE
    assert_immutable(after)
    assert after.headers["ETag"] != before.headers["ETag"]


def test_every_answer_has_an_etag_that_revalidates(client: FlaskClient, observed: Observed) -> None:
    for url in IMMUTABLE_URLS + LATEST_URLS:
        first = client.get(url)
        etag = first.headers.get("ETag")
        assert first.status_code == 200 and etag, url
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304, url
        assert again.get_data() == b"", url
        assert again.headers["ETag"] == etag, url
        changed = client.get(url, headers={"If-None-Match": '"something-else"'})
        assert changed.status_code == 200, url
        assert changed.get_data() == first.get_data(), url


def test_key_rotation_is_published_and_followed(
    client: FlaskClient,
    observed: Observed,
    ledger: Database,
    settings: Settings,
    append_notes: Callable[..., None],
) -> None:
    old_key = observed.key
    keys_before = client.get(f"{LOG}/keys")
    rotation = keyring.rotate_key(ledger, settings.signing_key_file, "tester")
    assert rotation.index == SIZE

    old, new = published_keys(client)
    assert old == {
        "verifier_key": str(old_key),
        "key_id": old_key.key_id_hex,
        "from_index": 0,
        "to_index": SIZE,
    }
    assert (new["from_index"], new["to_index"]) == (SIZE + 1, None)
    assert new["verifier_key"] == str(rotation.new_key) != str(old_key)
    stale = client.get(f"{LOG}/keys", headers={"If-None-Match": keys_before.headers["ETag"]})
    assert stale.status_code == 200

    # The rotation entry itself names both keys, and its checkpoint is the old key's.
    body = ok_json(client, f"{LOG}/entries/{SIZE}")["entry"]["body"]
    assert (body["old_key"], body["new_key"]) == (old["verifier_key"], new["verifier_key"])
    assert fetch_checkpoint(client, old_key).size == SIZE + 1

    new_signer = SigningKey.load(settings.signing_key_file, settings.origin)
    append_notes(ledger, new_signer, 2)
    new_key = VerifierKey.parse(new["verifier_key"])
    assert current_key(client) == new_key
    latest = fetch_checkpoint(client, new_key)
    assert latest.size == SIZE + 3
    with pytest.raises(NoteError):
        fetch_checkpoint(client, old_key)

    # A verifier holding the old root still gets a proof that the log only grew.
    proof = ok_json(client, f"{LOG}/proofs/consistency?first={SIZE}&second={latest.size}")
    hashes = [unhex(h) for h in proof["hashes"]]
    merkle.verify_consistency(SIZE, latest.size, hashes, observed.roots[SIZE], latest.root)
