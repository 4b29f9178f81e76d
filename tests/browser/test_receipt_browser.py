"""The receipt page verifies a genuine receipt in the browser and names what a forgery broke.

Forgeries are made on the wire: Playwright rewrites the receipt JSON the page fetches,
as a compromised mirror or a meddling network would, while the page itself is genuine.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from ledger.keys import SigningKey
from ledger.merkle import MemoryTree, hash_leaf, inclusion_proof
from ledger.receipt_ids import grouped

AMOUNT = 1_250_000
VERIFIED = "Đã xác minh"
FAILED = "Không xác minh được"
CHECKS = ("leaf", "leaf-hash", "key", "signature", "checkpoint", "inclusion")


@pytest.fixture
def gift(funds: Any) -> str:
    """A gift partly spent, so that the page has a use to show; returns its receipt ID."""
    receipt_id: str = funds.give(AMOUNT).extra["receipt_id"]
    funds.allocate(400_000, decision_ref="12/QĐ-MTTQ")
    funds.give(2_000_000, donor={"display": "Nguyễn Văn An", "type": "individual"})
    return receipt_id


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(locale="vi-VN", viewport={"width": 1000, "height": 900})
    yield made
    made.close()


class Watched:
    """A page with every console error, page error and request it made recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))


def open_receipt(context: BrowserContext, base: str, receipt_id: str) -> Watched:
    watched = Watched(context.new_page())
    watched.page.goto(f"{base}/r/{receipt_id}")
    return watched


def verdict(page: Page) -> str:
    status = page.locator("#verify-status")
    expect(status).not_to_have_class(re.compile(r"\bpending\b"), timeout=15_000)
    return status.inner_text()


def states(page: Page) -> dict[str, str]:
    found = {}
    for name in CHECKS:
        classes = page.locator(f'[data-check="{name}"]').get_attribute("class") or ""
        found[name] = next(c for c in ("ok", "fail", "unsupported") if c in classes.split())
    return found


def forge(
    context: BrowserContext, receipt_id: str, change: Callable[[dict[str, Any]], None]
) -> None:
    """Rewrite the receipt JSON on its way to the page."""

    def handle(route: Route) -> None:
        response = route.fetch()
        document = response.json()
        change(document)
        route.fulfill(response=response, json=document)

    context.route(re.compile(rf"/api/v1/receipts/{receipt_id}$"), handle)


def test_a_genuine_receipt_is_verified_in_the_browser(
    context: BrowserContext, live_server: str, gift: str, artifacts: Path
) -> None:
    watched = open_receipt(context, live_server, gift)
    page = watched.page
    text = verdict(page)
    page.screenshot(path=artifacts / "receipt-verified.png", full_page=True)
    assert VERIFIED in text
    assert "Verified" in text
    assert states(page) == dict.fromkeys(CHECKS, "ok")
    key_id = page.locator("#key-id").inner_text()
    assert key_id in text  # the verdict names the key, to compare with the printed one
    assert watched.errors == []
    assert all(url.startswith(live_server) or url.startswith("data:") for url in watched.requests)
    assert f"{live_server}/api/v1/receipts/{gift}" in watched.requests
    assert f"{live_server}/api/v1/log/keys" in watched.requests


def test_a_receipt_id_typed_by_hand_lands_on_the_verified_page(
    context: BrowserContext, live_server: str, gift: str
) -> None:
    typed = grouped(gift).lower()
    watched = open_receipt(context, live_server, typed)
    assert watched.page.url == f"{live_server}/r/{gift}"
    assert VERIFIED in verdict(watched.page)


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("amount", b'"amount":1250000', b'"amount":9250000'),
        ("actor", b'"actor":"tester"', b'"actor":"tampered"'),
    ],
)
def test_a_tampered_leaf_fails_the_leaf_hash(
    context: BrowserContext,
    live_server: str,
    gift: str,
    artifacts: Path,
    name: str,
    old: bytes,
    new: bytes,
) -> None:
    def change(document: dict[str, Any]) -> None:
        leaf = base64.b64decode(document["leaf"])
        assert old in leaf
        document["leaf"] = base64.b64encode(leaf.replace(old, new)).decode("ascii")

    forge(context, gift, change)
    watched = open_receipt(context, live_server, gift)
    page = watched.page
    text = verdict(page)
    page.screenshot(path=artifacts / f"receipt-tampered-leaf-{name}.png", full_page=True)
    assert FAILED in text
    assert VERIFIED not in text
    found = states(page)
    assert found["leaf-hash"] == "fail"
    assert found["inclusion"] == "fail"  # the proof is checked from the bytes' own hash
    assert found["signature"] == "ok"
    assert found["leaf"] == ("fail" if name == "amount" else "ok")
    failure = page.locator('[data-check="leaf-hash"]').inner_text()
    assert "Mã băm của mục không khớp" in failure
    assert "Leaf hash mismatch" in failure


