"""The audit part of ``ledger demo``: an auditor, the awards board and a witness at work.

After the money, the demo shows what the audit layer makes of the same log:

* the Front's inspection committee (role ``auditor``) looks at the large cash gifts
  the anomaly rules block for want of a receipt number, finds the paperwork of about
  half of them (at most two) and acknowledges those findings with its reason, so that
  those gifts count again; the others stay blocked, so the audit shows both kinds;
* the province's emulation and rewards board (role ``awards_board``) proposes, as
  ``ledger awards propose`` does, the nominations each 2021 campaign's rankings earn,
  all counted at one signed checkpoint with the blocked gifts left out, and takes them
  through its workflow campaign by campaign: some decided (conferred, or forwarded when
  the form is the state's or the People's Committee's), one rejected with its reason,
  some under review, some not looked at yet;
* ``witness_demo`` has a demo witness, whose key the demo makes in the instance folder,
  cosign the final checkpoint through the witness's own HTTP edge, in process. It is a
  demo: a witness whose key sits beside the ledger proves nothing to anyone.

Every entry goes through ``ledger.funds.recorder`` under the scope of the role that
would write it. The same seed gives the same findings acknowledged, the same
nominations and the same decisions.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from audit import load_all, rankings, rules, witnesses
from audit.acknowledgements import ACKNOWLEDGEMENT
from audit.awards import nominations as n
from audit.awards.criteria import TYPES, Criteria
from audit.awards.proposing import Proposal, RankedAt, record_nominations
from audit.cosignature import WitnessSigner
from audit.findings import Finding, blocked_gifts
from audit.witness import KnownLog, StateFile, Witness
from audit.witness_server import create_witness_app
from ledger import log
from ledger.db import Database
from ledger.funds import demo_data as d
from ledger.funds.access import AUDITOR, AWARDS_BOARD, Scope
from ledger.funds.privacy import PrivacyKey
from ledger.funds.recorder import Recorded, Recorder
from ledger.funds.text import dong, fold_ascii
from ledger.settings import Settings

DEMO_WITNESS = "nhan-chung.mttq-langson.vn/demo"
WITNESS_URL = "http://127.0.0.1:7380"
WITNESS_KEY_FILE = "demo-witness.key"
WITNESS_STATE_FILE = "demo-witness-state.json"
LARGE_CASH_GIFT = "large_cash_gift"
IDLE_MONEY = "idle_money"
PLACES = {p.code: p for p in (d.PROVINCE, *d.DISTRICTS, *d.COMMUNES, *d.RESIDENTIAL_AREAS)}
# Where a campaign's nominations stand: decided, under review, or not looked at yet.
DECIDED, REVIEWED, WAITING = "decided", "reviewed", "waiting"
REJECTION = (
    "Hồ sơ chưa có báo cáo thành tích được cấp ủy cùng cấp xác nhận theo quy định; "
    "đề nghị hoàn thiện hồ sơ và đề xuất lại trong đợt xét sau"
)
# Who decides a form, as its criteria name them, in the words of a decision.
AUTHORITIES = {
    "state": "cấp có thẩm quyền của Nhà nước",
    "province_people_committee": "Chủ tịch Ủy ban nhân dân tỉnh Lạng Sơn",
}


def _slug(place: d.Place) -> str:
    return "-".join(fold_ascii(place.name).lower().split())


AUDITOR_SCOPE = Scope("demo:ban-kiem-tra-mttq-" + _slug(d.PROVINCE), AUDITOR, d.PROVINCE.code)
BOARD_SCOPE = Scope("demo:hoi-dong-tdkt-" + _slug(d.PROVINCE), AWARDS_BOARD, d.PROVINCE.code)


@dataclass(frozen=True)
class Oversight:
    """What the auditor and the board recorded, for the demo's summary."""

    counts: Mapping[str, int]  # entries per kind
    acknowledged: tuple[str, ...]  # finding IDs
    still_blocked: int  # gifts under a blocking finding nobody acknowledged
    nominations: Mapping[str, int]  # nominations per state


