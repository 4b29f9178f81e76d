"""A witness configured for the test ledger, with the signer that makes its cosignatures."""

from __future__ import annotations

from audit import witnesses
from audit.cosignature import WitnessSigner
from ledger.db import Database


def add_witness(db: Database, name: str) -> WitnessSigner:
    signer = WitnessSigner.generate(name)
    with db.writing() as session:
        witnesses.add(session, name, str(signer.verifier), "https://witness.example/w")
    return signer