def test_a_tampered_inclusion_proof_fails_the_proof(
    context: BrowserContext, live_server: str, gift: str, artifacts: Path
) -> None:
    def change(document: dict[str, Any]) -> None:
        proof = document["inclusion_proof"]
        assert proof, "the gift's checkpoint covers more than one entry"
        first = bytearray.fromhex(proof[0])
        first[0] ^= 0x01
        proof[0] = first.hex()

    forge(context, gift, change)
    page = open_receipt(context, live_server, gift).page
    text = verdict(page)
    page.screenshot(path=artifacts / "receipt-tampered-proof.png", full_page=True)
    assert FAILED in text
    assert states(page) == {**dict.fromkeys(CHECKS, "ok"), "inclusion": "fail"}
    failure = page.locator('[data-check="inclusion"]').inner_text()
    assert "Bằng chứng bao gồm không khớp với gốc của điểm kiểm tra" in failure
    assert "The inclusion proof does not match the checkpoint's root" in failure


def test_a_dropped_proof_hash_fails_the_proof(
    context: BrowserContext, live_server: str, gift: str
) -> None:
    forge(context, gift, lambda document: document["inclusion_proof"].pop())
    page = open_receipt(context, live_server, gift).page
    assert FAILED in verdict(page)
    assert states(page)["inclusion"] == "fail"


def test_a_tampered_checkpoint_signature_fails_the_signature(
    context: BrowserContext, live_server: str, gift: str, artifacts: Path
) -> None:
    def change(document: dict[str, Any]) -> None:
        text, _blank, signature = document["checkpoint"].rpartition("\n\n")
        prefix, _space, data = signature.rstrip("\n").rpartition(" ")
        raw = bytearray(base64.b64decode(data))
        raw[-1] ^= 0x01  # the last byte of the Ed25519 signature, after the 4-byte key ID
        forged = base64.b64encode(bytes(raw)).decode("ascii")
        document["checkpoint"] = f"{text}\n\n{prefix} {forged}\n"

    forge(context, gift, change)
    page = open_receipt(context, live_server, gift).page
    text = verdict(page)
    page.screenshot(path=artifacts / "receipt-tampered-signature.png", full_page=True)
    assert FAILED in text
    assert states(page) == {**dict.fromkeys(CHECKS, "ok"), "signature": "fail"}
    failure = page.locator('[data-check="signature"]').inner_text()
    assert "Chữ ký của điểm kiểm tra không hợp lệ" in failure
    assert "The checkpoint's signature is invalid" in failure


def test_a_checkpoint_with_another_tree_size_fails_the_checkpoint(
    context: BrowserContext, live_server: str, gift: str
) -> None:
    """A genuine signed checkpoint of another size does not prove this receipt's proof."""

    def change(document: dict[str, Any]) -> None:
        document["tree_size"] += 1

    forge(context, gift, change)
    page = open_receipt(context, live_server, gift).page
    assert FAILED in verdict(page)
    assert states(page)["checkpoint"] == "fail"


def test_the_page_fits_a_360_pixel_phone(
    browser: Browser, live_server: str, gift: str, artifacts: Path
) -> None:
    phone = browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True
    )
    try:
        watched = open_receipt(phone, live_server, gift)
        page = watched.page
        assert VERIFIED in verdict(page)
        page.screenshot(path=artifacts / "receipt-360px.png", full_page=True)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"scrolls sideways: {widths}"
        assert watched.errors == []
    finally:
        phone.close()


