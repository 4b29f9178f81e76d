"""``ledger demo``: fill an empty ledger with a realistic Lạng Sơn campaign, by seed.

What a newcomer, a reviewer or a monitor needs to see the ledger at work: the
province of Lạng Sơn and its eleven districts, their COVID-19 funds, the 2021
campaign of the plan "Cả nước đoàn kết, chung sức, đồng lòng thi đua phòng, chống
và chiến thắng đại dịch COVID-19", a few thousand gifts, remittances to the
province, a gift entered twice and its reversal, allocations with decisions and
payments with documents, and, for every fund kind, a campaign open today so that a
manager can record a gift at once.

Everything goes through ``ledger.funds.recorder`` like any writer's request, each
district's operations under that district's own scope, so the demo obeys and shows
the same rules: balances never go negative, earmarked money leaves only through its
earmark, private facts (phone numbers, beneficiaries' full names and ID numbers)
never reach a leaf.

Spending follows the support programmes of Resolution 68/NQ-CP (1 July 2021), which
the funds topped up:

* ``NQ68-LD-TAM-HOAN``: workers whose labour contracts were suspended, or on unpaid leave;
* ``NQ68-LD-NGUNG-VIEC``: workers stood down for treatment, isolation or lockdown;
* ``NQ68-F0-CACH-LY``: people treated for COVID-19 (F0) or in medical isolation (F1);
* ``NQ68-LD-TU-DO``: self-employed workers without a labour contract who lost their work.

The same seed gives the same entry bodies, given the same privacy key (it keys the
hashes of phone and ID numbers) and the same day (the campaigns open today are dated
from it); entry times and checkpoint signatures differ.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import log
from ledger.db import Database
from ledger.errors import ConflictError
from ledger.funds import demo_data as d
from ledger.funds.access import FUND_MANAGER, Scope, command_line
from ledger.funds.documents import store_document
from ledger.funds.models import PostingRow, UnitRow
from ledger.funds.postings import AVAILABLE, IN_KIND
from ledger.funds.privacy import PrivacyKey, mask_name
from ledger.funds.recorder import Recorder, receipt_id, today_in_vietnam
from ledger.funds.state import fund_balances
from ledger.funds.text import dong, fold_ascii
from ledger.settings import Settings

DEFAULT_SEED = 2021
DEFAULT_GIFTS = 3_000
OPENS_2021, CLOSES_2021, DISTRIBUTE_2021 = "2021-05-01", "2021-12-31", "2022-03-31"
PLACES = (d.PROVINCE, *d.DISTRICTS)
Pool = tuple[str, str, str]  # fund, account, earmark key


@dataclass(frozen=True)
class DemoResult:
    """What the demo recorded (``counts``: entries per kind) and the invented private values."""

    counts: dict[str, int]
    entries: int
    received: int
    received_in_kind: int
    documents: int
    seconds: float
    sample_receipt: str
    private_values: tuple[str, ...]


def run_demo(
    database: Database,
    settings: Settings,
    *,
    seed: int = DEFAULT_SEED,
    gifts: int = DEFAULT_GIFTS,
    now: datetime | None = None,
) -> DemoResult:
    """Fill an empty ledger in one transaction (a few append batches): all, or nothing."""
    started = time.perf_counter()
    privacy = PrivacyKey.load(settings.privacy_key_file)
    with database.writing() as session:
        size = log.tree_size(session)
        if size > 1 or session.scalar(select(UnitRow.code).limit(1)) is not None:
            raise ConflictError(
                f"the demo needs an empty ledger, and this one already holds {size} entries: "
                "run `ledger init` on a fresh database"
            )
        demo = _Demo(session, settings, privacy, random.Random(seed), now)  # noqa: S311
        demo.registry()
        demo.gifts_2021(gifts)
        demo.spending()
        demo.current(max(15, gifts // 40))
        balances = fund_balances(session).values()
        return DemoResult(
            counts=dict(demo.counts),
            entries=log.tree_size(session),
            received=sum(b.received for b in balances),
            received_in_kind=sum(b.received_in_kind for b in balances),
            documents=demo.documents,
            seconds=time.perf_counter() - started,
            sample_receipt=demo.sample_receipt,
            private_values=tuple(demo.invent.private),
        )


def actor(place: d.Place) -> str:
    """``"demo:mttq-huyen-cao-loc"``: the Front committee of a place."""
    return "demo:mttq-" + "-".join(fold_ascii(place.name).lower().split())


class _Demo:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        privacy: PrivacyKey,
        rng: random.Random,
        now: datetime | None,
    ) -> None:
        self.session, self.settings, self.privacy, self.now = session, settings, privacy, now
        self.rng, self.invent = rng, d.Inventor(rng)
        self.today = today_in_vietnam(now)
        self.recorder: Recorder | None = None
        self.staged = 0
        self.counts: Counter[str] = Counter()
        self.documents = 0
        self.sample_receipt = ""
        self.duplicate: tuple[d.Place, int, int] | None = None  # place, original, copy
        self.decisions: Counter[str] = Counter()
        self.pinned: list[object] = []
        self.scale = 1.0  # fewer gifts, fewer people to support
        self.places = {p.code: p for p in (*PLACES, *d.COMMUNES, *d.RESIDENTIAL_AREAS)}
        self.mobilisers: dict[str, list[str]] = {p.code: [] for p in PLACES}
        self.open_campaigns: list[tuple[d.Place, str, str, date, date]] = []
        self.scopes = {p.code: Scope(actor(p), FUND_MANAGER, p.code) for p in d.DISTRICTS}
        self.scopes[d.PROVINCE.code] = command_line(actor(d.PROVINCE))

    # -- recording ---------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One append batch (split if it would pass the log's limit), one checkpoint."""
        yield
        self.commit()

    def commit(self) -> None:
        if self.recorder is not None:
            for recorded in self.recorder.commit():
                self.sample_receipt = recorded.extra.get("receipt_id", self.sample_receipt)
        self.recorder, self.staged = None, 0

    def add(self, place: d.Place, kind: str, data: dict[str, Any]) -> int:
        """Record one operation as the committee of ``place`` (a district acts for itself)."""
        if self.staged >= log.MAX_BATCH:
            self.commit()
        if self.recorder is None:
            scope = self.scopes[d.PROVINCE.code]
            self.recorder = Recorder(self.session, self.settings, scope, self.privacy, now=self.now)
        # Each entry is the act, and within the reach, of the committee of its district.
        index = self.recorder.add(kind, data, scope=self.scopes[self.district_of(place).code])
        self.staged += 1
        self.counts[kind] += 1
        return index

    def document(self, place: d.Place, filename: str, media_type: str, content: bytes) -> str:
        self.documents += 1
        return store_document(self.session, content, filename, media_type, actor(place))

    def district_of(self, place: d.Place) -> d.Place:
        while place.parent not in (None, d.PROVINCE.code):
            place = self.places[str(place.parent)]
        return place

    # -- the register ------------------------------------------------------------------

    def registry(self) -> None:
        """Units, funds, campaigns (of 2021 and open today) and the mobilisers."""
        province = d.PROVINCE
        with self.batch():
            for place in (*PLACES, *d.COMMUNES, *d.RESIDENTIAL_AREAS):
                unit = {"code": place.code, "name": place.name, "level": place.level}
                # The province registers its districts; a district, its communes.
                author = self.places[place.parent] if place.parent else province
                self.add(author, "unit", {**unit, "parent": place.parent})
            for place in PLACES:
                fund = {"code": f"{place.code}-COVID", "unit": place.code, "kind": "covid19"}
                self.add(place, "fund", fund)
                self.add(place, "campaign", self.campaign_2021(place))
            more = [(province, "poor"), (province, "relief")]
            for place, kind in [*more, *((district, "poor") for district in d.DISTRICTS[:2])]:
                fund = {"code": f"{place.code}-{kind.upper()}", "unit": place.code, "kind": kind}
                self.add(place, "fund", fund)
            for place, fund_code, tag in (
                (province, "LS-COVID", "TIEPSUC"),
                (province, "LS-POOR", "VNN"),
                (province, "LS-RELIEF", "CUUTRO"),
                *((place, f"{place.code}-POOR", "VNN") for place in d.DISTRICTS[:2]),
            ):
                self.add(place, "campaign", self.campaign_now(place, fund_code, tag))
            for place in PLACES:
                for suffix, name in d.MEMBER_ORGANISATIONS:
                    self.mobiliser(place, f"{place.code}-{suffix}", f"{name} {place.lower}")
            for area in d.RESIDENTIAL_AREAS:
                self.mobiliser(area, f"{area.code}-BCTMT", f"Ban Công tác Mặt trận {area.lower}")
            for code, name, home in d.INDIVIDUAL_MOBILISERS:
                self.mobiliser(self.places[home], code, name, "individual")

    def mobiliser(self, place: d.Place, code: str, name: str, type_: str = "collective") -> None:
        data = {"code": code, "name": name, "type": type_, "unit": place.code}
        self.add(place, "mobilizer", data)
        self.mobilisers[self.district_of(place).code].append(code)

    def holder(self, place: d.Place) -> str:
        return f"Ủy ban Mặt trận Tổ quốc Việt Nam {place.lower}"

    def campaign_2021(self, place: d.Place) -> dict[str, Any]:
        return {
            "code": f"{place.code}-COVID-2021",
            "fund": f"{place.code}-COVID",
            "name": f"Ủng hộ phòng, chống dịch COVID-19 năm 2021 {place.lower}",
            "purpose": f"Thực hiện kế hoạch “{d.PLAN_2021}”: mua vắc xin, trang thiết bị, vật tư "
            "y tế, hỗ trợ lực lượng tuyến đầu và người dân gặp khó khăn do dịch",
            "reference": f"{place.short}21COVID",
            "opens": OPENS_2021,
            "closes": CLOSES_2021,
            "distribute_by": DISTRIBUTE_2021,
            "account": self.invent.account(self.holder(place), place.bank_bin),
        }

    def campaign_now(self, place: d.Place, fund: str, tag: str) -> dict[str, Any]:
        year, (name, purpose) = self.today.year, d.CURRENT_CAMPAIGNS[tag]
        opens = self.today - timedelta(days=self.rng.randint(30, 60))
        closes = self.today + timedelta(days=self.rng.randint(30, 60))
        self.open_campaigns.append((place, fund, f"{fund}-{year}", opens, closes))
        bank = self.rng.choice(("970436", "970418", "970415"))
        return {
            "code": f"{fund}-{year}",
            "fund": fund,
            "name": f"{name} năm {year} {place.lower}",
            "purpose": purpose,
            "reference": f"{place.short}{year % 100:02d}{tag}",
            "opens": opens.isoformat(),
            "closes": closes.isoformat(),
            "distribute_by": (closes + timedelta(days=90)).isoformat(),
            "account": self.invent.account(self.holder(place), bank),
        }

    # -- gifts -------------------------------------------------------------------------

    def gifts_2021(self, count: int) -> None:
        """``count`` gifts to the 2021 campaigns, and one cash gift entered twice."""
        weights = [place.weight for place in PLACES]
        self.scale = min(1.0, count / DEFAULT_GIFTS)
        cash: list[tuple[d.Place, dict[str, Any], int]] = []
        with self.batch():
            for _ in range(count):
                place = self.rng.choices(PLACES, weights)[0]
                fund, day = f"{place.code}-COVID", self.invent.day_2021()
                data = self.invent.gift(fund, f"{fund}-2021", day, self.mobilisers[place.code])
                if self.rng.random() < 0.08:
                    data["earmark"] = self.invent.earmark(place)
                index = self.add(place, "contribution", data)
                if data["channel"] == "cash":
                    cash.append((place, data, index))
            if cash:
                place, data, original = self.rng.choice(cash)
                self.duplicate = place, original, self.add(place, "contribution", data)

    def current(self, count: int) -> None:
        """Gifts and pledges to the campaigns open today, and the first decisions on them."""
        rng, invent = self.rng, self.invent
        with self.batch():
            for place, fund, campaign, opens, _closes in self.open_campaigns:
                launch = {  # announced at the launch ceremony, paid by transfer
                    "fund": fund,
                    "campaign": campaign,
                    "amount": rng.choice((200, 300, 500)) * 10**6,
                    "channel": "bank",
                    "donor": {"display": rng.choice(d.ORGANISATIONS), "type": "organization"},
                    "reference": invent.bank_reference(opens),
                    "received_on": opens.isoformat(),
                }
                self.add(place, "contribution", launch)
            for _ in range(count):
                place, fund, campaign, opens, _closes = rng.choice(self.open_campaigns)
                day = opens + timedelta(days=rng.randint(0, (self.today - opens).days))
                gift = invent.gift(fund, campaign, day, self.mobilisers[place.code])
                self.add(place, "contribution", gift)
            for _ in range(30):
                self.pledge(*rng.choice(self.open_campaigns))
            for pool, held in self.pools().items():
                self.spend_now(pool, held)

    def pledge(self, place: d.Place, fund: str, campaign: str, _opens: date, closes: date) -> None:
        """A promise, kept at once about a third of the time by a transfer naming it."""
        rng = self.rng
        due = min(closes, self.today + timedelta(days=rng.randint(7, 40)))
        data: dict[str, Any] = {
            "fund": fund,
            "campaign": campaign,
            "amount": self.invent.weighted(d.ORGANISATION_AMOUNTS),
            "donor": self.invent.donor(organisation=rng.random() < 0.8),
            "due_on": due.isoformat(),
        }
        if self.mobilisers[place.code]:
            data["mobilizer"] = rng.choice(self.mobilisers[place.code])
        index = self.add(place, "pledge", data)
        if rng.random() < 0.35:
            assert self.recorder is not None  # noqa: S101 - add() just made one
            kept = {key: value for key, value in data.items() if key != "due_on"}
            kept.update(
                channel="bank",
                received_on=self.today.isoformat(),
                reference=self.invent.bank_reference(self.today),
                pledge=receipt_id(self.recorder.origin, index, prefix="P"),
            )
            self.add(place, "contribution", kept)

    # -- spending ----------------------------------------------------------------------

    def pools(self) -> dict[Pool, int]:
        """What each fund holds unallocated, per account and earmark, as posted so far."""
        held = func.sum(PostingRow.amount)
        rows = self.session.execute(
            select(PostingRow.fund, PostingRow.account, PostingRow.earmark, held)
            .where(PostingRow.account.in_((AVAILABLE, IN_KIND)))
            .group_by(PostingRow.fund, PostingRow.account, PostingRow.earmark)
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
            self.holder(place),
            f"QUYẾT ĐỊNH số {number} ngày {decided:%d/%m/%Y}",
            f"Về việc: {data['purpose']}",
            f"Hỗ trợ: {shown}, trị giá {dong(data['amount'])}",
        ]
        filename = number.replace("/", "-") + ".pdf"
        data["documents"] = [self.document(place, filename, "application/pdf", d.pdf(lines))]
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
            title = "PHIẾU CHI" if data.get("form", "cash") == "cash" else "BIÊN BẢN BÀN GIAO"
            slip = (
                f"{title}\nSố: {allocation}-{number}\nNgày: {paid:%d/%m/%Y}\n"
                f"Theo Quyết định số {data['decision']['number']}\nNgười nhận: {shown}\n"
                f"Giá trị: {dong(part)}\nNội dung: {data['purpose']}\n"
            ).encode()
            filed = self.document(place, f"{allocation}-{number}.txt", "text/plain", slip)
            payment = {"allocation": allocation, "amount": part, "documents": [filed]}
            self.add(place, "disbursement", {**payment, "paid_on": paid.isoformat()})
