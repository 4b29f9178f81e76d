"""Where a gift went: spending attributed to gifts, recomputable from the public log alone.

The accounting (``ledger.funds.postings``) says how much a fund holds, not whose money
an allocation spent. This module decides that by a fixed rule, first in, first out,
so that anyone replaying the log gets the same answer; docs/usage.md states the rules
and works an example by hand. In brief: every (fund, form, earmark) pool is a queue
of pieces of gifts, ordered by where the money arrived in that fund; allocations take
from the front, transfers move pieces to the back of another fund's queue, and
reversals undo their target's share while keeping every standing allocation fully
attributed.

``Attribution`` is the pure engine: it takes entries in log order as plain values.
``ledger.funds.usage_replay`` feeds it the log and answers for one receipt.
"""

from __future__ import annotations

from bisect import insort
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from ledger.errors import NotFoundError
from ledger.funds.postings import (
    ALLOCATION,
    CONTRIBUTION,
    DISBURSEMENT,
    REVERSAL,
    TRANSFER,
    earmark_key,
)
from ledger.funds.recorder import today_in_vietnam

CASH, IN_KIND = "cash", "in_kind"
USAGE_KINDS = (CONTRIBUTION, ALLOCATION, DISBURSEMENT, TRANSFER, REVERSAL)

Pool = tuple[str, str, str]  # fund, form, earmark key


class MoneyEntry(NamedTuple):
    """What the engine reads of one entry: its index, kind, leaf ``time`` and body."""

    index: int  # type: ignore[assignment]  # shadows tuple.index, which nobody needs here
    kind: str
    time: str
    body: Mapping[str, Any]


@dataclass(slots=True)
class Piece:
    """Part of one gift, in a pool's queue or held by an allocation.

    ``arrival`` and ``offset`` place it in its fund's queue: the log index at which the
    money arrived in the fund and its first đồng among those that arrived there.
    ``via`` lists the entries that carried it between funds.
    """

    gift: int
    amount: int
    arrival: int
    offset: int
    via: tuple[int, ...]

    def key(self) -> tuple[int, int]:
        return (self.arrival, self.offset)

    def cut(self, amount: int) -> Piece:
        """Split off and return the first ``amount`` đồng; this piece keeps the rest."""
        first = Piece(self.gift, amount, self.arrival, self.offset, self.via)
        self.amount -= amount
        self.offset += amount
        return first


class Queue:
    """A pool's unused money in order: the front is used first."""

    __slots__ = ("head", "pieces", "total")

    def __init__(self) -> None:
        self.pieces: list[Piece] = []
        self.head = 0  # pieces before it are used up
        self.total = 0

    def live(self) -> list[Piece]:
        return self.pieces[self.head :]

    def add(self, piece: Piece) -> None:
        self.total += piece.amount
        if self.head == len(self.pieces) or self.pieces[-1].key() < piece.key():
            last = self.pieces[-1] if self.head < len(self.pieces) else None
            if (
                last is not None
                and (last.gift, last.via, last.arrival) == (piece.gift, piece.via, piece.arrival)
                and last.offset + last.amount == piece.offset
            ):
                last.amount += piece.amount
            else:
                self.pieces.append(piece)
        else:
            insort(self.pieces, piece, lo=self.head, key=Piece.key)

    def take(self, amount: int) -> tuple[list[Piece], int]:
        """Pieces worth ``amount`` from the front, and the part the queue could not give."""
        taken: list[Piece] = []
        pieces = self.pieces
        while amount > 0 and self.head < len(pieces):
            piece = pieces[self.head]
            if piece.amount <= amount:
                self.head += 1
                taken.append(piece)
            else:
                taken.append(piece.cut(amount))
            amount -= taken[-1].amount
            self.total -= taken[-1].amount
        if self.head > 512 and self.head * 2 > len(pieces):
            del pieces[: self.head]
            self.head = 0
        return taken, amount

    def remove(self, unwanted: Callable[[Piece], bool]) -> list[Piece]:
        kept: list[Piece] = []
        removed: list[Piece] = []
        for piece in self.live():
            (removed if unwanted(piece) else kept).append(piece)
        self.pieces, self.head = kept, 0
        self.total -= sum(piece.amount for piece in removed)
        return removed

    def replace(self, replacements: Mapping[int, list[Piece]]) -> None:
        """Put each piece named (by ``id``) in ``replacements`` back as its replacement."""
        pieces: list[Piece] = []
        for piece in self.live():
            pieces.extend(replacements.get(id(piece), (piece,)))
        self.pieces, self.head = pieces, 0


@dataclass(slots=True)
class Gift:
    """What an answer shows of a gift (not its whole body: a replay keeps every gift)."""

    index: int
    pool: Pool
    amount: int
    receipt_id: str
    campaign: str | None
    channel: str
    earmark: dict[str, Any] | None
    reversal: int | None = None


