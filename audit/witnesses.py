"""The ledger's side of witnessing: asking independent witnesses to cosign its checkpoint.

The operator configures witnesses (name, verifier key, submission URL) in
``log_witnesses``. ``collect`` sends each one the latest checkpoint with a consistency
proof from the size that witness last cosigned (c2sp.org/tlog-witness); if the witness
holds another size (someone else may submit our public checkpoints too), its 409 names
that size and the request is sent once more from there. Every cosignature is verified
under the witness's configured key before it is stored in ``log_cosignatures``; the
public checkpoint then carries those lines after the log's own signature, and a
receipt carries the best-witnessed checkpoint that contains it, with the consistency
proof that links the two.
"""

from __future__ import annotations

import base64
import functools
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from audit.cosignature import WitnessKey
from ledger import log, merkle
from ledger.checkpoint import SignedNote
from ledger.db import Database
from ledger.errors import ConflictError, InvalidRequestError, LedgerError, NotFoundError
from ledger.log import StoredCheckpoint
from ledger.models import CosignatureRow, WitnessRow

SIZE_MEDIA_TYPE = "text/x.tlog.size"
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
TIMEOUT_SECONDS = 15.0
MAX_ANSWER_BYTES = 1 << 16
"""Cosignature lines are ~130 bytes each; this bounds what a hostile witness can send."""


class WitnessConfigurationError(InvalidRequestError):
    """A witness cannot be added as given: its name, key or URL is wrong."""

    code = "invalid_witness"


class WitnessUnreachableError(LedgerError):
    """No HTTP answer came from the witness (refused connection, timeout, bad address)."""

    code = "witness_unreachable"


class WitnessAnswerError(LedgerError):
    """The witness answered 200, but not with a valid cosignature by its configured key."""

    code = "invalid_cosignature"


@dataclass(frozen=True)
class Cosigner:
    """A witness as the ledger's operator configured it."""

    key: WitnessKey
    url: str

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def submission_url(self) -> str:
        return self.url.rstrip("/") + "/add-checkpoint"


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WitnessConfigurationError(f"the witness URL must be http(s)://host/..., not {url!r}")
    if parts.query or parts.fragment:
        raise WitnessConfigurationError("the witness URL is a prefix: no query or fragment")


def add(session: Session, name: str, vkey: str, url: str) -> bool:
    """Configure a witness, or change its URL; True when it is new.

    Its key never changes under the same name: the cosignatures already published
    would stop verifying against the key the public list then shows.
    """
    key = WitnessKey.parse(vkey.strip())
    if key.name != name:
        raise WitnessConfigurationError(f"the key is named {key.name}, not {name}")
    _check_url(url)
    row = session.get(WitnessRow, name)
    if row is None:
        session.add(WitnessRow(name=name, verifier_key=str(key), url=url))
        return True
    if row.verifier_key != str(key):
        raise ConflictError(f"witness {name} is configured with another key: {row.verifier_key}")
    row.url = url
    return False


def configured(session: Session) -> list[Cosigner]:
    rows = session.scalars(select(WitnessRow).order_by(WitnessRow.name))
    return [Cosigner(WitnessKey.parse(row.verifier_key), row.url) for row in rows]


def _time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_time(timestamp: int) -> str:
    """How the command line shows a cosignature's time: Vietnam's, named."""
    moment = datetime.fromtimestamp(timestamp, VIETNAM)
    return moment.strftime("%Y-%m-%d %H:%M:%S (Asia/Ho_Chi_Minh)")


def _cosignatures(session: Session, tree_size: int) -> list[CosignatureRow]:
    """The stored cosignatures of one size, by configured witnesses, in name order."""
    return list(
        session.scalars(
            select(CosignatureRow)
            .join(WitnessRow, WitnessRow.name == CosignatureRow.witness)
            .where(CosignatureRow.tree_size == tree_size)
            .order_by(CosignatureRow.witness)
        )
    )


