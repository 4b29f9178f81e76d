"""The receipt page shows, and checks in the browser, that independent witnesses saw the log.

A witness runs on a loopback port; the ledger collects its cosignature over a later
checkpoint than the receipt's. The page must verify that checkpoint's signature, the
consistency proof from the receipt's checkpoint to it, and each cosignature under the
keys the ledger publishes; forgeries are made on the wire, as in the receipt tests.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from audit import witnesses
from audit.cosignature import WitnessSigner
from audit.witness import StateFile, Witness, known_logs
from audit.witness_server import create_witness_app, serving
from ledger.db import Database
from ledger.keys import SigningKey
from ledger.merkle import MemoryTree, consistency_proof, hash_leaf

NAME = "witness.kiemtoan.example/w1"
CHECKS = ("leaf", "leaf-hash", "key", "signature", "checkpoint", "inclusion")
WITNESS_CHECKS = ("witness-checkpoint", "witness-consistency")


@pytest.fixture
def witness_key() -> WitnessSigner:
    return WitnessSigner.generate(NAME)


@pytest.fixture
def gift(funds: Any) -> str:
    receipt_id: str = funds.give(1_250_000).extra["receipt_id"]
    funds.give(2_000_000)
    funds.give(300_000)
    return receipt_id


@pytest.fixture
def witnessed(
    gift: str, ledger: Database, signer: SigningKey, witness_key: WitnessSigner, tmp_path: Path
) -> Iterator[str]:
    """The gift, once the witness cosigned a later checkpoint than its receipt's."""
    logs = known_logs([f"{signer.name}={signer.verifier}"])
    app = create_witness_app(Witness(witness_key, logs, StateFile(tmp_path / "state.json")))
    with serving(app) as url:
        with ledger.writing() as session:
            witnesses.add(session, NAME, str(witness_key.verifier), url)
        [answer] = witnesses.collect(ledger)
        assert answer.cosigned, answer
        yield gift


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(locale="vi-VN", viewport={"width": 1000, "height": 900})
    yield made
    made.close()


