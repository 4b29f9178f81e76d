"""``/healthz`` and ``/readyz``: what a load balancer asks before sending traffic.

``/healthz`` says only that the process answers, so a supervisor restarts a hung
worker but never one whose database is briefly away. ``/readyz`` says whether this
host can serve the public the truth right now: the database answers, and the log at
its head verifies (the latest checkpoint's signature, by the key in force at its
size, over the root recomputed from the stored tree, and the last leaf hashing to
its stored hash). A host that fails it is taken out of rotation, not restarted.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ledger import log, merkle
from ledger.checkpoint import verify_checkpoint
from ledger.errors import LedgerError
from ledger.receipts import signing_key
from public_api import caching
from public_api.database import session

blp = Blueprint("health", __name__)

RETRY_SECONDS = "5"


@blp.get("/healthz")
def healthz() -> Response:
    response = jsonify(status="ok")
    response.headers.update(caching.policy(caching.NO_STORE))
    return response


@blp.get("/readyz")
def readyz() -> Response:
    db = session()
    try:
        latest = log.latest_checkpoint(db)
        checkpoint = verify_checkpoint(latest.note, signing_key(db, latest.tree_size))
        if checkpoint.root != log.root(db, checkpoint.size):
            raise LedgerError(f"the stored tree disagrees with checkpoint {checkpoint.size}")
        head = log.entry(db, checkpoint.size - 1)
        stored = log.DatabaseNodes(db).read_nodes([merkle.NodeId(0, head.index)])
        if merkle.hash_leaf(head.leaf) != stored[merkle.NodeId(0, head.index)]:
            raise LedgerError(f"entry {head.index} does not hash to its stored leaf hash")
    except LedgerError as err:
        response = jsonify(status="failing", reason=err.message)
        response.status_code = 503
        response.headers["Retry-After"] = RETRY_SECONDS
    else:
        response = jsonify(status="ready", tree_size=checkpoint.size, root=checkpoint.root.hex())
    response.headers.update(caching.policy(caching.NO_STORE))
    return response
