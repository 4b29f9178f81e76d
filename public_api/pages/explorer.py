"""The log explorer: the latest signed checkpoint, the keys, the entries, one entry's proof.

Everything shown is what the public API serves (``/api/v1/log/...``), laid out for
people: the checkpoint note exactly as ``/api/v1/log/checkpoint`` answers it, the
witnesses' cosignatures read back out of that note (so the page can only name a
cosignature that verifies under the witness key the ledger publishes), and each
entry's inclusion proof to the latest checkpoint, equal to the API's. Entries are
listed newest first, fifty at a time, by ``?before=<index>``: a page holds the entries
just below that index, so a link to a page keeps showing the same entries as the log
grows.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from audit import witnesses
from ledger import log
from ledger.checkpoint import SignedNote
from ledger.entries import MAX_SAFE_INTEGER, Entry
from ledger.errors import LedgerError, NotFoundError
from ledger.log import KeyPeriod, StoredCheckpoint
from ledger.receipt_pdf import day, money
from public_api.database import session
from public_api.i18n import page_url
from public_api.pages.common import blueprint

blp = blueprint("pages_explorer")

PAGE_SIZE = 50
_INDEX = re.compile(r"0|[1-9][0-9]{0,15}")
_DAY = re.compile(r"\d{4}-\d\d-\d\d")
AMOUNTS = frozenset({"amount", "net_amount", "in_kind_value"})
"""Members that hold đồng, shown as ``1.250.000 ₫`` in an entry's table."""


# -- what the pages show -----------------------------------------------------------------


@dataclass(frozen=True)
class Cosigned:
    """One witness's cosignature on the checkpoint shown."""

    name: str
    key_id: str
    at: datetime


@dataclass(frozen=True)
class ShownCheckpoint:
    """A checkpoint as the pages show it: the served note and what it states."""

    note: str
    tree_size: int
    root_hex: str
    root_base64: str
    key: KeyPeriod | None
    cosignatures: tuple[Cosigned, ...]


@dataclass(frozen=True)
class WitnessShown:
    """A configured witness and the latest tree size it cosigned, if any."""

    name: str
    key_id: str
    cosigned_size: int | None
    at: datetime | None


@dataclass(frozen=True)
class Row:
    """One line of the list of entries."""

    index: int
    kind: str
    label: str
    time: datetime
    actor: str
    amount: int | None
    words: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    """One member of an entry's body: its path, a label when we have one, its value."""

    path: str
    label: str | None
    value: str


def key_of(periods: Sequence[KeyPeriod], tree_size: int) -> KeyPeriod | None:
    """The period whose key signed the checkpoint of ``tree_size`` (see ``KeyPeriod``)."""
    last = tree_size - 1
    for period in periods:
        if period.from_index <= last and (period.to_index is None or last <= period.to_index):
            return period
    return None


def cosignatures(note: str, cosigners: Sequence[witnesses.Cosigner]) -> tuple[Cosigned, ...]:
    """The cosignatures in ``note`` that verify under a configured witness's key."""
    parsed = SignedNote.parse(note)
    found = []
    for cosigner in cosigners:
        try:
            lines = cosigner.key.cosignatures_in(parsed)
        except LedgerError:
            continue  # a line that does not verify is no cosignature to show
        found += [
            Cosigned(
                cosigner.name, cosigner.key.key_id_hex, datetime.fromtimestamp(c.timestamp, UTC)
            )
            for c in lines
        ]
    return tuple(found)


def shown_checkpoint(checkpoint: StoredCheckpoint, periods: Sequence[KeyPeriod]) -> ShownCheckpoint:
    """The note with the cosignature lines the API adds, so both show the same text."""
    db = session()
    note = witnesses.cosigned_note(db, checkpoint)
    return ShownCheckpoint(
        note=note,
        tree_size=checkpoint.tree_size,
        root_hex=checkpoint.root.hex(),
        root_base64=base64.b64encode(checkpoint.root).decode("ascii"),
        key=key_of(periods, checkpoint.tree_size),
        cosignatures=cosignatures(note, witnesses.configured(db)),
    )


def witnesses_shown() -> list[WitnessShown]:
    """Every configured witness, also those behind the latest checkpoint or silent."""
    return [
        WitnessShown(
            status.cosigner.name,
            status.cosigner.key.key_id_hex,
            status.cosigned_size,
            None
            if status.cosigned_timestamp is None
            else datetime.fromtimestamp(status.cosigned_timestamp, UTC),
        )
        for status in witnesses.statuses(session())
    ]