def forge(context: BrowserContext, path: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite a JSON answer on its way to the page."""

    def handle(route: Route) -> None:
        response = route.fetch()
        document = response.json()
        change(document)
        route.fulfill(response=response, json=document)

    context.route(re.compile(rf"{re.escape(path)}$"), handle)


class Opened:
    def __init__(self, context: BrowserContext, base: str, receipt_id: str) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(f"{base}/r/{receipt_id}")

    def verdict(self, element: str = "#witness-status") -> str:
        status = self.page.locator(element)
        expect(status).not_to_have_class(re.compile(r"\bpending\b"), timeout=15_000)
        return status.inner_text()

    def states(self, names: tuple[str, ...]) -> dict[str, str]:
        return {name: state(self.page, f'[data-check="{name}"]') for name in names}

    def witness_states(self) -> dict[str, str]:
        items = self.page.locator("#witness-list li")
        return {
            items.nth(i).get_attribute("data-witness") or "": state(self.page, None, items.nth(i))
            for i in range(items.count())
        }


def state(page: Page, selector: str | None, element: Any = None) -> str:
    located = element if element is not None else page.locator(selector or "")
    classes = (located.get_attribute("class") or "").split()
    return next(c for c in ("ok", "fail", "unsupported") if c in classes)


def test_the_page_shows_and_verifies_who_witnessed_the_log(
    context: BrowserContext, live_server: str, witnessed: str, artifacts: Path
) -> None:
    opened = Opened(context, live_server, witnessed)
    text = opened.verdict()
    opened.page.screenshot(path=artifacts / "receipt-witnessed.png", full_page=True)
    assert f"Được chứng kiến bởi {NAME}" in text
    assert f"Witnessed by {NAME}" in text
    assert "1 independent party saw the same ledger, and it contains this gift" in text
    assert opened.states(WITNESS_CHECKS) == dict.fromkeys(WITNESS_CHECKS, "ok")
    assert opened.witness_states() == {NAME: "ok"}
    assert "Đã xác minh" in opened.verdict("#verify-status")
    assert opened.states(CHECKS) == dict.fromkeys(CHECKS, "ok")
    assert opened.errors == []
    assert f"{live_server}/api/v1/log/witnesses" in opened.requests
    assert all(url.startswith(live_server) for url in opened.requests)


def flip_last_signature_byte(note: str) -> str:
    """The note with one bit of its last signature line's Ed25519 signature changed."""
    *lines, last = note.rstrip("\n").split("\n")
    prefix, _space, data = last.rpartition(" ")
    raw = bytearray(base64.b64decode(data))
    raw[-1] ^= 0x01
    return "\n".join([*lines, f"{prefix} {base64.b64encode(bytes(raw)).decode()}"]) + "\n"


def test_a_tampered_cosignature_shows_the_witnessing_failed(
    context: BrowserContext, live_server: str, witnessed: str, artifacts: Path
) -> None:
    def change(document: dict[str, Any]) -> None:
        evidence = document["witnessed"]
        assert evidence["checkpoint"].rstrip("\n").split("\n")[-1].startswith(f"\u2014 {NAME} ")
        evidence["checkpoint"] = flip_last_signature_byte(evidence["checkpoint"])

    forge(context, f"/api/v1/receipts/{witnessed}", change)
    opened = Opened(context, live_server, witnessed)
    text = opened.verdict()
    opened.page.screenshot(path=artifacts / "receipt-witness-tampered.png", full_page=True)
    assert "Không xác nhận được sự chứng kiến" in text
    assert "Invalid cosignature" in text
    assert "Witnessed by" not in text
    assert opened.witness_states() == {NAME: "fail"}
    assert opened.states(WITNESS_CHECKS) == dict.fromkeys(WITNESS_CHECKS, "ok")
    assert "Đã xác minh" in opened.verdict("#verify-status")  # the receipt itself is intact


def test_a_tampered_consistency_proof_fails_the_link(
    context: BrowserContext, live_server: str, witnessed: str
) -> None:
    def change(document: dict[str, Any]) -> None:
        proof = document["witnessed"]["consistency_proof"]
        assert proof, "the witnessed tree is larger than the receipt's"
        proof[-1] = ("0" if proof[-1][0] != "0" else "1") + proof[-1][1:]

    forge(context, f"/api/v1/receipts/{witnessed}", change)
    opened = Opened(context, live_server, witnessed)
    text = opened.verdict()
    assert "Không xác nhận được sự chứng kiến" in text
    assert "The consistency proof does not link this receipt's checkpoint" in text
    assert opened.states(WITNESS_CHECKS) == {
        "witness-checkpoint": "ok",
        "witness-consistency": "fail",
    }


def test_a_witnessed_checkpoint_without_the_ledger_signature_fails(
    context: BrowserContext, live_server: str, witnessed: str
) -> None:
    def change(document: dict[str, Any]) -> None:
        note = document["witnessed"]["checkpoint"]
        text, _blank, block = note.rpartition("\n\n")
        log_line, *cosignatures = block.rstrip("\n").split("\n")
        forged = flip_last_signature_byte(f"{text}\n\n{log_line}\n")
        document["witnessed"]["checkpoint"] = forged + "".join(f"{c}\n" for c in cosignatures)

    forge(context, f"/api/v1/receipts/{witnessed}", change)
    opened = Opened(context, live_server, witnessed)
    assert "Không xác nhận được sự chứng kiến" in opened.verdict()
    assert opened.states(WITNESS_CHECKS)["witness-checkpoint"] == "fail"


def test_only_witnesses_the_ledger_publishes_count(
    context: BrowserContext, live_server: str, witnessed: str
) -> None:
    """A cosignature by a key the ledger does not publish is ignored, as the spec says."""
    stranger = WitnessSigner.generate(NAME).verifier

    def change(document: dict[str, Any]) -> None:
        [entry] = document["witnesses"]
        entry["verifier_key"] = str(stranger)
        entry["key_id"] = stranger.key_id_hex

    forge(context, "/api/v1/log/witnesses", change)
    opened = Opened(context, live_server, witnessed)
    text = opened.verdict()
    assert "No cosignature by a published witness" in text
    assert opened.witness_states() == {}


def test_without_javascript_the_page_names_the_witnesses_unchecked(
    browser: Browser, live_server: str, witnessed: str, artifacts: Path
) -> None:
    plain = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 740})
    try:
        page = plain.new_page()
        page.goto(f"{live_server}/r/{witnessed}")
        page.screenshot(path=artifacts / "receipt-witnessed-no-javascript.png", full_page=True)
        status = page.locator("#witness-status")
        assert "pending" in (status.get_attribute("class") or "")
        text = status.inner_text()
        assert f"Được chứng kiến bởi {NAME}" in text
        assert "Chưa kiểm tra chữ ký" in text
        assert NAME in page.locator("#witness-list").inner_text()
    finally:
        plain.close()


