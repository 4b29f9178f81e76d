"""The log served as tlog-tiles: proofs from tiles equal the API's, and tiles never change."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from ledger import merkle, tiles
from ledger.db import Database
from ledger.keys import SigningKey

API = "/api/v1/log"


def _fetch(client: FlaskClient) -> Callable[[str], bytes]:
    def fetch(path: str) -> bytes:
        response = client.get(f"/tile/{path}")
        assert response.status_code == 200, (path, response.get_json())
        return response.data

    return fetch


@pytest.fixture
def grown(ledger: Database, signer: SigningKey, append_notes: Any) -> int:
    append_notes(ledger, signer, 299, batch=50)  # with genesis: 300 entries, one level-1 node
    return 300


def test_proofs_rebuilt_from_tiles_equal_the_apis(client: FlaskClient, grown: int) -> None:
    nodes = tiles.TileNodes(grown, _fetch(client))
    for index in (0, 1, 255, 256, 299):
        api = client.get(f"{API}/proofs/inclusion?index={index}&tree_size={grown}").get_json()
        assert [h.hex() for h in merkle.inclusion_proof(index, grown, nodes)] == api["hashes"]
    for first in (1, 7, 256, 257, 299):
        api = client.get(f"{API}/proofs/consistency?first={first}&second={grown}").get_json()
        ours = merkle.consistency_proof(first, grown, nodes)
        assert [h.hex() for h in ours] == api["hashes"]
    checkpoint = client.get("/checkpoint").get_data(as_text=True)
    assert base64.b64encode(merkle.root(grown, nodes)).decode() == checkpoint.split("\n")[2]


def test_entry_bundles_hold_the_leaves_in_order(client: FlaskClient, grown: int) -> None:
    bundle = client.get("/tile/entries/001.p/44")
    assert bundle.status_code == 200
    assert bundle.mimetype == "application/octet-stream"
    leaves = tiles.unbundle(bundle.data)
    assert len(leaves) == 44
    entries = client.get(f"{API}/entries?start=256&limit=44").get_json()["entries"]
    assert [base64.b64encode(leaf).decode() for leaf in leaves] == [e["leaf"] for e in entries]
    full = tiles.unbundle(client.get("/tile/entries/000").data)
    assert len(full) == 256
    assert b'"kind":"genesis"' in full[0]


def test_tiles_are_immutable_and_the_checkpoint_is_not(client: FlaskClient, grown: int) -> None:
    tile = client.get("/tile/0/000")
    assert tile.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert tile.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get("/tile/0/000", headers={"If-None-Match": tile.headers["ETag"]})
    assert again.status_code == 304
    checkpoint = client.get("/checkpoint")
    assert checkpoint.headers["Cache-Control"] == "public, max-age=5"
    assert checkpoint.get_data(as_text=True) == client.get(f"{API}/checkpoint").get_data(
        as_text=True
    )


def test_a_tile_beyond_the_tree_is_404_and_a_bad_path_400(client: FlaskClient, grown: int) -> None:
    missing = client.get("/tile/0/001")  # 44 of 256 leaves so far: only .p/44 or less exists
    assert missing.status_code == 404
    assert "has 44 there" in missing.get_json()["error"]["message"]
    assert missing.headers["Cache-Control"] == "no-store"
    assert client.get("/tile/0/001.p/45").status_code == 404
    assert client.get("/tile/0/001.p/43").status_code == 200
    bad = client.get("/tile/0/1")
    assert bad.status_code == 400
    assert "canonical" in bad.get_json()["error"]["message"]


def test_a_level_one_tile_holds_the_root_of_each_256_entries(
    client: FlaskClient, grown: int
) -> None:
    entries = client.get(f"{API}/entries?start=0&limit=256").get_json()["entries"]
    first_256 = merkle.reference_root([bytes.fromhex(e["leaf_hash"]) for e in entries])
    assert client.get("/tile/1/000.p/1").data == first_256
    assert client.get("/tile/1/000.p/2").status_code == 404
