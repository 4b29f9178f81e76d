"""Write the golden export and its tampered copies under ``tests/data/exports/``.

Everything is fixed: the keys come from fixed seeds, every append passes ``now=``,
and Ed25519 signatures are deterministic, so running this again writes the same
bytes. ``tests/ledger/test_export.py`` rebuilds the golden ledger with ``build`` on
each test database and compares the export byte for byte. See ``README.md``.

Run from the repository root: ``.venv/bin/python tests/data/make_exports.py``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import log, migrate
from ledger.checkpoint import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.db import Database
from ledger.entries import GENESIS, KEY_ROTATION, Draft
from ledger.export import write_export
from ledger.keys import SigningKey
from ledger.merkle import hash_leaf

HERE = Path(__file__).resolve().parent / "exports"
ORIGIN = "golden.mttq.example/covid19"
START = datetime(2021, 10, 6, 8, 30, tzinfo=UTC)
CASES_FILE = "cases.json"


def fixed_key(label: str) -> SigningKey:
    """A test key from a published seed: never use these for a real ledger."""
    seed = hashlib.sha256(f"mttq-ledger golden export {label}".encode()).digest()
    return SigningKey(ORIGIN, Ed25519PrivateKey.from_private_bytes(seed))


FIRST_KEY = fixed_key("first key")
SECOND_KEY = fixed_key("second key")
FORGER_KEY = fixed_key("forger key")


def contribution(receipt: str, amount: int, display: str, **extra: Any) -> dict[str, Any]:
    return {
        "fund": "COVID19",
        "amount": amount,
        "currency": "VND",
        "channel": "bank",
        "donor": {"display": display, "type": "individual", "anonymous": False},
        "mobilizer": None,
        "receipt_id": receipt,
        **extra,
    }


def batches(first: SigningKey, second: SigningKey) -> list[tuple[list[Draft], SigningKey]]:
    """Sizes after each batch: 1, 4, 5, 8, 9, 12, 13; the rotation is index 8."""
    clerk = "thu-quy-tinh"
    return [
        (
            [
                Draft(
                    GENESIS,
                    {
                        "origin": ORIGIN,
                        "verifier_key": str(first.verifier),
                        "name": "Quỹ phòng, chống dịch COVID-19 (dữ liệu thử)",
                    },
                    "ledger-init",
                )
            ],
            first,
        ),
        (
            [
                Draft("contribution", contribution("R-0001", 5_000_000, "Nguyễn Văn An"), clerk),
                Draft(
                    "contribution",
                    contribution(
                        "R-0002",
                        120_000_000,
                        "Công ty CP Đường sắt Lạng Sơn",
                        reference="FT21279123456",
                    )
                    | {
                        "donor": {
                            "display": "Công ty CP Đường sắt Lạng Sơn",
                            "type": "organization",
                            "anonymous": False,
                        }
                    },
                    clerk,
                ),
                Draft(
                    "contribution",
                    contribution("R-0003", 200_000, "Nhà hảo tâm giấu tên", channel="cash")
                    | {
                        "donor": {
                            "display": "Nhà hảo tâm giấu tên",
                            "type": "individual",
                            "anonymous": True,
                        }
                    },
                    clerk,
                ),
            ],
            first,
        ),
        (
            [
                Draft(
                    "allocation",
                    {
                        "fund": "COVID19",
                        "amount": 50_000_000,
                        "currency": "VND",
                        "form": "cash",
                        "beneficiary": {"display": "Trạm Y tế xã Tân Thanh", "type": "unit"},
                        "purpose": "Mua máy thở và ô-xy",
                    },
                    "ban-thuong-truc",
                )
            ],
            first,
        ),
        (
            [
                Draft(
                    "contribution",
                    contribution("R-0004", 0, "Hợp tác xã Hữu Lũng", channel="in_kind")
                    | {"in_kind": {"description": "Gạo tẻ", "quantity": 2000, "unit": "kg"}},
                    clerk,
                ),
                Draft(
                    "transfer",
                    {
                        "from_fund": "COVID19",
                        "to_fund": "VACCINE",
                        "amount": 10_000_000,
                        "currency": "VND",
                    },
                    "ban-thuong-truc",
                ),
                Draft("reversal", {"target": 3, "reason": "Nhập trùng biên lai"}, clerk),
            ],
            first,
        ),
        (
            [
                Draft(
                    KEY_ROTATION,
                    {"old_key": str(first.verifier), "new_key": str(second.verifier)},
                    "ledger-keys-rotate",
                )
            ],
            first,
        ),
        (
            [
                Draft("contribution", contribution("R-0005", 1_500_000, "Trần Thị Bích"), clerk),
                Draft("contribution", contribution("R-0006", 300_000, "Lê Quang Huy"), clerk),
                Draft("contribution", contribution("R-0007", 700_000, "Phạm Thu Hà"), clerk),
            ],
            second,
        ),
        ([Draft("reversal", {"target": 10, "reason": "Sai số tiền"}, clerk)], second),
    ]


def build(db: Database) -> None:
    """Append the golden ledger to an empty, migrated database."""
    moment = START
    for drafts, signer in batches(FIRST_KEY, SECOND_KEY):
        with db.writing() as session:
            log.append(session, drafts, signer, now=moment)
        moment += timedelta(minutes=17, seconds=3, microseconds=250_001)


def export_text(db: Database) -> str:
    out = io.StringIO()
    with db.session() as session:
        write_export(session, out)
    return out.getvalue()


# --- tampered copies --------------------------------------------------------------------

Lines = list[dict[str, Any]]


def dump(lines: Lines) -> str:
    return "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in lines)


def entry_at(lines: Lines, index: int) -> int:
    return next(n for n, o in enumerate(lines) if o.get("type") == "entry" and o["index"] == index)


def checkpoint_at(lines: Lines, size: int) -> int:
    return next(
        n for n, o in enumerate(lines) if o.get("type") == "checkpoint" and o["tree_size"] == size
    )


def change_leaf(lines: Lines, index: int, old: bytes, new: bytes, *, fix_hash: bool) -> Lines:
    line = lines[entry_at(lines, index)]
    leaf = base64.b64decode(line["leaf"])
    assert leaf.count(old) == 1, (index, old)
    leaf = leaf.replace(old, new)
    line["leaf"] = base64.b64encode(leaf).decode()
    if fix_hash:
        line["leaf_hash"] = hash_leaf(leaf).hex()
    return lines


def resign(lines: Lines, size: int, key: SigningKey, root: bytes | None = None) -> Lines:
    line = lines[checkpoint_at(lines, size)]
    true_root = bytes.fromhex(line["root"])
    line["note"] = sign_checkpoint(Checkpoint(ORIGIN, size, root or true_root), key)
    return lines


def swap(lines: Lines, first: int, second: int) -> Lines:
    lines[first], lines[second] = lines[second], lines[first]
    return lines


def without(lines: Lines, position: int) -> Lines:
    del lines[position]
    return lines


def header(lines: Lines, tree_size: int) -> Lines:
    lines[0]["tree_size"] = tree_size
    return lines


FORGED_ROOT = hashlib.sha256(b"forged").digest()
Tamper = Callable[[Lines], Lines | str]

# name -> (what changes, the index verify-export must name, a word of its reason)
TAMPERED: dict[str, tuple[Tamper, int, str]] = {
    "leaf-byte": (
        lambda ls: change_leaf(ls, 7, b'"target":3', b'"target":2', fix_hash=False),
        7,
        "leaf hash",
    ),
    "leaf-byte-hash-fixed": (
        lambda ls: change_leaf(ls, 7, b'"target":3', b'"target":2', fix_hash=True),
        7,
        "different root",
    ),
    "amount-digit-hash-fixed": (
        lambda ls: change_leaf(ls, 3, b":200000,", b":900000,", fix_hash=True),
        3,
        "different root",
    ),
    "entry-removed": (lambda ls: without(ls, entry_at(ls, 5)), 5, "expected entry 5"),
    "entries-reordered": (
        lambda ls: swap(ls, entry_at(ls, 5), entry_at(ls, 6)),
        5,
        "expected entry 5",
    ),
    "final-checkpoint-removed": (
        lambda ls: without(ls, checkpoint_at(ls, 13)),
        12,
        "no signed checkpoint",
    ),
    "checkpoint-by-forger": (lambda ls: resign(ls, 8, FORGER_KEY), 7, "no signature by"),
    "checkpoint-forged-root": (
        lambda ls: resign(ls, 8, FIRST_KEY, FORGED_ROOT),
        7,
        "different root",
    ),
    "rotation-checkpoint-by-new-key": (lambda ls: resign(ls, 9, SECOND_KEY), 8, "no signature"),
    "old-key-after-rotation": (lambda ls: resign(ls, 12, FIRST_KEY), 11, "no signature"),
    "header-size-larger": (lambda ls: header(ls, 14), 13, "header promises 14"),
    "header-size-smaller": (lambda ls: header(ls, 12), 12, "header promises 12"),
    "truncated": (lambda ls: dump(ls)[: dump(ls).index('"index":10') + 40], 10, "not JSON"),
}


def write_all(out_dir: Path = HERE) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'golden.sqlite3'}")
        try:
            migrate.upgrade(db.engine)
            build(db)
            golden = export_text(db)
        finally:
            db.dispose()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "golden.jsonl").write_text(golden, encoding="utf-8")
    parsed = [json.loads(line) for line in golden.splitlines()]
    final = parsed[checkpoint_at(parsed, 13)]
    cases: dict[str, Any] = {
        "origin": ORIGIN,
        "genesis_key": str(FIRST_KEY.verifier),
        "keys": [str(FIRST_KEY.verifier), str(SECOND_KEY.verifier)],
        "tree_size": 13,
        "root": final["root"],
        "checkpoints": 7,
        "tampered": {},
    }
    verify_checkpoint(final["note"], SECOND_KEY.verifier)
    for name, (tamper, index, reason) in TAMPERED.items():
        changed = tamper([json.loads(line) for line in golden.splitlines()])
        text = changed if isinstance(changed, str) else dump(changed)
        file = f"tampered-{name}.jsonl"
        (out_dir / file).write_text(text, encoding="utf-8")
        cases["tampered"][file] = {"index": index, "reason": reason}
    (out_dir / CASES_FILE).write_text(
        json.dumps(cases, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
