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
never reach a leaf. This module registers and gives; the spending is
``ledger.funds.demo_spending``'s, what is invented comes from ``demo_data``, and what
the audit layer adds (acknowledged findings, award nominations and the board's
decisions, and the demo witness that ``ledger demo`` has cosign the final checkpoint)
is ``demo_audit``'s.

The same seed gives the same entry bodies, given the same privacy key (it keys the
hashes of phone and ID numbers) and the same day (the campaigns open today are dated
from it); entry times, checkpoint roots and signatures differ, and with them the
checkpoint a nomination cites as its evidence.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import log
from ledger.db import Database
from ledger.errors import ConflictError
from ledger.funds import demo_data as d
from ledger.funds.access import FUND_MANAGER, Scope, command_line
from ledger.funds.demo_spending import Spending
from ledger.funds.documents import store_document
from ledger.funds.models import UnitRow
from ledger.funds.privacy import PrivacyKey
from ledger.funds.recorder import Recorder, receipt_id, today_in_vietnam
from ledger.funds.state import fund_balances
from ledger.funds.text import fold_ascii
from ledger.settings import Settings

DEFAULT_SEED = 2021
DEFAULT_GIFTS = 3_000
OPENS_2021, CLOSES_2021, DISTRIBUTE_2021 = "2021-05-01", "2021-12-31", "2022-03-31"
PLACES = (d.PROVINCE, *d.DISTRICTS)


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
    acknowledged: tuple[str, ...] = ()  # finding IDs
    still_blocked: int = 0  # gifts under a blocking finding nobody acknowledged
    nominations: dict[str, int] = field(default_factory=dict)  # per state


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
        from ledger.funds.demo_audit import oversee  # the audit layer, on top of the ledger

        campaigns = [f"{place.code}-COVID-2021" for place in PLACES]
        seen = oversee(session, settings, privacy, demo.rng, now, demo.today, campaigns)
        demo.counts.update(seen.counts)
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
            acknowledged=seen.acknowledged,
            still_blocked=seen.still_blocked,
            nominations=dict(seen.nominations),
        )


def actor(place: d.Place) -> str:
    """``"demo:mttq-huyen-cao-loc"``: the Front committee of a place."""
    return "demo:mttq-" + "-".join(fold_ascii(place.name).lower().split())


class _Demo(Spending):
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
        self.duplicate = None
        self.decisions = Counter()
        self.scale = 1.0
        self.places = {p.code: p for p in (*PLACES, *d.COMMUNES, *d.RESIDENTIAL_AREAS)}
        self.mobilisers: dict[str, list[str]] = {p.code: [] for p in PLACES}
        self.open_campaigns = []
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
                # The first gift: allocations use gifts first in, first out, so its page
                # shows where the money went.
                self.sample_receipt = self.sample_receipt or recorded.extra.get("receipt_id", "")
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
            "account": self.invent.account(d.front_committee(place), place.bank_bin),
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
            "account": self.invent.account(d.front_committee(place), bank),
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
                if data["channel"] == "cash" and "reference" not in data:
                    cash.append((place, data, index))  # a receipt's number would refuse the copy
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