def test_a_receipt_no_witness_saw_says_so_and_fetches_no_witness_keys(
    context: BrowserContext, live_server: str, gift: str
) -> None:
    opened = Opened(context, live_server, gift)
    assert "Đã xác minh" in opened.verdict("#verify-status")
    assert (
        "No independent witness has cosigned" in opened.page.locator("#no-witnesses").inner_text()
    )
    assert opened.page.locator("#witness-status").count() == 0
    assert f"{live_server}/api/v1/log/witnesses" not in opened.requests
    assert opened.errors == []


CONSISTENCY_IN_THE_BROWSER = """async (cases) => {
  const v = globalThis.receiptVerifier;
  const found = [];
  for (const c of cases) {
    const proof = c.proof.map((h) => v.fromHex(h, 32));
    found.push(await v.verifyConsistency(
      c.first, c.second, proof, v.fromHex(c.root1, 32), v.fromHex(c.root2, 32)));
  }
  return found;
}"""


def test_the_browser_checks_every_consistency_proof_as_the_ledger_writes_it(
    context: BrowserContext, live_server: str, gift: str
) -> None:
    """Every pair of sizes up to 33, and the same proofs misapplied or altered."""
    leaves = [hash_leaf(f"leaf {i}".encode()) for i in range(34)]
    trees = [MemoryTree(leaves[:size]) for size in range(len(leaves))]
    genuine, wrong = [], []
    for second in range(1, len(leaves)):
        for first in range(1, second + 1):
            proof = [h.hex() for h in consistency_proof(first, second, trees[second])]
            case = {
                "first": first,
                "second": second,
                "proof": proof,
                "root1": trees[first].root().hex(),
                "root2": trees[second].root().hex(),
            }
            genuine.append(case)
            if first > 1:
                wrong.append({**case, "root1": trees[first - 1].root().hex()})
            wrong.append(
                {**case, "root2": trees[second - 1].root().hex()}
                if second > 1
                else {**case, "root2": leaves[1].hex()}
            )
            wrong.append({**case, "proof": [*proof, leaves[0].hex()]})
            if proof:
                wrong.append({**case, "proof": proof[:-1]})
                altered = bytearray.fromhex(proof[0])
                altered[0] ^= 1
                wrong.append({**case, "proof": [altered.hex(), *proof[1:]]})
            if first < second:
                wrong.append({**case, "first": first + 1})
    page = Opened(context, live_server, gift).page
    assert all(page.evaluate(CONSISTENCY_IN_THE_BROWSER, genuine))
    found = page.evaluate(CONSISTENCY_IN_THE_BROWSER, wrong)
    assert len(found) == len(wrong) > 2000
    assert [case for case, ok in zip(wrong, found, strict=True) if ok] == []
