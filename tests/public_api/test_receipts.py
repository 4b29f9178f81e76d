"""Receipts: everything needed to verify a gift without trusting the server.

Each test checks the receipt the way an outside verifier would: from the bytes it
was given and the published key, with the project's own primitives only where they
are the RFC's (leaf hash, audit path).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import zxingcpp
from flask.testing import FlaskClient
from PIL import Image
from support.api import API, auth

from ledger import merkle, receipt_ids, tlog_proof
from ledger.checkpoint import verify_checkpoint
from ledger.entries import decode_leaf
from ledger.keyring import rotate_key
from ledger.keys import VerifierKey
from ledger.settings import Settings


def _give(client: FlaskClient, token: str, amount: int = 1_250_000) -> dict[str, Any]:
    body = {
        "fund": "LS-COVID",
        "amount": amount,
        "currency": "VND",
        "channel": "bank",
        "reference": f"FT{amount}",
        "donor": {
            "display": "Nguyễn Văn An",
            "type": "individual",
            "contact": "0912 345 678",
        },
    }
    answer = client.post(f"{API}/contributions", json=body, headers=auth(token))
    assert answer.status_code == 201, answer.get_json()
    document: dict[str, Any] = answer.get_json()
    return document


def _published_key(client: FlaskClient) -> VerifierKey:
    keys = client.get(f"{API}/log/keys").get_json()["keys"]
    return VerifierKey.parse(keys[0]["verifier_key"])


def test_a_receipt_verifies_from_its_own_bytes(
    client: FlaskClient, funds: Any, admin: str, settings: Settings
) -> None:
    written = _give(client, admin)
    _give(client, admin, 300_000)  # the log grows after the gift

    answer = client.get(f"{API}/receipts/{written['receipt_id']}")
    assert answer.status_code == 200
    receipt = answer.get_json()

    leaf = base64.b64decode(receipt["leaf"])
    assert merkle.hash_leaf(leaf).hex() == receipt["leaf_hash"] == written["leaf_hash"]
    assert receipt["index"] == written["index"] == decode_leaf(leaf).index
    assert receipt["entry"] == decode_leaf(leaf).as_object()
    assert receipt["entry"]["body"]["amount"] == 1_250_000
    assert receipt["entry"]["body"]["receipt_id"] == receipt["receipt_id"]
    assert receipt["receipt_url"] == f"{settings.base_url}/r/{written['receipt_id']}"

    key = _published_key(client)
    assert receipt["verifier_key"] == str(key)
    assert receipt["key_id"] == key.key_id_hex
    checkpoint = verify_checkpoint(receipt["checkpoint"], key)
    assert checkpoint.size == receipt["tree_size"] > receipt["index"]
    merkle.verify_inclusion(
        bytes.fromhex(receipt["leaf_hash"]),
        receipt["index"],
        checkpoint.size,
        [bytes.fromhex(h) for h in receipt["inclusion_proof"]],
        checkpoint.root,
    )
    # The first checkpoint that covered the gift: later gifts do not change the receipt.
    assert checkpoint.size == written["index"] + 1
    assert receipt["reversal_index"] is None
    assert "0912" not in answer.get_data(as_text=True)


def test_a_reversed_gift_says_so(client: FlaskClient, funds: Any, admin: str) -> None:
    written = _give(client, admin)
    reversal = client.post(
        f"{API}/reversals",
        json={"target": written["index"], "reason": "Ghi trùng"},
        headers=auth(admin),
    )
    assert reversal.status_code == 201
    receipt = client.get(f"{API}/receipts/{written['receipt_id']}").get_json()
    assert receipt["reversal_index"] == reversal.get_json()["index"]


def test_a_receipt_id_as_a_donor_types_it_redirects_to_the_canonical_url(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    receipt_id = _give(client, admin)["receipt_id"]
    typed = receipt_ids.grouped(receipt_id).lower().replace("0", "o").replace("1", "l")

    for suffix in ("", "/qr.png", ".tlog-proof"):
        answer = client.get(f"{API}/receipts/{typed}{suffix}")
        assert answer.status_code == 301
        assert answer.headers["Location"].endswith(f"{API}/receipts/{receipt_id}{suffix}")
        assert "immutable" in answer.headers["Cache-Control"]  # the spelling never moves


def test_unknown_and_malformed_receipt_ids_are_clear_errors(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    _give(client, admin)
    missing = client.get(f"{API}/receipts/{'Z' * 16}")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    assert "Z" * 16 in missing.get_json()["error"]["message"]

    for bad in ("short", "U" * 16, "%3Cscript%3E", "A" * 200):
        answer = client.get(f"{API}/receipts/{bad}")
        assert answer.status_code == 400, bad
        assert "16 letters and digits" in answer.get_json()["error"]["message"]
        assert client.get(f"{API}/receipts/{bad}.tlog-proof").status_code == 400


def test_a_pledge_id_is_not_a_receipt(client: FlaskClient, funds: Any) -> None:
    pledge = funds.record(
        "pledge",
        {
            "fund": funds.fund,
            "amount": 5_000_000,
            "donor": {"display": "Công ty CP Đông Bắc", "type": "organization"},
        },
    )
    answer = client.get(f"{API}/receipts/{pledge.extra['pledge_id'][1:]}")
    assert answer.status_code == 404


def test_the_qr_code_decodes_to_the_receipt_url(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    written = _give(client, admin)
    answer = client.get(f"{API}/receipts/{written['receipt_id']}/qr.png")
    assert answer.status_code == 200
    assert answer.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(answer.data)))
    assert [code.text for code in decoded] == [written["receipt_url"]]

    svg = client.get(f"{API}/receipts/{written['receipt_id']}/qr.svg")
    assert svg.status_code == 200
    assert svg.mimetype == "image/svg+xml"


def test_the_tlog_proof_file_verifies_offline(client: FlaskClient, funds: Any, admin: str) -> None:
    written = _give(client, admin)
    answer = client.get(f"{API}/receipts/{written['receipt_id']}.tlog-proof")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].endswith(
        f'filename="{written["receipt_id"]}.tlog-proof"'
    )
    assert "immutable" in answer.headers["Cache-Control"]
    text = answer.get_data(as_text=True)
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1].startswith("extra ")
    assert lines[2] == f"index {written['index']}"

    proven = tlog_proof.verify(text, [_published_key(client)])
    assert proven.entry.leaf_hash.hex() == written["leaf_hash"]
    assert proven.entry.body["receipt_id"] == written["receipt_id"]


def test_a_receipt_signed_before_a_key_rotation_names_the_old_key(
    client: FlaskClient, funds: Any, admin: str, settings: Settings
) -> None:
    before = _give(client, admin)
    old_key = _published_key(client)
    rotate_key(funds.db, settings.signing_key_file, "admin")
    after = _give(client, admin, 500_000)

    old = client.get(f"{API}/receipts/{before['receipt_id']}").get_json()
    new = client.get(f"{API}/receipts/{after['receipt_id']}").get_json()
    assert old["verifier_key"] == str(old_key)
    assert new["verifier_key"] != str(old_key)
    new_key = VerifierKey.parse(new["verifier_key"])
    for receipt, key in ((old, old_key), (new, new_key)):
        proof = client.get(f"{API}/receipts/{receipt['receipt_id']}.tlog-proof")
        assert tlog_proof.verify(proof.data, [old_key, new_key]).key == key
