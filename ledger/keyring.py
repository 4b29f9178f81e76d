"""The signing key on disk, kept in step with the key the log says is in force.

A rotation writes the new key beside the current one (``<key file>.next``) *before*
the ``key_rotation`` entry is committed, then swaps the files. If the process dies
between the commit and the swap, the next load sees that the log already names the
``.next`` key and finishes the swap (also when it died between the swap's two
renames); if it dies before the commit, the stray ``.next`` file is simply replaced
by the next rotation. The retired key is kept as ``<key file>.retired-<key id>`` so
that nothing is ever lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from ledger import log
from ledger.db import Database
from ledger.entries import KEY_ROTATION, Draft
from ledger.errors import ConfigurationError
from ledger.keys import SigningKey, VerifierKey


@dataclass(frozen=True)
class Rotation:
    old_key: VerifierKey
    new_key: VerifierKey
    index: int
    checkpoint: str


def _pending_path(path: Path) -> Path:
    return path.with_name(path.name + ".next")


def _finish_swap(path: Path, retired: SigningKey) -> None:
    os.replace(path, path.with_name(f"{path.name}.retired-{retired.verifier.key_id_hex}"))
    os.replace(_pending_path(path), path)


def load_signer(key_file: Path, session: Session) -> SigningKey:
    """The private key matching the log's current verifier key, or ConfigurationError."""
    return signer_for(key_file, log.current_key(session))


def signer_for(key_file: Path, current: VerifierKey) -> SigningKey:
    """The private key on disk for ``current`` (a writer read it under the append lock)."""
    pending = _pending_path(key_file)
    if not key_file.exists() and pending.exists():
        # The swap stopped between its two renames: the old key is already retired.
        candidate = SigningKey.load(pending, current.name)
        if candidate.verifier == current:
            os.replace(pending, key_file)
            return candidate
    signer = SigningKey.load(key_file, current.name)
    if signer.verifier == current:
        return signer
    if pending.exists():
        candidate = SigningKey.load(pending, current.name)
        if candidate.verifier == current:
            _finish_swap(key_file, signer)
            return candidate
    raise ConfigurationError(
        f"the key in {key_file} ({signer.verifier.key_id_hex}) is not the log's current key "
        f"({current.key_id_hex})"
    )


def rotate_key(database: Database, key_file: Path, actor: str) -> Rotation:
    """Record a key_rotation entry signed by the old key, then switch to the new key."""
    with database.writing() as session:
        old = load_signer(key_file, session)
        pending = _pending_path(key_file)
        pending.unlink(missing_ok=True)
        new = SigningKey.generate(old.name)
        new.save(pending)
        body = {"old_key": str(old.verifier), "new_key": str(new.verifier)}
        appended = log.append(session, [Draft(KEY_ROTATION, body, actor)], old)
    _finish_swap(key_file, old)
    return Rotation(old.verifier, new.verifier, appended.entries[0].index, appended.checkpoint)
