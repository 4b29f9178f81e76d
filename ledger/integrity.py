"""``ledger verify``: check every stored leaf, link, tree node and checkpoint.

The database is read in index ranges of ``CHUNK`` entries together with the
checkpoints those entries complete, so memory stays flat at any size and
no cursor is held open across chunks. The tree hashes stored with each entry are
compared with the ones the verifier recomputes, because public proofs are served
from them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.entries import Entry
from ledger.errors import ChainError
from ledger.keys import VerifierKey
from ledger.models import CheckpointRow, EntryRow
from ledger.verify import LogVerifier, Summary

CHUNK = 5000
Progress = Callable[[int], None]


def verify_database(
    session: Session,
    trusted_key: VerifierKey | None = None,
    progress: Progress | None = None,
    on_entry: Callable[[Entry], None] | None = None,
) -> Summary:
    """Verify the whole stored log; raises ChainError naming the first bad index.

    ``on_entry`` sees every verified entry in order (``ledger verify`` replays the fund
    balances with it).
    """
    verifier = LogVerifier(trusted_key, on_entry)
    start = 0
    while True:
        rows = session.execute(
            select(EntryRow.index, EntryRow.leaf, EntryRow.leaf_hash, EntryRow.subtrees)
            .where(EntryRow.index >= start)
            .order_by(EntryRow.index)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        end = rows[-1][0] + 1
        checkpoints = {
            row.tree_size: row
            for row in session.execute(
                select(CheckpointRow.tree_size, CheckpointRow.root, CheckpointRow.note).where(
                    CheckpointRow.tree_size > start, CheckpointRow.tree_size <= end
                )
            )
        }
        for index, leaf, leaf_hash, subtrees in rows:
            parents = verifier.add_entry(index, leaf, leaf_hash)
            if b"".join(parents) != subtrees:
                raise ChainError("the tree hashes stored with this entry are wrong", index=index)
            if index + 1 in checkpoints:
                checkpoint = checkpoints.pop(index + 1)
                verifier.add_checkpoint(checkpoint.tree_size, checkpoint.note, checkpoint.root)
        start = end
        if progress:
            progress(len(rows))
    _check_nothing_beyond(session, verifier.size)
    return verifier.finish()


def _check_nothing_beyond(session: Session, size: int) -> None:
    """A checkpoint past the last entry means entries were deleted."""
    beyond = session.scalar(
        select(CheckpointRow.tree_size)
        .where(CheckpointRow.tree_size > size)
        .order_by(CheckpointRow.tree_size.desc())
        .limit(1)
    )
    if beyond is not None:
        raise ChainError(
            f"entry {size} is missing: a signed checkpoint covers {beyond} entries", index=size
        )