@dataclass(slots=True)
class Allocation:
    index: int
    time: str
    body: Mapping[str, Any]
    pool: Pool
    parts: list[Piece]  # in the order taken: disbursements pay them in this order
    paid: int = 0
    reversal: int | None = None

    def paid_of(self, start: int, amount: int) -> int:
        """The disbursed part of the đồng ``start`` .. ``start + amount`` of this allocation."""
        return max(0, min(self.paid - start, amount))


@dataclass(slots=True)
class Transfer:
    index: int
    source: Pool
    target: Pool
    amount: int
    reversal: int | None = None


class Withdrawn(NamedTuple):
    """A part of a gift that an allocation held until a reversal took it back."""

    allocation: int
    amount: int
    disbursed: int
    via: tuple[int, ...]
    reversal: int


class Shortfall(NamedTuple):
    """Money an entry moved that its pool did not hold: never in a log the writer kept."""

    entry: int
    pool: Pool
    amount: int


class Place(NamedTuple):
    """Where a piece is: a queue (``allocation`` None) or an allocation's parts."""

    order: tuple[int, int]
    piece: Piece
    pool: Pool
    allocation: Allocation | None
    start: int  # its first đồng within the allocation


@dataclass(frozen=True)
class UsedPart:
    allocation_index: int
    fund: str
    form: str
    amount: int
    disbursed: int
    purpose: str
    beneficiary: dict[str, Any]
    program: str | None
    decision_ref: str | None
    decision: dict[str, Any] | None
    date: str
    via: tuple[int, ...]
    reversed: bool
    reversal_index: int | None

    def document(self) -> dict[str, Any]:
        return {**asdict(self), "via": list(self.via)}


@dataclass(frozen=True)
class GiftUsage:
    """Where one gift's money is, at one tree size (the ``usage`` endpoint's document)."""

    receipt_id: str
    index: int
    fund: str
    campaign: str | None
    amount: int
    channel: str
    earmark: dict[str, Any] | None
    reversed: bool
    reversal_index: int | None
    used: tuple[UsedPart, ...]
    unused_in: tuple[tuple[str, tuple[int, ...], int], ...]  # fund, via, amount
    tree_size: int

    @property
    def unused(self) -> int:
        return sum(amount for _fund, _via, amount in self.unused_in)

    @property
    def used_total(self) -> int:
        return sum(part.amount for part in self.used if not part.reversed)

    def document(self) -> dict[str, Any]:
        standing = [part for part in self.used if not part.reversed]
        return {
            "receipt_id": self.receipt_id,
            "index": self.index,
            "fund": self.fund,
            "campaign": self.campaign,
            "amount": self.amount,
            "channel": self.channel,
            "earmark": self.earmark,
            "reversed": self.reversed,
            "reversal_index": self.reversal_index,
            "used": [part.document() for part in self.used],
            "used_total": self.used_total,
            "disbursed_total": sum(part.disbursed for part in standing),
            "unused": self.unused,
            "unused_in": [
                {"fund": fund, "via": list(via), "amount": amount}
                for fund, via, amount in self.unused_in
            ],
            "tree_size": self.tree_size,
        }


