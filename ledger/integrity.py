"""``ledger verify``: check every stored leaf, link, tree node and checkpoint.

The database is read in index ranges of ``CHUNK`` entries together with the tree
nodes and checkpoints those entries complete, so memory stays flat at any size and
no cursor is held open across chunks. Tree nodes are compared with the ones the
verifier recomputes, because the public proofs are served from them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import ChainError
from ledger.keys import VerifierKey
from ledger.models import CheckpointRow, EntryRow, TreeNodeRow
from ledger.verify import LogVerifier, Summary

CHUNK = 5000
Progress = Callable[[int], None]


def verify_database(
    session: Session, trusted_key: VerifierKey | None = None, progress: Progress | None = None
) -> Summary:
    """Verify the whole stored log; raises ChainError naming the first bad index."""
    verifier = LogVerifier(trusted_key)
    start = 0
    while True:
        rows = session.execute(
            select(EntryRow.index, EntryRow.leaf, EntryRow.leaf_hash)
            .where(EntryRow.index >= start)
            .order_by(EntryRow.index)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        end = rows[-1][0] + 1
        nodes = iter(
            session.execute(
                select(TreeNodeRow.leaf_end, TreeNodeRow.level, TreeNodeRow.hash)
                .where(TreeNodeRow.leaf_end > start, TreeNodeRow.leaf_end <= end)
                .order_by(TreeNodeRow.leaf_end, TreeNodeRow.level)
            ).all()
        )
        checkpoints = {
            row.tree_size: row
            for row in session.execute(
                select(CheckpointRow.tree_size, CheckpointRow.root, CheckpointRow.note).where(
                    CheckpointRow.tree_size > start, CheckpointRow.tree_size <= end
                )
            )
        }
        for index, leaf, leaf_hash in rows:
            for node, node_hash in verifier.add_entry(index, leaf, leaf_hash):
                if not node.level:
                    continue
                stored = next(nodes, None)
                expected = ((node.index + 1) << node.level, node.level)
                if stored is None or (stored.leaf_end, stored.level) != expected:
                    raise ChainError(f"tree node {node} is missing", index=index)
                if stored.hash != node_hash:
                    raise ChainError(f"tree node {node} has a wrong hash", index=index)
            if index + 1 in checkpoints:
                checkpoint = checkpoints.pop(index + 1)
                verifier.add_checkpoint(checkpoint.tree_size, checkpoint.note, checkpoint.root)
        extra = next(nodes, None)
        if extra is not None:
            raise ChainError(
                f"unexpected tree node at level {extra.level} ending at {extra.leaf_end}",
                index=extra.leaf_end - 1,
            )
        start = end
        if progress:
            progress(len(rows))
    _check_nothing_beyond(session, verifier.size)
    return verifier.finish()


def _check_nothing_beyond(session: Session, size: int) -> None:
    """A checkpoint or node past the last entry means entries were deleted."""
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
    node_end = session.scalar(
        select(TreeNodeRow.leaf_end).where(TreeNodeRow.leaf_end > size).limit(1)
    )
    if node_end is not None:
        raise ChainError(
            f"entry {size} is missing: tree nodes cover {node_end} entries", index=size
        )