def cosigned_note(session: Session, checkpoint: StoredCheckpoint) -> str:
    """The log's note with the cosignature lines of its size after the log's signature."""
    lines = "".join(f"{row.line}\n" for row in _cosignatures(session, checkpoint.tree_size))
    return checkpoint.note + lines


# The latest checkpoint's note and the lines of its configured witnesses in one
# statement: what ``cosigned_note(session, log.latest_checkpoint(session))`` reads in
# two. The public checkpoint is the most requested answer of the service.
_LATEST_COSIGNED_NOTE = text(
    "SELECT c.note, k.line"
    " FROM (SELECT tree_size, note FROM log_checkpoints ORDER BY tree_size DESC LIMIT 1) AS c"
    " LEFT JOIN (SELECT g.tree_size, g.witness, g.line FROM log_cosignatures AS g"
    "  JOIN log_witnesses AS w ON w.name = g.witness) AS k ON k.tree_size = c.tree_size"
    " ORDER BY k.witness"
)


def latest_cosigned_note(session: Session) -> str:
    """The latest checkpoint's note with its witnesses' cosignature lines after it."""
    rows = session.connection().execute(_LATEST_COSIGNED_NOTE).all()
    if not rows:
        raise NotFoundError("no checkpoint yet: run `ledger init`")
    note: str = rows[0].note
    return note + "".join(f"{row.line}\n" for row in rows if row.line is not None)


@dataclass(frozen=True)
class WitnessStatus:
    """A configured witness and the latest tree size it cosigned for this log."""

    cosigner: Cosigner
    cosigned_size: int | None
    cosigned_timestamp: int | None

    def document(self) -> dict[str, Any]:
        """What anyone may know of it: never its URL, which may be a private bastion."""
        when = self.cosigned_timestamp
        return {
            "name": self.cosigner.name,
            "verifier_key": str(self.cosigner.key),
            "key_id": self.cosigner.key.key_id_hex,
            "cosigned_size": self.cosigned_size,
            "cosigned_at": _time(when) if when is not None else None,
        }


def statuses(session: Session) -> list[WitnessStatus]:
    found = []
    for cosigner in configured(session):
        latest = session.scalars(
            select(CosignatureRow)
            .where(CosignatureRow.witness == cosigner.name)
            .order_by(CosignatureRow.tree_size.desc())
            .limit(1)
        ).first()
        size, when = (latest.tree_size, latest.timestamp) if latest else (None, None)
        found.append(WitnessStatus(cosigner, size, when))
    return found


@dataclass(frozen=True)
class Evidence:
    """A cosigned checkpoint that contains a receipt's, and the proof that it does."""

    first: int
    tree_size: int
    checkpoint: str
    consistency_proof: tuple[bytes, ...]
    cosignatures: tuple[tuple[str, str, int], ...]  # witness name, key ID hex, timestamp

    def document(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "checkpoint": self.checkpoint,
            "consistency_proof": [h.hex() for h in self.consistency_proof],
            "witnesses": [
                {"name": name, "key_id": key_id, "timestamp": timestamp, "time": _time(timestamp)}
                for name, key_id, timestamp in self.cosignatures
            ],
        }


# The best-witnessed checkpoint of size >= :first with its note and the lines, times and
# keys of its configured witnesses, in one statement: what took the best size, the
# checkpoint, the witness list and the cosignatures (twice) one statement each.
_BEST_COSIGNED = text(
    "SELECT k.tree_size, k.note, g.witness, g.line, g.timestamp, w.verifier_key"
    " FROM (SELECT c.tree_size FROM log_cosignatures AS c"
    "  JOIN log_witnesses AS v ON v.name = c.witness"
    "  JOIN log_checkpoints AS p ON p.tree_size = c.tree_size"
    "  WHERE c.tree_size >= :first"
    "  GROUP BY c.tree_size ORDER BY count(c.witness) DESC, c.tree_size DESC LIMIT 1) AS b"
    " JOIN log_checkpoints AS k ON k.tree_size = b.tree_size"
    " JOIN log_cosignatures AS g ON g.tree_size = b.tree_size"
    " JOIN log_witnesses AS w ON w.name = g.witness"
    " ORDER BY g.witness"
)