def test_without_javascript_the_page_still_states_the_gift(
    browser: Browser, live_server: str, gift: str, artifacts: Path
) -> None:
    plain = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 740})
    try:
        page = plain.new_page()
        page.goto(f"{live_server}/r/{gift}")
        page.screenshot(path=artifacts / "receipt-no-javascript.png", full_page=True)
        assert page.locator("#amount").inner_text() == "1.250.000 ₫"
        assert "Quỹ phòng, chống COVID-19 tỉnh Lạng Sơn" in page.locator("#fund").inner_text()
        assert "Một triệu hai trăm năm mươi nghìn đồng" in page.locator("body").inner_text()
        assert "400.000 ₫" in page.locator("#uses").inner_text()
        status = page.locator("#verify-status").inner_text()
        assert "Chưa xác minh" in status
        assert VERIFIED not in status
    finally:
        plain.close()


ROOTS_IN_THE_BROWSER = """async (cases) => {
  const v = globalThis.receiptVerifier;
  const roots = [];
  for (const c of cases) {
    const proof = c.proof.map((h) => v.fromHex(h, 32));
    const root = await v.rootFromInclusionProof(c.index, c.size, v.fromHex(c.leaf, 32), proof);
    roots.push(root ? v.toHex(root) : null);
  }
  return roots;
}"""


def test_the_browser_reads_every_audit_path_as_the_ledger_writes_it(
    context: BrowserContext, live_server: str, gift: str
) -> None:
    """Every position in trees of 1 to 33 leaves, and the same paths misapplied."""
    leaves = [hash_leaf(f"leaf {i}".encode()) for i in range(34)]
    trees = [MemoryTree(leaves[:size]) for size in range(len(leaves) + 1)]
    genuine, roots, wrong, wrong_roots = [], [], [], []
    for size in range(1, len(leaves)):
        tree = trees[size]
        for index in range(size):
            proof = [h.hex() for h in inclusion_proof(index, size, tree)]
            case = {"index": index, "size": size, "leaf": leaves[index].hex(), "proof": proof}
            genuine.append(case)
            roots.append(tree.root().hex())
            # Each misapplied path, and the root a verifier would hold it against.
            wrong.append({**case, "size": size + 1})
            wrong_roots.append(trees[size + 1].root().hex())
            misapplied = [{**case, "proof": [*proof, leaves[0].hex()]}]
            if size > 1:
                misapplied.append({**case, "index": (index + 1) % size})
                misapplied.append({**case, "leaf": leaves[(index + 1) % size].hex()})
                misapplied.append({**case, "proof": proof[:-1]})
            if len(proof) > 1:
                misapplied.append({**case, "proof": [proof[1], proof[0], *proof[2:]]})
            wrong += misapplied
            wrong_roots += [tree.root().hex()] * len(misapplied)
    page = open_receipt(context, live_server, gift).page
    assert page.evaluate(ROOTS_IN_THE_BROWSER, genuine) == roots
    found = page.evaluate(ROOTS_IN_THE_BROWSER, wrong)
    assert len(found) == len(wrong_roots) > 2000
    assert [c for c, r, t in zip(wrong, found, wrong_roots, strict=True) if r == t] == []


def keys_spelled_with(character: str) -> SigningKey:
    """A key whose verifier string's base64 holds ``character`` (such as "+")."""
    for seed in range(1000):
        key = SigningKey(
            "test.mttq.example/covid19",
            Ed25519PrivateKey.from_private_bytes(seed.to_bytes(32, "big")),
        )
        if character in str(key.verifier).split("+", 2)[2]:
            return key
    raise AssertionError(f"no key spelled with {character!r}")


@pytest.mark.parametrize("character", ["+", "/"])
def test_the_browser_reads_verifier_keys_whatever_their_base64_holds(
    context: BrowserContext, live_server: str, gift: str, character: str
) -> None:
    verifier = keys_spelled_with(character).verifier
    page = open_receipt(context, live_server, gift).page
    parsed = page.evaluate(
        """async (text) => {
          const key = await globalThis.receiptVerifier.parseVerifierKey(text);
          const hex = globalThis.receiptVerifier.toHex;
          return [key.name, hex(key.keyId), hex(key.publicKey)];
        }""",
        str(verifier),
    )
    assert parsed == [verifier.name, verifier.key_id_hex, verifier.public_key.hex()]