def oversee(
    session: Session,
    settings: Settings,
    privacy: PrivacyKey,
    rng: random.Random,
    now: datetime | None,
    today: date,
    campaigns: Sequence[str],
) -> Oversight:
    """Acknowledge findings, then propose and decide nominations of ``campaigns``."""
    load_all()  # the acknowledgement and award entry kinds
    trail = _Trail(session, settings, privacy, rng, now, today)
    acknowledged = trail.acknowledge()
    still_blocked = trail.awards(campaigns)
    states = Counter(nomination.state for nomination in n.load(session))
    return Oversight(dict(trail.counts), acknowledged, still_blocked, dict(states))


class _Trail:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        privacy: PrivacyKey,
        rng: random.Random,
        now: datetime | None,
        today: date,
    ) -> None:
        self.session, self.settings, self.privacy = session, settings, privacy
        self.rng, self.now, self.today = rng, now, today
        self.counts: Counter[str] = Counter()
        self.numbers: dict[tuple[str, str], int] = {}

    def record(self, scope: Scope, operations: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """One batch, one checkpoint."""
        if operations:
            recorder = Recorder(self.session, self.settings, scope, self.privacy, now=self.now)
            for kind, data in operations:
                recorder.add(kind, data)
            self.counted(recorder.commit())

    def counted(self, done: list[Recorded]) -> list[Recorded]:
        self.counts.update(recorded.kind for recorded in done)
        return done

    def findings(self, as_of: int | None = None) -> list[Finding]:
        return rules.findings_for_database(self.session, self.settings, now=self.now, as_of=as_of)

    # -- the auditor -------------------------------------------------------------------

    def acknowledge(self) -> tuple[str, ...]:
        """About half the blocked large cash gifts, at most two; else one idle remainder."""
        findings = [f for f in self.findings() if not f.acknowledged]
        cash = [f for f in findings if f.check == LARGE_CASH_GIFT]
        picked = sorted(self.rng.sample(cash, min(2, math.ceil(len(cash) / 2))), key=_index)
        operations = [(ACKNOWLEDGEMENT, self.cash_explained(f)) for f in picked]
        idle = [f for f in findings if f.check == IDLE_MONEY]
        if not operations and idle:
            smallest = min(idle, key=lambda f: (int(f.details.get("idle", 0)), _index(f)))
            operations.append((ACKNOWLEDGEMENT, self.idle_explained(smallest)))
        self.record(AUDITOR_SCOPE, operations)
        return tuple(str(data["finding"]) for _kind, data in operations)

    def cash_explained(self, finding: Finding) -> dict[str, Any]:
        gift = log.entry(self.session, _index(finding)).body
        received = date.fromisoformat(gift["received_on"])
        banked = received + timedelta(days=self.rng.randint(1, 3))
        book, number = self.rng.randint(1, 9), self.rng.randint(1, 50)
        reason = (
            f"Đã đối chiếu biên lai thu tiền quyển số {book:02d}, số {number:04d} và giấy nộp "
            f"tiền vào tài khoản của Ban Vận động ngày {banked:%d/%m/%Y}: khoản "
            f"{dong(gift['amount'])} đã được nộp đủ; số biên lai bị bỏ sót khi nhập phiếu thu"
        )
        return {"finding": finding.id, "reason": reason}

    @staticmethod
    def idle_explained(finding: Finding) -> dict[str, Any]:
        held = dong(int(finding.details.get("idle", 0)))
        reason = (
            f"Số dư {held} là phần còn lại sau các đợt phân bổ; Ban Thường trực đã thống nhất "
            "giữ lại để hỗ trợ trong đợt tiếp theo"
        )
        return {"finding": finding.id, "reason": reason}

    # -- the board ---------------------------------------------------------------------

    def awards(self, campaigns: Sequence[str]) -> int:
        """Propose from each campaign's rankings, then decide; the gifts still blocked."""
        checkpoint = log.latest_checkpoint(self.session)  # as ``rankings_at``, at one checkpoint
        excluded = blocked_gifts(self.findings(as_of=checkpoint.tree_size))
        criteria = Criteria.load(self.settings.awards_criteria_file)
        recorder = Recorder(self.session, self.settings, BOARD_SCOPE, self.privacy, now=self.now)
        for campaign in campaigns:
            # As ``rank_for`` does for a board confined to a unit: that unit's subtree.
            proposal = Proposal(campaign, unit=BOARD_SCOPE.unit)
            ranked = {
                kind: rankings.rank(
                    self.session,
                    rankings.RankingQuery(kind, campaign, proposal.unit, excluded=excluded),
                    as_of=checkpoint.tree_size,
                )
                for kind in TYPES
            }
            record_nominations(recorder, criteria, RankedAt(proposal, checkpoint, ranked))
        proposed: dict[str, list[Recorded]] = {}
        for recorded in self.counted(recorder.commit()):
            proposed.setdefault(recorded.body["campaign"], []).append(recorded)
        self.decide([proposed[c] for c in campaigns if c in proposed])
        return len(excluded)

    def decide(self, campaigns: list[list[Recorded]]) -> None:
        """The board's meetings: review, decisions, then conferring or forwarding.

        The first campaign (the province's) is decided; of the others, about half are
        decided, some under review, the last few not looked at yet, drawn by the seed.
        One nomination of the first decided campaign with two or more is rejected.
        """
        count = len(campaigns)
        stages = [
            DECIDED
            if i < math.ceil(count / 2)
            else REVIEWED
            if i < math.ceil(0.8 * count)
            else WAITING
            for i in range(count)
        ]
        rest = stages[1:]
        self.rng.shuffle(rest)
        stages[1:] = rest
        decided = [c for c, stage in zip(campaigns, stages, strict=True) if stage == DECIDED]
        rejected = next((self.rng.choice(c[1:]).body["id"] for c in decided if len(c) > 1), None)
        review, decisions, ends = [], [], []
        for nominations, stage in zip(campaigns, stages, strict=True):
            if stage == WAITING:
                continue
            for nomination in nominations:
                review.append(self.step(nomination, n.UNDER_REVIEW))
                if stage == REVIEWED:
                    continue
                if nomination.body["id"] == rejected:
                    decisions.append(self.step(nomination, n.REJECTED))
                    continue
                decisions.append(self.step(nomination, n.APPROVED))
                ends.append(self.final(nomination))
        for batch in (review, decisions, ends):
            self.record(BOARD_SCOPE, [(n.TRANSITION, data) for data in batch])

    def step(self, nomination: Recorded, to: str) -> dict[str, Any]:
        body = nomination.body
        figures, form = body["figures"], body["form"]["name"]
        reason = {
            n.UNDER_REVIEW: "Hội đồng Thi đua - Khen thưởng tiếp nhận hồ sơ đề nghị, đối chiếu "
            f"số liệu vận động với sổ cái tại điểm kiểm tra {body['evidence']['tree_size']}",
            n.APPROVED: f"Hội đồng Thi đua - Khen thưởng họp ngày {self.today:%d/%m/%Y} thống "
            f"nhất đề nghị tặng {form}: vận động được {dong(figures['net_amount'])} từ "
            f"{figures['donors']} nhà hảo tâm",
            n.REJECTED: REJECTION,
        }[to]
        return {"nomination": body["id"], "to": to, "reason": reason}

    def final(self, nomination: Recorded) -> dict[str, Any]:
        """Conferred by the deciding committee's decision, or forwarded by a submission."""
        form, committee = nomination.body["form"], d.PROVINCE
        if form["proposed_upward"]:
            number = self.number(committee, "TTr-MTTQ")
            authority = AUTHORITIES.get(form["decided_by"], "cấp có thẩm quyền")
            reason = f"Đã trình {authority} xét tặng {form['name']} (Tờ trình số {number})"
            to = n.FORWARDED
        else:
            if form["decided_by"] == "district_front_committee":
                committee = _district_of(PLACES.get(nomination.body["awardee"]["unit"]))
            number = self.number(committee, "QĐ-MTTQ")
            reason = f"Tặng {form['name']} theo Quyết định số {number}"
            to = n.CONFERRED
        decision = {
            "number": number,
            "date": self.today.isoformat(),
            "approver": f"Ban Thường trực {d.front_committee(committee)}",
        }
        return {
            "nomination": nomination.body["id"],
            "to": to,
            "reason": reason,
            "decision": decision,
        }

    def number(self, committee: d.Place, series: str) -> str:
        """One decision (or submission) per committee and series lists all its awardees."""
        key = (committee.code, series)
        if key not in self.numbers:
            first = 150 if committee is d.PROVINCE else 20
            self.numbers[key] = self.rng.randint(first, first + 100)
        return f"{self.numbers[key]}/{series}"


def _index(finding: Finding) -> int:
    return finding.index if finding.index is not None else -1


def _district_of(place: d.Place | None) -> d.Place:
    while place is not None and place.parent not in (None, d.PROVINCE.code):
        place = PLACES.get(place.parent)
    return place or d.PROVINCE


# -- the demo witness ------------------------------------------------------------------


@dataclass(frozen=True)
class DemoWitness:
    """The demo witness, where its files are, and what it said of the final checkpoint."""

    answer: witnesses.Answer
    verifier_key: str
    log_key: str  # the verifier key the witness trusts for the log
    url: str
    key_file: Path
    state_file: Path

    @property
    def name(self) -> str:
        return self.answer.witness


def witness_demo(
    database: Database, settings: Settings, *, now: datetime | None = None
) -> DemoWitness:
    """Register the demo witness and have it cosign the latest checkpoint, in process.

    The request goes through ``audit.witnesses.ask``, exactly as ``ledger witness
    collect`` sends it, but to the witness's WSGI app (``audit.witness_server``) instead
    of over the network; the answer is verified under the registered key and stored.
    The witness's key is made once (``demo-witness.key`` in the instance folder) and
    used again. Its state forgets what it held for this origin when this ledger holds
    no cosignature of it yet: that was an earlier demo ledger, filled anew since.
    """
    folder = settings.instance_dir
    key_file, state_file = folder / WITNESS_KEY_FILE, folder / WITNESS_STATE_FILE
    if key_file.exists():
        signer = WitnessSigner.load(key_file)
    else:
        signer = WitnessSigner.generate(DEMO_WITNESS)
        signer.save(key_file)
    cosigner = witnesses.Cosigner(signer.verifier, WITNESS_URL)
    with database.writing() as session:
        witnesses.add(session, signer.name, str(signer.verifier), WITNESS_URL)
        checkpoint = log.latest_checkpoint(session)
        keys = tuple(period.verifier_key for period in log.key_periods(session))
        fresh = not any(
            s.cosigned_size for s in witnesses.statuses(session) if s.cosigner.name == signer.name
        )
    origin = keys[-1].name
    state = StateFile(state_file)
    if fresh:
        with state.locked() as states:
            if states.pop(origin, None) is not None:
                state.save(states)
    clock = (lambda: now.timestamp()) if now is not None else time.time
    witness = Witness(signer, {origin: KnownLog(origin, keys)}, state, clock)
    client = create_witness_app(witness, urlsplit(WITNESS_URL).path).test_client()

    def post(url: str, body: bytes) -> witnesses.HttpAnswer:
        response = client.post(urlsplit(url).path, data=body)
        media = response.mimetype or ""
        return witnesses.HttpAnswer(response.status_code, media, response.get_data())

    answer = witnesses.ask(database, cosigner, checkpoint, post)
    return DemoWitness(
        answer, str(signer.verifier), str(keys[-1]), WITNESS_URL, key_file, state_file
    )