@functools.lru_cache(maxsize=64)
def _key_id_hex(vkey: str) -> str:
    """A configured witness key's ID; the handful of keys is parsed once, not per receipt."""
    return WitnessKey.parse(vkey).key_id_hex


def consistency(session: Session, first: int, second: int) -> tuple[bytes, ...]:
    """The consistency proof between two stored checkpoints' sizes, ``first < second``.

    Both are stored checkpoints, so the entries of both trees exist: the tree's nodes
    are read without checking the log's size first.
    """
    return tuple(merkle.consistency_proof(first, second, log.DatabaseNodes(session)))


Prove = Callable[[int, int], tuple[bytes, ...]]
"""``(first, second)`` to the consistency proof between those stored sizes."""


def evidence(session: Session, first: int, prove: Prove | None = None) -> Evidence | None:
    """The checkpoint of size >= ``first`` that the most witnesses cosigned (latest on ties).

    A receipt's own checkpoint is the first to contain its entry; witnesses usually
    cosign a later one, so the consistency proof from ``first`` carries the receipt's
    root into the cosigned tree. That proof never changes for the same two sizes: a
    reader may pass ``prove`` to take it from what it kept rather than from ``consistency``.
    """
    rows = session.connection().execute(_BEST_COSIGNED, {"first": first}).all()
    if not rows:
        return None
    best: int = rows[0].tree_size
    note: str = rows[0].note
    proof: tuple[bytes, ...] = ()
    if first < best:
        proof = prove(first, best) if prove else consistency(session, first, best)
    return Evidence(
        first=first,
        tree_size=best,
        checkpoint=note + "".join(f"{row.line}\n" for row in rows),
        consistency_proof=proof,
        cosignatures=tuple(
            (row.witness, _key_id_hex(row.verifier_key), row.timestamp) for row in rows
        ),
    )


# -- collecting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    media_type: str
    body: bytes


Post = Callable[[str, bytes], HttpAnswer]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A witness answers where it was asked; a redirect would resend the checkpoint blindly."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def http_post(url: str, body: bytes) -> HttpAnswer:
    """POST with the standard library; any HTTP status is an answer, no answer an error."""
    _check_url(url)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
        url, data=body, method="POST", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            return HttpAnswer(
                response.status,
                response.headers.get_content_type(),
                response.read(MAX_ANSWER_BYTES),
            )
    except urllib.error.HTTPError as error:
        with error:
            return HttpAnswer(error.code, error.headers.get_content_type(), error.read(4096))
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise WitnessUnreachableError(f"no answer from {url}: {reason}") from None


@dataclass(frozen=True)
class Answer:
    """What one witness said about the log's latest checkpoint."""

    witness: str
    tree_size: int
    timestamp: int | None = None
    refusal: str | None = None

    @property
    def cosigned(self) -> bool:
        return self.refusal is None

    def describe(self) -> str:
        if self.refusal is None and self.timestamp is not None:
            when = local_time(self.timestamp)
            return f"{self.witness}: cosigned tree size {self.tree_size} at {when}"
        return f"{self.witness}: refused tree size {self.tree_size}: {self.refusal}"


