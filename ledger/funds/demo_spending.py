"""The spending part of ``ledger demo``: remittances, allocations and their payments.

Spending follows the support programmes of Resolution 68/NQ-CP (1 July 2021), which
the funds topped up:

* ``NQ68-LD-TAM-HOAN``: workers whose labour contracts were suspended, or on unpaid leave;
* ``NQ68-LD-NGUNG-VIEC``: workers stood down for treatment, isolation or lockdown;
* ``NQ68-F0-CACH-LY``: people treated for COVID-19 (F0) or in medical isolation (F1);
* ``NQ68-LD-TU-DO``: self-employed workers without a labour contract who lost their work.

Beneficiaries are institutions (hospitals, steering committees of a district or
commune) and people, whose full names and ID numbers the core keeps off the leaves;
every allocation files its decision as a document, every payment its slip (the
payment voucher, or for goods the hand-over minutes), each a one-page PDF stored with
the entry that names it, so that every document a page links to can be opened.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.funds import demo_data as d
from ledger.funds.demo_pdf import pdf
from ledger.funds.models import PoolRow
from ledger.funds.postings import AVAILABLE, IN_KIND
from ledger.funds.privacy import mask_name
from ledger.funds.text import dong

Pool = tuple[str, str, str]  # fund, account, earmark key
OpenCampaign = tuple[d.Place, str, str, date, date]  # place, fund, campaign, opens, closes


class Spending:
    """Spending, mixed into the demo (``ledger.funds.demo``), which records and registers.

    The demo provides what is declared here: its state, and ``add`` (record one
    operation as the committee of a place), ``document`` (store a file) and ``batch``
    (one append batch).
    """

    session: Session
    rng: random.Random
    invent: d.Inventor
    today: date
    scale: float  # fewer gifts, fewer people to support
    places: dict[str, d.Place]
    open_campaigns: list[OpenCampaign]
    duplicate: tuple[d.Place, int, int] | None  # place, original, copy
    decisions: Counter[str]
    add: Callable[[d.Place, str, dict[str, Any]], int]
    document: Callable[[d.Place, str, str, bytes], str]
    batch: Callable[[], AbstractContextManager[None]]

    def pools(self) -> dict[Pool, int]:
        """What each fund holds unallocated, per account and earmark, as posted so far."""
        rows = self.session.execute(
            select(PoolRow.fund, PoolRow.account, PoolRow.earmark, PoolRow.balance).where(
                PoolRow.account.in_((AVAILABLE, IN_KIND))
            )
        )
        found = {(fund, account, earmark): int(total) for fund, account, earmark, total in rows}
        return {pool: found[pool] for pool in sorted(found) if found[pool] > 0}

    def spending(self) -> None:
        """Undo the duplicate, remit part of each district's money, allocate and pay."""
        with self.batch():
            if self.duplicate is not None:
                place, original, copy = self.duplicate
                reason = f"Phiếu thu nhập hai lần: trùng với bút toán số {original}"
                self.add(place, "reversal", {"target": copy, "reason": reason})
            pools = self.pools()
            province = ("LS-COVID", AVAILABLE, "")
            for place in d.DISTRICTS:
                pool = (f"{place.code}-COVID", AVAILABLE, "")
                amount = int(pools.get(pool, 0) * self.rng.uniform(0.15, 0.3)) // 10**6 * 10**6
                if amount > 0:
                    remittance = {"from_fund": pool[0], "to_fund": province[0], "amount": amount}
                    reference = f"UNC{self.rng.randrange(10**9):09d}"
                    remittance.update(purpose=d.TRANSFER_PURPOSE, reference=reference)
                    self.add(place, "transfer", remittance)
                    pools[pool] -= amount
                    pools[province] = pools.get(province, 0) + amount
            for pool, held in pools.items():
                self.spend_2021(self.places[pool[0].removesuffix("-COVID")], pool, held)

    def spend_2021(self, place: d.Place, pool: Pool, held: int) -> None:
        """Allocate most of one pool: people under Resolution 68 first, then institutions."""
        rng, (fund, account, earmark_key) = self.rng, pool
        base: dict[str, Any] = {"fund": fund, "campaign": f"{fund}-2021"}
        if earmark_key:
            base["earmark"] = json.loads(earmark_key)
        if account == IN_KIND:
            base["form"] = "in_kind"
            for amount in self.split(int(held * rng.uniform(0.9, 1.0)), rng.randint(1, 2)):
                beneficiary, _purpose = self.institution(place, base.get("earmark"))
                data = {**base, "amount": amount, "purpose": d.IN_KIND_PURPOSE}
                self.allocate(place, {**data, "beneficiary": beneficiary}, self.day(11, 14))
            return
        budget = int(held * rng.uniform(0.7, 0.9))
        people = rng.randint(12, 20) if place is d.PROVINCE else rng.randint(3, 6)
        people = 0 if earmark_key else max(1, round(people * self.scale))
        for _ in range(people):
            program, purpose, amounts = rng.choice(d.PROGRAMS)
            amount = rng.choice(amounts)
            if amount > budget:
                break
            budget -= amount
            data = {**base, "amount": amount, "purpose": purpose, "program": program}
            self.allocate(place, {**data, "beneficiary": self.person_in(place)}, self.day(7, 11))
        for amount in self.split(budget, rng.randint(1, 2 if earmark_key else 4)):
            beneficiary, purpose = self.institution(place, base.get("earmark"))
            data = {**base, "amount": amount, "purpose": purpose, "beneficiary": beneficiary}
            self.allocate(place, data, self.day(6, 12))

    def spend_now(self, pool: Pool, held: int) -> None:
        """A first house for the poor, or relief for a family hit by floods, decided lately."""
        fund, account, earmark_key = pool
        kind = fund.rsplit("-", 1)[1].lower()
        if account != AVAILABLE or earmark_key or kind not in d.CURRENT_SPENDING:
            return
        place, _fund, campaign, opens, _closes = next(
            c for c in self.open_campaigns if c[1] == fund
        )
        program, purpose = d.CURRENT_SPENDING[kind]
        amount = min(self.rng.choice((40, 50, 60)) * 10**6, held // 3 // 10**6 * 10**6)
        if amount > 0:
            decided = max(opens, self.today - timedelta(days=self.rng.randint(0, 20)))
            data = {"fund": fund, "campaign": campaign, "amount": amount, "purpose": purpose}
            data.update(program=program, beneficiary=self.person_in(place))
            self.allocate(place, data, decided, pay=kind == "relief")

    def day(self, first: int, last: int) -> date:
        """A day of 2021 from month ``first`` to ``last`` (13 and on: early 2022)."""
        month = self.rng.randint(first, last)
        return date(2021 + (month - 1) // 12, (month - 1) % 12 + 1, self.rng.randint(1, 28))

    def split(self, total: int, parts: int) -> list[int]:
        """``total`` cut into up to ``parts`` round amounts that add up to at most it."""
        step = 10**6 if total >= 10**7 * parts else 1_000
        shares = [self.rng.uniform(1, 3) for _ in range(parts)]
        pieces = [int(total * share / sum(shares)) // step * step for share in shares]
        return [piece for piece in pieces if piece > 0]

    def institution(
        self, place: d.Place, earmark: dict[str, str] | None
    ) -> tuple[dict[str, str], str]:
        """A collective beneficiary in ``place`` or in the earmarked unit, and a purpose."""
        earmark = earmark or {}
        if place is d.PROVINCE and "unit" not in earmark:
            name, purpose = self.rng.choice(d.PROVINCE_BENEFICIARIES)
            target = place
        else:
            communes = (c for c in d.COMMUNES if c.parent == place.code)
            target = self.places.get(earmark.get("unit", "")) or self.rng.choice([place, *communes])
            name, purpose = d.steering_committee(target), self.rng.choice(d.DISTRICT_PURPOSES)
            if target.level == "district":
                name = d.health_centre(target)
        beneficiary = {"display": name, "type": "organization", "unit": target.code}
        return beneficiary, earmark.get("purpose", purpose)

    def person_in(self, place: d.Place) -> dict[str, Any]:
        """An individual beneficiary; the core masks the name and hashes the ID number."""
        name, gender = self.invent.person()
        home = place if place is not d.PROVINCE else self.rng.choice(d.DISTRICTS)
        beneficiary = {"display": name, "type": "individual", "unit": home.code}
        if self.rng.random() < 0.6:
            beneficiary["national_id"] = self.invent.national_id(gender)
        return beneficiary

    def allocate(
        self, place: d.Place, data: dict[str, Any], decided: date, pay: bool = True
    ) -> None:
        """A decision filed as a document, the allocation, and (mostly) its payments."""
        self.decisions[place.code] = self.decisions[place.code] or self.rng.randint(40, 160)
        self.decisions[place.code] += 1
        suffix = "QĐ-MTTQ" if place is d.PROVINCE else "QĐ-BTT"
        number = f"{self.decisions[place.code]}/{suffix}"
        approver = f"Ban Thường trực Ủy ban MTTQ Việt Nam {place.lower}"
        data["decision"] = {"number": number, "date": decided.isoformat(), "approver": approver}
        shown = data["beneficiary"]["display"]
        if data["beneficiary"]["type"] == "individual":
            shown = mask_name(shown)  # documents are shown too: no full names in them
        lines = [
            d.front_committee(place),
            f"QUYẾT ĐỊNH số {number} ngày {decided:%d/%m/%Y}",
            f"Về việc: {data['purpose']}",
            f"Hỗ trợ: {shown}, trị giá {dong(data['amount'])}",
        ]
        filename = number.replace("/", "-") + ".pdf"
        data["documents"] = [self.document(place, filename, "application/pdf", pdf(lines))]
        index = self.add(place, "allocation", data)
        if pay:
            self.pay(place, index, data, shown)

    def pay(self, place: d.Place, allocation: int, data: dict[str, Any], shown: str) -> None:
        """Mostly at once; sometimes in two instalments, or only half so far."""
        draw, amount, half = self.rng.random(), data["amount"], data["amount"] // 2
        parts = [amount] if draw < 0.9 else [half, amount - half] if draw < 0.95 else [half]
        paid = date.fromisoformat(data["decision"]["date"])
        for number, part in enumerate(parts, 1):
            paid = min(paid + timedelta(days=self.rng.randint(2, 25)), self.today)
            cash = data.get("form", "cash") == "cash"
            title, prefix = ("PHIẾU CHI", "PC") if cash else ("BIÊN BẢN BÀN GIAO", "BBBG")
            slip = [
                d.front_committee(place),
                f"{title} số {allocation}-{number} ngày {paid:%d/%m/%Y}",
                f"Theo Quyết định số {data['decision']['number']}",
                f"Người nhận: {shown}",
                f"Giá trị: {dong(part)}",
                f"Nội dung: {data['purpose']}",
            ]
            filename = f"{prefix}-{allocation}-{number}.pdf"
            filed = self.document(place, filename, "application/pdf", pdf(slip))
            payment = {"allocation": allocation, "amount": part, "documents": [filed]}
            self.add(place, "disbursement", {**payment, "paid_on": paid.isoformat()})
