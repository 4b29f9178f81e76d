"""How to verify: the ideas in plain words, and the commands to check this ledger yourself.

The commands are written out for this ledger, not as templates: its public address
(``LEDGER_BASE_URL``), the verifier keys its log publishes (the genesis key first, then
every rotation's), and tile paths that exist at the log's current size, so a reader
can copy them as they are.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from flask import render_template

from ledger import log, tiles
from public_api.database import session, settings
from public_api.pages.common import blueprint

blp = blueprint("pages_verifying")

PROOF_FILE = "bien-nhan.tlog-proof"
EXPORT_FILE = "so-cai.jsonl"


@dataclass(frozen=True)
class Commands:
    """The command lines a reader can paste, for this ledger."""

    monitor: str
    verify_receipt: str
    verify_export: str


def commands(base_url: str, keys: list[str]) -> Commands:
    """``verify-export`` trusts only the genesis key; the others accept any of the log's keys."""
    every_key = [part for key in keys for part in ("--key", key)]

    def line(*words: str) -> str:
        return " ".join(shlex.quote(word) for word in words)

    return Commands(
        monitor=line("ledger", "monitor", base_url, *every_key, "--entries", "--watch", "300"),
        verify_receipt=line("ledger", "verify-receipt", PROOF_FILE, *every_key),
        verify_export=line("ledger", "verify-export", EXPORT_FILE, "--key", keys[0]),
    )


@blp.get("/kiem-chung")
def how_to_verify() -> str:
    db = session()
    size = log.latest_checkpoint(db).tree_size  # a log not yet initialised stops here
    periods = log.key_periods(db)
    keys = [str(period.verifier_key) for period in periods]
    width = min(size, tiles.TILE_WIDTH)
    base_url = settings().base_url
    return render_template(
        "pages/verify_howto.html",
        base_url=base_url,
        origin=periods[0].verifier_key.name,
        genesis_key=keys[0],
        current_key=keys[-1],
        commands=commands(base_url, keys),
        tree_size=size,
        hash_tile=f"/tile/{tiles.Tile(0, 0, width).path}",
        entry_tile=f"/tile/{tiles.Tile(tiles.ENTRIES, 0, width).path}",
        proof_file=PROOF_FILE,
        export_file=EXPORT_FILE,
    )