def _request_body(session: Session, old: int, checkpoint: StoredCheckpoint) -> bytes:
    proof: Sequence[bytes] = []
    if 0 < old < checkpoint.tree_size:
        proof = log.consistency_proof(session, old, checkpoint.tree_size)
    lines = [f"old {old}", *(base64.b64encode(h).decode("ascii") for h in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint.note).encode("utf-8")


def _held_size(answer: HttpAnswer) -> int | None:
    """The size a 409 names, when it names one as the spec says."""
    if answer.status != 409 or answer.media_type != SIZE_MEDIA_TYPE:
        return None
    text = answer.body.decode("ascii", "replace")
    digits = text[:-1] if text.endswith("\n") else text
    return int(digits) if digits.isdigit() and len(digits) <= 20 else None


def _why(answer: HttpAnswer) -> str:
    said = answer.body[:300].decode("utf-8", "replace").strip().splitlines()
    message = f": {said[0]}" if said and answer.media_type != SIZE_MEDIA_TYPE else ""
    meaning = {
        400: "it found the request malformed",
        403: "it does not trust the log's signature",
        404: "it does not follow this log",
        409: "it holds another view of the log",
        422: "the log is not consistent with what it saw before",
    }.get(answer.status, "unexpected answer")
    return f"{meaning} (HTTP {answer.status}){message}"


def _cosignature(cosigner: Cosigner, checkpoint: StoredCheckpoint, body: bytes) -> tuple[str, int]:
    """The witness's verified cosignature line (without newline) and its timestamp."""
    try:
        note = SignedNote.parse(checkpoint.note + body.decode("utf-8"))
        found = cosigner.key.cosignatures_in(note)
    except (LedgerError, UnicodeDecodeError) as e:
        raise WitnessAnswerError(f"its answer is not a valid cosignature: {e}") from None
    if not found:
        raise WitnessAnswerError(f"its answer has no cosignature by {cosigner.key}")
    latest = max(found, key=lambda c: c.timestamp)
    return latest.line().rstrip("\n"), latest.timestamp


def _held_by_us(db: Database, witness: str) -> int:
    """The largest size this witness cosigned for us: where its state should be."""
    with db.session() as session:
        size = session.scalar(
            select(func.max(CosignatureRow.tree_size)).where(CosignatureRow.witness == witness)
        )
    return size or 0


def _send(
    db: Database, cosigner: Cosigner, old: int, checkpoint: StoredCheckpoint, post: Post
) -> HttpAnswer:
    """Build the request in a short read, then post it: no transaction waits on the network."""
    with db.session() as session:
        data = _request_body(session, old, checkpoint)
    return post(cosigner.submission_url, data)


def ask(db: Database, cosigner: Cosigner, checkpoint: StoredCheckpoint, post: Post) -> Answer:
    """Ask one witness to cosign ``checkpoint``; store and return what it answered."""
    size = checkpoint.tree_size
    old = _held_by_us(db, cosigner.name)
    if old > size:
        reason = f"it cosigned size {old} before, larger than the log's latest checkpoint"
        return Answer(cosigner.name, size, refusal=reason)
    try:
        answer = _send(db, cosigner, old, checkpoint, post)
        held = _held_size(answer)
        if held is not None and held != old and held <= size:
            old = held
            answer = _send(db, cosigner, old, checkpoint, post)
            held = _held_size(answer)
    except WitnessUnreachableError as e:
        return Answer(cosigner.name, size, refusal=str(e))
    if answer.status != 200:
        return Answer(cosigner.name, size, refusal=_refusal(answer, held, old, size))
    try:
        line, timestamp = _cosignature(cosigner, checkpoint, answer.body)
    except WitnessAnswerError as e:
        return Answer(cosigner.name, size, refusal=str(e))
    with db.writing() as session:
        session.merge(
            CosignatureRow(tree_size=size, witness=cosigner.name, line=line, timestamp=timestamp)
        )
    return Answer(cosigner.name, size, timestamp=timestamp)


def _refusal(answer: HttpAnswer, held: int | None, old: int, size: int) -> str:
    if held is None:
        return _why(answer)
    if held > size:
        return f"it has cosigned size {held}, beyond the log's latest checkpoint {size}"
    if held == old:
        return f"it holds another root hash at size {held}: the log forked (HTTP 409)"
    return f"it holds size {held} (HTTP 409)"


def collect(db: Database, post: Post = http_post) -> list[Answer]:
    """Ask every configured witness to cosign the latest checkpoint, one after another."""
    with db.session() as session:
        cosigners = configured(session)
        checkpoint = log.latest_checkpoint(session)
    return [ask(db, cosigner, checkpoint, post) for cosigner in cosigners]