@dataclass
class Attribution:
    """The attribution of every gift after the entries applied so far, in log order."""

    gifts: dict[int, Gift] = field(default_factory=dict)
    allocations: dict[int, Allocation] = field(default_factory=dict)
    transfers: dict[int, Transfer] = field(default_factory=dict)
    disbursements: dict[int, tuple[int, int]] = field(default_factory=dict)
    queues: dict[Pool, Queue] = field(default_factory=lambda: defaultdict(Queue))
    withdrawn: dict[int, list[Withdrawn]] = field(default_factory=lambda: defaultdict(list))
    shortfalls: list[Shortfall] = field(default_factory=list)
    # Where each gift's pieces are: (queue's fund or holding allocation, start, piece).
    _where: dict[int, list[tuple[str | Allocation, int, Piece]]] | None = None

    def apply(self, entry: MoneyEntry) -> None:
        self._where = None
        body, index = entry.body, entry.index
        if entry.kind == CONTRIBUTION:
            form = IN_KIND if body["channel"] == IN_KIND else CASH
            earmark, amount = body.get("earmark"), int(body["amount"])
            pool = (body["fund"], form, earmark_key(earmark))
            receipt, campaign = str(body.get("receipt_id", "")), body.get("campaign")
            self.gifts[index] = Gift(
                index, pool, amount, receipt, campaign, body["channel"], earmark
            )
            self.queues[pool].add(Piece(index, amount, index, 0, ()))
        elif entry.kind == ALLOCATION:
            pool = (body["fund"], body.get("form", CASH), earmark_key(body.get("earmark")))
            parts = self._take(index, pool, int(body["amount"]))
            self.allocations[index] = Allocation(index, entry.time, body, pool, parts)
        elif entry.kind == DISBURSEMENT:
            allocation = self.allocations.get(int(body["allocation"]))
            if allocation is not None:
                allocation.paid += int(body["amount"])
                self.disbursements[index] = (allocation.index, int(body["amount"]))
        elif entry.kind == TRANSFER:
            key = earmark_key(body.get("earmark"))
            source, target = (body["from_fund"], CASH, key), (body["to_fund"], CASH, key)
            moved = Transfer(index, source, target, int(body["amount"]))
            self.transfers[index] = moved
            taken = self._take(index, source, moved.amount)
            for piece in taken:
                piece.via += (index,)
            self._arrive(target, index, taken)
        elif entry.kind == REVERSAL:
            self._reverse(index, int(body["target"]))

    def _take(self, index: int, pool: Pool, amount: int) -> list[Piece]:
        taken, short = self.queues[pool].take(amount)
        if short:
            self.shortfalls.append(Shortfall(index, pool, short))
        return taken

    def _arrive(self, pool: Pool, index: int, pieces: list[Piece]) -> None:
        """Pieces arriving in a fund at ``index``, queued at its back in the order given."""
        offset = 0
        queue = self.queues[pool]
        for piece in pieces:
            piece.arrival, piece.offset = index, offset
            offset += piece.amount
            queue.add(piece)

    def _reverse(self, index: int, target: int) -> None:
        if target in self.disbursements:
            allocation_index, amount = self.disbursements.pop(target)
            self.allocations[allocation_index].paid -= amount
            return
        allocation = self.allocations.get(target)
        if allocation is not None and allocation.reversal is None:
            allocation.reversal = index
            start = 0
            for part in allocation.parts:
                paid = allocation.paid_of(start, part.amount)
                self.withdrawn[part.gift].append(
                    Withdrawn(target, part.amount, paid, part.via, index)
                )
                start += part.amount
                self.queues[allocation.pool].add(part)
            allocation.parts = []
            return
        gift = self.gifts.get(target)
        if gift is not None and gift.reversal is None:
            gift.reversal = index
            self._reverse_gift(index, gift)
            return
        moved = self.transfers.get(target)
        if moved is not None and moved.reversal is None:
            moved.reversal = index
            self._reverse_transfer(index, moved)

    def _reverse_gift(self, index: int, gift: Gift) -> None:
        """The gift's unused money in its pool goes; other money there takes its other places."""
        queue = self.queues[gift.pool]
        removed = queue.remove(lambda piece: piece.gift == gift.index)
        need = gift.amount - sum(piece.amount for piece in removed)
        substitutes = self._take(index, gift.pool, need)
        places = self._places(lambda piece: piece.gift == gift.index)
        self._substitute(index, places, substitutes, lambda via: ((), via))

    def _reverse_transfer(self, index: int, moved: Transfer) -> None:
        """Its money goes back to the source; other money of the target takes its other places."""
        carried = moved.index

        def split(via: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
            at = via.index(carried)
            return via[:at], via[at + 1 :]

        back = self.queues[moved.target].remove(lambda piece: carried in piece.via)
        need = moved.amount - sum(piece.amount for piece in back)
        substitutes = self._take(index, moved.target, need)
        places = self._places(lambda piece: carried in piece.via)
        displaced, left = self._substitute(index, places, substitutes, split)
        for piece in (*back, *displaced):
            piece.via = split(piece.via)[0]
        for piece in left:  # only if some of its money had gone with a reversed gift
            piece.via += (index,)
        self._arrive(moved.source, index, [*back, *displaced, *left])

    def _places(self, wanted: Callable[[Piece], bool]) -> list[Place]:
        """Every piece ``wanted`` picks, in the log order of the entry that holds it."""
        places = [
            Place(piece.key(), piece, pool, None, 0)
            for pool, queue in self.queues.items()
            for piece in queue.live()
            if wanted(piece)
        ]
        for allocation in self.allocations.values():
            start = 0
            for piece in allocation.parts:
                if wanted(piece):
                    order = (allocation.index, start)
                    places.append(Place(order, piece, allocation.pool, allocation, start))
                start += piece.amount
        return sorted(places, key=lambda place: place.order)

    def _substitute(
        self,
        index: int,
        places: list[Place],
        substitutes: list[Piece],
        split: Callable[[tuple[int, ...]], tuple[tuple[int, ...], tuple[int, ...]]],
    ) -> tuple[list[Piece], list[Piece]]:
        """Substitutes take over the places in order, each keeping its own via and then
        the path of the piece it replaces beyond the reversal's fund. Returns the pieces
        displaced and the substitutes left over."""
        displaced: list[Piece] = []
        replacements: dict[Pool | int, dict[int, list[Piece]]] = defaultdict(dict)
        for place in places:
            old = place.piece
            chunks: list[Piece] = []
            covered = 0
            while covered < old.amount and substitutes:
                wanted = old.amount - covered
                first = substitutes[0]
                piece = substitutes.pop(0) if first.amount <= wanted else first.cut(wanted)
                via = piece.via + split(old.via)[1]
                chunks.append(
                    Piece(piece.gift, piece.amount, old.arrival, old.offset + covered, via)
                )
                covered += piece.amount
            if not covered:
                break
            gone = old if covered == old.amount else old.cut(covered)
            displaced.append(gone)
            holder = place.allocation
            owner: Pool | int = place.pool if holder is None else holder.index
            replacements[owner][id(old)] = chunks if gone is old else [*chunks, old]
            if holder is not None:
                paid = holder.paid_of(place.start, covered)
                self.withdrawn[gone.gift].append(
                    Withdrawn(holder.index, covered, paid, gone.via, index)
                )
        for owner, replaced in replacements.items():
            if isinstance(owner, int):
                allocation = self.allocations[owner]
                allocation.parts = [
                    new for part in allocation.parts for new in replaced.get(id(part), [part])
                ]
            else:
                self.queues[owner].replace(replaced)
        return displaced, substitutes

    def _pieces_of(self, gift: int) -> list[tuple[str | Allocation, int, Piece]]:
        """The gift's standing pieces, from an index of all gifts built once per state."""
        if self._where is None:
            where: dict[int, list[tuple[str | Allocation, int, Piece]]] = defaultdict(list)
            for (fund, _form, _earmark), queue in self.queues.items():
                for piece in queue.live():
                    where[piece.gift].append((fund, 0, piece))
            for allocation in self.allocations.values():
                start = 0
                for piece in allocation.parts:
                    where[piece.gift].append((allocation, start, piece))
                    start += piece.amount
            self._where = where
        return self._where.get(gift, [])

    def usage(self, index: int, tree_size: int) -> GiftUsage:
        gift = self.gifts.get(index)
        if gift is None:
            raise NotFoundError(f"entry {index} is not a gift")
        used: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(lambda: [0, 0])
        unused: dict[tuple[str, tuple[int, ...]], int] = defaultdict(int)
        for holder, start, piece in self._pieces_of(index):
            if isinstance(holder, str):
                unused[holder, piece.via] += piece.amount
            else:
                sums = used[holder.index, piece.via]
                sums[0] += piece.amount
                sums[1] += holder.paid_of(start, piece.amount)
        parts = [
            self._part(number, via, amount, paid, None)
            for (number, via), (amount, paid) in used.items()
        ]
        gone: dict[tuple[int, tuple[int, ...], int], list[int]] = defaultdict(lambda: [0, 0])
        for withdrawn in self.withdrawn.get(index, []):
            sums = gone[withdrawn.allocation, withdrawn.via, withdrawn.reversal]
            sums[0] += withdrawn.amount
            sums[1] += withdrawn.disbursed
        parts += [
            self._part(number, via, amount, paid, reversal)
            for (number, via, reversal), (amount, paid) in gone.items()
        ]
        parts.sort(key=lambda part: (part.allocation_index, part.reversed, part.via))
        return GiftUsage(
            receipt_id=gift.receipt_id,
            index=index,
            fund=gift.pool[0],
            campaign=gift.campaign,
            amount=gift.amount,
            channel=gift.channel,
            earmark=gift.earmark,
            reversed=gift.reversal is not None,
            reversal_index=gift.reversal,
            used=tuple(parts),
            unused_in=tuple(sorted((fund, via, amount) for (fund, via), amount in unused.items())),
            tree_size=tree_size,
        )

    def _part(
        self, number: int, via: tuple[int, ...], amount: int, paid: int, reversal: int | None
    ) -> UsedPart:
        allocation = self.allocations[number]
        body = allocation.body
        beneficiary = body.get("beneficiary", {})
        return UsedPart(
            allocation_index=number,
            fund=allocation.pool[0],
            form=allocation.pool[1],
            amount=amount,
            disbursed=paid,
            purpose=body.get("purpose", ""),
            beneficiary={
                "display": beneficiary.get("display"),
                "type": beneficiary.get("type"),
                "unit": beneficiary.get("unit"),
            },
            program=body.get("program"),
            decision_ref=body.get("decision_ref"),
            decision=body.get("decision"),
            date=today_in_vietnam(datetime.fromisoformat(allocation.time)).isoformat(),
            via=via,
            reversed=reversal is not None,
            reversal_index=reversal,
        )


def attribute(entries: Iterable[MoneyEntry]) -> Attribution:
    books = Attribution()
    for entry in entries:
        books.apply(entry)
    return books
