"""The log explorer (/so-cai, /so-cai/<index>) and "how to verify" (/kiem-chung) as served.

What the pages state is compared with what the public API answers for the same log:
the checkpoint note byte for byte, each entry's inclusion proof hash for hash, the keys
and the witnesses' cosignatures. Text that writers typed must reach the page as text.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from audit import witnesses
from audit.cosignature import WitnessSigner
from audit.witness import StateFile, Witness, known_logs
from audit.witness_server import create_witness_app, serving
from ledger.db import Database
from ledger.keyring import rotate_key
from ledger.keys import SigningKey
from ledger.settings import Settings

API = "/api/v1"
WITNESS = "witness.kiemtoan.example/w1"
HOSTILE = "<script>alert(1)</script>"
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    answer = client.get(url)
    assert answer.status_code == status, url
    return answer.get_data(as_text=True)


def element(html: str, element_id: str) -> str:
    """The raw inner HTML of the element with this id (no nesting of the same tag)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no element #{element_id}"
    return found.group(2)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def shown_indices(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-index="(\d+)">', html)]


def api_size(client: FlaskClient) -> int:
    note = client.get(f"{API}/log/checkpoint").get_data(as_text=True)
    return int(note.splitlines()[1])


@pytest.fixture
def witness_key() -> WitnessSigner:
    return WitnessSigner.generate(WITNESS)


@pytest.fixture
def cosigned(
    funds: Any, signer: SigningKey, witness_key: WitnessSigner, tmp_path: Path
) -> Iterator[int]:
    """A witness that cosigned the latest checkpoint; yields the cosignature's timestamp."""
    funds.give(1_250_000)
    logs = known_logs([f"{signer.name}={signer.verifier}"])
    app = create_witness_app(Witness(witness_key, logs, StateFile(tmp_path / "state.json")))
    with serving(app) as url:
        with funds.db.writing() as session:
            witnesses.add(session, WITNESS, str(witness_key.verifier), url)
        [answer] = witnesses.collect(funds.db)
        assert answer.cosigned and answer.timestamp is not None, answer
        yield answer.timestamp


# -- the latest checkpoint, the witnesses and the keys -----------------------------------


def test_the_explorer_shows_the_checkpoint_note_the_api_serves(
    client: FlaskClient, funds: Any
) -> None:
    funds.give(500_000)
    html = page(client, "/so-cai")
    note = client.get(f"{API}/log/checkpoint").get_data(as_text=True)
    assert unescape(element(html, "checkpoint-note")) == note
    origin, size, root, *_ = note.splitlines()
    assert text(element(html, "tree-size")) == size
    assert text(element(html, "root-base64")) == root
    assert text(element(html, "root-hex")) == base64.b64decode(root).hex()
    [key] = client.get(f"{API}/log/keys").get_json()["keys"]
    assert text(element(html, "signing-key")) == key["verifier_key"]
    assert key["verifier_key"].startswith(f"{origin}+{key['key_id']}+")
    # No witness is configured: both facts are said plainly.
    assert "Chưa có bên chứng kiến độc lập nào đồng ký điểm kiểm tra này." in html
    assert "Sổ cái này chưa có bên chứng kiến độc lập nào." in html


def test_a_witness_cosignature_is_named_with_its_time_in_vietnam(
    client: FlaskClient, funds: Any, cosigned: int
) -> None:
    html = page(client, "/so-cai")
    note = client.get(f"{API}/log/checkpoint").get_data(as_text=True)
    assert f"— {WITNESS} " in note  # the API serves the cosignature line …
    assert unescape(element(html, "checkpoint-note")) == note  # … and so does the page
    when = datetime.fromtimestamp(cosigned, VIETNAM).strftime("%d/%m/%Y %H:%M")
    listed = text(element(html, "cosignatures"))
    assert WITNESS in listed
    assert f"đồng ký lúc {when} (giờ Việt Nam)" in listed
    assert "no-cosignatures" not in html
    size = api_size(client)
    assert f"{WITNESS} " in text(element(html, "witnesses"))
    assert f" {size} {when}" in text(element(html, "witnesses"))

    # The log moves on; the witness has not cosigned the new checkpoint yet.
    funds.give(300_000)
    later = page(client, "/so-cai")
    assert "Chưa có bên chứng kiến độc lập nào đồng ký điểm kiểm tra này." in later
    assert f" {size} {when}" in text(element(later, "witnesses"))  # its last one, still shown


def test_every_key_is_listed_with_its_entries_after_a_rotation(
    client: FlaskClient, funds: Any, settings: Settings
) -> None:
    rotation = rotate_key(funds.db, settings.signing_key_file, "admin")
    funds.give(700_000)
    html = page(client, "/so-cai")
    keys = text(element(html, "keys"))
    old, new = client.get(f"{API}/log/keys").get_json()["keys"]
    assert old["verifier_key"] in keys and new["verifier_key"] in keys
    assert f"mục 0 đến {rotation.index}" in keys
    assert f"từ mục {rotation.index + 1} đến nay (đang dùng)" in keys
    assert text(element(html, "signing-key")) == new["verifier_key"]
    # The checkpoint that first covers the rotation is the old key's.
    entry = page(client, f"/so-cai/{rotation.index}")
    assert "Đổi khóa ký" in entry
    assert text(element(entry, "signing-key")) == new["verifier_key"]  # proven to the latest


# -- the entries ---------------------------------------------------------------------------


def test_entries_come_newest_first_fifty_to_a_page(
    client: FlaskClient,
    funds: Any,
    signer: SigningKey,
    append_notes: Callable[..., None],
) -> None:
    append_notes(funds.db, signer, 120, batch=40)
    size = api_size(client)
    first = page(client, "/so-cai")
    assert shown_indices(first) == list(range(size - 1, size - 51, -1))
    assert 'id="newer"' not in first
    [older] = re.findall(r'href="([^"]+)" rel="next"', first)
    assert older == f"/so-cai?before={size - 50}"

    second = page(client, older)
    assert shown_indices(second) == list(range(size - 51, size - 101, -1))
    assert 'href="/so-cai" rel="prev"' in second  # newer: back to the latest page
    assert f"Mục {size - 100} đến {size - 51}, trong tổng số {size} mục." in text(second)

    last = page(client, f"/so-cai?before={size - 100}")
    assert shown_indices(last) == list(range(size - 101, -1, -1))
    assert 'rel="next"' not in last
    assert f'href="/so-cai?before={size}"' not in last  # the newest page has no before
    assert 'href="/so-cai?before=100" rel="prev"' in page(client, "/so-cai?before=50")

    # A link made when the log was smaller keeps showing the same entries.
    assert shown_indices(page(client, "/so-cai?before=60")) == list(range(59, 9, -1))
    append_notes(funds.db, signer, 5)
    assert shown_indices(page(client, "/so-cai?before=60")) == list(range(59, 9, -1))
    # Beyond the log: the newest entries; not an index at all: a 400 page.
    assert shown_indices(page(client, "/so-cai?before=99999999"))[0] == api_size(client) - 1
    for wrong in ("0", "-1", "abc", "07", "1e3"):
        answer = client.get(f"/so-cai?before={wrong}")
        assert answer.status_code == 400, wrong
        assert answer.headers["Cache-Control"] == "no-store"
        assert 'class="site-nav"' in answer.get_data(as_text=True)


def test_each_row_says_what_the_entry_is_in_words(client: FlaskClient, funds: Any) -> None:
    gift = funds.give(1_250_000, campaign=funds.campaign, mobilizer=funds.mobilizer)
    allocation = funds.allocate(400_000)
    html = page(client, "/so-cai")
    rows = {
        int(index): text(row)
        for index, row in re.findall(r'<tr data-index="(\d+)">(.*?)</tr>', html, re.S)
    }
    recorded = client.get(f"{API}/log/entries/{gift.index}").get_json()["entry"]["time"]
    when = datetime.fromisoformat(recorded).astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")
    assert rows[gift.index] == (
        f"#{gift.index} Khoản ủng hộ {when} tester LS-COVID · Công ty TNHH Minh An 1.250.000 ₫"
    )
    assert rows[allocation.index].startswith(f"#{allocation.index} Phân bổ ")
    assert rows[allocation.index].endswith("LS-COVID · Trung tâm Y tế huyện Cao Lộc 400.000 ₫")
    assert rows[0].startswith("#0 Khởi tạo sổ cái ")
    assert f'href="/so-cai/{gift.index}"' in html


def test_an_entry_shows_its_leaf_and_the_same_proof_as_the_api(
    client: FlaskClient, funds: Any
) -> None:
    gift = funds.give(1_250_000, campaign=funds.campaign)
    funds.give(2_000_000)
    html = page(client, f"/so-cai/{gift.index}")
    stored = client.get(f"{API}/log/entries/{gift.index}").get_json()
    proof = client.get(f"{API}/log/proofs/inclusion?index={gift.index}").get_json()
    shown = re.findall(r'<code class="hash">([0-9a-f]{64})</code>', element(html, "proof"))
    assert shown == proof["hashes"]
    assert text(element(html, "leaf-hash")) == stored["leaf_hash"] == proof["leaf_hash"]
    leaf = base64.b64decode(stored["leaf"]).decode("utf-8")
    assert unescape(element(html, "leaf-json")) == leaf
    assert f"Chứng minh mục {gift.index} nằm trong cây có {proof['tree_size']} mục." in html
    assert text(element(html, "tree-size")) == str(proof["tree_size"])
    note = client.get(f"{API}/log/checkpoint").get_data(as_text=True)
    assert unescape(element(html, "checkpoint-note")) == note
    # The chain: a link to the entry before, whose leaf hash this one names.
    assert f'href="/so-cai/{gift.index - 1}" id="prev-link"' in html
    before = client.get(f"{API}/log/entries/{gift.index - 1}").get_json()
    assert text(element(html, "prev-hash")) == before["leaf_hash"]
    # The readable table, and the donor's receipt.
    fields = text(element(html, "fields"))
    assert "Số tiền amount 1.250.000 ₫" in fields
    assert "Nhà hảo tâm donor.display Công ty TNHH Minh An" in fields
    assert f"Cuộc vận động campaign {funds.campaign}" in fields
    receipt_id = gift.extra["receipt_id"]
    assert f'href="/r/{receipt_id}" id="receipt-link"' in html
    assert f"Mã biên nhận receipt_id {receipt_id}" in fields


def test_the_first_entry_has_no_link_before_it_and_may_need_no_proof(
    client: FlaskClient, ledger: Database
) -> None:
    html = page(client, "/so-cai/0")
    assert "prev-link" not in html
    assert "Không có: đây là mục đầu tiên của sổ cái." in html
    assert "Khởi tạo sổ cái" in html
    assert 'id="proof-empty"' in html  # a tree of one leaf: the leaf hash is the root
    assert client.get(f"{API}/log/proofs/inclusion?index=0").get_json()["hashes"] == []


def test_a_correction_links_to_the_entry_it_corrects(client: FlaskClient, funds: Any) -> None:
    gift = funds.give(900_000)
    reversal = funds.record("reversal", {"target": gift.index, "reason": "Ghi trùng"})
    html = page(client, f"/so-cai/{reversal.index}")
    assert f'<a href="/so-cai/{gift.index}">#{gift.index}</a>' in html
    assert f"mục #{gift.index}" in text(page(client, "/so-cai"))


def test_an_unknown_entry_is_a_404_page_in_the_layout(client: FlaskClient, funds: Any) -> None:
    for url in ("/so-cai/99999", f"/so-cai/{2**53}", f"/so-cai/{10**30}"):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Content-Type"].startswith("text/html")
        html = answer.get_data(as_text=True)
        assert '<html lang="vi">' in html and 'class="site-nav"' in html
        assert "Sổ cái chưa có mục nào mang số thứ tự này." in html
    english = page(client, "/so-cai/99999?lang=en", 404)
    assert "No entry 99999" in english and '<html lang="en">' in english
    assert client.get("/so-cai/007").status_code == 404  # one spelling per entry


def test_a_hostile_donor_name_stays_text(client: FlaskClient, funds: Any) -> None:
    gift = funds.give(100_000, donor={"display": HOSTILE, "type": "individual"})
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for url in (f"/so-cai/{gift.index}", "/so-cai", f"/so-cai/{gift.index}?lang=en"):
        html = page(client, url)
        assert "<script" not in html, url
        assert escaped in html, url
    entry = page(client, f"/so-cai/{gift.index}")
    assert escaped in element(entry, "fields")
    assert f"&#34;display&#34;:&#34;{escaped}&#34;" in element(entry, "leaf-json")


def test_the_pages_switch_to_english(client: FlaskClient, funds: Any) -> None:
    gift = funds.give(100_000)
    html = page(client, "/so-cai?lang=en")
    assert '<html lang="en">' in html
    assert "The latest checkpoint" in html and "Entries, newest first" in html
    assert "Gift" in text(element(html, "entries"))
    assert f'href="/so-cai/{gift.index}?lang=en"' in html
    assert "Điểm kiểm tra mới nhất" not in html
    entry = page(client, f"/so-cai/{gift.index}?lang=en")
    assert "Proof that the entry is in the ledger" in entry
    assert "Amount amount 100.000 ₫" in text(element(entry, "fields"))
    howto = page(client, "/kiem-chung?lang=en")
    assert "How to verify the ledger" in howto and "Cách kiểm chứng sổ cái" not in howto


# -- how to verify ---------------------------------------------------------------------------


def test_how_to_verify_shows_this_ledgers_key_and_addresses(
    client: FlaskClient, funds: Any, settings: Settings
) -> None:
    html = page(client, "/kiem-chung")
    [key] = client.get(f"{API}/log/keys").get_json()["keys"]
    vkey = key["verifier_key"]
    assert text(element(html, "genesis-key")) == vkey
    assert "current-key" not in html  # never rotated
    base = settings.base_url
    assert text(element(html, "monitor-command")) == (
        f"ledger monitor {base} --key {vkey} --entries --watch 300"
    )
    assert text(element(html, "verify-receipt-command")) == (
        f"ledger verify-receipt bien-nhan.tlog-proof --key {vkey}"
    )
    assert text(element(html, "verify-export-command")) == (
        f"ledger verify-export so-cai.jsonl --key {vkey}"
    )
    assert text(element(html, "origin")) == settings.origin
    # The tiles and the API docs it names exist.
    links = re.findall(r'<a href="([^"]+)"><code>([^<]+)</code></a>', element(html, "tiles"))
    assert [shown for _, shown in links] == [base + href for href, _ in links]
    size = api_size(client)
    assert [href for href, _ in links] == [
        "/checkpoint",
        f"/tile/0/000.p/{size}",
        f"/tile/entries/000.p/{size}",
    ]
    for href, _ in links:
        assert client.get(href).status_code == 200, href
    assert 'href="/api/v1/docs"' in html
    assert client.get("/api/v1/docs").status_code == 200


def test_how_to_verify_after_a_rotation_trusts_every_key_but_exports_start_from_the_first(
    client: FlaskClient, funds: Any, settings: Settings
) -> None:
    rotate_key(funds.db, settings.signing_key_file, "admin")
    old, new = (k["verifier_key"] for k in client.get(f"{API}/log/keys").get_json()["keys"])
    html = page(client, "/kiem-chung")
    assert text(element(html, "genesis-key")) == old
    assert text(element(html, "current-key")) == new
    assert f"--key {old} --key {new} --entries" in text(element(html, "monitor-command"))
    assert text(element(html, "verify-export-command")).endswith(f"--key {old}")