def kind_labels() -> dict[str, str]:
    """Each kind of entry in words, in the reader's language."""
    return {
        "genesis": gettext("Khởi tạo sổ cái"),
        "key_rotation": gettext("Đổi khóa ký"),
        "unit": gettext("Đơn vị"),
        "fund": gettext("Quỹ"),
        "campaign": gettext("Cuộc vận động"),
        "mobilizer": gettext("Đơn vị vận động"),
        "contribution": gettext("Khoản ủng hộ"),
        "pledge": gettext("Cam kết ủng hộ"),
        "allocation": gettext("Phân bổ"),
        "disbursement": gettext("Chi trả"),
        "transfer": gettext("Chuyển quỹ"),
        "reversal": gettext("Điều chỉnh, hủy"),
        "acknowledgement": gettext("Giải trình cảnh báo"),
        "award_nomination": gettext("Đề nghị khen thưởng"),
        "award_transition": gettext("Quyết định khen thưởng"),
        "note": gettext("Ghi chú"),
    }


def member_labels() -> dict[str, str]:
    """Words for the members most entries have; others are shown by their path alone."""
    return {
        "name": gettext("Tên"),
        "code": gettext("Mã"),
        "origin": gettext("Định danh sổ cái"),
        "verifier_key": gettext("Khóa kiểm chứng"),
        "old_key": gettext("Khóa cũ"),
        "new_key": gettext("Khóa mới"),
        "parent": gettext("Đơn vị cấp trên"),
        "unit": gettext("Đơn vị"),
        "fund": gettext("Quỹ"),
        "from_fund": gettext("Từ quỹ"),
        "to_fund": gettext("Đến quỹ"),
        "campaign": gettext("Cuộc vận động"),
        "mobilizer": gettext("Đơn vị vận động"),
        "amount": gettext("Số tiền"),
        "currency": gettext("Loại tiền"),
        "channel": gettext("Hình thức"),
        "donor.display": gettext("Nhà hảo tâm"),
        "beneficiary.display": gettext("Người, đơn vị nhận"),
        "receipt_id": gettext("Mã biên nhận"),
        "received_on": gettext("Ngày nhận"),
        "purpose": gettext("Mục đích"),
        "reason": gettext("Lý do"),
        "target": gettext("Mục được điều chỉnh"),
        "allocation": gettext("Mục phân bổ"),
        "paid_on": gettext("Ngày chi"),
        "decision_ref": gettext("Số quyết định"),
        "opens": gettext("Ngày bắt đầu"),
        "closes": gettext("Ngày kết thúc"),
        "distribute_by": gettext("Hạn phân phối"),
        "reference": gettext("Mã tham chiếu"),
        "due_on": gettext("Hạn thực hiện"),
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _member(body: Mapping[str, Any], *path: str) -> Any:
    value: Any = body
    for name in path:
        value = value.get(name) if isinstance(value, Mapping) else None
    return value


def summary_words(entry: Entry) -> tuple[str, ...]:
    """A few words that tell entries apart: code, fund, who gave or received, what changed."""
    body = entry.body
    moved = (
        f"{body['from_fund']} → {body['to_fund']}"
        if _text(body.get("from_fund")) and _text(body.get("to_fund"))
        else None
    )
    words = [
        _text(body.get("code")),
        _text(body.get("fund")) or moved,
        _text(_member(body, "donor", "display"))
        or _text(_member(body, "beneficiary", "display"))
        or _text(_member(body, "awardee", "name"))
        or _text(body.get("name"))
        or _text(body.get("text")),
    ]
    target = body.get("target") if entry.kind == "reversal" else None
    if isinstance(target, int):
        words.append(gettext("mục #%(index)s", index=target))
    finding = _text(body.get("finding"))
    if finding:
        words.append(finding)
    return tuple(word for word in words if word)


def row_of(entry: Entry, labels: Mapping[str, str]) -> Row:
    amount = entry.body.get("amount")
    return Row(
        index=entry.index,
        kind=entry.kind,
        label=labels.get(entry.kind, entry.kind),
        time=entry.time,
        actor=entry.actor,
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        words=summary_words(entry),
    )


def _shown(path: str, value: Any) -> str:
    if value is None:
        return str(gettext("(không có)"))
    if isinstance(value, bool):
        return str(gettext("có") if value else gettext("không"))
    if isinstance(value, int) and path.rsplit(".", 1)[-1] in AMOUNTS:
        return money(value)
    if isinstance(value, str) and _DAY.fullmatch(value):
        return day(value)
    return str(value)


def _flatten(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for name, item in value.items():
            yield from _flatten(item, f"{path}.{name}" if path else name)
    elif isinstance(value, list) and any(isinstance(v, Mapping | list) for v in value):
        for position, item in enumerate(value):
            yield from _flatten(item, f"{path}[{position}]")
    elif isinstance(value, list):
        yield path, ", ".join(_shown(path, v) for v in value) if value else "[]"
    elif isinstance(value, Mapping):
        yield path, "{}"
    else:
        yield path, value


def fields_of(body: Mapping[str, Any]) -> list[Field]:
    """The body as rows of a table, nested members by their dotted path."""
    labels = member_labels()
    return [
        Field(path, labels.get(path), _shown(path, value)) for path, value in _flatten(body, "")
    ]


def related(entry: Entry) -> list[tuple[str, int]]:
    """Other entries this one names by index, with what they are to it."""
    body = entry.body
    named = [
        (gettext("Mục được điều chỉnh"), body.get("target") if entry.kind == "reversal" else None),
        (gettext("Mục phân bổ"), body.get("allocation") if entry.kind == "disbursement" else None),
        (gettext("Mục đề nghị khen thưởng"), _member(body, "nomination", "index")),
    ]
    return [(label, index) for label, index in named if isinstance(index, int) and index >= 0]


# -- the pages ---------------------------------------------------------------------------


def _problem(status: int, heading: str, detail: str) -> ResponseReturnValue:
    page = render_template("pages/_log_missing.html", heading=heading, detail=detail)
    return page, status


@blp.get("/so-cai")
def log_page() -> ResponseReturnValue:
    """The latest checkpoint, its cosignatures, the keys, and a page of entries."""
    db = session()
    latest = log.latest_checkpoint(db)
    size = latest.tree_size
    asked = request.args.get("before")
    if asked is not None and (not _INDEX.fullmatch(asked) or asked == "0"):
        return _problem(
            400,
            gettext("Không có trang này"),
            gettext("Tham số before phải là một số thứ tự mục lớn hơn 0."),
        )
    before = min(int(asked), size) if asked is not None else size
    start = max(0, before - PAGE_SIZE)
    labels = kind_labels()
    rows = [row_of(entry, labels) for entry in reversed(log.entries(db, start, before - start))]
    periods = log.key_periods(db)
    newer = None
    if before < size:  # the newest page is the one without ``before``
        following = before + PAGE_SIZE
        newer = page_url("/so-cai", before=following if following < size else None)
    return render_template(
        "pages/log.html",
        checkpoint=shown_checkpoint(latest, periods),
        periods=periods,
        statuses=witnesses_shown(),
        rows=rows,
        first=start,
        last=before - 1,
        newer=newer,
        older=page_url("/so-cai", before=start) if start > 0 else None,
    )


@blp.get("/so-cai/<index:index>")
def entry_page(index: int) -> ResponseReturnValue:
    """One entry, its leaf, and its inclusion proof to the latest checkpoint."""
    db = session()
    latest = log.latest_checkpoint(db)  # first: a later entry is not yet in its tree
    if index > MAX_SAFE_INTEGER or index >= latest.tree_size:
        return _missing(index)
    try:
        entry = log.entry(db, index)
    except NotFoundError:
        return _missing(index)
    periods = log.key_periods(db)
    receipt_id = entry.body.get("receipt_id") if entry.kind == "contribution" else None
    return render_template(
        "pages/entry.html",
        entry=entry,
        label=kind_labels().get(entry.kind, entry.kind),
        fields=fields_of(entry.body),
        leaf_json=entry.leaf.decode("utf-8"),
        related=related(entry),
        receipt_id=receipt_id if isinstance(receipt_id, str) else None,
        proof=[h.hex() for h in log.inclusion_proof(db, index, latest.tree_size)],
        checkpoint=shown_checkpoint(latest, periods),
    )


def _missing(index: int) -> ResponseReturnValue:
    return _problem(
        404,
        gettext("Không có mục số %(index)s", index=index),
        gettext("Sổ cái chưa có mục nào mang số thứ tự này."),
    )
