"""The log as C2SP tlog-tiles (``/tile/…``, ``/checkpoint``): static files in effect.

Every tile is immutable (``ledger.tiles``), so a cache or CDN in front of the service
can answer most public reads without reaching it; only ``/checkpoint`` moves. The
checkpoint here is the same note as ``/api/v1/log/checkpoint``.
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response

from ledger import log, tiles
from public_api import caching
from public_api.database import session
from public_api.log_views import checkpoint as latest_checkpoint
from public_api.response_cache import cached

blp = Blueprint("tiles", __name__)
blp.after_request(caching.conditional)

OCTETS = "application/octet-stream"


@blp.get("/tile/<path:tile>")
@cached()
def tile(tile: str) -> Response:
    """A hash tile or an entry bundle; 404 until the tree has grown to cover it."""
    wanted = tiles.parse_path(tile)
    db = session()
    tiles.check_available(wanted, log.tree_size(db))
    if wanted.level == tiles.ENTRIES:
        start = wanted.index * tiles.TILE_WIDTH
        data = tiles.bundle([entry.leaf for entry in log.entries(db, start, wanted.width)])
    else:
        data = tiles.hashes(wanted, log.DatabaseNodes(db))
    response = Response(data, mimetype=OCTETS)
    response.headers.update(caching.policy(caching.IMMUTABLE))
    return response


@blp.get("/checkpoint")
def checkpoint() -> Response:
    """The latest checkpoint, where tlog-tiles clients look for it."""
    return cast(Response, latest_checkpoint())
