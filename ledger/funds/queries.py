"""Reads the public fund pages need beyond ``ledger.funds.state``: whole lists at once.

A list page answers with a fixed number of queries however many campaigns or units
there are, instead of one balance query per row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.funds.models import (
    FundRow,
    MobilizerRow,
    UnitRow,
)


def units_in_tree_order(session: Session) -> list[UnitRow]:
    """Every unit, each followed by the units below it (children by code)."""
    rows = session.scalars(select(UnitRow).order_by(UnitRow.code)).all()
    known = {row.code for row in rows}
    children: dict[str | None, list[UnitRow]] = defaultdict(list)
    for row in rows:
        # A parent that is not (yet) a unit makes its child a root rather than lost.
        children[row.parent if row.parent in known else None].append(row)
    ordered: list[UnitRow] = []
    seen: set[str] = set()
    stack = list(reversed(children[None]))
    while stack:
        row = stack.pop()
        if row.code in seen:
            continue
        seen.add(row.code)
        ordered.append(row)
        stack.extend(reversed(children.get(row.code, [])))
    # Units caught in a loop (which the recorder refuses) are still listed.
    ordered.extend(row for row in rows if row.code not in seen)
    return ordered


def funds_of_units(session: Session, units: set[str]) -> Sequence[FundRow]:
    if not units:
        return []
    return session.scalars(
        select(FundRow).where(FundRow.unit.in_(units)).order_by(FundRow.code)
    ).all()


def mobilizers(session: Session) -> Sequence[MobilizerRow]:
    return session.scalars(select(MobilizerRow).order_by(MobilizerRow.code)).all()
